/**
 * What the mesh measures, from the data plane's RequestRecords and TCP connections: Istio's standard metrics with
 * every standard label, from both reporters (what Kiali and Grafana's Istio dashboards read), and a Kiali-like graph
 * over a recent time window. How each label is derived, with its source in Istio, is in ./README.md (Telemetry).
 *
 * Cost per request: label sets are bound once per (source workload, destination service, answering workload,
 * response code, response flags) and rendered once; a request then costs a few Map look-ups and counter/bucket
 * increments. prom-client keeps the mesh's own process metrics (`mesh_*`); the Istio families are written here.
 */
import { collectDefaultMetrics, Registry } from 'prom-client';
import {
  INGRESS_GATEWAY_WORKLOAD,
  type IstioConfig,
  type MutualTlsMode,
  type RequestRecord,
  type TcpConnectionInfo,
  type TcpConnectionTelemetry,
  type TelemetrySink,
  type Workload,
} from '../model';

/** Envoy's default histogram buckets (source/common/stats/histogram_impl.cc, HistogramSettingsImpl::defaultBuckets), which Istio's proxies use for
 *  istio_request_duration_milliseconds, istio_request_bytes and istio_response_bytes alike. */
export const ISTIO_DEFAULT_BUCKETS: readonly number[] = [
  0.5, 1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000, 300000, 600000, 1800000, 3600000,
];

/** `global.multiCluster.clusterName` / CLUSTER_ID default of a single-cluster install. */
export const CLUSTER_NAME = 'Kubernetes';
const TRUST_DOMAIN = 'cluster.local';

/** Records are kept this long for the graph; a graph window is at most this. */
export const MAX_GRAPH_WINDOW_MS = 60_000;
/** Memory bound under load tests: beyond this many records the oldest go first (rates use the span kept). */
const MAX_WINDOW_RECORDS = 100_000;

// ---------------------------------------------------------------- label derivation (README: Telemetry)

/** Istio's canonical service: `service.istio.io/canonical-name`, `app.kubernetes.io/name`, `app`, else the workload name. */
export function canonicalService(workload: Workload): string {
  const labels = workload.labels;
  return labels['service.istio.io/canonical-name'] ?? labels['app.kubernetes.io/name'] ?? labels.app ?? workload.name;
}

/** Istio's canonical revision: `service.istio.io/canonical-revision`, `app.kubernetes.io/version`, `version`, else `latest`. */
export function canonicalRevision(workload: Workload): string {
  const labels = workload.labels;
  return labels['service.istio.io/canonical-revision'] ?? labels['app.kubernetes.io/version'] ?? labels.version ?? 'latest';
}

/** The workload's SPIFFE identity as its mTLS certificate carries it. */
export function principalOf(workload: Workload): string {
  return `spiffe://${TRUST_DOMAIN}/ns/${workload.namespace}/sa/${workload.serviceAccount}`;
}

/** The PeerAuthentication mode in force for a workload (the compiled config's `authorization.mtlsMode`). */
export type MtlsModeOf = (workload: Workload) => MutualTlsMode;

