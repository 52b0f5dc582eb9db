/**
 * A local PostgreSQL server for tests, the bench and the local mesh, with one of two engines:
 * - `system`: the machine's PostgreSQL server (Debian keeps it in /usr/lib/postgresql/<version>/bin): `initdb` into
 *   a folder, `postgres` on a loopback port. Both refuse to run as root, so as root they run as the `postgres` user.
 * - `embedded`: PGlite (Postgres compiled to WASM) in this process, behind the wire protocol (pglite-socket).
 * Either way clients connect with `pg` to a `postgres://` URL, so the code under test is the same.
 * `LOCAL_POSTGRES=system|embedded` forces one; by default `system` when its binaries exist and can be used.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { freePort } from './net';
import { serverLogFilter } from './postgres-log';

export type LocalPostgresEngine = 'system' | 'embedded';

export interface LocalPostgresOptions {
  /** Default: env LOCAL_POSTGRES, else `system` when usable, else `embedded`. */
  engine?: LocalPostgresEngine;
  /**
   * Folder that keeps the data across runs (one sub-folder per engine: their on-disk formats differ).
   * Default: a fresh temporary folder, deleted by `stop()`.
   */
  dataDir?: string;
  /**
   * Loopback port; 0 (default) picks a free one, and picks again (up to 5 times, logged) when another process
   * takes it before the server binds it.
   */
  port?: number;
  /** How a free port is picked when `port` is 0; default `freePort` (tests inject one). */
  pickPort?: () => Promise<number>;
  host?: string;
  user?: string;
  password?: string;
  /** Database created on first start (the embedded engine has a single database and ignores the name). */
  database?: string;
  /** false skips fsync (tests: faster, and a crash of the machine is not a concern). Default true. */
  durable?: boolean;
  /** Server log lines (system engine) and this helper's own messages. */
  log?: (line: string) => void;
  /** How long to wait for the server to accept connections. Default 30 s. */
  startTimeoutMs?: number;
}

export interface LocalPostgres {
  engine: LocalPostgresEngine;
  /** e.g. 15.18 or 18.0 (embedded) */
  version: string;
  host: string;
  port: number;
  user: string;
  password: string;
  database: string;
  /** `postgres://user:password@127.0.0.1:port/database` */
  url: string;
  /** The engine's own data folder. */
  dataDir: string;
  /** Resolves when the server process has gone (system) — lets a supervisor notice a crash. */
  exited: Promise<void>;
  /** Fast shutdown (SIGINT for the system server, then SIGKILL after 10 s); removes a temporary data folder. */
  stop(): Promise<void>;
}

const DEFAULTS = { host: '127.0.0.1', user: 'postgres', password: 'postgres', database: 'postgres' };
const PORT_ATTEMPTS = 5;
/** PostgreSQL's "could not bind IPv4 address …: Address already in use"; pglite-socket's listen EADDRINUSE. */
const PORT_TAKEN = /could not bind|EADDRINUSE|address already in use/i;

/** The bin folder of the newest installed PostgreSQL server (env POSTGRES_BIN_DIR wins), or undefined. */
export function systemPostgresBinDir(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const has = (dir: string) => fs.existsSync(path.join(dir, 'postgres')) && fs.existsSync(path.join(dir, 'initdb'));
  if (env.POSTGRES_BIN_DIR) return has(env.POSTGRES_BIN_DIR) ? env.POSTGRES_BIN_DIR : undefined;
  const base = '/usr/lib/postgresql';
  if (!fs.existsSync(base)) return undefined;
  const versions = fs
    .readdirSync(base)
    .filter((v) => /^\d+$/.test(v))
    .sort((a, b) => Number(b) - Number(a));
  return versions.map((v) => path.join(base, v, 'bin')).find(has);
}

/** Why the system engine cannot be used here, or undefined when it can. */
export function systemPostgresUnavailable(env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (!systemPostgresBinDir(env)) return 'no PostgreSQL server binaries (install: apt-get install -y postgresql)';
  if (isRoot() && serverUser() === undefined) return 'running as root and there is no unprivileged `postgres` user to run the server as';
  return undefined;
}

/** The engine `startLocalPostgres` picks: `LOCAL_POSTGRES`, else system when usable, else embedded. */
export function chooseLocalPostgresEngine(env: NodeJS.ProcessEnv = process.env): LocalPostgresEngine {
  const forced = env.LOCAL_POSTGRES;
  if (forced !== undefined && forced !== '') {
    if (forced !== 'system' && forced !== 'embedded') throw new Error(`LOCAL_POSTGRES=${forced}: must be "system" or "embedded"`);
    return forced;
  }
  return systemPostgresUnavailable(env) === undefined ? 'system' : 'embedded';
}

