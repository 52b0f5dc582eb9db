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
import { canonicalRevisionOf, canonicalServiceOf, CLUSTER_ID, parseServiceHost, spiffeId } from '../istio';

/** Envoy's default histogram buckets (source/common/stats/histogram_impl.cc, HistogramSettingsImpl::defaultBuckets), which Istio's proxies use for
 *  istio_request_duration_milliseconds, istio_request_bytes and istio_response_bytes alike. */
export const ISTIO_DEFAULT_BUCKETS: readonly number[] = [
  0.5, 1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000, 300000, 600000, 1800000, 3600000,
];


/** The graph's traffic is kept this long (as per-second aggregates); a graph window is at most this. */
export const MAX_GRAPH_WINDOW_MS = 60_000;
/** One-second slots per graph edge: the current (partial) second and the 60 whole seconds before it. */
const GRAPH_SLOTS = MAX_GRAPH_WINDOW_MS / 1000 + 1;
/** Buckets of a duration histogram: Istio's bounds, then +Inf. */
const BUCKETS = ISTIO_DEFAULT_BUCKETS.length + 1;

// ---------------------------------------------------------------- label derivation (README: Telemetry)

/** Istio's canonical service: `service.istio.io/canonical-name`, `app.kubernetes.io/name`, `app`, else the workload name. */
export function canonicalService(workload: Workload): string {
  return canonicalServiceOf(workload.labels, workload.name);
}

/** Istio's canonical revision: `service.istio.io/canonical-revision`, `app.kubernetes.io/version`, `version`, else `latest`. */
export function canonicalRevision(workload: Workload): string {
  return canonicalRevisionOf(workload.labels);
}