/** Prometheus text-format label value escaping. */
function escapeLabel(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

function renderLabels(pairs: ReadonlyArray<readonly [string, string]>): string {
  return pairs.map(([name, value]) => `${name}="${escapeLabel(value)}"`).join(',');
}

// ---------------------------------------------------------------- series

class Histogram {
  /** Per-bucket (not cumulative) counts; the last slot is +Inf. */
  readonly counts = new Float64Array(ISTIO_DEFAULT_BUCKETS.length + 1);
  sum = 0;
  count = 0;
  observe(value: number): void {
    let i = 0;
    while (i < ISTIO_DEFAULT_BUCKETS.length && value > ISTIO_DEFAULT_BUCKETS[i]) i++;
    this.counts[i]++;
    this.sum += value;
    this.count++;
  }
}

/** One label set of the HTTP families: istio_requests_total and the three histograms share it. */
class HttpSeries {
  requests = 0;
  readonly duration = new Histogram();
  readonly requestBytes = new Histogram();
  readonly responseBytes = new Histogram();
  constructor(readonly labels: string) {}
}

class TcpSeries {
  opened = 0;
  closed = 0;
  sent = 0;
  received = 0;
  constructor(readonly labels: string) {}
}

/** Everything but the outcome labels, for one reporter of one (source, service, destination) triple. */
interface ReporterLabels {
  /** Rendered labels before response_code (HTTP) / response_flags (TCP). */
  peers: string;
  connectionSecurityPolicy: string;
}

/** One (source, service, destination workload) triple: both reporters' peer labels, and the series per outcome. */
interface Binding {
  source: ReporterLabels;
  /** Undefined when no workload answered (local reply): a destination sidecar never saw the request. */
  destination?: ReporterLabels;
  /** Source reporter: response code → response flags → series. */
  outcomes: Map<number, Map<string, HttpSeries>>;
  /** Destination reporter: response code → series. */
  destinationOutcomes: Map<number, HttpSeries>;
  tcp: Map<string, [TcpSeries, TcpSeries | undefined]>;
}

const UNKNOWN = 'unknown';
/** Flags a record can carry while the answer still came from the upstream workload. */
const UPSTREAM_ANSWER_FLAGS = /^(-|DI|URX|UR|DC)$/;

/** Per TCP edge, bytes per one-second slot over the graph window. */
interface TcpEdgeSlots {
  source: Workload;
  destination?: Workload;
  serviceName: string;
  second: Float64Array;
  sent: Float64Array;
  received: Float64Array;
  opened: Float64Array;
  closed: Float64Array;
}
const TCP_SLOTS = MAX_GRAPH_WINDOW_MS / 1000;

interface TimedRecord {
  at: number;
  record: RequestRecord;
}

export type GraphBadge = 'virtualService' | 'trafficShifting' | 'faultInjection' | 'circuitBreaker' | 'timeout' | 'retry' | 'mirror';

export interface GraphNode {
  id: string;
  nodeType: 'workload' | 'service' | 'unknown';
  /** workload name or service name */
  name: string;
  app?: string;
  version?: string;
  /** Ready replicas / replicas, for workloads the mesh runs. */
  replicas?: { ready: number; total: number };
  badges: GraphBadge[];
  virtualServices?: string[];
}

export interface GraphEdge {
  id: string;
  source: string;
  target: string;
  /** `http` (default) or `tcp`: TCP edges carry `tcp` and no request figures (requests 0). */
  protocol?: 'http' | 'tcp';
  requests: number;
  /** requests per second over the window */
  rate: number;
  /** share of the source node's outgoing requests, in % (Kiali's httpPercentReq) */
  httpPercentReq: number;
  /** 5xx and connection failures (code 0), in % */
  errorPercent: number;
  responseCodes: Record<string, number>;
  responseFlags: Record<string, number>;
  p50: number;
  p95: number;
  p99: number;
  badges: GraphBadge[];
  /** TCP edges: bytes/s each way over the window (Kiali draws sent + received), connections opened/closed. */
  tcp?: { sentBytesPerSecond: number; receivedBytesPerSecond: number; bytesPerSecond: number; opened: number; closed: number };
}

export interface VersionShare {
  service: string;
  requests: number;
  /** version → % of the service's requests */
  versions: Record<string, number>;
}

export interface Graph {
  timestamp: string;
  windowSeconds: number;
  nodes: GraphNode[];
  edges: GraphEdge[];
  /** The traffic split per service across versions (the v1/v2 share at a glance). */
  versionShares: VersionShare[];
}

export interface GraphInputs {
  workloads: readonly Workload[];
  serviceNames: readonly string[];
  istio: IstioConfig;
  readyCount: (workload: string) => { ready: number; total: number };
}

export interface TcpEdgeWindow {
  source: Workload;
  destination?: Workload;
  serviceName: string;
  sent: number;
  received: number;
  opened: number;
  closed: number;
}

export class MeshTelemetry implements TelemetrySink {
  /** The mesh's own process metrics (`mesh_*`); the Istio families are rendered by `metrics()` itself. */
  readonly registry = new Registry();
  private readonly httpSeries = new Map<string, HttpSeries>();
  private readonly tcpSeries = new Map<string, TcpSeries>();
  private bindings = new WeakMap<Workload, Map<string, Map<Workload | typeof UNKNOWN, Binding>>>();
  /** Workloads for records that name them only by string (hand-built records). */
  private readonly namedWorkloads = new Map<string, Workload>();
  private mtlsModeOf: MtlsModeOf = () => 'PERMISSIVE';
  private mtlsCache = new WeakMap<Workload, MutualTlsMode>();
  private readonly tcpEdges = new Map<string, TcpEdgeSlots>();
  private window: TimedRecord[] = [];
  private windowStart = 0;
  private capped = false;

  constructor(
    private readonly namespace = 'default',
    private readonly now: () => number = Date.now,
  ) {
    collectDefaultMetrics({ register: this.registry, prefix: 'mesh_' });
    // prom-client names these gauges `_total`, which Prometheus reserves for counters (promtool check metrics).
    for (const name of ['active_handles_total', 'active_requests_total', 'active_resources_total']) this.registry.removeSingleMetric(`mesh_nodejs_${name}`);
  }

  /**
   * Where the PeerAuthentication mode in force comes from (it decides `connection_security_policy` and the
   * principals); call again after every config change: label sets are re-bound on the next request.
   * Default: PERMISSIVE everywhere (Istio without PeerAuthentication: auto mTLS between sidecars).
   */
  setMtlsModes(mtlsModeOf: MtlsModeOf): void {
    this.mtlsModeOf = mtlsModeOf;
    this.bindings = new WeakMap();
    this.mtlsCache = new WeakMap();
  }

  private mtlsMode(workload: Workload): MutualTlsMode {
    let mode = this.mtlsCache.get(workload);
    if (!mode) this.mtlsCache.set(workload, (mode = this.mtlsModeOf(workload)));
    return mode;
  }

  record(record: RequestRecord): void {
    const source = record.source ?? this.workloadNamed(record.sourceWorkload, record.sourceApp, record.sourceVersion);
    const destination =
      record.destination ??
      (record.destinationWorkload && record.destinationWorkload !== UNKNOWN
        ? this.workloadNamed(record.destinationWorkload, record.destinationApp, record.destinationVersion)
        : undefined);
    const binding = this.binding(source, record.destinationService, record.destinationServiceName, record.destinationServiceNamespace, destination);
    const flags = record.responseFlags || '-';
    const sourceSeries = this.outcome(binding, record.responseCode, flags);
    const requestBytes = record.requestBytes ?? 0;
    const responseBytes = record.responseBytes ?? 0;
    sourceSeries.requests++;
    sourceSeries.duration.observe(record.durationMs);
    sourceSeries.requestBytes.observe(requestBytes);
    sourceSeries.responseBytes.observe(responseBytes);
    // The destination pod's sidecar reports the same request (reporter="destination") when it reached one: not for
    // local replies (faults, no route, no healthy upstream, overflow), exactly as in a cluster. Its view has none
    // of the calling proxy's flags (a fault delay or exhausted retries happened at the caller).
    // Hand-built records name the destination by string: it was reached unless the proxy answered itself.
    const reached = record.destination !== undefined || (destination !== undefined && UPSTREAM_ANSWER_FLAGS.test(flags));
    const destinationSeries = reached ? this.destinationOutcome(binding, record.responseCode) : undefined;
    if (destinationSeries) {
      destinationSeries.requests++;
      destinationSeries.duration.observe(record.upstreamDurationMs ?? record.durationMs);
      destinationSeries.requestBytes.observe(requestBytes);
      destinationSeries.responseBytes.observe(responseBytes);
    }
    if (record.retriedTries) {
      for (const attempt of record.retriedTries) {
        const retried = this.binding(source, record.destinationService, record.destinationServiceName, record.destinationServiceNamespace, attempt.destination);
        const series = this.destinationOutcome(retried, attempt.responseCode);
        if (!series) continue;
        series.requests++;
        series.duration.observe(attempt.durationMs);
        series.requestBytes.observe(requestBytes);
        series.responseBytes.observe(0);
      }
    }
    const at = this.now();
    this.window.push({ at, record });
    this.prune(at);
  }

  tcpConnection(info: TcpConnectionInfo): TcpConnectionTelemetry {
    const binding = this.binding(info.source, info.destinationService, info.destinationServiceName, info.destinationServiceNamespace, info.destination);
    const edge = this.tcpEdge(info);
    let series: [TcpSeries, TcpSeries | undefined] | undefined;
    let closed = false;
    // Like Istio's TCP stats: the connection counts as opened with its first bytes or, without any, at close.
    const open = (flags: string): [TcpSeries, TcpSeries | undefined] => {
      if (series) return series;
      series = this.tcpOutcome(binding, flags);
      series[0].opened++;
      if (series[1]) series[1].opened++;
      edge.opened[this.slotIndex(edge)]++;
      return series;
    };
    const slotIndex = (): number => this.slotIndex(edge);
    return {
      received: (bytes: number) => {
        if (closed || !(bytes > 0)) return;
        const [s, d] = open('-');
        s.received += bytes;
        if (d) d.received += bytes;
        edge.received[slotIndex()] += bytes;
      },
      sent: (bytes: number) => {
        if (closed || !(bytes > 0)) return;
        const [s, d] = open('-');
        s.sent += bytes;
        if (d) d.sent += bytes;
        edge.sent[slotIndex()] += bytes;
      },
      close: (responseFlags = '-') => {
        if (closed) return;
        closed = true;
        const [s, d] = open(responseFlags || '-');
        s.closed++;
        if (d) d.closed++;
        edge.closed[slotIndex()]++;
      },
    };
  }

  /** Records of the last `windowMs`, oldest first. */
  recent(windowMs = MAX_GRAPH_WINDOW_MS): RequestRecord[] {
    const since = this.now() - windowMs;
    const out: RequestRecord[] = [];
    for (let i = this.windowStart; i < this.window.length; i += 1) {
      if (this.window[i].at >= since) out.push(this.window[i].record);
    }
    return out;
  }

  /** TCP traffic per edge over the last `windowMs` (whole seconds). */
  recentTcp(windowMs = MAX_GRAPH_WINDOW_MS): TcpEdgeWindow[] {
    const nowSecond = Math.floor(this.now() / 1000);
    const seconds = Math.max(1, Math.min(TCP_SLOTS, Math.round(windowMs / 1000)));
    const out: TcpEdgeWindow[] = [];
    for (const edge of this.tcpEdges.values()) {
      const sum = { sent: 0, received: 0, opened: 0, closed: 0 };
      for (let i = 0; i < TCP_SLOTS; i++) {
        const age = nowSecond - edge.second[i];
        if (age < 0 || age >= seconds) continue;
        sum.sent += edge.sent[i];
        sum.received += edge.received[i];
        sum.opened += edge.opened[i];
        sum.closed += edge.closed[i];
      }
      if (sum.sent + sum.received + sum.opened + sum.closed > 0) {
        out.push({ source: edge.source, destination: edge.destination, serviceName: edge.serviceName, ...sum });
      }
    }
    return out;
  }

  /** Prometheus text format: the Istio families, then the mesh's process metrics. */
  async metrics(): Promise<string> {
    return this.istioMetrics() + (await this.registry.metrics());
  }

  /** The Istio families alone (text format 0.0.4). */
  istioMetrics(): string {
    const lines: string[] = [];
    const http = [...this.httpSeries.values()];
    lines.push('# HELP istio_requests_total Requests handled by an Istio proxy (local mesh).', '# TYPE istio_requests_total counter');
    for (const s of http) lines.push(`istio_requests_total{${s.labels}} ${s.requests}`);
    const histogram = (name: string, help: string, pick: (s: HttpSeries) => Histogram): void => {
      lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} histogram`);
      for (const s of http) {
        const h = pick(s);
        let cumulative = 0;
        for (let i = 0; i < ISTIO_DEFAULT_BUCKETS.length; i++) {
          cumulative += h.counts[i];
          lines.push(`${name}_bucket{le="${ISTIO_DEFAULT_BUCKETS[i]}",${s.labels}} ${cumulative}`);
        }
        lines.push(`${name}_bucket{le="+Inf",${s.labels}} ${h.count}`, `${name}_sum{${s.labels}} ${h.sum}`, `${name}_count{${s.labels}} ${h.count}`);
      }
    };
    histogram('istio_request_duration_milliseconds', 'Duration of requests in milliseconds (local mesh).', (s) => s.duration);
    histogram('istio_request_bytes', 'HTTP request sizes in bytes: request line, headers and body (local mesh).', (s) => s.requestBytes);
    histogram('istio_response_bytes', 'HTTP response sizes in bytes: status line, headers and body (local mesh).', (s) => s.responseBytes);
    const tcp = [...this.tcpSeries.values()];
    const counter = (name: string, help: string, pick: (s: TcpSeries) => number): void => {
      lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} counter`);
      for (const s of tcp) lines.push(`${name}{${s.labels}} ${pick(s)}`);
    };
    counter('istio_tcp_sent_bytes_total', 'Bytes sent to the client of a TCP connection, server to client (local mesh).', (s) => s.sent);
    counter('istio_tcp_received_bytes_total', 'Bytes received from the client of a TCP connection, client to server (local mesh).', (s) => s.received);
    counter('istio_tcp_connections_opened_total', 'TCP connections opened (local mesh).', (s) => s.opened);
    counter('istio_tcp_connections_closed_total', 'TCP connections closed (local mesh).', (s) => s.closed);
    return `${lines.join('\n')}\n`;
  }

  graph(inputs: GraphInputs, windowMs = 30_000): Graph {
    let window = Math.min(Math.max(windowMs, 1000), MAX_GRAPH_WINDOW_MS);
    // When the record cap dropped part of the window, rates are per the span actually kept.
    const oldest = this.window[this.windowStart];
    if (this.capped && oldest) window = Math.max(1000, Math.min(window, this.now() - oldest.at));
    return buildGraph(this.recent(window), inputs, window, this.recentTcp(window));
  }

  // ---- binding

  private workloadNamed(name: string, app: string, version: string): Workload {
    if (name === INGRESS_GATEWAY_WORKLOAD.name) return INGRESS_GATEWAY_WORKLOAD;
    let workload = this.namedWorkloads.get(name);
    if (!workload) {
      const labels: Record<string, string> = {};
      if (app && app !== UNKNOWN) labels.app = app;
      if (version && version !== UNKNOWN) labels.version = version;
      workload = { name, namespace: this.namespace, labels, app, version, serviceAccount: 'default', replicas: 1 };
      this.namedWorkloads.set(name, workload);
    }
    return workload;
  }

  private binding(source: Workload, service: string, serviceName: string, serviceNamespace: string | undefined, destination: Workload | undefined): Binding {
    let byService = this.bindings.get(source);
    if (!byService) this.bindings.set(source, (byService = new Map()));
    let byDestination = byService.get(service);
    if (!byDestination) byService.set(service, (byDestination = new Map()));
    const key = destination ?? UNKNOWN;
    let binding = byDestination.get(key);
    if (!binding) {
      binding = this.bind(source, service || UNKNOWN, serviceName || UNKNOWN, serviceNamespace, destination);
      byDestination.set(key, binding);
    }
    return binding;
  }

  /**
   * The peer labels of both reporters, following istio/proxy's istio_stats filter (see README): the source reporter
   * knows the destination from the upstream endpoint's metadata, principals from the upstream mTLS certificates, and
   * reports `connection_security_policy="unknown"`; the destination reporter reports `mutual_tls` or `none`.
   */
  private bind(source: Workload, service: string, serviceName: string, serviceNamespace: string | undefined, destination: Workload | undefined): Binding {
    const mtls = destination !== undefined && this.mtlsMode(destination) !== 'DISABLE';
    const sourcePart = (principal: string): Array<[string, string]> => [
      ['source_workload', source.name],
      ['source_workload_namespace', source.namespace],
      ['source_principal', principal],
      ['source_app', source.labels.app ?? UNKNOWN],
      ['source_version', source.labels.version ?? UNKNOWN],
      ['source_canonical_service', canonicalService(source)],
      ['source_canonical_revision', canonicalRevision(source)],
      ['source_cluster', CLUSTER_NAME],
    ];
    const destinationPart = (principal: string): Array<[string, string]> => [
      ['destination_workload', destination?.name ?? UNKNOWN],
      ['destination_workload_namespace', destination?.namespace ?? UNKNOWN],
      ['destination_principal', principal],
      ['destination_app', destination?.labels.app ?? UNKNOWN],
      ['destination_version', destination?.labels.version ?? UNKNOWN],
      ['destination_service', service],
      ['destination_service_name', serviceName],
      // The source reporter takes the namespace from the peer (unknown without one); the destination its own.
      ['destination_service_namespace', destination ? (serviceNamespace ?? destination.namespace) : UNKNOWN],
      ['destination_canonical_service', destination ? canonicalService(destination) : UNKNOWN],
      ['destination_canonical_revision', destination ? canonicalRevision(destination) : 'latest'],
      ['destination_cluster', destination ? CLUSTER_NAME : UNKNOWN],
    ];
    const sourcePrincipal = mtls ? principalOf(source) : UNKNOWN;
    const destinationPrincipal = mtls && destination ? principalOf(destination) : UNKNOWN;
    const sourceLabels: ReporterLabels = {
      peers: renderLabels([['reporter', 'source'], ...sourcePart(sourcePrincipal), ...destinationPart(destinationPrincipal)]),
      connectionSecurityPolicy: UNKNOWN,
    };
    const destinationLabels: ReporterLabels | undefined = destination
      ? {
          peers: renderLabels([['reporter', 'destination'], ...sourcePart(sourcePrincipal), ...destinationPart(destinationPrincipal)]),
          connectionSecurityPolicy: mtls ? 'mutual_tls' : 'none',
        }
      : undefined;
    return { source: sourceLabels, destination: destinationLabels, outcomes: new Map(), destinationOutcomes: new Map(), tcp: new Map() };
  }

  /** The source reporter's series for an outcome. */
  private outcome(binding: Binding, code: number, flags: string): HttpSeries {
    let byFlags = binding.outcomes.get(code);
    if (!byFlags) binding.outcomes.set(code, (byFlags = new Map()));
    let series = byFlags.get(flags);
    if (!series) byFlags.set(flags, (series = this.httpSeriesFor(binding.source, code, flags)));
    return series;
  }

  /** The destination reporter's series (its sidecar saw none of the caller's flags); undefined without a workload. */
  private destinationOutcome(binding: Binding, code: number): HttpSeries | undefined {
    if (!binding.destination) return undefined;
    let series = binding.destinationOutcomes.get(code);
    if (!series) binding.destinationOutcomes.set(code, (series = this.httpSeriesFor(binding.destination, code, '-')));
    return series;
  }

  private httpSeriesFor(reporter: ReporterLabels, code: number, flags: string): HttpSeries {
    const labels =
      `${reporter.peers},connection_security_policy="${reporter.connectionSecurityPolicy}",grpc_response_status="",` +
      `response_code="${code}",response_flags="${escapeLabel(flags)}",request_protocol="http"`;
    let found = this.httpSeries.get(labels);
    if (!found) this.httpSeries.set(labels, (found = new HttpSeries(labels)));
    return found;
  }

  private tcpOutcome(binding: Binding, flags: string): [TcpSeries, TcpSeries | undefined] {
    let pair = binding.tcp.get(flags);
    if (!pair) {
      const tail = (reporter: ReporterLabels, reporterFlags: string): string =>
        `${reporter.peers},connection_security_policy="${reporter.connectionSecurityPolicy}",` +
        `response_flags="${escapeLabel(reporterFlags)}",request_protocol="tcp"`;
      const series = (labels: string): TcpSeries => {
        let found = this.tcpSeries.get(labels);
        if (!found) this.tcpSeries.set(labels, (found = new TcpSeries(labels)));
        return found;
      };
      pair = [series(tail(binding.source, flags)), binding.destination ? series(tail(binding.destination, '-')) : undefined];
      binding.tcp.set(flags, pair);
    }
    return pair;
  }

  private tcpEdge(info: TcpConnectionInfo): TcpEdgeSlots {
    const key = `${info.source.name}|${info.destinationServiceName}|${info.destination?.name ?? UNKNOWN}`;
    let edge = this.tcpEdges.get(key);
    if (!edge) {
      edge = {
        source: info.source,
        destination: info.destination,
        serviceName: info.destinationServiceName,
        second: new Float64Array(TCP_SLOTS).fill(-1),
        sent: new Float64Array(TCP_SLOTS),
        received: new Float64Array(TCP_SLOTS),
        opened: new Float64Array(TCP_SLOTS),
        closed: new Float64Array(TCP_SLOTS),
      };
      this.tcpEdges.set(key, edge);
    }
    return edge;
  }

  /** The slot of the current second, cleared when it last held an older second. */
  private slotIndex(edge: TcpEdgeSlots): number {
    const second = Math.floor(this.now() / 1000);
    const i = second % TCP_SLOTS;
    if (edge.second[i] !== second) {
      edge.second[i] = second;
      edge.sent[i] = 0;
      edge.received[i] = 0;
      edge.opened[i] = 0;
      edge.closed[i] = 0;
    }
    return i;
  }

  private prune(now: number): void {
    const since = now - MAX_GRAPH_WINDOW_MS;
    while (this.windowStart < this.window.length && this.window[this.windowStart].at < since) this.windowStart += 1;
    this.capped = this.window.length - this.windowStart > MAX_WINDOW_RECORDS;
    if (this.capped) this.windowStart = this.window.length - MAX_WINDOW_RECORDS;
    // Compact now and then instead of shifting on every record.
    if (this.windowStart > 4096 && this.windowStart * 2 > this.window.length) {
      this.window = this.window.slice(this.windowStart);
      this.windowStart = 0;
    }
  }
}