export async function startLocalPostgres(options: LocalPostgresOptions = {}): Promise<LocalPostgres> {
  const engine = options.engine ?? chooseLocalPostgresEngine();
  const temporary = options.dataDir === undefined;
  const root = options.dataDir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'local-postgres-'));
  // mkdtemp makes the folder private to this user; the server user (when this is root) must pass through it.
  if (temporary) fs.chmodSync(root, 0o711);
  const settings = {
    host: options.host ?? DEFAULTS.host,
    user: options.user ?? DEFAULTS.user,
    password: options.password ?? DEFAULTS.password,
    database: options.database ?? DEFAULTS.database,
    port: options.port || (await (options.pickPort ?? freePort)()),
    durable: options.durable ?? true,
    log: options.log ?? (() => {}),
    startTimeoutMs: options.startTimeoutMs ?? 30_000,
  };
  const removeTemporary = () => {
    if (temporary) fs.rmSync(root, { recursive: true, force: true });
  };
  try {
    let started: Started;
    for (let attempt = 1; ; attempt += 1) {
      try {
        started = engine === 'system' ? await startSystem(path.join(root, 'system'), settings) : await startEmbedded(path.join(root, 'embedded'), settings);
        break;
      } catch (error) {
        // A port picked here can be taken before the server binds it (the server cannot bind port 0 and report).
        if (options.port || attempt >= PORT_ATTEMPTS || !PORT_TAKEN.test((error as Error).message)) throw error;
        const taken = settings.port;
        settings.port = await (options.pickPort ?? freePort)();
        settings.log(`port ${taken} was taken before the server bound it; trying port ${settings.port} (attempt ${attempt + 1} of ${PORT_ATTEMPTS})`);
      }
    }
    const url = `postgres://${encodeURIComponent(settings.user)}:${encodeURIComponent(settings.password)}@${settings.host}:${settings.port}/${encodeURIComponent(started.database)}`;
    let stopping: Promise<void> | undefined;
    return {
      engine,
      version: started.version,
      host: settings.host,
      port: settings.port,
      user: settings.user,
      password: settings.password,
      database: started.database,
      url,
      dataDir: started.dataDir,
      exited: started.exited,
      stop: () =>
        (stopping ??= (async () => {
          await started.stop();
          removeTemporary();
        })()),
    };
  } catch (error) {
    removeTemporary();
    throw error;
  }
}

interface Settings {
  host: string;
  user: string;
  password: string;
  database: string;
  port: number;
  durable: boolean;
  log: (line: string) => void;
  startTimeoutMs: number;
}

interface Started {
  version: string;
  database: string;
  dataDir: string;
  exited: Promise<void>;
  stop(): Promise<void>;
}

// ---------------------------------------------------------------- system engine

function isRoot(): boolean {
  return typeof process.getuid === 'function' && process.getuid() === 0;
}

/** uid/gid of the unprivileged `postgres` user (Debian's package creates it), when there is one. */
function serverUser(): { uid: number; gid: number } | undefined {
  try {
    const uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim());
    const gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim());
    return Number.isInteger(uid) && uid > 0 ? { uid, gid } : undefined;
  } catch {
    return undefined;
  }
}

/**
 * argv that runs a server binary: as the `postgres` user when this process is root, and always with a
 * parent-death signal, so the server cannot outlive this process even when it is SIGKILLed.
 */
function serverArgv(binary: string, args: string[]): string[] {
  const setpriv = fs.existsSync('/usr/bin/setpriv') ? '/usr/bin/setpriv' : undefined;
  if (isRoot()) {
    if (!setpriv) return ['runuser', '-u', 'postgres', '--', binary, ...args];
    return [setpriv, '--reuid=postgres', '--regid=postgres', '--init-groups', '--pdeathsig=KILL', binary, ...args];
  }
  return setpriv ? [setpriv, '--pdeathsig=KILL', binary, ...args] : [binary, ...args];
}

/** `cwd`: a folder the server user may enter (this process's own may be closed to it). */
function runToEnd(argv: string[], what: string, cwd?: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0]!, argv.slice(1), { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.once('error', reject);
    child.once('close', (code) => (code === 0 ? resolve() : reject(new Error(`${what} failed (exit ${code}): ${output.trim().slice(-2000)}`))));
  });
}

