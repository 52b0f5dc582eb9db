/**
 * THE table that maps a Deployment (or StatefulSet) in k8s/ to the local command the mesh runs for each of its replicas.
 * Every other fact (replicas, labels, env, readiness path, ports) comes from the manifests themselves.
 *
 * To add a service: add its Deployment to k8s/ and one row here.
 */

export interface WorkloadCommand {
  /** Executable and arguments; `node` means the Node.js running the mesh. Paths are relative to the repo root. */
  argv: string[];
  /** Working directory relative to the repo root. */
  cwd: string;
  /** A file that must exist before the command can run (a build output), with the command that creates it. */
  requires: { file: string; buildHint: string };
  /** Readiness path used when the Deployment declares no `readinessProbe.httpGet.path`. */
  defaultReadinessPath: string;
  /** Extra environment on top of the Deployment's `env` (the mesh also sets PORT, HOST, HTTP_PROXY, ...). */
  env?: Record<string, string>;
  /** `postgres`: readiness is a Postgres session (what `pg_isready` checks on the cluster), not an HTTP path. */
  readiness?: 'http' | 'postgres';
  /**
   * How a replica gets its port. `reported`: PORT=0, the child binds a port of the kernel's choosing and sends
   * `{ type: 'listening', port }` over the IPC channel (service-kit's runServer does). `assigned` (default, for
   * servers that cannot report: nginx, PostgreSQL, PGlite): the mesh picks a free port, and starts the child again
   * on a fresh one when it fails to bind it (see supervisor.ts).
   */
  port?: 'reported' | 'assigned';
  /**
   * With `assigned`: the child confirms it has bound the port (`{ type: 'listening', port }` over IPC) and is probed
   * only then, so that another server holding the picked port cannot pass the readiness probe in its place.
   */
  confirmsPort?: boolean;
}

const nodeService = (workspace: string): WorkloadCommand => ({
  argv: ['node', `${workspace}/dist/server.js`],
  cwd: '.',
  requires: { file: `${workspace}/dist/server.js`, buildHint: 'run `npm run build`' },
  defaultReadinessPath: '/readyz',
  port: 'reported',
});

export const workloadCommands: Readonly<Record<string, WorkloadCommand>> = {
  articles: nodeService('articles'),
  authors: nodeService('authors'),
  'web-api-v1': nodeService('web-api-v1'),
  'web-api-v2': nodeService('web-api-v2'),
  // The database StatefulSet: the system's PostgreSQL server when installed, else PGlite (LOCAL_POSTGRES forces
  // one). The mesh sets LOCAL_POSTGRES_DATA: with `npm start` .data/postgres/<engine> at the repository root (kept
  // across restarts; npm run db:reset deletes it).
  postgres: {
    argv: ['node', 'mesh/dist/postgres-workload.js'],
    cwd: '.',
    requires: { file: 'mesh/dist/postgres-workload.js', buildHint: 'run `npm run build`' },
    defaultReadinessPath: '',
    readiness: 'postgres',
    // The server cannot bind port 0 and tell: the mesh picks its port, and postgres-workload confirms it once its
    // own server has logged that it bound it.
    port: 'assigned',
    confirmsPort: true,
  },
  // Runs the real nginx with web-app's nginx.conf when nginx is installed, else a Node static server. nginx cannot
  // bind port 0 and tell: the mesh picks its port, and run-web-app.mjs confirms it once nginx has bound it.
  'web-app': {
    argv: ['node', 'web-app/local/run-web-app.mjs'],
    cwd: '.',
    requires: { file: 'web-app/dist/index.html', buildHint: 'run `npm run build` (builds web-app/dist)' },
    defaultReadinessPath: '/readyz',
    port: 'assigned',
    confirmsPort: true,
  },
};

export class UnknownWorkloadError extends Error {
  constructor(deployment: string, file: string) {
    super(
      `Deployment "${deployment}" (${file}) has no local command: add a row for it to ` +
        `mesh/src/runtime/workload-commands.ts (known: ${Object.keys(workloadCommands).join(', ')})`,
    );
    this.name = 'UnknownWorkloadError';
  }
}

/** The command for a Deployment; throws a clear start-up error for a Deployment the table does not know. */
export function commandFor(deployment: string, file: string, table = workloadCommands): WorkloadCommand {
  const command = table[deployment];
  if (!command) throw new UnknownWorkloadError(deployment, file);
  return command;
}
