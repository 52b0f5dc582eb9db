import { z } from 'zod';
import { ConfigError, envUrl, loadConfig, serviceConfigSchema } from './config';

describe('loadConfig', () => {
  const schema = serviceConfigSchema(8080).extend({ ARTICLES_URL: envUrl('http://articles:8080') });

  it('applies defaults, including for empty variables', () => {
    expect(loadConfig(schema, { PORT: '' })).toEqual({
      PORT: 8080,
      HOST: '0.0.0.0',
      SHUTDOWN_DELAY_MS: 0,
      DRAIN_TIMEOUT_MS: 10_000,
      ACCESS_LOG: 'off',
      ARTICLES_URL: 'http://articles:8080',
    });
  });

  it('reads and converts the variables', () => {
    const config = loadConfig(schema, { PORT: '0', HOST: '127.0.0.1', SHUTDOWN_DELAY_MS: '5000', LOG_LEVEL: 'warn', ARTICLES_URL: 'http://localhost:1/' });
    expect(config).toMatchObject({ PORT: 0, HOST: '127.0.0.1', SHUTDOWN_DELAY_MS: 5000, LOG_LEVEL: 'warn', ARTICLES_URL: 'http://localhost:1' });
  });

  it('lists every bad variable with its value', () => {
    let error: unknown;
    try {
      loadConfig(schema, { PORT: 'abc', LOG_LEVEL: 'loud', ARTICLES_URL: 'ftp://x', ACCESS_LOG: 'yes' });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const problems = (error as ConfigError).problems;
    expect(problems).toContain('PORT="abc": must be an integer');
    expect(problems.some((p) => p.startsWith('LOG_LEVEL="loud": must be one of fatal'))).toBe(true);
    expect(problems).toContain('ARTICLES_URL="ftp://x": must be an http(s) URL such as http://articles:8080');
    expect(problems).toContain('ACCESS_LOG="yes": must be on or off');
  });

  it('rejects ports out of range', () => {
    expect(() => loadConfig(schema, { PORT: '70000' })).toThrow('PORT="70000": must be at most 65535');
    expect(() => loadConfig(schema, { PORT: '1.5' })).toThrow('PORT="1.5": must be an integer');
  });

  it('works with any zod schema', () => {
    expect(loadConfig(z.object({ A: z.string() }), { A: 'x' })).toEqual({ A: 'x' });
  });
});