async function startSystem(dataDir: string, s: Settings): Promise<Started> {
  const unavailable = systemPostgresUnavailable();
  if (unavailable) throw new Error(`cannot use the system PostgreSQL server: ${unavailable}`);
  const bin = systemPostgresBinDir()!;
  fs.mkdirSync(dataDir, { recursive: true });
  if (isRoot()) {
    const owner = serverUser()!;
    chownTree(dataDir, owner.uid, owner.gid);
    // The server user must reach the folder: every parent needs search permission for it.
    try {
      await runToEnd(serverArgv('/usr/bin/test', ['-w', dataDir]), 'access check');
    } catch {
      throw new Error(`the postgres user cannot write ${dataDir}: a parent folder is closed to other users (chmod o+x), or set LOCAL_POSTGRES=embedded`);
    }
  }
  fs.chmodSync(dataDir, 0o700);
  const fresh = !fs.existsSync(path.join(dataDir, 'PG_VERSION'));
  if (fresh) {
    const pwfile = path.join(dataDir, '..', `.pwfile-${process.pid}`);
    fs.writeFileSync(pwfile, s.password, { mode: 0o600 });
    if (isRoot()) fs.chownSync(pwfile, serverUser()!.uid, serverUser()!.gid);
    try {
      await runToEnd(
        serverArgv(path.join(bin, 'initdb'), [
          '-D',
          dataDir,
          '-U',
          s.user,
          `--pwfile=${pwfile}`,
          '--auth-local=trust',
          '--auth-host=scram-sha-256',
          '-E',
          'UTF8',
          '--locale=C',
          '--no-instructions',
          ...(s.durable ? [] : ['--no-sync']),
        ]),
        'initdb',
        dataDir,
      );
    } finally {
      fs.rmSync(pwfile, { force: true });
    }
  }
  const version = fs.readFileSync(path.join(dataDir, 'PG_VERSION'), 'utf8').trim();
  // No Unix socket (a TCP loopback port only), settings fit for a small local machine.
  const args = [
    '-D',
    dataDir,
    '-p',
    String(s.port),
    '-c',
    `listen_addresses=${s.host}`,
    '-c',
    'unix_socket_directories=',
    '-c',
    'max_connections=100',
    '-c',
    'shared_buffers=32MB',
  ];
  if (!s.durable) args.push('-c', 'fsync=off', '-c', 'synchronous_commit=off', '-c', 'full_page_writes=off');
  const argv = serverArgv(path.join(bin, 'postgres'), args);
  const child = spawn(argv[0]!, argv.slice(1), { cwd: dataDir, stdio: ['ignore', 'pipe', 'pipe'] });
  let tail = '';
  // The postmaster logs `listening on IPv4 address "127.0.0.1", port N` once it has bound the socket: until then a
  // session on the port could be another server's (a port picked by the mesh and taken meanwhile).
  const bound = signal();
  const shown = serverLogFilter();
  const onOutput = (chunk: Buffer) => {
    const text = chunk.toString();
    tail = (tail + text).slice(-4000);
    for (const line of text.split('\n')) {
      if (!line.trim()) continue;
      if (/listening on IPv[46] address .*, port (\d+)/.exec(line)?.[1] === String(s.port)) bound.resolve();
      if (shown(line)) s.log(line);
    }
  };
  child.stdout!.on('data', onOutput);
  child.stderr!.on('data', onOutput);
  const exited = new Promise<void>((resolve) => child.once('close', () => resolve()));
  child.once('error', (error) => s.log(`cannot run postgres: ${error.message}`));
  const stop = () => stopChild(child, exited);
  try {
    const url = `postgres://${encodeURIComponent(s.user)}:${encodeURIComponent(s.password)}@${s.host}:${s.port}/postgres`;
    await waitForPostgres(url, {
      timeoutMs: s.startTimeoutMs,
      gone: exited,
      bound: bound.promise,
      what: () => `postgres on port ${s.port}; its output:\n${tail}`,
    });
    if (s.database !== 'postgres') await createDatabaseIfMissing(url, s.database);
  } catch (error) {
    await stop();
    throw error;
  }
  return { version, database: s.database, dataDir, exited, stop };
}

function chownTree(dir: string, uid: number, gid: number): void {
  fs.chownSync(dir, uid, gid);
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) chownTree(full, uid, gid);
    else fs.lchownSync(full, uid, gid);
  }
}

async function stopChild(child: ChildProcess, exited: Promise<void>): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return exited;
  // SIGINT is PostgreSQL's "fast" shutdown: open sessions are ended, the data is checkpointed.
  child.kill('SIGINT');
  const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(timer);
}

async function createDatabaseIfMissing(url: string, database: string): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const found = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [database]);
    if (found.rowCount === 0) await client.query(`CREATE DATABASE ${pg.escapeIdentifier(database)}`);
  } catch (error) {
    // Two starters racing for the same name: the other one created it.
    if ((error as { code?: string }).code !== '42P04') throw error;
  } finally {
    await client.end();
  }
}

// ---------------------------------------------------------------- embedded engine

