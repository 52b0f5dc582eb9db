// In-process cost of the mesh's telemetry per request: `MeshTelemetry.record()` on the records an 80/20 ingress
// gateway and its sidecar hops produce (a new record object per call, as the data plane builds one per request), CPU
// from process.cpuUsage, the heap the telemetry keeps afterwards (after a full GC), and how long `graph()` takes
// over the full window. Usage: node --expose-gc bench/telemetry-record.mjs [path/to/telemetry/index.js] [calls]
// (default mesh/dist/telemetry/index.js, 300,000 calls after 50,000 warm-up; `npm run build` first).
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const require = createRequire(import.meta.url);
const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const modulePath = path.resolve(process.argv[2] ?? path.join(repoRoot, 'mesh/dist/telemetry/index.js'));
const calls = Number(process.argv[3] ?? 300_000);
const { MeshTelemetry } = require(modulePath);
const { INGRESS_GATEWAY_WORKLOAD } = require(path.join(repoRoot, 'mesh/dist/model/index.js'));
if (!global.gc) throw new Error('run with node --expose-gc');

const workload = (name, app, version) => ({ name, namespace: 'default', labels: { app, version }, app, version, serviceAccount: app, replicas: 1 });
const webApiV1 = workload('web-api-v1', 'web-api', 'v1');
const webApiV2 = workload('web-api-v2', 'web-api', 'v2');
const authors = workload('authors', 'authors', 'v1');
const service = (name) => ({ destinationService: `${name}.default.svc.cluster.local`, destinationServiceName: name });
const gatewaySource = {
  source: INGRESS_GATEWAY_WORKLOAD,
  sourceWorkload: INGRESS_GATEWAY_WORKLOAD.name,
  sourceApp: INGRESS_GATEWAY_WORKLOAD.app,
  sourceVersion: 'unknown',
};

// A new object per call, every field written out (the data plane's emitRecord does the same).
function recordFor(i) {
  const v2 = i % 5 === 0;
  const toAuthors = i % 3 === 0;
  const source = toAuthors ? (v2 ? webApiV2 : webApiV1) : gatewaySource.source;
  const destination = toAuthors ? authors : v2 ? webApiV2 : webApiV1;
  const code = i % 50 === 0 ? 503 : 200;
  return {
    reporter: 'source',
    source,
    sourceWorkload: source.name,
    sourceApp: source.app,
    sourceVersion: source.version,
    destination,
    destinationWorkload: destination.name,
    destinationApp: destination.app,
    destinationVersion: destination.version,
    ...(toAuthors ? service('authors') : service('web-api')),
    destinationServiceNamespace: 'default',
    responseCode: code,
    responseFlags: code === 503 ? 'URX' : '-',
    requestProtocol: 'http',
    durationMs: 0.3 + (i % 97) * 0.05,
    requestBytes: 180,
    responseBytes: 900,
    upstreamDurationMs: 0.25 + (i % 97) * 0.05,
    virtualService: toAuthors ? undefined : 'web-ingress',
  };
}

const inputs = {
  workloads: [webApiV1, webApiV2, authors],
  serviceNames: ['web-api', 'authors'],
  istio: { gateways: [], virtualServices: [], destinationRules: [] },
  readyCount: () => ({ ready: 1, total: 1 }),
};

global.gc();
const heapBefore = process.memoryUsage().heapUsed;
const telemetry = new MeshTelemetry('default');
for (let i = 0; i < 50_000; i++) telemetry.record(recordFor(i));
const cpu0 = process.cpuUsage();
const wall0 = process.hrtime.bigint();
for (let i = 0; i < calls; i++) telemetry.record(recordFor(i));
const cpu = process.cpuUsage(cpu0);
const wallMs = Number(process.hrtime.bigint() - wall0) / 1e6;
global.gc();
const heapAfter = process.memoryUsage().heapUsed;
const graphStarted = process.hrtime.bigint();
const graph = telemetry.graph(inputs, 60_000);
const graphMs = Number(process.hrtime.bigint() - graphStarted) / 1e6;
const edge = graph.edges.find((e) => e.id === 'service:web-api->workload:web-api-v1');
process.stdout.write(
  `${JSON.stringify({
    module: path.relative(repoRoot, modulePath),
    calls,
    cpuMicrosecondsPerRecord: Number(((cpu.user + cpu.system) / calls).toFixed(3)),
    wallMicrosecondsPerRecord: Number(((wallMs * 1000) / calls).toFixed(3)),
    retainedHeapMb: Number(((heapAfter - heapBefore) / 2 ** 20).toFixed(1)),
    graphMs: Number(graphMs.toFixed(1)),
    sampleEdge: edge && { requests: edge.requests, p50: edge.p50, p95: edge.p95, p99: edge.p99 },
  })}\n`,
);
