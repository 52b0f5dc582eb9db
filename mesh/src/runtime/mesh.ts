/**
 * `startMesh`: the composition root of the local mesh. It only wires the parts: config sync (./config-sync.ts:
 * read, analyze, compile, watch), telemetry and spans (../telemetry), the data planes behind the gateway and one
 * sidecar listener per workload (../dataplane), TCP hops, the supervisor (./supervisor.ts) and the admin server
 * (./admin.ts). Order: read and compile the manifests (refuse to start on error findings), bind the gateway and
 * admin ports, the sidecars, start every replica in dependency order by readiness, then watch the Istio files.
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
import { gatewayApiWorkload, generatedGatewayName, istioClassGateway } from '../gateway-api';
import { gatewayApiStatusReader } from '../gateway-api/status';
import { analyzeManifests } from '../manifests';
import type { K8sObject, LoadedObject, TrafficSource } from '../model';
import { type Graph, MeshTelemetry } from '../telemetry';
import { createSpanPipeline, type SpanPipeline } from '../telemetry/span-pipeline';
import type { TraceStore } from '../telemetry/trace-store';
import { createAdminServer, type AdminBackend } from './admin';
import { ConfigRejectedError, type ConfigStore } from './config-store';
import { ConfigSync, findingsMessage, readStartupManifests, toIstioConfig } from './config-sync';
import { closeServer, configureServer, listen } from './listeners';
import { MeshStartError, orStartError, portFrom, samplingFrom } from './settings';
import { type BackoffPolicy, type EndpointStatus, type ProbePolicy, Supervisor } from './supervisor';
import { rewriteEnv, tcpTargetsIn } from './tcp-hop';
import { buildTopology, startOrder, type Topology } from './topology';

export { MeshStartError } from './settings';

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
  /** Route with the Kubernetes Gateway API: istioPaths defaults to gateway-api/base instead of istio/base. */
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

const defaultRoot = path.resolve(__dirname, '../../..');

/** The settings startMesh derives from its options and the environment (a bad value stops the start). */
function settingsOf(options: MeshOptions) {
  const root = path.resolve(options.root ?? defaultRoot);
  const temporaryData = options.dataDir === undefined;
  return {
    root,
    namespace: options.namespace ?? 'default',
    mode: ((options.istio ?? process.env.MESH_NO_ISTIO !== '1') ? 'istio' : 'kubernetes') as 'istio' | 'kubernetes',
    log: options.log ?? ((message: string) => process.stderr.write(`[mesh] ${message}\n`)),
    gatewayPort: portFrom(options.gatewayPort, 'GATEWAY_PORT', 8080),
    adminPort: portFrom(options.adminPort, 'MESH_ADMIN_PORT', 15000),
    istioPaths: options.istioPaths ?? (options.gatewayApi ? ['gateway-api/base'] : ['istio/base']),
    temporaryData,
    dataDir: options.dataDir ? path.resolve(root, options.dataDir) : '',
    traceSampling: samplingFrom(options.traceSampling),
  };
}
type Settings = ReturnType<typeof settingsOf>;

/** Reads and compiles the manifests: the topology and the config sync, or a MeshStartError naming what is wrong. */
function startConfig(settings: Settings, options: MeshOptions): { sync: ConfigSync<CompiledMeshConfig>; topology: Topology } {
  const { root, namespace, mode } = settings;
  let manifests: ReturnType<typeof readStartupManifests>;
  try {
    manifests = readStartupManifests(root, options.k8sPaths ?? ['k8s'], settings.istioPaths);
  } catch (error) {
    if (error instanceof ConfigRejectedError) throw new MeshStartError(findingsMessage('cannot read the manifests', error));
    throw error;
  }
  const topology = orStartError(() => buildTopology(manifests.kubernetesObjects, namespace));
  const workloads = topology.workloads.map((w) => w.workload);
  try {
    const sync = new ConfigSync<CompiledMeshConfig>({
      root,
      manifests,
      istioPaths: settings.istioPaths,
      analyze: analyzeManifests,
      compile: (istioObjects) =>
        compileMeshConfig({ istio: toIstioConfig(istioObjects, topology.services, namespace), services: topology.services, workloads, mode, namespace }),
      watch: options.watch,
      log: settings.log,
    });
    return { sync, topology };
  } catch (error) {
    if (error instanceof ConfigRejectedError) throw new MeshStartError(findingsMessage('the manifests have errors, the mesh does not start', error));
    throw error;
  }
}

