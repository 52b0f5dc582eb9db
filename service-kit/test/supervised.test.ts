import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import type { SupervisorMessage } from '../src/server';
import { parseLogLine, spawnNode, until } from '../src/testing';
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

describe('a server reports its bound port to the local mesh over the IPC channel', () => {
  const fixture = path.join(__dirname, 'fixtures/slow-server.ts');

  /** Starts the fixture the way the mesh does (stdio with 'ipc'), collecting its IPC messages and stdout lines. */
  function start(env: NodeJS.ProcessEnv) {
    const child = spawn(process.execPath, ['--import', 'tsx', fixture], {
      env: { ...process.env, HOST: '127.0.0.1', LOG_LEVEL: 'info', ...env },
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    });
    const messages: SupervisorMessage[] = [];
    const lines: string[] = [];
    child.on('message', (message) => messages.push(message as SupervisorMessage));
    child.stdout!.setEncoding('utf8').on('data', (chunk: string) => lines.push(...chunk.split('\n')));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    return { child, messages, lines, exited };
  }

  it('sends { type: "listening", port } with the port it bound for PORT=0, and that port answers', async () => {
    const server = start({ PORT: '0', MESH_SUPERVISED: '1' });
    try {
      await until(() => server.messages.length > 0, 30_000, 'the listening message');
      const [message] = server.messages;
      expect(message).toEqual({ type: 'listening', port: expect.any(Number) });
      const port = (message as { port: number }).port;
      expect(port).toBeGreaterThan(0);
      await until(() => server.lines.some((l) => parseLogLine(l)?.msg === 'listening'), 10_000, 'the listening line');
      expect(parseLogLine(server.lines.find((l) => parseLogLine(l)?.msg === 'listening')!)?.port).toBe(port);
      expect((await fetch(`http://127.0.0.1:${port}/healthz`)).status).toBe(200);
    } finally {
      server.child.kill('SIGKILL');
      await server.exited;
    }
  });

  it('sends { type: "listen-failed", code: "EADDRINUSE" } and exits 1 when its port is taken', async () => {
    const holder = net.createServer();
    await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', () => resolve()));
    const taken = (holder.address() as net.AddressInfo).port;
    try {
      const server = start({ PORT: String(taken), MESH_SUPERVISED: '1' });
      expect(await server.exited).toBe(1);
      expect(server.messages).toEqual([expect.objectContaining({ type: 'listen-failed', port: taken, code: 'EADDRINUSE' })]);
    } finally {
      await new Promise((resolve) => holder.close(resolve));
    }
  });

  it('sends nothing to an IPC parent that is not the mesh (no MESH_SUPERVISED)', async () => {
    const server = start({ PORT: '0', MESH_SUPERVISED: '0' });
    try {
      await until(() => server.lines.some((l) => parseLogLine(l)?.msg === 'listening'), 30_000, 'the listening line');
      const port = parseLogLine(server.lines.find((l) => parseLogLine(l)?.msg === 'listening')!)?.port as number;
      // A message would have been written before the server answered anything; none came.
      expect((await fetch(`http://127.0.0.1:${port}/healthz`)).status).toBe(200);
      expect(server.messages).toEqual([]);
    } finally {
      server.child.kill('SIGKILL');
      await server.exited;
    }
  });
});
