import { readFileSync } from 'node:fs';
import { spawnNode, until } from '../src/testing';
import { builtServer } from './built-server';

jest.setTimeout(60_000);


/** True while `pid` exists and is not a zombie. */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.split(') ')[1]?.[0] !== 'Z';
  } catch {
    return false;
  }
}


describe('a server started by a supervisor over an IPC channel (the local mesh)', () => {
  // (articles needs a DATABASE_URL to start; it listens while it retries an unreachable one.)
  // The "supervisor" spawns the server the way the mesh does (stdio with 'ipc', MESH_SUPERVISED=1), prints the
  // server's pid once it listens, and is then SIGKILLed: nothing gets the chance to stop the server explicitly.
  const supervisorSource = `
    const { spawn } = require('node:child_process');
    const child = spawn(process.execPath, [${JSON.stringify(builtServer('articles'))}], {
      env: { ...process.env, PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'info', DATABASE_URL: 'postgres://articles:unused@127.0.0.1:1/articles' },
      stdio: ['ignore', 'pipe', 'ignore', 'ipc'],
    });
    child.stdout.on('data', (chunk) => { if (String(chunk).includes('listening')) console.log('CHILD ' + child.pid); });
  `;

  it.each([
    ['exits when the supervisor is SIGKILLed', '1', false],
    ['stays up without MESH_SUPERVISED (a plain process manager keeps its own semantics)', '0', true],
  ])('%s', async (_title, supervised, expectAlive) => {
    const supervisor = spawnNode('-e', { args: [supervisorSource], env: { MESH_SUPERVISED: supervised } });
    const line = await supervisor.waitForLine((l) => l.startsWith('CHILD '));
    const childPid = Number(line.split(' ')[1]);
    expect(alive(childPid)).toBe(true);
    supervisor.child.kill('SIGKILL');
    await supervisor.exited;
    if (expectAlive) {
      // Give a (wrong) shutdown the same time the positive case needs, then check it did not happen.
      await expect(until(() => !alive(childPid), 3_000, 'the server to exit')).rejects.toThrow(/not reached/);
      process.kill(childPid, 'SIGKILL');
    } else {
      await until(() => !alive(childPid), 15_000, 'the server to exit');
    }
  });
});

