/**
 * Test scaffolding for the data plane: real upstream HTTP servers on port 0 acting as endpoints (each answers
 * with its id), a data plane mounted on an HTTP server on port 0, and a small client that can speak both origin
 * form (gateway) and absolute form (sidecar, like a workload whose HTTP_PROXY points at it).
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { DataPlaneTracing } from './tracing';
import type {
  DestinationRuleSpec,
  Endpoint,
  Gateway,
  LoadedObject,
  RbacShadowEvent,
  RequestRecord,
  Service,
  TrafficSource,
  VirtualServiceSpec,
  Workload,
  DestinationRule,
  VirtualService,
} from '../model';
import { compileMeshConfig, type CompiledMeshConfig, type MeshState } from './config';
import { createDataPlane, type DataPlane } from './dataplane';
import { hashingReady } from './upstream/hashing';

export function workload(name: string, app: string, version: string, extraLabels: Record<string, string> = {}): Workload {
  return {
    name,
    namespace: 'default',
    labels: { app, version, ...extraLabels },
    app,
    version,
    serviceAccount: app,
    replicas: 1,
  };
}

const at = (file: string) => ({ file });

export function service(name: string, port: number, selector: Record<string, string> = { app: name }): LoadedObject<Service> {
  return {
    object: { apiVersion: 'v1', kind: 'Service', metadata: { name }, spec: { selector, ports: [{ name: 'http', port, targetPort: port }] } },
    source: at(`k8s/${name}.yaml`),
  };
}

export function virtualService(name: string, spec: VirtualServiceSpec): LoadedObject<VirtualService> {
  return { object: { apiVersion: 'networking.istio.io/v1', kind: 'VirtualService', metadata: { name }, spec }, source: at(`istio/${name}.yaml`) };
}

export function destinationRule(name: string, spec: DestinationRuleSpec): LoadedObject<DestinationRule> {
  return { object: { apiVersion: 'networking.istio.io/v1', kind: 'DestinationRule', metadata: { name }, spec }, source: at(`istio/${name}.yaml`) };
}

export function gateway(name: string, hosts: string[] = ['*']): LoadedObject<Gateway> {
  return {
    object: {
      apiVersion: 'networking.istio.io/v1',
      kind: 'Gateway',
      metadata: { name },
      spec: { selector: { istio: 'ingressgateway' }, servers: [{ port: { number: 80, name: 'http', protocol: 'HTTP' }, hosts }] },
    },
    source: at(`istio/${name}.yaml`),
  };
}

export type UpstreamBehaviour = (req: http.IncomingMessage, res: http.ServerResponse, upstream: Upstream) => void;

/** What every test upstream answers by default: who it is and what it received. */
export interface Echo {
  id: string;
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  body: string;
}

export class Upstream {
  hits = 0;
  /** Requests currently being answered. */
  active = 0;
  /** Requests whose client (the proxy) went away before the answer was complete. */
  cancelled = 0;
  behaviour: UpstreamBehaviour = echo;
  readonly received: Echo[] = [];
  private constructor(
    readonly id: string,
    readonly server: http.Server,
  ) {}

  get port(): number {
    return (this.server.address() as AddressInfo).port;
  }

  static async start(id: string): Promise<Upstream> {
    const server = http.createServer();
    const upstream = new Upstream(id, server);
    server.on('request', (req, res) => {
      upstream.hits++;
      upstream.active++;
      res.on('close', () => {
        upstream.active--;
        if (!res.writableFinished) upstream.cancelled++;
      });
      upstream.behaviour(req, res, upstream);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return upstream;
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

export const echo: UpstreamBehaviour = (req, res, upstream) => {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    const record: Echo = { id: upstream.id, method: req.method ?? '', url: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks).toString() };
    upstream.received.push(record);
    const body = JSON.stringify(record);
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), 'x-upstream': upstream.id });
    res.end(req.method === 'HEAD' ? undefined : body);
  });
};

/** Answers `status` with the upstream id as body. */
export function status(code: number): UpstreamBehaviour {
  return (req, res, upstream) => {
    req.resume();
    res.writeHead(code, { 'content-type': 'text/plain', 'x-upstream': upstream.id }).end(upstream.id);
  };
}