/**
 * PGlite runs in a child Node process (like the system server): its loader uses dynamic imports that test
 * runners' module sandboxes refuse, and a process of its own can be stopped, restarted and supervised the same way.
 */
const EMBEDDED_SERVER_SCRIPT = `
const [dataDir, host, port, durable] = process.argv.slice(1);
(async () => {
  const { PGlite } = require('@electric-sql/pglite');
  const { PGLiteSocketServer } = require('@electric-sql/pglite-socket');
  const db = await PGlite.create(dataDir, { relaxedDurability: durable !== 'true' });
  // One database, one session: connections are multiplexed onto it query by query (a transaction keeps it).
  const server = new PGLiteSocketServer({ db, host, port: Number(port), maxConnections: 100 });
  await server.start();
  const version = (await db.query("SELECT current_setting('server_version') AS v")).rows[0].v;
  console.log('embedded postgres ' + version + ' listening on ' + host + ':' + port);
  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    await server.stop();
    await db.close();
    process.exit(0);
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
})().catch((error) => {
  console.error('embedded postgres failed: ' + (error && error.stack || error));
  process.exit(1);
});
`;

async function startEmbedded(dataDir: string, s: Settings): Promise<Started> {
  fs.mkdirSync(dataDir, { recursive: true });
  const node = [process.execPath, '-e', EMBEDDED_SERVER_SCRIPT, dataDir, s.host, String(s.port), String(s.durable)];
  const setpriv = fs.existsSync('/usr/bin/setpriv') ? ['/usr/bin/setpriv', '--pdeathsig=KILL'] : [];
  const argv = [...setpriv, ...node];
  // cwd: the mesh package, so the script resolves PGlite from the mesh's dependencies.
  const child = spawn(argv[0]!, argv.slice(1), { cwd: path.resolve(__dirname, '..'), stdio: ['ignore', 'pipe', 'pipe'] });
  let tail = '';
  let version = '';
  const bound = signal();
  const onOutput = (chunk: Buffer) => {
    const text = chunk.toString();
    tail = (tail + text).slice(-4000);
    for (const line of text.split('\n')) {
      if (!line.trim()) continue;
      // Printed after pglite-socket's server.start() resolved, i.e. once it has bound the port.
      const listening = /^embedded postgres (\S+) listening/.exec(line);
      if (listening) {
        version ||= listening[1]!;
        bound.resolve();
      }
      s.log(line);
    }
  };
  child.stdout!.on('data', onOutput);
  child.stderr!.on('data', onOutput);
  const exited = new Promise<void>((resolve) => child.once('close', () => resolve()));
  child.once('error', (error) => s.log(`cannot run the embedded engine: ${error.message}`));
  const stop = () => stopChild(child, exited);
  try {
    const url = `postgres://${encodeURIComponent(s.user)}:${encodeURIComponent(s.password)}@${s.host}:${s.port}/postgres`;
    await waitForPostgres(url, {
      timeoutMs: Math.max(s.startTimeoutMs, 60_000),
      gone: exited,
      bound: bound.promise,
      what: () => `embedded postgres on port ${s.port}; its output:\n${tail}`,
    });
  } catch (error) {
    await stop();
    throw error;
  }
  return { version: version || 'unknown', database: s.database, dataDir, exited, stop };
}

// ---------------------------------------------------------------- shared

function signal(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

/**
 * Polls until a `SELECT 1` over `url` succeeds; rejects after `timeoutMs` or when `gone` resolves first. With
 * `bound` (our server said it bound the port), no session counts before it: one could reach another server.
 */
export async function waitForPostgres(
  url: string,
  options: { timeoutMs?: number; gone?: Promise<void>; bound?: Promise<void>; what?: () => string } = {},
): Promise<void> {
  const deadline = Date.now() + (options.timeoutMs ?? 30_000);
  let exited = false;
  void options.gone?.then(() => (exited = true));
  let isBound = options.bound === undefined;
  void options.bound?.then(() => (isBound = true));
  let lastError = 'the server has not bound its port yet';
  for (;;) {
    if (
      isBound &&
      (await canQuery(url).then(
        () => true,
        (error: Error) => ((lastError = error.message), false),
      ))
    )
      return;
    const what = options.what?.() ?? url;
    if (exited) throw new Error(`the server exited before it accepted connections (${what})`);
    if (Date.now() > deadline) throw new Error(`no connection within ${options.timeoutMs ?? 30_000} ms (${lastError}; ${what})`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** Connects, runs `SELECT 1` and disconnects (the readiness check of a Postgres workload). */
export async function canQuery(url: string, timeoutMs = 2000): Promise<void> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: timeoutMs });
  client.on('error', () => {});
  try {
    await client.connect();
    await client.query('SELECT 1');
  } finally {
    await client.end().catch(() => {});
  }
}