/** Telemetry whose mTLS labels follow the PeerAuthentication in force (re-bound on every config change). */
function telemetryFor(store: ConfigStore<CompiledMeshConfig>, settings: Settings): MeshTelemetry {
  const telemetry = new MeshTelemetry(settings.namespace);
  // Without Istio (--no-istio) nothing is encrypted: DISABLE everywhere.
  const updateSecurity = (): void =>
    telemetry.setMtlsModes(settings.mode === 'istio' ? (workload) => store.compiled().authorization.mtlsMode(workload, 0) : () => 'DISABLE');
  updateSecurity();
  store.on('change', updateSecurity);
  return telemetry;
}

/** What the supervisor's children get from the mesh, filled in as listeners are bound. */
interface ChildWiring {
  sidecarUrls: Map<string, string>;
  /** Per workload: env values rewritten to reach TCP Services through its outbound TCP hops. */
  tcpEnv: Map<string, Record<string, string>>;
  adminPort: number;
  webAppServer: 'nginx' | 'node' | 'unknown';
}

function createSupervisor(settings: Settings, options: MeshOptions, wiring: ChildWiring): Supervisor {
  const output = options.output ?? ((id: string, line: string) => process.stdout.write(`[${id}] ${line}\n`));
  return new Supervisor({
    root: settings.root,
    meshEnv: (spec) => {
      const proxy = wiring.sidecarUrls.get(spec.workload.name)!;
      const data: Record<string, string> = spec.stateful ? { LOCAL_POSTGRES_DATA: path.join(settings.dataDir, spec.workload.name) } : {};
      // MESH_ADMIN_URL: web-app answers it at /mesh-admin.json for its graph and trace links (any admin port).
      const admin = { MESH_ADMIN_URL: `http://localhost:${wiring.adminPort}` };
      return { ...data, ...admin, ...wiring.tcpEnv.get(spec.workload.name), HTTP_PROXY: proxy, http_proxy: proxy, HTTPS_PROXY: '', https_proxy: '' };
    },
    probe: options.probe,
    backoff: options.backoff,
    stopTimeoutMs: options.stopTimeoutMs,
    log: settings.log,
    // Relaying every line would run on the proxying thread (issue 10): without an output callback, the services
    // write to the mesh's stdout themselves; web-app's few lines are still read for its server line.
    inheritStdout: options.output ? undefined : (workload) => workload !== 'web-app',
    output: (id, line, stream) => {
      if (id.startsWith('web-app') && wiring.webAppServer === 'unknown') {
        if (/serving .* with nginx/i.test(line)) wiring.webAppServer = 'nginx';
        else if (/node fallback/i.test(line)) wiring.webAppServer = 'node';
      }
      output(id, line, stream);
    },
  });
}

/** The parts of a running mesh that startMesh's helpers share. */
interface Parts {
  settings: Settings;
  sync: ConfigSync<CompiledMeshConfig>;
  topology: Topology;
  telemetry: MeshTelemetry;
  spans: SpanPipeline;
  supervisor: Supervisor;
  wiring: ChildWiring;
  servers: http.Server[];
  dataPlanes: DataPlane[];
  tcpHops: TcpProxy[];
}

function dataPlaneFor(parts: Parts, source: TrafficSource, options: MeshOptions): DataPlane {
  const plane = createDataPlane({
    source,
    config: () => parts.sync.store.compiled(),
    endpoints: parts.supervisor,
    telemetry: parts.telemetry,
    random: options.random,
    // Sampling draws use their own randomness: a seeded `random` keeps its documented draw order.
    tracing: createTracing(source, { samplingPercent: parts.settings.traceSampling, sink: parts.spans.sink, namespace: parts.settings.namespace }),
  });
  parts.dataPlanes.push(plane);
  return plane;
}

