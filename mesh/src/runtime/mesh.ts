/**
 * `startMesh`: the whole local mesh in one call. Reads k8s/ and istio/, refuses to start on error findings,
 * binds the ingress gateway and the admin port, starts one sidecar egress listener per workload, starts every
 * replica in dependency order by readiness, and watches the active Istio files.
 */
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { compileMeshConfig, createDataPlane, type CompiledMeshConfig, type DataPlane } from '../dataplane';
import { createTcpProxy, type TcpProxy } from '../dataplane/tcp-proxy';
import { createTracing } from '../dataplane/tracing';
import { hashingReady } from '../dataplane/upstream/hashing';
import { istioKindOf } from '../istio';
import { analyzeManifests, loadManifestFiles } from '../manifests';
import { objectKey } from '../manifests/merge';
import { gatewayApiWorkload, generatedGatewayName, istioClassGateway, withGatewayApi } from '../gateway-api';
import { gatewayApiStatusReader } from '../gateway-api/status';
import type { AuthorizationPolicy, DestinationRule, Gateway, IstioConfig, K8sObject, LoadedObject, PeerAuthentication, Service, VirtualService } from '../model';
import { createAdminServer, loadFileForApply } from './admin';
import { ConfigRejectedError, ConfigStore, formatFinding, isMeshConfigObject } from './config-store';
import { type BackoffPolicy, type EndpointStatus, type ProbePolicy, Supervisor } from './supervisor';
import { type Graph, MeshTelemetry } from '../telemetry';
import { rewriteEnv, tcpTargetsIn } from './tcp-hop';
import { buildTopology, startOrder, type Topology } from './topology';
import { OtlpSpanExport, otlpTracesUrl } from '../telemetry/otlp-export';
import { TraceStore } from '../telemetry/traces';
import { ManifestWatcher } from './watch';

export interface MeshOptions {
  /** Repository root (k8s/, istio/ and the services' builds); default: the repo this module lives in. */
  root?: string;
  /** Ingress gateway port; 0 picks a free one. Default env GATEWAY_PORT, else 8080. */
  gatewayPort?: number;
  /** Admin port; 0 picks a free one. Default env MESH_ADMIN_PORT, else 15000. */
  adminPort?: number;
  /** false = `--no-istio`: plain Kubernetes Service behaviour. Default: true unless env MESH_NO_ISTIO=1. */
  istio?: boolean;
  /** Istio files or folders active at start, relative to root. Default ['istio/base']. */
  istioPaths?: string[];
  /** Route with the Kubernetes Gateway API: istioPaths defaults to gateway-api/ instead of istio/base. */
  gatewayApi?: boolean;
  /** Kubernetes manifests, relative to root. Default ['k8s']. */
  k8sPaths?: string[];
  /** Watch the active Istio files and reload them on change. Default true. */
  watch?: boolean;
  namespace?: string;
  /** The mesh's own messages. Default: stderr with a `[mesh]` prefix. */
  log?: (message: string) => void;
  /**
   * Each line a replica prints. Default: none for stdout — the replicas write straight to this process's stdout
   * (their JSON lines carry `pod`), web-app's lines are relayed (its server line tells nginx from the node
   * fallback) and stderr is relayed prefixed with the endpoint id. Given: every line goes through it (on the thread
   * that proxies requests: for tests and an interactive terminal).
   */
  output?: (endpointId: string, line: string, stream: 'stdout' | 'stderr') => void;
  probe?: Partial<ProbePolicy>;
  backoff?: Partial<BackoffPolicy>;
  stopTimeoutMs?: number;
  /**
   * Where stateful workloads (the postgres StatefulSet) keep their data. `npm start` passes `<root>/.data` (env
   * MESH_DATA_DIR overrides it), so the data survives restarts. Default: a temporary folder deleted by stop(), so
   * tests and benchmarks start from the sample data and never share a database.
   */
  dataDir?: string;
  /** Randomness for weights and fault percentages (seed it in tests). */
  random?: () => number;
  /** Percentage of new traces the proxies record (0–100; an incoming sampled flag wins). Default env MESH_TRACE_SAMPLING, else 100. */
  traceSampling?: number;
  /** Bounds of the in-memory trace store (default env MESH_TRACE_MAX_TRACES / MESH_TRACE_MAX_BYTES). */
  traceStore?: { maxTraces?: number; maxBytes?: number };
}

