// Every process the benchmark starts goes through here, so that all of them are stopped at the end, on an
// error and on Ctrl-C / SIGTERM. Servers listen on port 0 and report their real port on stdout.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/** @type {Set<Managed>} */
const running = new Set();
const tempDirs = new Set();
/** Local PostgreSQL servers started for articles (startService). */
const databases = new Set();

/**
 * @typedef {object} Managed
 * @property {string} name
 * @property {import('node:child_process').ChildProcess} child
 * @property {Promise<void>} exited
 * @property {(pattern: RegExp) => number} count  lines seen so far that match
 * @property {() => Promise<void>} stop
 */

/**
 * Starts a process; `onLine` sees every stdout/stderr line (they are not printed, except with BENCH_VERBOSE=1).
 * `stopSignals`: signals sent in turn, each after `graceMs` without an exit, before SIGKILL.
 */
export function startProcess(name, command, args, { env, cwd = repoRoot, stopSignals = ['SIGTERM'], graceMs = 8000, reapDescendants = false } = {}) {
  const child = spawn(command, args, { cwd, env: env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
  const lines = [];
  const listeners = new Set();
  const onLine = (line) => {
    if (process.env.BENCH_VERBOSE === '1') process.stderr.write(`[${name}] ${line}\n`);
    if (lines.length < 20_000) lines.push(line);
    for (const listener of listeners) listener(line);
  };
  createInterface({ input: child.stdout }).on('line', onLine);
  createInterface({ input: child.stderr }).on('line', onLine);
  const exited = new Promise((resolve) => child.once('exit', () => resolve()));
  /** @type {Managed} */
  const managed = {
    name,
    child,
    exited,
    lines,
    onLine: (listener) => listeners.add(listener),
    count: (pattern) => lines.filter((l) => pattern.test(l)).length,
    stop: async () => {
      // A process that starts its own children (the mesh) can die of a signal before its handler is in place
      // (during start-up): whatever it started is stopped here too, from a snapshot taken before signalling.
      const descendants = reapDescendants ? descendantPids(child.pid) : [];
      if (child.exitCode === null && child.signalCode === null) {
        for (const signal of stopSignals) {
          child.kill(signal);
          if (await Promise.race([exited.then(() => true), sleep(graceMs).then(() => false)])) break;
        }
        if (child.exitCode === null && child.signalCode === null) {
          child.kill('SIGKILL');
          await exited;
        }
      }
      await stopPids(descendants);
      running.delete(managed);
    },
  };
  running.add(managed);
  child.once('error', (error) => onLine(`spawn error: ${error.message}`));
  return managed;
}

/** Waits for the first line matching `pattern` and returns its first capture group. */
export function waitForLine(managed, pattern, timeoutMs = 20_000) {
  return new Promise((resolve, reject) => {
    const seen = managed.lines.map((l) => pattern.exec(l)).find(Boolean);
    if (seen) return resolve(seen[1]);
    const timer = setTimeout(
      () => reject(new Error(`${managed.name}: no line matching ${pattern} within ${timeoutMs} ms\n${managed.lines.slice(-15).join('\n')}`)),
      timeoutMs,
    );
    managed.onLine((line) => {
      const match = pattern.exec(line);
      if (match) {
        clearTimeout(timer);
        resolve(match[1]);
      }
    });
    managed.exited.then(() => {
      clearTimeout(timer);
      reject(new Error(`${managed.name} exited (${managed.child.exitCode ?? managed.child.signalCode})\n${managed.lines.slice(-15).join('\n')}`));
    });
  });
}

/**
 * A service of this repo (service-kit `runServer`) on a free port; resolves with its port. articles gets a database
 * of its own (a local PostgreSQL, see mesh/src/postgres.ts), stopped with it.
 */
export async function startService(name, workspace, extraEnv = {}, nodeArgs = []) {
  if (workspace === 'articles' && !extraEnv.DATABASE_URL) {
    const { startLocalPostgres } = await import(path.join(repoRoot, 'mesh/dist/postgres.js'));
    const database = await startLocalPostgres({ database: 'articles', user: 'articles', password: 'bench', durable: false });
    const service = await startService(name, workspace, { ...extraEnv, DATABASE_URL: database.url }, nodeArgs).catch(async (error) => {
      await database.stop();
      throw error;
    });
    // Ready = migrated and seeded (100,000 extra articles take a few seconds).
    await waitForReady(`http://127.0.0.1:${service.port}/readyz`);
    databases.add(database);
    const stopService = service.stop;
    return {
      ...service,
      databaseUrl: database.url,
      stop: async () => {
        await stopService();
        await database.stop();
        databases.delete(database);
      },
    };
  }
  // web-api follows HTTP_PROXY (the mesh's sidecar scheme): a service goes through a proxy only when `extraEnv` names one.
  const env = { ...process.env };
  for (const key of ['HTTP_PROXY', 'http_proxy', 'HTTPS_PROXY', 'https_proxy', 'NO_PROXY', 'no_proxy']) delete env[key];
  Object.assign(env, { PORT: '0', HOST: '127.0.0.1' }, extraEnv);
  const managed = startProcess(name, process.execPath, [...nodeArgs, path.join(repoRoot, workspace, 'dist/server.js')], { env });
  const port = Number(await waitForLine(managed, /"port":(\d+).*"msg":"listening"/));
  return { ...managed, port, pid: managed.child.pid };
}

/** A bench/*.mjs helper server that prints `listening <port>`. */
export async function startHelper(name, script, args = []) {
  const managed = startProcess(name, process.execPath, [path.join(repoRoot, 'bench', script), ...args]);
  const port = Number(await waitForLine(managed, /^listening (\d+)$/));
  return { ...managed, port, pid: managed.child.pid };
}

async function waitForReady(url, timeoutMs = 120_000) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const status = await fetch(url, { signal: AbortSignal.timeout(2000) }).then(
      (r) => r.status,
      () => 0,
    );
    if (status === 200) return;
    await sleep(200);
  }
  throw new Error(`${url} not ready within ${timeoutMs} ms`);
}