function graphOf(parts: Parts, windowMs?: number): Graph {
  const status = parts.supervisor.status();
  return parts.telemetry.graph(
    {
      workloads: parts.topology.workloads.map((w) => w.workload),
      serviceNames: parts.topology.services.map((s) => s.object.metadata.name),
      istio: toIstioConfig(parts.sync.store.active(), parts.topology.services, parts.settings.namespace),
      readyCount: (name) => {
        const mine = status.filter((s) => s.workload === name);
        return { ready: mine.filter((s) => s.ready).length, total: mine.length };
      },
    },
    windowMs,
  );
}

function adminBackend(parts: Parts, gatewayUrl: () => string, kubernetesObjects: LoadedObject[]): AdminBackend {
  const { settings, sync, supervisor } = parts;
  return {
    root: settings.root,
    namespace: settings.namespace,
    mode: settings.mode,
    store: sync.store as ConfigStore<unknown>,
    telemetry: parts.telemetry,
    traces: parts.spans.traces,
    kubernetesObjects,
    endpoints: () => supervisor.status(),
    graph: (windowMs?: number) => graphOf(parts, windowMs),
    gatewayUrl,
    apply: (objects, opts) => sync.apply(objects, opts),
    remove: (keys, opts) => sync.remove(keys, opts),
    statusOf: gatewayApiStatusReader(
      () => sync.store.stored(),
      () => sync.store.resourceVersion(),
      parts.topology.services,
      settings.namespace,
    ),
    applyFile: (file) => sync.applyFile(file),
    restartWorkload: (name) => supervisor.restartWorkload(name),
  };
}

/** One sidecar listener per workload, and one outbound TCP listener per TCP Service its env names (postgres:5432), as Istio's sidecar has. */
async function startSidecars(parts: Parts, options: MeshOptions): Promise<void> {
  const { settings, topology, wiring } = parts;
  for (const spec of topology.workloads) {
    const plane = dataPlaneFor(parts, { kind: 'sidecar', workload: spec.workload }, options);
    const sidecar = http.createServer((req, res) => plane.handle(req, res));
    configureServer(sidecar);
    parts.servers.push(sidecar);
    const port = await listen(sidecar, 0, `sidecar of ${spec.workload.name}`, 'GATEWAY_PORT', '--gateway-port');
    wiring.sidecarUrls.set(spec.workload.name, `http://127.0.0.1:${port}`);
    const hops: Array<{ target: ReturnType<typeof tcpTargetsIn>[number]; address: string }> = [];
    for (const target of tcpTargetsIn(spec.env, topology.services, settings.namespace)) {
      const hop = createTcpProxy({
        source: spec.workload,
        service: { name: target.service.object.metadata.name, namespace: target.service.object.metadata.namespace ?? settings.namespace },
        port: target.port.port,
        address: target.address,
        config: () => parts.sync.store.compiled(),
        endpoints: parts.supervisor,
        telemetry: parts.telemetry,
        random: options.random,
        log: settings.log,
        // One upstream layer per sidecar, as Envoy has one cluster manager per proxy: limits count across listeners.
        clusters: plane.clusters,
      });
      parts.tcpHops.push(hop);
      const hopPort = await new Promise<number>((resolve, reject) => {
        hop.server.once('error', reject);
        hop.server.listen(0, '127.0.0.1', () => resolve((hop.server.address() as net.AddressInfo).port));
      });
      hops.push({ target, address: `127.0.0.1:${hopPort}` });
      settings.log(`${spec.workload.name} reaches ${target.address} (TCP) through 127.0.0.1:${hopPort}`);
    }
    if (hops.length > 0) wiring.tcpEnv.set(spec.workload.name, rewriteEnv(spec.env, hops));
  }
}

/** Stops in the order that lets everything drain: listeners, upstream pools, processes, TCP hops, span export. */
async function stopParts(parts: Parts): Promise<void> {
  parts.supervisor.beginShutdown();
  parts.sync.close();
  // Listeners first (no new requests), then the upstream pools (their idle keep-alive connections would
  // otherwise hold the services' drain open), then the processes.
  await Promise.all(parts.servers.map((server) => closeServer(server)));
  await Promise.all(parts.dataPlanes.map((d) => d.close()));
  await parts.supervisor.stop();
  // TCP hops last: services draining requests still reach their database.
  await Promise.all(parts.tcpHops.map((hop) => hop.close()));
  for (const server of parts.servers) server.closeAllConnections();
  await parts.spans.flush();
  if (parts.settings.temporaryData) fs.rmSync(parts.settings.dataDir, { recursive: true, force: true });
}