export interface MeshHandle {
  gatewayUrl: string;
  adminUrl: string;
  mode: 'istio' | 'kubernetes';
  /** Which server web-app runs under, from its start-up line. */
  webAppServer: () => 'nginx' | 'node' | 'unknown';
  telemetry: MeshTelemetry;
  /** The spans of the last traces (Jaeger API on the admin port: /api/traces). */
  traces: TraceStore;
  /** Where spans are also exported over OTLP/HTTP (env OTEL_EXPORTER_OTLP_ENDPOINT), if anywhere. */
  otlpTracesUrl?: string;
  topology: Topology;
  /** Applies Istio objects like `kubectl apply` (throws ConfigRejectedError; the last good config stays). */
  applyObjects(objects: Array<K8sObject | LoadedObject>, source?: string): LoadedObject[];
  /** Applies a manifest file (relative to root) and watches it from then on. */
  applyFile(file: string): LoadedObject[];
  /** Removes an active Istio object; false when there is none. */
  deleteObject(kind: string, name: string): boolean;
  activeObjects(): LoadedObject[];
  /** Rolling restart: one replica at a time, new one ready before the old one drains. */
  restartWorkload(name: string): Promise<void>;
  endpoints(): EndpointStatus[];
  graph(windowMs?: number): Graph;
  /** Stops watchers, listeners and every child (SIGTERM, then SIGKILL after the grace period). */
  stop(): Promise<void>;
}

export class MeshStartError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MeshStartError';
  }
}

const defaultRoot = path.resolve(__dirname, '../../..');

function portFrom(value: number | undefined, envName: string, fallback: number): number {
  if (value !== undefined) return value;
  const env = process.env[envName];
  if (env === undefined || env === '') return fallback;
  const port = Number(env);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new MeshStartError(`${envName}=${env} is not a port number (0-65535)`);
  return port;
}

function samplingFrom(value: number | undefined): number {
  const raw = value ?? (process.env.MESH_TRACE_SAMPLING ? Number(process.env.MESH_TRACE_SAMPLING) : 100);
  if (!Number.isFinite(raw) || raw < 0 || raw > 100) {
    throw new MeshStartError(`trace sampling ${value ?? process.env.MESH_TRACE_SAMPLING} is not a percentage (0-100): set MESH_TRACE_SAMPLING (or --trace-sampling)`);
  }
  return raw;
}

function listen(server: http.Server, port: number, what: string, envName: string, flag: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const onError = (error: NodeJS.ErrnoException): void => {
      if (error.code === 'EADDRINUSE') reject(new MeshStartError(`port ${port} is in use: set ${envName} (or ${flag}) to a free port for the ${what}`));
      else if (error.code === 'EACCES') reject(new MeshStartError(`port ${port} needs privileges: set ${envName} (or ${flag}) to a port above 1023`));
      else reject(error);
    };
    server.once('error', onError);
    server.listen(port, '127.0.0.1', () => {
      server.removeListener('error', onError);
      resolve((server.address() as net.AddressInfo).port);
    });
  });
}

/** Stops accepting, lets requests in flight finish for up to `graceMs`, then cuts what is left. */
function closeServer(server: http.Server, graceMs = 5000): Promise<void> {
  return new Promise((resolve) => {
    if (!server.listening) return resolve();
    const cut = setTimeout(() => server.closeAllConnections(), graceMs);
    server.close(() => {
      clearTimeout(cut);
      resolve();
    });
    server.closeIdleConnections();
  });
}

/** The Istio objects among `objects`, plus the ones istiod would generate from the Gateway API objects. */
function toIstioConfig(objects: readonly LoadedObject[], services: readonly LoadedObject<Service>[] = [], namespace = 'default'): IstioConfig {
  return withGatewayApi(istioObjectsOf(objects), objects, services, namespace);
}

function istioObjectsOf(objects: readonly LoadedObject[]): IstioConfig {
  const of = (o: LoadedObject, kind: string): boolean => istioKindOf(o.object)?.kind === kind;
  return {
    gateways: objects.filter((o): o is LoadedObject<Gateway> => of(o, 'Gateway')),
    virtualServices: objects.filter((o): o is LoadedObject<VirtualService> => of(o, 'VirtualService')),
    destinationRules: objects.filter((o): o is LoadedObject<DestinationRule> => of(o, 'DestinationRule')),
    authorizationPolicies: objects.filter((o): o is LoadedObject<AuthorizationPolicy> => of(o, 'AuthorizationPolicy')),
    peerAuthentications: objects.filter((o): o is LoadedObject<PeerAuthentication> => of(o, 'PeerAuthentication')),
  };
}