/** `authors.default.svc.cluster.local` → `authors`. */
export function shortServiceName(host: string): string {
  const match = /^([^.]+)(\.[^.]+)?(\.svc(\.cluster\.local)?)?$/.exec(host);
  return match ? match[1] : host;
}

/** Badges per service name, from the active Istio objects (what Kiali shows on service nodes). */
export function serviceBadges(istio: IstioConfig): Map<string, { badges: Set<GraphBadge>; virtualServices: Set<string> }> {
  const result = new Map<string, { badges: Set<GraphBadge>; virtualServices: Set<string> }>();
  const entry = (host: string) => {
    const name = shortServiceName(host);
    let found = result.get(name);
    if (!found) result.set(name, (found = { badges: new Set(), virtualServices: new Set() }));
    return found;
  };
  for (const { object: vs } of istio.virtualServices) {
    for (const route of vs.spec?.http ?? []) {
      const destinations = route.route ?? [];
      const weighted = destinations.filter((d) => destinations.length === 1 || (d.weight ?? 0) > 0);
      for (const destination of destinations) {
        const service = entry(destination.destination.host);
        service.virtualServices.add(vs.metadata.name);
        service.badges.add('virtualService');
        if (weighted.length > 1) service.badges.add('trafficShifting');
        if (route.fault) service.badges.add('faultInjection');
        if (route.timeout) service.badges.add('timeout');
        if (route.retries && (route.retries.attempts ?? 0) > 0) service.badges.add('retry');
      }
      if (route.mirror) entry(route.mirror.host).badges.add('mirror');
    }
  }
  for (const { object: dr } of istio.destinationRules) {
    const policies = [dr.spec?.trafficPolicy, ...(dr.spec?.subsets ?? []).map((s) => s.trafficPolicy)];
    if (policies.some((p) => p?.connectionPool || p?.outlierDetection)) entry(dr.spec?.host ?? '').badges.add('circuitBreaker');
  }
  return result;
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return 0;
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return Math.round(sorted[rank] * 100) / 100;
}

