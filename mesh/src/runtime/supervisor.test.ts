/**
 * The supervisor against tiny fake services (a few lines of node:http written to a temp dir), so its process
 * handling is tested without the real services: readiness, crash restarts with back-off, rolling restart, stop.
 */
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { freePort } from '../net';
import { backoffDelay, MAX_PORT_RETRIES, Supervisor, type SupervisorOptions } from './supervisor';
import type { WorkloadSpec } from './topology';
import { until } from '@cns/service-kit/testing';

const fakeService = `
const http = require('node:http');
const fs = require('node:fs');
const notReadyFlag = process.env.NOT_READY_FLAG;
const server = http.createServer((req, res) => {
  if (req.url === '/readyz') {
    // The flag for every replica, or the flag suffixed with this replica's POD_NAME for one of them.
    res.statusCode = notReadyFlag && (fs.existsSync(notReadyFlag) || fs.existsSync(notReadyFlag + '.' + process.env.POD_NAME)) ? 503 : 200;
    return res.end();
  }
  res.setHeader('content-type', 'application/json');
  res.end(JSON.stringify({ pid: process.pid, proxy: process.env.HTTP_PROXY, greeting: process.env.GREETING }));
});
server.listen(Number(process.env.PORT), process.env.HOST, () => console.log('listening on ' + process.env.PORT));
if (process.env.IGNORE_SIGTERM) process.on('SIGTERM', () => console.log('ignoring SIGTERM'));
else process.on('SIGTERM', () => server.close(() => process.exit(0)));
`;

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('backoffDelay', () => {
  it('doubles from the base delay per consecutive crash and stops at the maximum', () => {
    const policy = { baseMs: 500, maxMs: 4000, resetAfterMs: 60_000 };
    expect([1, 2, 3, 4, 5, 10].map((n) => backoffDelay(n, policy))).toEqual([500, 1000, 2000, 4000, 4000, 4000]);
  });
});