/** A Gateway API Gateway of class istio gets its own gateway workload (`<name>-istio`), as on a cluster. */
function gatewaySource(objects: readonly LoadedObject[], namespace: string): TrafficSource {
  const kubeGateway = istioClassGateway(objects);
  if (!kubeGateway) return { kind: 'gateway', gatewayName: 'web-gateway' };
  const name = kubeGateway.metadata.name;
  return { kind: 'gateway', gatewayName: generatedGatewayName(name), workload: gatewayApiWorkload(name, kubeGateway.metadata.namespace ?? namespace) };
}

export async function startMesh(options: MeshOptions = {}): Promise<MeshHandle> {
  await hashingReady; // consistentHash load balancing hashes with xxhash-wasm
  const settings = settingsOf(options);
  const spans = orStartError(() => createSpanPipeline(options.traceStore, settings.log));
  const { sync, topology } = startConfig(settings, options);
  const kubernetesObjects = sync.kubernetesObjects;
  if (settings.temporaryData) {
    settings.dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'mesh-data-'));
    // The system Postgres server runs as the unprivileged postgres user when the mesh is root: let it pass through.
    fs.chmodSync(settings.dataDir, 0o711);
  }
  const wiring: ChildWiring = { sidecarUrls: new Map(), tcpEnv: new Map(), adminPort: 0, webAppServer: 'unknown' };
  const parts: Parts = {
    settings,
    sync,
    topology,
    spans,
    wiring,
    telemetry: telemetryFor(sync.store, settings),
    supervisor: createSupervisor(settings, options, wiring),
    servers: [],
    dataPlanes: [],
    tcpHops: [],
  };
  const gatewayPlane = dataPlaneFor(parts, gatewaySource(sync.store.active(), settings.namespace), options);
  const gateway = http.createServer((req, res) => gatewayPlane.handle(req, res));
  configureServer(gateway);
  let gatewayUrl = '';
  const admin = createAdminServer(adminBackend(parts, () => gatewayUrl, kubernetesObjects));
  parts.servers.push(gateway, admin);

  // Bind the fixed ports first: a taken port fails fast, before any child starts.
  try {
    gatewayUrl = `http://127.0.0.1:${await listen(gateway, settings.gatewayPort, 'ingress gateway', 'GATEWAY_PORT', '--gateway-port')}`;
    wiring.adminPort = await listen(admin, settings.adminPort, 'admin server', 'MESH_ADMIN_PORT', '--admin-port');
  } catch (error) {
    await stopParts(parts);
    throw error;
  }
  await startSidecars(parts, options);

  let stopped: Promise<void> | undefined;
  const stop = (): Promise<void> => (stopped ??= stopParts(parts));
  try {
    for (const group of startOrder(topology.workloads, topology.services)) {
      settings.log(`starting ${group.map((s) => `${s.workload.name}${s.workload.replicas > 1 ? ` ×${s.workload.replicas}` : ''}`).join(', ')}`);
      await Promise.all(group.map((spec) => parts.supervisor.startWorkload(spec)));
    }
  } catch (error) {
    await stop();
    throw new MeshStartError((error as Error).message);
  }
  sync.watchStartupFiles();

  return {
    gatewayUrl,
    adminUrl: `http://127.0.0.1:${wiring.adminPort}`,
    mode: settings.mode,
    webAppServer: () => wiring.webAppServer,
    telemetry: parts.telemetry,
    traces: spans.traces,
    otlpTracesUrl: spans.otlpUrl,
    topology,
    applyObjects: (objects, source = 'api') => sync.applyObjects(objects, source),
    applyFile: (file) => sync.applyFile(file),
    deleteObject: (kind, name) => sync.deleteObject(kind, name),
    activeObjects: () => sync.store.active(),
    restartWorkload: (name) => parts.supervisor.restartWorkload(name),
    endpoints: () => parts.supervisor.status(),
    graph: (windowMs) => graphOf(parts, windowMs),
    stop,
  };
}
