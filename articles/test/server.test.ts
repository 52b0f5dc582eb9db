// The built articles server as a real process against a real PostgreSQL: PORT/HOST, waiting for the database,
// extra seeding, bad config, SIGTERM.
import { freePort, startLocalPostgres, type LocalPostgres } from '@cns/test-support';
import { spawnNode, waitForListening, type SpawnedProcess } from '@cns/service-kit/testing';
import { builtServer } from '../../service-kit/test/built-server';

// Spawning Node processes and a database server takes seconds on a loaded 2-core machine.
jest.setTimeout(90_000);

let proc: SpawnedProcess | undefined;
let database: LocalPostgres | undefined;
afterEach(async () => {
  if (proc && proc.child.exitCode === null) proc.child.kill('SIGKILL');
  await proc?.exited;
  await database?.stop();
  database = undefined;
});

async function pollStatus(url: string, want: number, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = 0;
  while (Date.now() < deadline) {
    last = await fetch(url).then(
      (r) => r.status,
      () => 0,
    );
    if (last === want) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`${url} answered ${last}, not ${want}, within ${timeoutMs} ms`);
}

it('waits for its database (not ready, 503 JSON), then migrates, seeds extra articles cheaply and exits 0 on SIGTERM', async () => {
  // Picked ahead (the server is given the database URL before the database exists): another process could take
  // it before the database binds it, and the test would fail saying so; that window is the test's own.
  const dbPort = await freePort();
  const url = `postgres://articles:server-test@127.0.0.1:${dbPort}/articles`;
  proc = spawnNode(builtServer('articles'), {
    env: { PORT: '0', HOST: '127.0.0.1', DATABASE_URL: url, SEED_EXTRA_ARTICLES: '10000', DB_CONNECT_TIMEOUT_MS: '500' },
  });
  const port = await waitForListening(proc);
  const base = `http://127.0.0.1:${port}`;
  expect((await fetch(`${base}/readyz`)).status).toBe(503);
  const unavailable = await fetch(`${base}/articles/v1/getmultiple`);
  expect(unavailable.status).toBe(503);
  expect(await unavailable.json()).toEqual({ error: 'database_unavailable', message: 'the article database is not reachable; try again shortly' });

  database = await startLocalPostgres({ port: dbPort, database: 'articles', user: 'articles', password: 'server-test', durable: false });
  await pollStatus(`${base}/readyz`, 200);
  const newest = await fetch(`${base}/articles/v1/getmultiple?amount=3`);
  expect(newest.status).toBe(200);
  expect(((await newest.json()) as { id: string }[]).map((a) => a.id)).toEqual(['10014', '10013', '10012']);
  const oldest = await fetch(`${base}/articles/v1/getone?id=1`);
  expect(((await oldest.json()) as { title: string }).title).toBe('Generated article 1');
  proc.child.kill('SIGTERM');
  expect(await proc.exited).toBe(0);
});

it('refuses PORT=abc and a missing DATABASE_URL with clear messages and exit code 1', async () => {
  proc = spawnNode(builtServer('articles'), { env: { PORT: 'abc', SEED_EXTRA_ARTICLES: 'many', DATABASE_URL: '' } });
  expect(await proc.exited).toBe(1);
  expect(proc.stderr()).toContain('articles: invalid configuration');
  expect(proc.stderr()).toContain('PORT="abc": must be an integer');
  expect(proc.stderr()).toContain('SEED_EXTRA_ARTICLES="many": must be an integer');
  expect(proc.stderr()).toMatch(/DATABASE_URL.*postgres:\/\//);
});