const round1 = (n: number): number => Math.round(n * 10) / 10;

interface EdgeAccumulator {
  source: string;
  target: string;
  durations: number[];
  errors: number;
  codes: Record<string, number>;
  flags: Record<string, number>;
}

/**
 * Versioned-app graph with service nodes, as Kiali draws it: caller workload → service → destination workload.
 * Every workload the mesh runs and every Service is a node even without traffic.
 */
export function buildGraph(records: readonly RequestRecord[], inputs: GraphInputs, windowMs: number, tcpEdges: readonly TcpEdgeWindow[] = []): Graph {
  const nodes = new Map<string, GraphNode>();
  const badgesByService = serviceBadges(inputs.istio);
  const workloadNode = (name: string, app?: string, version?: string): string => {
    const id = name === 'unknown' ? 'unknown' : `workload:${name}`;
    if (!nodes.has(id)) {
      nodes.set(id, { id, nodeType: name === 'unknown' ? 'unknown' : 'workload', name, app, version, badges: [] });
    }
    return id;
  };
  const serviceNode = (name: string): string => {
    const id = `service:${name}`;
    if (!nodes.has(id)) {
      const info = badgesByService.get(name);
      nodes.set(id, {
        id,
        nodeType: 'service',
        name,
        app: name,
        badges: [...(info?.badges ?? [])],
        virtualServices: [...(info?.virtualServices ?? [])],
      });
    }
    return id;
  };
  for (const workload of inputs.workloads) {
    const id = workloadNode(workload.name, workload.app, workload.version);
    nodes.get(id)!.replicas = inputs.readyCount(workload.name);
  }
  for (const service of inputs.serviceNames) serviceNode(service);

  const edges = new Map<string, EdgeAccumulator>();
  const addToEdge = (source: string, target: string, record: RequestRecord): void => {
    const id = `${source}->${target}`;
    let edge = edges.get(id);
    if (!edge) edges.set(id, (edge = { source, target, durations: [], errors: 0, codes: {}, flags: {} }));
    edge.durations.push(record.durationMs);
    if (record.responseCode >= 500 || record.responseCode === 0) edge.errors += 1;
    edge.codes[record.responseCode] = (edge.codes[record.responseCode] ?? 0) + 1;
    const flag = record.responseFlags || '-';
    edge.flags[flag] = (edge.flags[flag] ?? 0) + 1;
  };
  for (const record of records) {
    const source = workloadNode(record.sourceWorkload, record.sourceApp, record.sourceVersion);
    const service = serviceNode(record.destinationServiceName || shortServiceName(record.destinationService));
    addToEdge(source, service, record);
    if (record.destinationWorkload && record.destinationWorkload !== 'unknown') {
      addToEdge(service, workloadNode(record.destinationWorkload, record.destinationApp, record.destinationVersion), record);
    }
  }

  const outgoing = new Map<string, number>();
  for (const edge of edges.values()) outgoing.set(edge.source, (outgoing.get(edge.source) ?? 0) + edge.durations.length);
  const seconds = windowMs / 1000;
  const graphEdges: GraphEdge[] = [...edges.entries()].map(([id, edge]) => {
    const sorted = [...edge.durations].sort((a, b) => a - b);
    const requests = sorted.length;
    const targetNode = nodes.get(edge.target)!;
    const sourceNode = nodes.get(edge.source)!;
    const serviceBadgesOnEdge = (targetNode.nodeType === 'service' ? targetNode : sourceNode.nodeType === 'service' ? sourceNode : undefined)?.badges ?? [];
    return {
      id,
      source: edge.source,
      target: edge.target,
      protocol: 'http' as const,
      requests,
      rate: Math.round((requests / seconds) * 100) / 100,
      httpPercentReq: round1((requests / (outgoing.get(edge.source) ?? requests)) * 100),
      errorPercent: round1((edge.errors / requests) * 100),
      responseCodes: edge.codes,
      responseFlags: edge.flags,
      p50: percentile(sorted, 50),
      p95: percentile(sorted, 95),
      p99: percentile(sorted, 99),
      badges: serviceBadgesOnEdge.filter((b) => b !== 'virtualService' && b !== 'circuitBreaker'),
    };
  });

  // TCP edges (Kiali draws them with bytes/s): caller → service → destination workload, like HTTP.
  for (const tcp of tcpEdges) {
    const source = workloadNode(tcp.source.name, tcp.source.app, tcp.source.version);
    const service = serviceNode(tcp.serviceName);
    const hops: Array<[string, string]> = [[source, service]];
    if (tcp.destination) hops.push([service, workloadNode(tcp.destination.name, tcp.destination.app, tcp.destination.version)]);
    for (const [from, to] of hops) {
      const id = `${from}->${to}/tcp`;
      const existing = graphEdges.find((e) => e.id === id);
      const edge: GraphEdge = existing ?? {
        id, source: from, target: to, protocol: 'tcp', requests: 0, rate: 0, httpPercentReq: 0, errorPercent: 0,
        responseCodes: {}, responseFlags: {}, p50: 0, p95: 0, p99: 0, badges: [],
        tcp: { sentBytesPerSecond: 0, receivedBytesPerSecond: 0, bytesPerSecond: 0, opened: 0, closed: 0 },
      };
      const t = edge.tcp!;
      t.sentBytesPerSecond = Math.round((t.sentBytesPerSecond + tcp.sent / seconds) * 100) / 100;
      t.receivedBytesPerSecond = Math.round((t.receivedBytesPerSecond + tcp.received / seconds) * 100) / 100;
      t.bytesPerSecond = Math.round((t.sentBytesPerSecond + t.receivedBytesPerSecond) * 100) / 100;
      t.opened += tcp.opened;
      t.closed += tcp.closed;
      if (!existing) graphEdges.push(edge);
    }
  }

  const versionShares: VersionShare[] = [];
  for (const node of nodes.values()) {
    if (node.nodeType !== 'service') continue;
    const versionOf = (edge: (typeof graphEdges)[number]) => nodes.get(edge.target)?.version ?? 'unknown';
    // In version order (v1 before v2, v10 after v9), whatever order the traffic arrived in.
    const out = graphEdges
      .filter((e) => e.source === node.id && e.protocol !== 'tcp')
      .sort((a, b) => versionOf(a).localeCompare(versionOf(b), 'en', { numeric: true }));
    const total = out.reduce((sum, e) => sum + e.requests, 0);
    if (total === 0) continue;
    const versions: Record<string, number> = {};
    for (const edge of out) {
      const version = versionOf(edge);
      versions[version] = round1((versions[version] ?? 0) + (edge.requests / total) * 100);
    }
    versionShares.push({ service: node.name, requests: total, versions });
  }

  return {
    timestamp: new Date().toISOString(),
    windowSeconds: seconds,
    nodes: [...nodes.values()],
    edges: graphEdges,
    versionShares,
  };
}