function findingsMessage(title: string, error: ConfigRejectedError): string {
  return `${title}:\n${error.findings.map((f) => `  ${formatFinding(f)}`).join('\n')}`;
}

function configureServer(server: http.Server): void {
  // Above typical client keep-alive (Node agents, browsers) so idle pooled connections are not cut mid-reuse.
  server.keepAliveTimeout = 65_000;
  server.headersTimeout = 66_000;
  server.requestTimeout = 300_000;
}

export async function startMesh(options: MeshOptions = {}): Promise<MeshHandle> {
  const root = path.resolve(options.root ?? defaultRoot);
  await hashingReady; // consistentHash load balancing hashes with xxhash-wasm
  const namespace = options.namespace ?? 'default';
  const mode: 'istio' | 'kubernetes' = (options.istio ?? process.env.MESH_NO_ISTIO !== '1') ? 'istio' : 'kubernetes';
  const log = options.log ?? ((message: string) => process.stderr.write(`[mesh] ${message}\n`));
  const gatewayPort = portFrom(options.gatewayPort, 'GATEWAY_PORT', 8080);
  const adminPort = portFrom(options.adminPort, 'MESH_ADMIN_PORT', 15000);
  const istioPaths = options.istioPaths ?? (options.gatewayApi ? ['gateway-api'] : ['istio/base']);
  const temporaryData = options.dataDir === undefined;
  const dataDir = options.dataDir ? path.resolve(root, options.dataDir) : fs.mkdtempSync(path.join(os.tmpdir(), 'mesh-data-'));
  // The system Postgres server runs as the unprivileged postgres user when the mesh is root: let it pass through.
  if (temporaryData) fs.chmodSync(dataDir, 0o711);
  const traceSampling = samplingFrom(options.traceSampling);
  let traces: TraceStore;
  try {
    traces = new TraceStore(options.traceStore);
  } catch (error) {
    throw new MeshStartError((error as Error).message);
  }
  const otlpUrl = otlpTracesUrl();
  let otlp: OtlpSpanExport | undefined;
  try {
    otlp = otlpUrl ? new OtlpSpanExport(otlpUrl, log) : undefined;
  } catch (error) {
    throw new MeshStartError((error as Error).message);
  }
  const spanSink = otlp
    ? {
        onSpan: (span: Parameters<TraceStore['onSpan']>[0]) => {
          traces.onSpan(span);
          otlp.onSpan(span);
        },
      }
    : traces;
  /** Sends the spans still queued for OTLP, bounded so a dead collector cannot hold the stop. */
  const flushSpans = async (): Promise<void> => {
    if (!otlp) return;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([otlp.shutdown().catch(() => undefined), new Promise<void>((resolve) => (timer = setTimeout(resolve, 3000)))]);
    clearTimeout(timer);
  };

  // ---- manifests
  const k8s = loadManifestFiles(options.k8sPaths ?? ['k8s'], { root });
  const istioLoad = loadManifestFiles(istioPaths, { root });
  // gateway-api/ also holds Services (one per web-api version): they join the Kubernetes objects.
  const kubernetesObjects = [...k8s.objects, ...istioLoad.objects].filter((o) => !isMeshConfigObject(o.object));
  // Also loaded without Istio: the data plane then treats the gateway's VirtualServices as plain Ingress rules
  // (host/path → Service, no subsets, weights, faults or retries).
  const loadErrors = [...k8s.findings, ...istioLoad.findings].filter((f) => f.severity === 'error');
  if (loadErrors.length > 0) throw new MeshStartError(findingsMessage('cannot read the manifests', new ConfigRejectedError(loadErrors)));
  let topology: Topology;
  try {
    topology = buildTopology(kubernetesObjects, namespace);
  } catch (error) {
    throw new MeshStartError((error as Error).message);
  }
  const workloads = topology.workloads.map((w) => w.workload);
  const store = new ConfigStore<CompiledMeshConfig>({
    kubernetesObjects,
    analyze: analyzeManifests,
    compile: (istioObjects) =>
      compileMeshConfig({ istio: toIstioConfig(istioObjects, topology.services, namespace), services: topology.services, workloads, mode, namespace }),
    log,
  });
  try {
    store.initialize([...k8s.objects, ...istioLoad.objects].filter((o) => isMeshConfigObject(o.object)));
  } catch (error) {
    if (error instanceof ConfigRejectedError) throw new MeshStartError(findingsMessage('the manifests have errors, the mesh does not start', error));
    throw error;
  }

  // ---- runtime pieces
  const telemetry = new MeshTelemetry(namespace);
  // PeerAuthentication in force decides connection_security_policy and the principals in the Istio labels.
  // Without Istio (--no-istio) nothing is encrypted: DISABLE everywhere.
  const updateSecurity = (): void =>
    telemetry.setMtlsModes(mode === 'istio' ? (workload) => store.compiled().authorization.mtlsMode(workload, 0) : () => 'DISABLE');
  updateSecurity();
  store.on('change', updateSecurity);
  let webAppServer: 'nginx' | 'node' | 'unknown' = 'unknown';
  const output =
    options.output ??
    ((id: string, line: string) => {
      process.stdout.write(`[${id}] ${line}\n`);
    });
  const sidecarUrls = new Map<string, string>();
  /** Per workload: env values rewritten to reach TCP Services through its outbound TCP hops. */
  const tcpEnv = new Map<string, Record<string, string>>();
  const tcpHops: TcpProxy[] = [];
  const supervisor = new Supervisor({
    root,
    meshEnv: (spec) => {
      const proxy = sidecarUrls.get(spec.workload.name)!;
      const data: Record<string, string> = spec.stateful ? { LOCAL_POSTGRES_DATA: path.join(dataDir, spec.workload.name) } : {};
      // MESH_ADMIN_URL: web-app answers it at /mesh-admin.json for its graph and trace links (any admin port).
      const admin = { MESH_ADMIN_URL: `http://localhost:${adminBound}` };
      return { ...data, ...admin, ...tcpEnv.get(spec.workload.name), HTTP_PROXY: proxy, http_proxy: proxy, HTTPS_PROXY: '', https_proxy: '' };
    },
    probe: options.probe,
    backoff: options.backoff,
    stopTimeoutMs: options.stopTimeoutMs,
    log,
    // Relaying every line would run on the proxying thread (issue 10): without an output callback, the services
    // write to the mesh's stdout themselves; web-app's few lines are still read for its server line.
    inheritStdout: options.output ? undefined : (workload) => workload !== 'web-app',
    output: (id, line, stream) => {
      if (id.startsWith('web-app') && webAppServer === 'unknown') {
        if (/serving .* with nginx/i.test(line)) webAppServer = 'nginx';
        else if (/node fallback/i.test(line)) webAppServer = 'node';
      }
      output(id, line, stream);
    },
  });
  const dataPlaneFor = (source: Parameters<typeof createDataPlane>[0]['source']): DataPlane =>
    createDataPlane({
      source,
      config: () => store.compiled(),
      endpoints: supervisor,
      telemetry,
      random: options.random,
      // Sampling draws use their own randomness: a seeded `random` keeps its documented draw order.
      tracing: createTracing(source, { samplingPercent: traceSampling, sink: spanSink, namespace }),
    });

  const servers: http.Server[] = [];
  const dataPlanes: DataPlane[] = [];
  // A Gateway API Gateway of class istio gets its own gateway workload (`<name>-istio`), as on a cluster.
  const kubeGateway = istioClassGateway(store.active());
  const gatewayPlane = dataPlaneFor(
    kubeGateway
      ? { kind: 'gateway', gatewayName: generatedGatewayName(kubeGateway.metadata.name), workload: gatewayApiWorkload(kubeGateway.metadata.name, kubeGateway.metadata.namespace ?? namespace) }
      : { kind: 'gateway', gatewayName: 'web-gateway' },
  );
  dataPlanes.push(gatewayPlane);
  const gateway = http.createServer((req, res) => gatewayPlane.handle(req, res));
  configureServer(gateway);
  servers.push(gateway);

  const appliedFiles = new Set<string>();
  const startupFiles = istioPaths.map((p) => path.relative(root, path.resolve(root, p)));
  const watcher = new ManifestWatcher({ root, onChange: (file) => reloadFile(file), onError: (error) => log(`file watch: ${error.message}`) });
  const watchEnabled = options.watch ?? true;

  const backend = {
    root,
    namespace,
    mode,
    store: store as ConfigStore<unknown>,
    telemetry,
    traces,
    kubernetesObjects,
    endpoints: () => supervisor.status(),
    graph: (windowMs?: number) => graphOf(windowMs),
    gatewayUrl: () => gatewayUrl,
    apply: (objects: LoadedObject[], opts: { dryRun?: boolean } = {}) => {
      const located = objects.map(locateSource);
      store.apply(located, opts);
      if (!opts.dryRun) trackFiles(located);
    },
    remove: (keys: string[], opts: { dryRun?: boolean } = {}) => store.remove(keys, opts),
    statusOf: gatewayApiStatusReader(() => store.stored(), () => store.resourceVersion(), topology.services, namespace),
    applyFile: (file: string) => applyFile(file),
    restartWorkload: (name: string) => supervisor.restartWorkload(name),
  };
  const admin = createAdminServer(backend);
  servers.push(admin);

  function graphOf(windowMs?: number): Graph {
    const status = supervisor.status();
    return telemetry.graph(
      {
        workloads,
        serviceNames: topology.services.map((s) => s.object.metadata.name),
        istio: toIstioConfig(store.active(), topology.services, namespace),
        readyCount: (name) => {
          const mine = status.filter((s) => s.workload === name);
          return { ready: mine.filter((s) => s.ready).length, total: mine.length };
        },
      },
      windowMs,
    );
  }

  function applyFile(file: string): LoadedObject[] {
    const objects = loadFileForApply(root, file);
    store.apply(objects);
    trackFiles(objects);
    return objects;
  }

  /** A source file named by a client (header x-mesh-source-file), as a path relative to root when it is a repo file. */
  function locateSource(loaded: LoadedObject): LoadedObject {
    const absolute = path.resolve(root, loaded.source.file);
    const relative = path.relative(root, absolute);
    const insideRoot = !relative.startsWith('..') && !path.isAbsolute(relative);
    return insideRoot && fs.existsSync(absolute) && fs.statSync(absolute).isFile() ? { ...loaded, source: { ...loaded.source, file: relative } } : loaded;
  }

  /** Files applied from disk are watched from then on, like the base files. */
  function trackFiles(objects: LoadedObject[]): void {
    for (const file of new Set(objects.map((o) => o.source.file))) {
      if (!fs.existsSync(path.resolve(root, file))) continue;
      appliedFiles.add(file);
      if (watchEnabled) watcher.watch(path.dirname(file));
    }
  }

  function reloadFile(file: string): void {
    const underStartupPath = startupFiles.some((p) => file === p || file.startsWith(p + path.sep));
    if (!underStartupPath && !appliedFiles.has(file) && !store.hasFile(file)) return;
    try {
      if (!fs.existsSync(path.resolve(root, file))) {
        if (!store.hasFile(file)) return;
        store.replaceFile(file, []);
        appliedFiles.delete(file);
        return;
      }
      const objects = loadFileForApply(root, file);
      const current = store.active().filter((o) => o.source.file === file);
      if (JSON.stringify(current.map((o) => o.object)) === JSON.stringify(objects.map((o) => o.object))) return;
      store.replaceFile(file, objects);
    } catch (error) {
      if (error instanceof ConfigRejectedError) log(findingsMessage(`change in ${file} rejected, the last good config stays active`, error));
      else log(`cannot reload ${file}: ${(error as Error).message}`);
    }
  }

  // ---- bind the fixed ports first: a taken port fails fast, before any child starts
  let gatewayBound: number;
  let adminBound: number;
  let gatewayUrl = '';
  try {
    gatewayBound = await listen(gateway, gatewayPort, 'ingress gateway', 'GATEWAY_PORT', '--gateway-port');
    gatewayUrl = `http://127.0.0.1:${gatewayBound}`;
    adminBound = await listen(admin, adminPort, 'admin server', 'MESH_ADMIN_PORT', '--admin-port');
  } catch (error) {
    await Promise.all(servers.map(closeServer));
    await Promise.all(dataPlanes.map((d) => d.close()));
    await supervisor.stop();
    await flushSpans();
    if (temporaryData) fs.rmSync(dataDir, { recursive: true, force: true });
    throw error;
  }

  for (const spec of topology.workloads) {
    const plane = dataPlaneFor({ kind: 'sidecar', workload: spec.workload });
    dataPlanes.push(plane);
    const sidecar = http.createServer((req, res) => plane.handle(req, res));
    configureServer(sidecar);
    servers.push(sidecar);
    const port = await listen(sidecar, 0, `sidecar of ${spec.workload.name}`, 'GATEWAY_PORT', '--gateway-port');
    sidecarUrls.set(spec.workload.name, `http://127.0.0.1:${port}`);
    // TCP Services the workload's env names (postgres:5432): one outbound TCP listener each, as Istio's sidecar has.
    const hops: Array<{ target: ReturnType<typeof tcpTargetsIn>[number]; address: string }> = [];
    for (const target of tcpTargetsIn(spec.env, topology.services, namespace)) {
      const hop = createTcpProxy({
        source: spec.workload,
        service: { name: target.service.object.metadata.name, namespace: target.service.object.metadata.namespace ?? namespace },
        port: target.port.port,
        address: target.address,
        config: () => store.compiled(),
        endpoints: supervisor,
        telemetry,
        random: options.random,
        log,
      });
      tcpHops.push(hop);
      const hopPort = await new Promise<number>((resolve, reject) => {
        hop.server.once('error', reject);
        hop.server.listen(0, '127.0.0.1', () => resolve((hop.server.address() as net.AddressInfo).port));
      });
      hops.push({ target, address: `127.0.0.1:${hopPort}` });
      log(`${spec.workload.name} reaches ${target.address} (TCP) through 127.0.0.1:${hopPort}`);
    }
    if (hops.length > 0) tcpEnv.set(spec.workload.name, rewriteEnv(spec.env, hops));
  }

  let stopped: Promise<void> | undefined;
  const stop = (): Promise<void> =>
    (stopped ??= (async () => {
      supervisor.beginShutdown();
      watcher.close();
      // Listeners first (no new requests), then the upstream pools (their idle keep-alive connections would
      // otherwise hold the services' drain open), then the processes.
      await Promise.all(servers.map(closeServer));
      await Promise.all(dataPlanes.map((d) => d.close()));
      await supervisor.stop();
      // TCP hops last: services draining requests still reach their database.
      await Promise.all(tcpHops.map((hop) => hop.close()));
      for (const server of servers) server.closeAllConnections();
      await flushSpans();
      if (temporaryData) fs.rmSync(dataDir, { recursive: true, force: true });
    })());

  try {
    for (const group of startOrder(topology.workloads, topology.services)) {
      log(`starting ${group.map((s) => `${s.workload.name}${s.workload.replicas > 1 ? ` ×${s.workload.replicas}` : ''}`).join(', ')}`);
      await Promise.all(group.map((spec) => supervisor.startWorkload(spec)));
    }
  } catch (error) {
    await stop();
    throw new MeshStartError((error as Error).message);
  }

  if (watchEnabled) for (const p of startupFiles) watcher.watch(fs.existsSync(path.resolve(root, p)) && fs.statSync(path.resolve(root, p)).isDirectory() ? p : path.dirname(p));

  const toLoaded = (o: K8sObject | LoadedObject, source: string): LoadedObject =>
    'object' in o && 'source' in o ? (o as LoadedObject) : { object: o as K8sObject, source: { file: source } };

  return {
    gatewayUrl,
    adminUrl: `http://127.0.0.1:${adminBound}`,
    mode,
    webAppServer: () => webAppServer,
    telemetry,
    traces,
    otlpTracesUrl: otlpUrl,
    topology,
    applyObjects: (objects, source = 'api') => {
      const loaded = objects.map((o) => toLoaded(o, source));
      store.apply(loaded);
      return loaded;
    },
    applyFile,
    deleteObject: (kind, name) => {
      const target = store.active().find((o) => o.object.kind === kind && o.object.metadata.name === name);
      if (!target) return false;
      store.remove([objectKey(target.object)]);
      return true;
    },
    activeObjects: () => store.active(),
    restartWorkload: (name) => supervisor.restartWorkload(name),
    endpoints: () => supervisor.status(),
    graph: graphOf,
    stop,
  };
}
