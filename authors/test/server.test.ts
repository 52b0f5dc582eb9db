// The built authors server as a real process: PORT/HOST, bad config, SIGTERM.
import { spawnNode, waitForListening, type SpawnedProcess } from '@cns/service-kit/testing';
import { builtServer } from '../../service-kit/test/built-server';

// Spawning Node processes (or Chromium) takes seconds on a loaded 2-core machine.
jest.setTimeout(60_000);

let proc: SpawnedProcess | undefined;
afterEach(async () => {
  if (proc && proc.child.exitCode === null) proc.child.kill('SIGKILL');
  await proc?.exited;
});

it('listens on PORT=0, answers, and exits 0 on SIGTERM', async () => {
  proc = spawnNode(builtServer('authors'), { env: { PORT: '0', HOST: '127.0.0.1' } });
  const port = await waitForListening(proc);
  const res = await fetch(`http://127.0.0.1:${port}/api/v1/getauthor?name=Ada%20Quill`);
  expect(res.status).toBe(200);
  expect(await res.json()).toMatchObject({ name: 'Ada Quill' });
  proc.child.kill('SIGTERM');
  expect(await proc.exited).toBe(0);
});

it('refuses PORT=abc with a clear message and exit code 1', async () => {
  proc = spawnNode(builtServer('authors'), { env: { PORT: 'abc' } });
  expect(await proc.exited).toBe(1);
  expect(proc.stderr()).toContain('authors: invalid configuration');
  expect(proc.stderr()).toContain('PORT="abc": must be an integer');
});
