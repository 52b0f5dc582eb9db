// The built articles server as a real process: PORT/HOST, extra seeding, bad config, SIGTERM.
import { spawnNode, waitForListening, type SpawnedProcess } from '@cns/service-kit/testing';
import { builtServer } from '../../service-kit/test/built-server';

// Spawning Node processes (or Chromium) takes seconds on a loaded 2-core machine.
jest.setTimeout(60_000);

let proc: SpawnedProcess | undefined;
afterEach(async () => {
  if (proc && proc.child.exitCode === null) proc.child.kill('SIGKILL');
  await proc?.exited;
});

it('listens on PORT=0, serves extra seeded articles cheaply, and exits 0 on SIGTERM', async () => {
  proc = spawnNode(builtServer('articles'), { env: { PORT: '0', HOST: '127.0.0.1', SEED_EXTRA_ARTICLES: '10000' } });
  const port = await waitForListening(proc);
  const newest = await fetch(`http://127.0.0.1:${port}/articles/v1/getmultiple?amount=3`);
  expect(newest.status).toBe(200);
  expect(((await newest.json()) as { id: string }[]).map((a) => a.id)).toEqual(['10014', '10013', '10012']);
  const oldest = await fetch(`http://127.0.0.1:${port}/articles/v1/getone?id=1`);
  expect(((await oldest.json()) as { title: string }).title).toBe('Generated article 1');
  proc.child.kill('SIGTERM');
  expect(await proc.exited).toBe(0);
});

it('refuses PORT=abc with a clear message and exit code 1', async () => {
  proc = spawnNode(builtServer('articles'), { env: { PORT: 'abc', SEED_EXTRA_ARTICLES: 'many' } });
  expect(await proc.exited).toBe(1);
  expect(proc.stderr()).toContain('articles: invalid configuration');
  expect(proc.stderr()).toContain('PORT="abc": must be an integer');
  expect(proc.stderr()).toContain('SEED_EXTRA_ARTICLES="many": must be an integer');
});
