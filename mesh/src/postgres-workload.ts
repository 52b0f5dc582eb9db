/**
 * The local mesh's command for the `postgres` StatefulSet (k8s/postgres.yaml): a PostgreSQL server on the replica's
 * PORT with the Secret's credentials (POSTGRES_USER, POSTGRES_PASSWORD, POSTGRES_DB, as the official image reads
 * them), data in LOCAL_POSTGRES_DATA. Stops on SIGTERM/SIGINT, and when the mesh that started it goes away.
 *
 * `node mesh/dist/postgres-workload.js reset` (npm run db:reset) deletes the local data, refusing while it is in use.
 */
import fs from 'node:fs';
import path from 'node:path';
import { chooseLocalPostgresEngine, startLocalPostgres, type LocalPostgres } from './postgres';

const dataDir = path.resolve(process.env.LOCAL_POSTGRES_DATA ?? '.data/postgres');
const pidFile = path.join(dataDir, 'workload.pid');

function runningPid(): number | undefined {
  try {
    const pid = Number(fs.readFileSync(pidFile, 'utf8').trim());
    process.kill(pid, 0);
    return pid;
  } catch {
    return undefined;
  }
}

async function serve(): Promise<void> {
  const port = Number(process.env.PORT ?? 5432);
  const engine = chooseLocalPostgresEngine();
  const other = runningPid();
  if (other !== undefined && other !== process.pid) {
    console.error(`postgres: ${dataDir} is in use by process ${other} (another mesh?); stop it first`);
    process.exit(1);
  }
  fs.mkdirSync(dataDir, { recursive: true });
  fs.writeFileSync(pidFile, String(process.pid));
  let server: LocalPostgres;
  try {
    server = await startLocalPostgres({
      engine,
      dataDir,
      port,
      host: process.env.HOST ?? '127.0.0.1',
      user: process.env.POSTGRES_USER ?? 'postgres',
      password: process.env.POSTGRES_PASSWORD ?? 'postgres',
      database: process.env.POSTGRES_DB ?? process.env.POSTGRES_USER ?? 'postgres',
      // The server's own log goes to stderr, as PostgreSQL writes it: the mesh reads stderr (a taken port, "could
      // not bind ...", makes it start this replica again on a fresh one) while a service's stdout is not read.
      log: (line) => console.error(line),
    });
  } catch (error) {
    fs.rmSync(pidFile, { force: true });
    console.error(`postgres: cannot start the ${engine} engine: ${(error as Error).message}`);
    process.exit(1);
  }
  // startLocalPostgres saw this server bind the port: tell the mesh, which probes the replica only then.
  if (process.env.MESH_SUPERVISED === '1' && process.send) process.send({ type: 'listening', port: server.port });
  console.log(
    `postgres: ${server.engine} engine ${server.version} ready on ${server.host}:${server.port}, database ${server.database}, data in ${path.relative(process.cwd(), server.dataDir) || server.dataDir}`,
  );
  let stopping = false;
  const stop = async (code: number, why: string): Promise<void> => {
    if (stopping) return;
    stopping = true;
    console.log(`postgres: stopping (${why})`);
    await server.stop().catch(() => {});
    fs.rmSync(pidFile, { force: true });
    process.exit(code);
  };
  process.on('SIGTERM', () => void stop(0, 'SIGTERM'));
  process.on('SIGINT', () => void stop(0, 'SIGINT'));
  // The mesh's IPC channel closes when the mesh goes away, even on SIGKILL.
  process.on('disconnect', () => void stop(0, 'the mesh went away'));
  void server.exited.then(() => void stop(1, 'the server exited'));
}

function reset(): void {
  const pid = runningPid();
  if (pid !== undefined) {
    console.error(`db:reset: ${dataDir} is in use by process ${pid} (a running mesh): stop it (Ctrl-C) and run again`);
    process.exit(1);
  }
  fs.rmSync(dataDir, { recursive: true, force: true });
  console.log(`db:reset: deleted ${dataDir}; the next npm start creates a fresh database with the sample articles`);
}

if (process.argv[2] === 'reset') reset();
else void serve();
