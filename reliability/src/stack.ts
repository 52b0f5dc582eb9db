/**
 * Starting the whole app through the local mesh for a reliability suite: a private copy of k8s/ and istio/
 * (so runtime changes never touch the repository's files), quiet logs kept for failure messages, clean stop.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startMesh, type EndpointStatus, type MeshHandle, type MeshOptions } from '@cns/mesh';

export const repoRoot = path.resolve(__dirname, '../..');

const BUILD_OUTPUTS = [
  'articles/dist/server.js',
  'authors/dist/server.js',
  'web-api-v1/dist/server.js',
  'web-api-v2/dist/server.js',
  'web-app/dist/index.html',
];

export interface Stack {
  mesh: MeshHandle;
  root: string;
  /** The mesh's own log lines (restarts, rejected config, ejections). */
  meshLog: string[];
  stop(): Promise<void>;
}

/**
 * Starts the mesh on free ports from a temp copy of the manifests. Needs `npm run build`. `prepareRoot` may
 * change the copy first (e.g. to show that a scenario fails without the protection a manifest setting gives).
 */
export async function startStack(options: Partial<MeshOptions> & { prepareRoot?: (root: string) => void } = {}): Promise<Stack> {
  const { prepareRoot, ...meshOptions } = options;
  const missing = BUILD_OUTPUTS.filter((file) => !fs.existsSync(path.join(repoRoot, file)));
  if (missing.length > 0) throw new Error(`the reliability suite needs built services: run npm run build (missing: ${missing.join(', ')})`);
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'reliability-'));
  for (const copied of ['k8s', 'istio']) fs.cpSync(path.join(repoRoot, copied), path.join(root, copied), { recursive: true });
  for (const linked of ['articles', 'authors', 'web-api', 'web-api-v1', 'web-api-v2', 'web-app', 'service-kit', 'mesh', 'node_modules', 'package.json']) {
    fs.symlinkSync(path.join(repoRoot, linked), path.join(root, linked));
  }
  prepareRoot?.(root);
  const meshLog: string[] = [];
  let mesh: MeshHandle;
  try {
    mesh = await startMesh({
      root,
      gatewayPort: 0,
      adminPort: 0,
      watch: false,
      log: (message) => meshLog.push(message),
      output: () => undefined,
      // Probe timeouts above the mesh's 1 s default: on a shared 2-core CI machine a busy replica may answer
      // /readyz late, and a flapping endpoint would fail scenarios for a reason they do not test.
      probe: { startupTimeoutMs: 90_000, timeoutMs: 3000 },
      ...meshOptions,
    });
  } catch (error) {
    fs.rmSync(root, { recursive: true, force: true });
    throw error;
  }
  return {
    mesh,
    root,
    meshLog,
    stop: async () => {
      await mesh.stop();
      fs.rmSync(root, { recursive: true, force: true });
    },
  };
}

/** The ready endpoints of a workload. */
export function readyEndpoints(mesh: MeshHandle, workload: string): EndpointStatus[] {
  return mesh.endpoints().filter((e) => e.workload === workload && e.ready);
}

export { eventually } from '@cns/service-kit/testing';