/** The workload's SPIFFE identity as its mTLS certificate carries it. */
export function principalOf(workload: Workload): string {
  return spiffeId(workload.namespace, workload.serviceAccount);
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

/** The bucket a value falls in (Prometheus `le`: the first bound >= value; the last index is +Inf). */
function bucketOf(value: number): number {
  let i = 0;
  while (i < ISTIO_DEFAULT_BUCKETS.length && value > ISTIO_DEFAULT_BUCKETS[i]) i++;
  return i;
}

class Histogram {
  /** Per-bucket (not cumulative) counts; the last slot is +Inf. */
  readonly counts = new Float64Array(BUCKETS);
  sum = 0;
  count = 0;
  observe(value: number, bucket = bucketOf(value)): void {
    this.counts[bucket]++;
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

/** The source reporter's series for one outcome, and the graph's per-second counts of the same outcome. */
interface SourceOutcome {
  series: HttpSeries;
  graph: OutcomeSlots;
}

/** One (source, service, destination workload) triple: both reporters' peer labels, and the series per outcome. */
interface Binding {
  source: ReporterLabels;
  /** Undefined when no workload answered (local reply): a destination sidecar never saw the request. */
  destination?: ReporterLabels;
  /** The hop uses mTLS (the destination's PeerAuthentication does not disable it). */
  mtls: boolean;
  /** The graph edge traffic of this triple, found on the first request. */
  graph?: EdgeTraffic;
  /** Source reporter: response code → response flags → series. */
  outcomes: Map<number, Map<string, SourceOutcome>>;
  /** Destination reporter: response code → series. */
  destinationOutcomes: Map<number, HttpSeries>;
  tcp: Map<string, [TcpSeries, TcpSeries | undefined]>;
}

const UNKNOWN = 'unknown';
/** Flags a record can carry while the answer still came from the upstream workload. */
const UPSTREAM_ANSWER_FLAGS = /^(-|DI|URX|UR|DC)$/;

/** The graph's names of a (caller, service, answering workload) triple, as the first request named them. */
interface GraphPeers {
  sourceWorkload: string;
  sourceApp: string;
  sourceVersion: string;
  serviceName: string;
  /** `unknown` when no workload answered. */
  destinationWorkload: string;
  destinationApp: string;
  destinationVersion: string;
}

/** One outcome (response code, response flags) of an edge's traffic: requests per one-second slot. */
class OutcomeSlots {
  readonly counts = new Float64Array(GRAPH_SLOTS);
  constructor(
    readonly code: number,
    readonly flags: string,
  ) {}
}

/**
 * The graph's traffic of one (caller, service, answering workload) triple as the source reporter saw it, per
 * one-second slot over the window: requests per outcome, requests over mTLS, and a duration histogram on Istio's
 * buckets. That is what Kiali reads from Prometheus (istio_requests_total, istio_request_duration_milliseconds_bucket)
 * for its graph; a fixed-size ring instead of one object per request.
 */
class EdgeTraffic {
  /** The second each slot holds; -1: never used. A slot is cleared when a newer second takes it. */
  readonly second = new Float64Array(GRAPH_SLOTS).fill(-1);
  /** Per slot, BUCKETS per-bucket (not cumulative) duration counts. */
  readonly durations = new Float64Array(GRAPH_SLOTS * BUCKETS);
  readonly mtls = new Float64Array(GRAPH_SLOTS);
  readonly outcomes: OutcomeSlots[] = [];
  constructor(readonly peers: GraphPeers) {}

  outcome(code: number, flags: string): OutcomeSlots {
    let found = this.outcomes.find((o) => o.code === code && o.flags === flags);
    if (!found) this.outcomes.push((found = new OutcomeSlots(code, flags)));
    return found;
  }

  /** The slot of `second`, cleared first when it last held an older second. */
  slot(second: number): number {
    const i = second % GRAPH_SLOTS;
    if (this.second[i] !== second) {
      this.second[i] = second;
      this.durations.fill(0, i * BUCKETS, (i + 1) * BUCKETS);
      this.mtls[i] = 0;
      for (const outcome of this.outcomes) outcome.counts[i] = 0;
    }
    return i;
  }
}

/** An edge triple's traffic summed over a graph window. */
export interface EdgeTrafficWindow extends GraphPeers {
  outcomes: Array<{ code: number; flags: string; requests: number }>;
  /** Per-bucket duration counts on ISTIO_DEFAULT_BUCKETS, the last one +Inf. */
  durationBuckets: Float64Array;
  mtlsRequests: number;
}

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
  /** Requests sent to a workload over mTLS, in % of the edge's requests (Kiali's isMTLS); 0 on TCP edges. */
  mtlsPercent: number;
  responseCodes: Record<string, number>;
  responseFlags: Record<string, number>;
  /** Duration percentiles in ms, interpolated in Istio's histogram buckets as Prometheus' histogram_quantile does. */
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
  /** Graph traffic per (caller, service, answering workload) triple, by its names. */
  private readonly edgeTraffic = new Map<string, EdgeTraffic>();

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
    const traffic = binding.graph ?? (binding.graph = this.edgeTrafficOf(record));
    const outcome = this.outcome(binding, traffic, record.responseCode, flags);
    const sourceSeries = outcome.series;
    const requestBytes = record.requestBytes ?? 0;
    const responseBytes = record.responseBytes ?? 0;
    const durationBucket = bucketOf(record.durationMs);
    sourceSeries.requests++;
    sourceSeries.duration.observe(record.durationMs, durationBucket);
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
    // The graph's view: this second's slot of the edge triple.
    const slot = traffic.slot(Math.floor(this.now() / 1000));
    outcome.graph.counts[slot]++;
    traffic.durations[slot * BUCKETS + durationBucket]++;
    // Over mTLS: the request went to a workload (a local reply was never sent) whose mode does not disable it.
    if (reached && binding.mtls) traffic.mtls[slot]++;
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

  /**
   * Graph traffic per edge triple over the window of `windowMs` (whole seconds, at most 60): those whole seconds
   * and the current one.
   */
  recentTraffic(windowMs = MAX_GRAPH_WINDOW_MS): EdgeTrafficWindow[] {
    const nowSecond = Math.floor(this.now() / 1000);
    const seconds = windowSeconds(windowMs);
    const out: EdgeTrafficWindow[] = [];
    for (const traffic of this.edgeTraffic.values()) {
      const durationBuckets = new Float64Array(BUCKETS);
      const requests = new Float64Array(traffic.outcomes.length);
      let mtlsRequests = 0;
      let total = 0;
      for (let i = 0; i < GRAPH_SLOTS; i++) {
        const age = nowSecond - traffic.second[i];
        if (age < 0 || age > seconds) continue;
        for (let b = 0; b < BUCKETS; b++) durationBuckets[b] += traffic.durations[i * BUCKETS + b];
        for (let o = 0; o < requests.length; o++) {
          requests[o] += traffic.outcomes[o].counts[i];
          total += traffic.outcomes[o].counts[i];
        }
        mtlsRequests += traffic.mtls[i];
      }
      if (total === 0) continue;
      const outcomes = traffic.outcomes.map((o, index) => ({ code: o.code, flags: o.flags, requests: requests[index] })).filter((o) => o.requests > 0);
      out.push({ ...traffic.peers, outcomes, durationBuckets, mtlsRequests });
    }
    return out;
  }

  /** TCP traffic per edge over the window of `windowMs` (the same seconds as `recentTraffic`). */
  recentTcp(windowMs = MAX_GRAPH_WINDOW_MS): TcpEdgeWindow[] {
    const nowSecond = Math.floor(this.now() / 1000);
    const seconds = windowSeconds(windowMs);
    const out: TcpEdgeWindow[] = [];
    for (const edge of this.tcpEdges.values()) {
      const sum = { sent: 0, received: 0, opened: 0, closed: 0 };
      for (let i = 0; i < GRAPH_SLOTS; i++) {
        const age = nowSecond - edge.second[i];
        if (age < 0 || age > seconds) continue;
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

  /**
   * The graph over the last `windowMs` (whole seconds, 1–60): those seconds and the current, partial one, so rates
   * are per the time they span (N seconds plus the part of the current one).
   */
  graph(inputs: GraphInputs, windowMs = 30_000): Graph {
    const seconds = windowSeconds(windowMs);
    const spanSeconds = seconds + (this.now() % 1000) / 1000;
    return buildGraph(this.recentTraffic(windowMs), inputs, { seconds, spanSeconds }, this.recentTcp(windowMs));
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
      ['source_cluster', CLUSTER_ID],
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
      ['destination_cluster', destination ? CLUSTER_ID : UNKNOWN],
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
    return { source: sourceLabels, destination: destinationLabels, mtls, outcomes: new Map(), destinationOutcomes: new Map(), tcp: new Map() };
  }

  /** The source reporter's series for an outcome, and the graph's slots for it. */
  private outcome(binding: Binding, traffic: EdgeTraffic, code: number, flags: string): SourceOutcome {
    let byFlags = binding.outcomes.get(code);
    if (!byFlags) binding.outcomes.set(code, (byFlags = new Map()));
    let outcome = byFlags.get(flags);
    if (!outcome) byFlags.set(flags, (outcome = { series: this.httpSeriesFor(binding.source, code, flags), graph: traffic.outcome(code, flags) }));
    return outcome;
  }

  /** The graph edge traffic of a request's triple, by the names the graph draws (found once per binding). */
  private edgeTrafficOf(record: RequestRecord): EdgeTraffic {
    const peers: GraphPeers = {
      sourceWorkload: record.sourceWorkload,
      sourceApp: record.sourceApp,
      sourceVersion: record.sourceVersion,
      serviceName: record.destinationServiceName || shortServiceName(record.destinationService),
      destinationWorkload: record.destinationWorkload || UNKNOWN,
      destinationApp: record.destinationApp,
      destinationVersion: record.destinationVersion,
    };
    const key = Object.values(peers).join('\u0000');
    let traffic = this.edgeTraffic.get(key);
    if (!traffic) this.edgeTraffic.set(key, (traffic = new EdgeTraffic(peers)));
    return traffic;
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
        second: new Float64Array(GRAPH_SLOTS).fill(-1),
        sent: new Float64Array(GRAPH_SLOTS),
        received: new Float64Array(GRAPH_SLOTS),
        opened: new Float64Array(GRAPH_SLOTS),
        closed: new Float64Array(GRAPH_SLOTS),
      };
      this.tcpEdges.set(key, edge);
    }
    return edge;
  }

  /** The slot of the current second, cleared when it last held an older second. */
  private slotIndex(edge: TcpEdgeSlots): number {
    const second = Math.floor(this.now() / 1000);
    const i = second % GRAPH_SLOTS;
    if (edge.second[i] !== second) {
      edge.second[i] = second;
      edge.sent[i] = 0;
      edge.received[i] = 0;
      edge.opened[i] = 0;
      edge.closed[i] = 0;
    }
    return i;
  }
}

/** `authors.default.svc.cluster.local` → `authors`. */
export function shortServiceName(host: string): string {
  return parseServiceHost(host, '')?.name ?? host;
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

/** A graph window in whole seconds: `windowMs` rounded, 1–60. */
function windowSeconds(windowMs: number): number {
  return Math.max(1, Math.min(MAX_GRAPH_WINDOW_MS / 1000, Math.round(windowMs / 1000)));
}

/**
 * The q-quantile (0–1) of a histogram as Prometheus' `histogram_quantile` computes it (promql/quantile.go,
 * `bucketQuantile`): `counts` are per-bucket counts on ISTIO_DEFAULT_BUCKETS, the last one +Inf. The rank q × count
 * falls in the first bucket whose cumulative count reaches it; the value is interpolated linearly inside that
 * bucket, from the bound below (0 below the first bucket) to its own; a rank in the +Inf bucket gives the highest
 * finite bound. NaN without observations.
 */
export function histogramQuantile(q: number, counts: ArrayLike<number>): number {
  let total = 0;
  for (let i = 0; i < counts.length; i++) total += counts[i];
  if (total === 0) return NaN;
  const rank = q * total;
  let below = 0;
  for (let b = 0; b < ISTIO_DEFAULT_BUCKETS.length; b++) {
    const cumulative = below + counts[b];
    if (cumulative >= rank) {
      const lower = b === 0 ? 0 : ISTIO_DEFAULT_BUCKETS[b - 1];
      return lower + (ISTIO_DEFAULT_BUCKETS[b] - lower) * ((rank - below) / counts[b]);
    }
    below = cumulative;
  }
  return ISTIO_DEFAULT_BUCKETS[ISTIO_DEFAULT_BUCKETS.length - 1];
}

function percentile(counts: ArrayLike<number>, p: number): number {
  const value = histogramQuantile(p / 100, counts);
  return Number.isNaN(value) ? 0 : Math.round(value * 100) / 100;
}

const round1 = (n: number): number => Math.round(n * 10) / 10;

interface EdgeAccumulator {
  source: string;
  target: string;
  requests: number;
  durations: Float64Array;
  errors: number;
  mtls: number;
  codes: Record<string, number>;
  flags: Record<string, number>;
}

/**
 * Versioned-app graph with service nodes, as Kiali draws it: caller workload → service → destination workload.
 * Every workload the mesh runs and every Service is a node even without traffic. `traffic` is per edge triple over
 * the window (`MeshTelemetry.recentTraffic`); rates are per `window.spanSeconds`.
 */
export function buildGraph(
  traffic: readonly EdgeTrafficWindow[],
  inputs: GraphInputs,
  window: { seconds: number; spanSeconds?: number },
  tcpEdges: readonly TcpEdgeWindow[] = [],
): Graph {
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
  // Histograms and counters add up: an edge's percentiles come from the summed buckets, as Kiali's sum by (le).
  const addToEdge = (source: string, target: string, triple: EdgeTrafficWindow): void => {
    const id = `${source}->${target}`;
    let edge = edges.get(id);
    if (!edge) edges.set(id, (edge = { source, target, requests: 0, durations: new Float64Array(triple.durationBuckets.length), errors: 0, mtls: 0, codes: {}, flags: {} }));
    for (let b = 0; b < triple.durationBuckets.length; b++) edge.durations[b] += triple.durationBuckets[b];
    for (const { code, flags, requests } of triple.outcomes) {
      edge.requests += requests;
      if (code >= 500 || code === 0) edge.errors += requests;
      edge.codes[code] = (edge.codes[code] ?? 0) + requests;
      edge.flags[flags] = (edge.flags[flags] ?? 0) + requests;
    }
    edge.mtls += triple.mtlsRequests;
  };
  for (const triple of traffic) {
    const source = workloadNode(triple.sourceWorkload, triple.sourceApp, triple.sourceVersion);
    const service = serviceNode(triple.serviceName);
    addToEdge(source, service, triple);
    if (triple.destinationWorkload !== 'unknown') {
      addToEdge(service, workloadNode(triple.destinationWorkload, triple.destinationApp, triple.destinationVersion), triple);
    }
  }

  const outgoing = new Map<string, number>();
  for (const edge of edges.values()) outgoing.set(edge.source, (outgoing.get(edge.source) ?? 0) + edge.requests);
  const seconds = window.spanSeconds ?? window.seconds;
  const graphEdges: GraphEdge[] = [...edges.entries()].map(([id, edge]) => {
    const requests = edge.requests;
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
      mtlsPercent: round1((edge.mtls / requests) * 100),
      responseCodes: edge.codes,
      responseFlags: edge.flags,
      p50: percentile(edge.durations, 50),
      p95: percentile(edge.durations, 95),
      p99: percentile(edge.durations, 99),
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
        id, source: from, target: to, protocol: 'tcp', requests: 0, rate: 0, httpPercentReq: 0, errorPercent: 0, mtlsPercent: 0,
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
    windowSeconds: window.seconds,
    nodes: [...nodes.values()],
    edges: graphEdges,
    versionShares,
  };
}
