import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { createLogger, flushLogger } from './logger';

describe('flushLogger', () => {
  it('resolves only once every line is written, in order (the shutdown lines are the last a process writes)', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'flush-logger-'));
    const file = path.join(dir, 'log.jsonl');
    try {
      const destination = pino.destination({ dest: file, sync: false });
      await new Promise((resolve) => destination.once('ready', resolve));
      const logger = createLogger({ service: 'flush', level: 'info', destination });
      for (let i = 0; i < 5000; i++) logger.info({ i }, i === 4999 ? 'shutdown complete' : 'line');
      await flushLogger(logger);
      const lines = fs
        .readFileSync(file, 'utf8')
        .trim()
        .split('\n')
        .map((line) => (JSON.parse(line) as { i: number }).i);
      expect(lines).toHaveLength(5000);
      expect(lines.every((n, index) => n === index)).toBe(true);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
