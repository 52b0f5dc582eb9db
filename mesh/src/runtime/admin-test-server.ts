/**
 * The admin server the admin tests run on port 0 (a test helper, left out of dist/ like ../dataplane/test-harness.ts):
 * a backend over a config store with no processes, an empty graph and no-op file loads and restarts unless a test
 * gives its own.
 */
import http from 'node:http';
import type net from 'node:net';
import path from 'node:path';
import { analyzeManifests, loadManifestFiles } from '../manifests';
import type { LoadedObject } from '../model';
import { MeshTelemetry } from '../telemetry';
import { TraceStore } from '../telemetry/trace-store';
import { createAdminServer, type AdminBackend } from './admin';
import { ConfigStore, isIstioObject } from './config-store';

export const repoRoot = path.resolve(__dirname, '../../..');

/** A backend over `store`; `overrides` replace any part of it (endpoints, file loads, restarts, status). */
export function testAdminBackend(store: ConfigStore<unknown>, kubernetesObjects: LoadedObject[], overrides: Partial<AdminBackend> = {}): AdminBackend {
  const telemetry = new MeshTelemetry();
  return {
    root: repoRoot,
    namespace: 'default',
    mode: 'istio',
    gatewayUrl: () => 'http://127.0.0.1:1',
    store,
    telemetry,
    traces: new TraceStore(),
    kubernetesObjects,
    endpoints: () => [],
    graph: () =>
      telemetry.graph({
        workloads: [],
        serviceNames: [],
        istio: { gateways: [], virtualServices: [], destinationRules: [] },
        readyCount: () => ({ ready: 0, total: 0 }),
      }),
    apply: (objects, options) => {
      store.apply(objects, options);
    },
    remove: (keys, options) => store.remove(keys, options),
    applyFile: () => [],
    restartWorkload: async () => undefined,
    ...overrides,
  };
}

export interface ListeningAdmin {
  server: http.Server;
  url: string;
  close(): Promise<void>;
}

/** The admin server for `backend` on a loopback port. */
export async function listenAdmin(backend: AdminBackend): Promise<ListeningAdmin> {
  const server = createAdminServer(backend);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    server,
    url: `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`,
    close: async () => {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

/** The admin of the repository's k8s/ and istio/base/, with one ready web-api-v1 replica and every request recorded. */
export interface IstioAdmin extends ListeningAdmin {
  store: ConfigStore<number>;
  backend: AdminBackend;
  /** How often the store compiled: a rejected change never compiles. */
  compiled(): number;
  /** Files the admin was asked to load (`POST /config/apply?file=`) and workloads it was asked to restart. */
  appliedFiles: string[];
  restarted: string[];
  /** Every request the server answered, with its status: what a browser's opaque requests really got. */
  answered: Array<{ method: string; url: string; status: number }>;
}

export async function startIstioAdmin(): Promise<IstioAdmin> {
  const k8sObjects = loadManifestFiles(['k8s'], { root: repoRoot }).objects;
  let compiled = 0;
  const store = new ConfigStore<number>({
    kubernetesObjects: k8sObjects,
    analyze: analyzeManifests,
    // The compiled form does not matter here: count compilations to see that rejected changes never compile.
    compile: () => (compiled += 1),
  });
  store.initialize(loadManifestFiles(['istio/base'], { root: repoRoot }).objects);
  const appliedFiles: string[] = [];
  const restarted: string[] = [];
  const answered: IstioAdmin['answered'] = [];
  const backend = testAdminBackend(
    store as ConfigStore<unknown>,
    k8sObjects.filter((o) => !isIstioObject(o.object)),
    {
      endpoints: () => [
        {
          id: 'web-api-v1-0',
          workload: 'web-api-v1',
          app: 'web-api',
          version: 'v1',
          host: '127.0.0.1',
          port: 1,
          pid: undefined,
          ready: true,
          restarts: 0,
          state: 'running',
        },
      ],
      apply: (objects, options) => store.apply(objects, options),
      applyFile: (file) => {
        appliedFiles.push(file);
        return [];
      },
      restartWorkload: async (name) => {
        restarted.push(name);
      },
    },
  );
  const admin = await listenAdmin(backend);
  admin.server.on('request', (req: http.IncomingMessage, res: http.ServerResponse) => {
    res.on('finish', () => answered.push({ method: req.method ?? '', url: req.url ?? '', status: res.statusCode }));
  });
  return { ...admin, store, backend, compiled: () => compiled, appliedFiles, restarted, answered };
}

/** The Kubernetes REST collection of VirtualServices in `default`. */
export const VIRTUAL_SERVICES = '/apis/networking.istio.io/v1/namespaces/default/virtualservices';

export const authorsVs = (subset = 'v1', weight?: number) => ({
  apiVersion: 'networking.istio.io/v1',
  kind: 'VirtualService',
  metadata: { name: 'authors' },
  spec: { hosts: ['authors'], http: [{ route: [{ destination: { host: 'authors', subset }, weight }] }] },
});
/** What Istio's validation refuses (a subset nobody defines is only a warning: apply-warnings.test.ts). */
export const invalidAuthorsVs = () => authorsVs('v1', -7);