export interface ProxyResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  text: string;
  json<T = Echo>(): T;
}

export interface SendOptions {
  /** Called with the client request once sent (to abort it at a chosen moment). */
  onRequest?: (req: http.ClientRequest) => void;
  method?: string;
  headers?: Record<string, string>;
  body?: string | Buffer;
  /** The caller ends the request itself (from `onRequest`), e.g. to send a body in steps. */
  hold?: boolean;
}

/** Keep-alive client connections, as real callers use; servers close them when a fixture closes. */
const clientAgent = new http.Agent({ keepAlive: true, maxSockets: 64 });

export function send(port: number, target: string, options: SendOptions = {}): Promise<ProxyResponse> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: '127.0.0.1', port, method: options.method ?? 'GET', path: target, headers: options.headers, agent: clientAgent },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', reject);
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString();
          resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json: () => JSON.parse(text) });
        });
      },
    );
    req.on('error', reject);
    options.onRequest?.(req);
    if (!options.hold) req.end(options.body);
  });
}

export interface MeshFixture {
  port: number;
  records: RequestRecord[];
  /** Dry-run AuthorizationPolicy verdicts the callees' proxies counted. */
  rbacShadow: RbacShadowEvent[];
  endpoints: Endpoint[];
  upstreams: Map<string, Upstream>;
  upstream(id: string): Upstream;
  dataPlane: DataPlane;
  setState(state: Partial<MeshState>): void;
  /** Origin-form request to the proxy (gateway style). */
  get(path: string, options?: SendOptions): Promise<ProxyResponse>;
  close(): Promise<void>;
}

export interface FixtureOptions {
  state: Partial<MeshState>;
  /** Endpoints to run: id + workload (one upstream server each). */
  replicas: Array<{ id: string; workload: Workload; ready?: boolean }>;
  source?: TrafficSource;
  random?: () => number;
  now?: () => number;
  maxRequestBodyBytes?: number;
  tracing?: DataPlaneTracing;
}

export async function startMesh(options: FixtureOptions): Promise<MeshFixture> {
  await hashingReady;
  const upstreams = new Map<string, Upstream>();
  const endpoints: Endpoint[] = [];
  for (const replica of options.replicas) {
    const upstream = await Upstream.start(replica.id);
    upstreams.set(replica.id, upstream);
    endpoints.push({ id: replica.id, workload: replica.workload, host: '127.0.0.1', port: upstream.port, ready: replica.ready ?? true });
  }
  const baseState: MeshState = {
    istio: { gateways: [], virtualServices: [], destinationRules: [] },
    services: [],
    workloads: options.replicas.map((r) => r.workload),
    mode: 'istio',
  };
  let config: CompiledMeshConfig = compileMeshConfig({ ...baseState, ...options.state });
  const records: RequestRecord[] = [];
  const rbacShadow: RbacShadowEvent[] = [];
  const dataPlane = createDataPlane({
    source: options.source ?? { kind: 'gateway', gatewayName: 'web-gateway' },
    config: () => config,
    endpoints: { endpoints: () => endpoints },
    telemetry: { record: (r) => records.push(r), rbacShadow: (e) => rbacShadow.push(e) },
    random: options.random,
    now: options.now,
    maxRequestBodyBytes: options.maxRequestBodyBytes,
    tracing: options.tracing,
  });
  const server = http.createServer((req, res) => dataPlane.handle(req, res));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    records,
    rbacShadow,
    endpoints,
    upstreams,
    upstream(id) {
      const upstream = upstreams.get(id);
      if (!upstream) throw new Error(`no upstream ${id}`);
      return upstream;
    },
    dataPlane,
    setState(state) {
      config = compileMeshConfig({ ...baseState, ...options.state, ...state });
    },
    get: (path, sendOptions) => send(port, path, sendOptions),
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await dataPlane.close();
      await Promise.all([...upstreams.values()].map((u) => u.close()));
    },
  };
}

/** Tallies response bodies' ids (or any key) over many requests. */
export function tally(values: string[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const v of values) counts[v] = (counts[v] ?? 0) + 1;
  return counts;
}
