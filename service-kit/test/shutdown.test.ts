import http from 'node:http';
import path from 'node:path';
import { spawnNode, waitForListening, type SpawnedProcess } from '../src/testing';

// Spawning Node processes (or Chromium) takes seconds on a loaded 2-core machine.
jest.setTimeout(60_000);

const fixture = path.join(__dirname, 'fixtures/slow-server.ts');

/** GET on a fresh connection; resolves with status and body, or rejects with the socket error. */
function get(port: number, urlPath: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port, path: urlPath, agent: false }, (res) => {
        let body = '';
        res.setEncoding('utf8').on('data', (c: string) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode!, body }));
      })
      .on('error', reject);
  });
}

describe('graceful shutdown of a real server process', () => {
  let proc: SpawnedProcess | undefined;
  afterEach(async () => {
    if (proc && proc.child.exitCode === null) proc.child.kill('SIGKILL');
    await proc?.exited;
  });

  it('lets an in-flight request finish after SIGTERM, fails readiness meanwhile, then exits 0', async () => {
    proc = spawnNode(fixture, { tsx: true, env: { PORT: '0', HOST: '127.0.0.1', SHUTDOWN_DELAY_MS: '300' } });
    const port = await waitForListening(proc);
    expect(port).toBeGreaterThan(0);
    expect((await get(port, '/readyz')).status).toBe(200);

    const slow = get(port, '/slow?ms=1500');
    await proc.waitForLine((l) => l.includes('slow request started'));
    proc.child.kill('SIGTERM');
    await proc.waitForLine((l) => l.includes('shutdown started'));
    // During SHUTDOWN_DELAY_MS the listener is still open and readiness reports the shutdown.
    const readiness = await get(port, '/readyz');
    expect(readiness.status).toBe(503);
    expect(JSON.parse(readiness.body)).toEqual({ status: 'not ready', failing: ['shutting-down'] });

    await expect(slow).resolves.toEqual({ status: 200, body: JSON.stringify({ finished: true }) });
    expect(await proc.exited).toBe(0);
    // Once it exits nothing listens any more.
    await expect(get(port, '/healthz')).rejects.toThrow(/ECONNREFUSED/);
  });

  it('exits at once on a second signal even with a request in flight', async () => {
    proc = spawnNode(fixture, { tsx: true, env: { PORT: '0', HOST: '127.0.0.1', DRAIN_TIMEOUT_MS: '60000' } });
    const port = await waitForListening(proc);
    const slow = get(port, '/slow?ms=60000');
    slow.catch(() => undefined);
    await proc.waitForLine((l) => l.includes('slow request started'));
    proc.child.kill('SIGTERM');
    await proc.waitForLine((l) => l.includes('shutdown started'));
    proc.child.kill('SIGINT');
    expect(await proc.exited).toBe(1);
    await expect(slow).rejects.toThrow(/socket hang up|ECONNRESET/);
    expect(proc.stdoutLines.some((l) => l.includes('second signal'))).toBe(true);
  });

  it('closes idle keep-alive connections so the drain does not wait for them', async () => {
    // LOG_LEVEL=warn: the listening line (with the port) is still written, supervisors depend on it.
    proc = spawnNode(fixture, { tsx: true, env: { PORT: '0', HOST: '127.0.0.1', DRAIN_TIMEOUT_MS: '60000', LOG_LEVEL: 'warn' } });
    const port = await waitForListening(proc);
    const agent = new http.Agent({ keepAlive: true });
    await new Promise<void>((resolve, reject) => {
      http.get({ host: '127.0.0.1', port, path: '/healthz', agent }, (res) => res.resume().on('end', resolve)).on('error', reject);
    });
    proc.child.kill('SIGTERM');
    // With the 60 s drain deadline, exit 0 here proves the idle socket was closed rather than waited for.
    expect(await proc.exited).toBe(0);
    agent.destroy();
  });

  it('refuses bad configuration with a clear message and a non-zero exit', async () => {
    proc = spawnNode(fixture, { tsx: true, env: { PORT: 'abc', DRAIN_TIMEOUT_MS: '-5' } });
    expect(await proc.exited).toBe(1);
    expect(proc.stderr()).toContain('slow-server: invalid configuration');
    expect(proc.stderr()).toContain('PORT="abc": must be an integer');
    expect(proc.stderr()).toContain('DRAIN_TIMEOUT_MS="-5": must be at least 0');
    expect(proc.stderr()).not.toMatch(/\bat .*\.ts:\d+/);
  });
});