describe('Supervisor with fake services', () => {
  let dir: string;
  let supervisor: Supervisor | undefined;
  const output: string[] = [];
  const logs: string[] = [];

  const spec = (name: string, replicas: number, env: Record<string, string> = {}): WorkloadSpec => ({
    workload: { name, namespace: 'default', labels: { app: name, version: 'v1' }, app: name, version: 'v1', serviceAccount: name, replicas },
    command: { argv: ['node', 'fake.js'], cwd: dir, requires: { file: path.join(dir, 'fake.js'), buildHint: 'write it' }, defaultReadinessPath: '/readyz' },
    env,
    readinessPath: '/readyz',
    terminationGraceMs: 30_000,
    file: 'k8s/fake.yaml',
  });

  const make = (): Supervisor =>
    new Supervisor({
      root: dir,
      meshEnv: (s) => ({ HTTP_PROXY: `http://127.0.0.1:1/${s.workload.name}` }),
      probe: { periodMs: 50, failureThreshold: 2, startupTimeoutMs: 10_000 },
      backoff: { baseMs: 100, maxMs: 400 },
      stopTimeoutMs: 500,
      output: (id, line) => output.push(`[${id}] ${line}`),
      log: (message) => logs.push(message),
    });

  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mesh-supervisor-'));
    fs.writeFileSync(path.join(dir, 'fake.js'), fakeService);
    output.length = 0;
    logs.length = 0;
  });

  afterEach(async () => {
    await supervisor?.stop();
    supervisor = undefined;
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('starts each replica on its own loopback port with the Deployment env and the sidecar proxy, ready', async () => {
    supervisor = make();
    await supervisor.startWorkload(spec('articles', 2, { GREETING: 'hello', PORT: '8080' }));
    const status = supervisor.status();
    expect(status.map((s) => s.id)).toEqual(['articles-0', 'articles-1']);
    expect(status.every((s) => s.ready && s.pid && isAlive(s.pid))).toBe(true);
    expect(new Set(status.map((s) => s.port)).size).toBe(2);
    const response = await fetch(`http://127.0.0.1:${status[0].port}/`);
    expect(await response.json()).toMatchObject({ greeting: 'hello', proxy: 'http://127.0.0.1:1/articles' });
    expect(supervisor.endpoints().map((e) => e.id)).toEqual(['articles-0', 'articles-1']);
    expect(output).toContain(`[articles-1] listening on ${status[1].port}`);
  });

  it('restarts a crashed process on the same port after a back-off and counts the restart', async () => {
    supervisor = make();
    await supervisor.startWorkload(spec('authors', 1));
    const before = supervisor.status()[0];
    process.kill(before.pid!, 'SIGKILL');
    await until(() => supervisor!.status()[0].restarts === 1 && supervisor!.status()[0].ready);
    const after = supervisor.status()[0];
    expect(after.pid).not.toBe(before.pid);
    expect(after.port).toBe(before.port);
    expect(logs.join('\n')).toMatch(/authors-0 exited \(signal SIGKILL\); restart #1 in 100ms/);
  });

  it('takes a replica out of the endpoints while its readiness probe fails and back when it passes', async () => {
    const flag = path.join(dir, 'not-ready');
    supervisor = make();
    await supervisor.startWorkload(spec('web-api-v1', 1, { NOT_READY_FLAG: flag }));
    const endpoint = supervisor.endpoints()[0];
    fs.writeFileSync(flag, '');
    await until(() => !endpoint.ready);
    fs.rmSync(flag);
    await until(() => endpoint.ready);
  });

  it('rolls a workload: the new replica is ready before the old one is stopped', async () => {
    supervisor = make();
    await supervisor.startWorkload(spec('web-api-v2', 1));
    const oldPid = supervisor.status()[0].pid!;
    let readyCountMin = Infinity;
    supervisor.on('change', () => {
      readyCountMin = Math.min(readyCountMin, supervisor!.endpoints().filter((e) => e.ready).length);
    });
    await supervisor.restartWorkload('web-api-v2');
    expect(supervisor.status().map((s) => s.id)).toEqual(['web-api-v2-1']);
    expect(readyCountMin).toBeGreaterThanOrEqual(1);
    await until(() => !isAlive(oldPid));
  });

  it('rolls a workload honouring minReadySeconds: the old replica leaves only after the new one stayed ready that long', async () => {
    supervisor = make();
    const slowToCount = { ...spec('web-api-v1', 1), minReadyMs: 1500 };
    await supervisor.startWorkload(slowToCount);
    const old = supervisor.endpoints()[0];
    let newReadyAt = 0;
    let oldOutAt = 0;
    supervisor.on('change', () => {
      const fresh = supervisor!.endpoints().find((e) => e !== old);
      if (fresh?.ready && newReadyAt === 0) newReadyAt = performance.now();
      if (!old.ready && oldOutAt === 0) oldOutAt = performance.now();
    });
    await supervisor.restartWorkload('web-api-v1');
    expect(newReadyAt).toBeGreaterThan(0);
    // 10 ms below: timers run on the event loop's cached clock, which may lag performance.now() by a tick.
    expect(oldOutAt - newReadyAt).toBeGreaterThanOrEqual(1490);
  });

  it('minReadySeconds starts again when the new replica turns not ready meanwhile', async () => {
    supervisor = make();
    const flag = path.join(dir, 'not-ready');
    const flapping = { ...spec('web-api-v1', 1, { NOT_READY_FLAG: flag }), minReadyMs: 1500 };
    await supervisor.startWorkload(flapping);
    const old = supervisor.endpoints()[0];
    let freshReadyAgainAt = 0;
    let oldOutAt = 0;
    let flapped = false;
    supervisor.on('change', () => {
      const fresh = supervisor!.endpoints().find((e) => e !== old);
      if (fresh && !fresh.ready && flapped && freshReadyAgainAt === 0) freshReadyAgainAt = -1;
      if (fresh?.ready && freshReadyAgainAt === -1) freshReadyAgainAt = performance.now();
      if (!old.ready && oldOutAt === 0) oldOutAt = performance.now();
    });
    const rolled = supervisor.restartWorkload('web-api-v1');
    // Once the new replica is ready, make it (only it) fail its probes for a moment.
    await until(() => supervisor!.endpoints().some((e) => e !== old && e.ready));
    flapped = true;
    fs.writeFileSync(`${flag}.web-api-v1-1`, '');
    await until(() => freshReadyAgainAt === -1);
    fs.rmSync(`${flag}.web-api-v1-1`);
    await rolled;
    expect(freshReadyAgainAt).toBeGreaterThan(0);
    expect(oldOutAt - freshReadyAgainAt).toBeGreaterThanOrEqual(1490);
    expect(logs.join('\n')).toMatch(/web-api-v1-1 turned not ready within minReadySeconds \(1\.5s\): waiting for it again/);
  });

  it('rolls a workload: the old replica is out of the endpoints for a moment before its SIGTERM', async () => {
    supervisor = make();
    await supervisor.startWorkload(spec('web-api-v1', 1));
    const old = supervisor.endpoints()[0];
    const oldPid = supervisor.status()[0].pid!;
    let notReadyAt = 0;
    supervisor.on('change', () => {
      if (!old.ready && notReadyAt === 0) notReadyAt = performance.now();
    });
    const rolled = supervisor.restartWorkload('web-api-v1');
    await until(() => notReadyAt > 0);
    // Still running (no SIGTERM yet) while nothing routes to it any more: passing probes do not put it back.
    let backInEndpoints = false;
    supervisor.on('change', () => {
      if (old.ready) backInEndpoints = true;
    });
    await until(() => performance.now() - notReadyAt > 800);
    expect(isAlive(oldPid)).toBe(true);
    expect(old.ready || backInEndpoints).toBe(false);
    await rolled;
    await until(() => !isAlive(oldPid));
  });

  it('stop() leaves no child behind, killing one that ignores SIGTERM after the deadline', async () => {
    supervisor = make();
    await supervisor.startWorkload(spec('web-app', 1, { IGNORE_SIGTERM: '1' }));
    await supervisor.startWorkload(spec('articles', 1));
    const pids = supervisor.status().map((s) => s.pid!);
    await supervisor.stop();
    supervisor = undefined;
    expect(pids.filter(isAlive)).toEqual([]);
    expect(logs.join('\n')).toMatch(/web-app-0 did not stop within 500ms of SIGTERM: SIGKILL/);
  });

  it('refuses to start a workload whose build output is missing, saying how to build it', async () => {
    supervisor = make();
    const missing = spec('articles', 1);
    missing.command = { ...missing.command, requires: { file: 'nope/dist/server.js', buildHint: 'run `npm run build`' } };
    await expect(supervisor.startWorkload(missing)).rejects.toThrow('nope/dist/server.js is missing (run `npm run build`)');
  });
});

describe('Supervisor crash loop', () => {
  it('restarts a process that keeps crashing with doubling delays (CrashLoopBackOff)', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mesh-crashloop-'));
    fs.writeFileSync(path.join(dir, 'crash.js'), "console.error('boom'); process.exit(3);\n");
    const logs: string[] = [];
    const supervisor = new Supervisor({
      root: dir,
      meshEnv: () => ({}),
      probe: { startupTimeoutMs: 3000 },
      backoff: { baseMs: 50, maxMs: 200 },
      log: (message) => logs.push(message),
    });
    const spec: WorkloadSpec = {
      workload: { name: 'authors', namespace: 'default', labels: {}, app: 'authors', version: 'v1', serviceAccount: 'authors', replicas: 1 },
      command: { argv: ['node', 'crash.js'], cwd: '.', requires: { file: 'crash.js', buildHint: '' }, defaultReadinessPath: '/readyz' },
      env: {},
      readinessPath: '/readyz',
      terminationGraceMs: 1000,
      file: 'k8s/authors.yaml',
    };
    try {
      await expect(supervisor.startWorkload(spec)).rejects.toThrow(/authors-0 did not become ready within 3s .*its last output:\n {2}boom/s);
      await until(() => supervisor.status()[0].restarts >= 4, 30_000);
      const delays = logs.filter((l) => l.includes('exited (exit code 3)')).map((l) => /in (\d+)ms/.exec(l)![1]);
      expect(delays.slice(0, 4)).toEqual(['50', '100', '200', '200']);
      expect(logs.some((l) => l.includes('CrashLoopBackOff'))).toBe(true);
    } finally {
      await supervisor.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});

/** A service that binds the PORT it is given (0 = the kernel picks) and reports the bound port, as runServer does. */
const reportingService = `
const http = require('node:http');
const server = http.createServer((req, res) => {
  if (req.url === '/readyz') return res.end();
  res.setHeader('content-type', 'application/json');
  res.end(JSON.stringify({ pid: process.pid, askedFor: process.env.PORT, boundTo: server.address().port }));
});
server.on('error', (error) => {
  process.send({ type: 'listen-failed', port: Number(process.env.PORT), code: error.code, message: error.message }, () => process.exit(1));
});
if (process.env.EXIT_BEFORE_REPORT) {
  console.error('cannot start: no configuration');
  process.exit(2);
}
server.listen(Number(process.env.PORT), '127.0.0.1', () => process.send({ type: 'listening', port: server.address().port }));
process.on('SIGTERM', () => server.close(() => process.exit(0)));
`;

/**
 * Like web-app's run-web-app.mjs around nginx: binds the PORT it is given, confirms it over IPC, and on a taken port
 * keeps trying for a while (nginx tries for ~2.5 s) before it exits saying so.
 */
const confirmingService = `
const http = require('node:http');
const server = http.createServer((req, res) => {
  if (req.url === '/readyz') return res.end();
  res.setHeader('content-type', 'application/json');
  res.end(JSON.stringify({ pid: process.pid }));
});
server.on('error', (error) => {
  console.error('bind() to 127.0.0.1:' + process.env.PORT + ' failed (98: Address already in use)');
  setTimeout(() => process.exit(1), 500);
});
server.listen(Number(process.env.PORT), '127.0.0.1', () => process.send({ type: 'listening', port: server.address().port }));
process.on('SIGTERM', () => server.close(() => process.exit(0)));
`;

/** A loopback port held by a plain TCP listener that closes every connection (no HTTP answer, no readiness). */
async function occupiedPort(port = 0): Promise<{ port: number; close: () => Promise<void> }> {
  const server = net.createServer((socket) => socket.destroy());
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });
  return { port: (server.address() as net.AddressInfo).port, close: () => new Promise((resolve) => server.close(() => resolve())) };
}

describe('Supervisor ports: reported by the child, or picked and retried when taken', () => {
  let dir: string;
  let supervisor: Supervisor | undefined;
  const logs: string[] = [];
  const holders: Array<{ close: () => Promise<void> }> = [];

  const spec = (name: string, port: 'reported' | 'assigned', env: Record<string, string> = {}): WorkloadSpec => ({
    workload: { name, namespace: 'default', labels: { app: name, version: 'v1' }, app: name, version: 'v1', serviceAccount: name, replicas: 1 },
    command: {
      argv: ['node', port === 'reported' ? 'reporting.js' : 'fake.js'],
      cwd: dir,
      requires: { file: path.join(dir, 'fake.js'), buildHint: 'write it' },
      defaultReadinessPath: '/readyz',
      port,
    },
    env,
    readinessPath: '/readyz',
    terminationGraceMs: 30_000,
    file: 'k8s/fake.yaml',
  });

  const make = (options: Partial<SupervisorOptions> = {}): Supervisor =>
    new Supervisor({
      root: dir,
      meshEnv: () => ({}),
      probe: { periodMs: 50, startupTimeoutMs: 10_000 },
      backoff: { baseMs: 100, maxMs: 400 },
      stopTimeoutMs: 500,
      log: (message) => logs.push(message),
      ...options,
    });

  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mesh-supervisor-ports-'));
    fs.writeFileSync(path.join(dir, 'fake.js'), fakeService);
    fs.writeFileSync(path.join(dir, 'reporting.js'), reportingService);
    fs.writeFileSync(path.join(dir, 'confirming.js'), confirmingService);
    logs.length = 0;
  });

  afterEach(async () => {
    await supervisor?.stop();
    supervisor = undefined;
    await Promise.all(holders.splice(0).map((h) => h.close()));
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('starts a reporting child with PORT=0 and routes to exactly the port it reports', async () => {
    supervisor = make();
    await supervisor.startWorkload(spec('articles', 'reported'));
    const [status] = supervisor.status();
    expect(status.ready).toBe(true);
    const body = (await (await fetch(`http://127.0.0.1:${status.port}/`)).json()) as { pid: number; askedFor: string; boundTo: number };
    // The child chose the port itself: nothing was picked for it that another process could have taken first.
    expect(body).toEqual({ pid: status.pid, askedFor: '0', boundTo: status.port });
    expect(supervisor.endpoints()[0].port).toBe(status.port);
  });

  it('restarts a crashed reporting child on its old port, and on a fresh one when another process took it meanwhile', async () => {
    supervisor = make({ backoff: { baseMs: 300, maxMs: 300 } });
    await supervisor.startWorkload(spec('authors', 'reported'));
    const first = supervisor.status()[0];
    process.kill(first.pid!, 'SIGKILL');
    await until(() => supervisor!.status()[0].restarts === 1 && supervisor!.status()[0].ready);
    const second = supervisor.status()[0];
    expect(second.port).toBe(first.port);
    expect(((await (await fetch(`http://127.0.0.1:${second.port}/`)).json()) as { askedFor: string }).askedFor).toBe(String(first.port));

    process.kill(second.pid!, 'SIGKILL');
    await until(() => supervisor!.status()[0].state === 'backoff');
    holders.push(await occupiedPort(second.port)); // taken while the replica is down
    await until(() => supervisor!.status()[0].ready && supervisor!.status()[0].port !== second.port);
    const third = supervisor.status()[0];
    expect(((await (await fetch(`http://127.0.0.1:${third.port}/`)).json()) as { pid: number }).pid).toBe(third.pid);
    expect(third.restarts).toBe(2);
    expect(logs.join('\n')).toContain(`authors-0 could not bind port ${second.port} (listen EADDRINUSE`);
    expect(logs.join('\n')).toContain(`authors-0 now listens on port ${third.port} (was ${second.port})`);
  });

  it('starts a child that cannot report on a fresh port when the picked one is taken before it binds, and logs it', async () => {
    const taken = await occupiedPort();
    holders.push(taken);
    const picks: number[] = [];
    supervisor = make({
      // The race, made certain: the first pick is a port another process holds by the time the child binds it.
      pickPort: async () => {
        const port = picks.length === 0 ? taken.port : await freePort();
        picks.push(port);
        return port;
      },
    });
    await supervisor.startWorkload(spec('web-app', 'assigned'));
    const [status] = supervisor.status();
    expect(picks).toEqual([taken.port, status.port]);
    expect(status).toMatchObject({ ready: true, restarts: 0 });
    expect(((await (await fetch(`http://127.0.0.1:${status.port}/`)).json()) as { pid: number }).pid).toBe(status.pid);
    expect(logs).toContainEqual(
      expect.stringMatching(
        new RegExp(
          `^web-app-0 could not bind port ${taken.port} \\(.*EADDRINUSE.*\\); starting it again on a fresh port \\(retry 1 of ${MAX_PORT_RETRIES}\\)$`,
        ),
      ),
    );
  });

  it('probes a child that confirms its picked port only once it has: a server already on that port does not make it ready', async () => {
    // Another server holds the first pick and answers the readiness path itself.
    const foreign = http.createServer((_req, res) => res.end('{"pid":0}'));
    await new Promise<void>((resolve) => foreign.listen(0, '127.0.0.1', () => resolve()));
    holders.push({ close: () => new Promise((resolve) => foreign.close(() => resolve())) });
    const taken = (foreign.address() as net.AddressInfo).port;
    let first = true;
    supervisor = make({
      pickPort: async () => {
        if (!first) return freePort();
        first = false;
        return taken;
      },
    });
    const confirming = spec('web-app', 'assigned');
    confirming.command = { ...confirming.command, argv: ['node', 'confirming.js'], confirmsPort: true };
    await supervisor.startWorkload(confirming);
    const [status] = supervisor.status();
    expect(status.port).not.toBe(taken);
    expect(((await (await fetch(`http://127.0.0.1:${status.port}/`)).json()) as { pid: number }).pid).toBe(status.pid);
    expect(logs.join('\n')).toContain(`web-app-0 could not bind port ${taken} (bind() to 127.0.0.1:${taken} failed (98: Address already in use))`);
  });

  it('gives up moving a child that never gets a port it can bind after a bounded number of fresh ports: a crash, with back-off', async () => {
    const taken = await occupiedPort();
    holders.push(taken);
    let picks = 0;
    // Six node starts must fit in the start-up timeout even on a loaded machine (3 s did not, beside other suites);
    // the 60 s back-off keeps the count at one restart however long it is.
    supervisor = make({
      probe: { periodMs: 50, startupTimeoutMs: 8000 },
      backoff: { baseMs: 60_000, maxMs: 60_000 },
      pickPort: async () => {
        picks += 1;
        return taken.port;
      },
    });
    await expect(supervisor.startWorkload(spec('web-app', 'assigned'))).rejects.toThrow(
      new RegExp(`web-app-0 did not become ready within 8s \\(GET /readyz on port ${taken.port}, restarts: 1\\).*EADDRINUSE`, 's'),
    );
    expect(picks).toBe(1 + MAX_PORT_RETRIES);
    expect(logs.filter((l) => l.includes('starting it again on a fresh port'))).toHaveLength(MAX_PORT_RETRIES);
    expect(logs.at(-1)).toMatch(/^web-app-0 exited \(exit code 1\); restart #1 in 60s$/);
  });

  it('fails the start naming the replica when a reporting child exits before it reports its port', async () => {
    supervisor = make({ probe: { startupTimeoutMs: 2000 }, backoff: { baseMs: 100, maxMs: 100 } });
    await expect(supervisor.startWorkload(spec('web-api-v1', 'reported', { EXIT_BEFORE_REPORT: '1' }))).rejects.toThrow(
      /web-api-v1-0 did not report its port within 2s \(expected \{ type: 'listening', port \} on the IPC channel.*restarts: \d+\); its last output:\n {2}cannot start: no configuration/s,
    );
    expect(supervisor.status()[0].port).toBe(0);
  });
});