export function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

export async function waitForPort(port, timeoutMs = 10_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const open = await new Promise((resolve) => {
      const socket = net.connect(port, '127.0.0.1', () => {
        socket.end();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (open) return;
    if (Date.now() > deadline) throw new Error(`nothing listening on 127.0.0.1:${port}`);
    await sleep(50);
  }
}

/**
 * The local mesh CLI as its own process (so that its /proc figures are its own), as a developer starts it: istio/base,
 * ports 0, no file watching, its database in a temporary folder (not the repository's .data/). `repo` is the checkout
 * whose mesh runs (A/B runs start two), `nodeArgs` go before the script (`--cpu-prof`, `--trace-gc`). Resolves once it
 * printed its gateway and admin URLs.
 */
export async function startMesh({ name = 'mesh', repo = repoRoot, nodeArgs = [], env = {}, readyTimeoutMs = 60_000 } = {}) {
  const dataDir = makeTempDir(`bench-${name}-data-`);
  fs.chmodSync(dataDir, 0o711); // the system PostgreSQL server runs as the postgres user when this is root
  const mesh = startProcess(
    name,
    process.execPath,
    [...nodeArgs, path.join(repo, 'mesh/dist/cli.js'), '--gateway-port', '0', '--admin-port', '0', '--no-watch'],
    {
      cwd: repo,
      env: { ...process.env, NO_COLOR: '1', MESH_DATA_DIR: dataDir, ...env },
      // SIGTERM stops every child gracefully (their SHUTDOWN_DELAY_MS comes from k8s/); a second one forces.
      stopSignals: ['SIGTERM', 'SIGTERM'],
      graceMs: 15_000,
      reapDescendants: true,
    },
  );
  const gateway = (await waitForLine(mesh, /getmultiple\s+curl (http:\/\/\S+?)\/web-api/, readyTimeoutMs)).replace('localhost', '127.0.0.1');
  const admin = (await waitForLine(mesh, /Metrics\s+(http:\/\/\S+?)\/metrics/)).replace('localhost', '127.0.0.1');
  return { ...mesh, pid: mesh.child.pid, gateway, admin };
}

export function makeTempDir(prefix) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  tempDirs.add(dir);
  return dir;
}

/**
 * nginx in the foreground with a temporary config: one worker (the data plane is one Node process), every
 * path under a temp dir. `http` is the body of the http block; `{{port}}` is replaced by the listen port.
 * nginx cannot listen on port 0 and report it, so a free port is picked; nginx writes its pid file only after it
 * has bound its listeners, so that file (not a connect, which another process on the port would answer) says it
 * started. When the port was taken before nginx bound it, a fresh one is tried (5 attempts, logged).
 */
export async function startNginx(name, httpBody) {
  const attempts = 5;
  for (let attempt = 1; ; attempt += 1) {
    const dir = makeTempDir('cns-bench-nginx-');
    const port = await freePort();
    const conf = `worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
${httpBody.replaceAll('{{port}}', String(port))}
}
`;
    const file = path.join(dir, 'nginx.conf');
    fs.writeFileSync(file, conf);
    // QUIT = graceful stop; TERM = fast stop if a graceful one hangs.
    const managed = startProcess(name, 'nginx', ['-c', file, '-g', 'daemon off;'], { stopSignals: ['SIGQUIT', 'SIGTERM'], graceMs: 3000 });
    const started = await waitForFileOrExit(path.join(dir, 'nginx.pid'), managed, 15_000);
    if (started) {
      await waitForPort(port);
      return { ...managed, port, pid: managed.child.pid, workerPids: () => childPids(managed.child.pid) };
    }
    await managed.stop();
    const output = managed.lines.join('\n');
    if (attempt < attempts && /address already in use/i.test(output)) {
      console.error(`bench: ${name}: port ${port} was taken before nginx bound it; trying a fresh port (attempt ${attempt + 1} of ${attempts})`);
      continue;
    }
    throw new Error(`nginx did not start: ${managed.lines.slice(-10).join('\n')}`);
  }
}

/** true once `file` exists, false when the process exited first; throws after `timeoutMs`. */
async function waitForFileOrExit(file, managed, timeoutMs) {
  let exited = false;
  void managed.exited.then(() => (exited = true));
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (fs.existsSync(file)) return true;
    if (exited) return false;
    if (Date.now() > deadline) throw new Error(`${managed.name}: no ${path.basename(file)} within ${timeoutMs} ms\n${managed.lines.slice(-10).join('\n')}`);
    await sleep(20);
  }
}

export function childPids(pid) {
  try {
    return fs.readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

/** Every process below `pid`, children first-level first. */
export function descendantPids(pid) {
  const all = [];
  const queue = [pid];
  while (queue.length) {
    for (const c of childPids(queue.shift())) {
      all.push(c);
      queue.push(c);
    }
  }
  return all;
}

const isAlive = (pid) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

/** SIGTERM to the pids still alive, SIGKILL after 5 s. */
async function stopPids(pids) {
  const left = () => pids.filter(isAlive);
  if (!left().length) return;
  for (const pid of left()) process.kill(pid, 'SIGTERM');
  for (let i = 0; i < 50 && left().length; i++) await sleep(100);
  for (const pid of left()) process.kill(pid, 'SIGKILL');
}

export async function stopAll() {
  await Promise.all([...running].map((m) => m.stop()));
  await Promise.all([...databases].map((d) => d.stop()));
  databases.clear();
  for (const dir of tempDirs) fs.rmSync(dir, { recursive: true, force: true });
  tempDirs.clear();
}

let stopping = false;
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(signal, () => {
    if (stopping) return;
    stopping = true;
    process.stderr.write(`\nbench: ${signal}: stopping every process it started\n`);
    void stopAll().finally(() => process.exit(130));
  });
}
// Last resort if the process exits without stopAll (a throw past every handler): no orphan servers.
process.on('exit', () => {
  for (const m of running) if (m.child.exitCode === null) m.child.kill('SIGKILL');
});

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
