/**
 * What the mesh measures, from the data plane's RequestRecords and TCP connections (the `TelemetrySink` of
 * ../model.ts): Istio's standard metrics with every standard label, from both reporters (./metrics.ts, what Kiali
 * and Grafana's Istio dashboards read), and a Kiali-like graph over a recent time window (./traffic.ts, ./graph.ts).
 * How each label is derived, with its source in Istio, is in ./README.md.
 *
 * Cost per request: a binding joins, per (source workload, destination service, answering workload), both reporters'
 * rendered labels and the graph edge; per outcome (response code, flags) it holds the series and the graph's slots.
 * A request then costs a few Map look-ups and counter/bucket increments. prom-client keeps the mesh's own process
 * metrics (`mesh_*`); the Istio families are written by ./metrics.ts.
 */
import { collectDefaultMetrics, Registry } from 'prom-client';
import {
  INGRESS_GATEWAY_WORKLOAD,
  type MutualTlsMode,
  type RbacShadowEvent,
  type RequestRecord,
  type TcpConnectionInfo,
  type TcpConnectionTelemetry,
  type TelemetrySink,
  type Workload,
} from '../model';
import { buildGraph, shortServiceName, type Graph, type GraphInputs } from './graph';
import { bucketOf } from './histogram';
import { reporterLabels, UNKNOWN, type ReporterLabels } from './labels';
import { IstioSeries, type HttpSeries, type TcpSeries } from './metrics';
import { RbacShadowStats } from './rbac-shadow';
import { EdgeTraffic, GraphTraffic, MTLS_COLUMN, REACHED_COLUMN, TcpColumn, type EdgeTrafficWindow, type OutcomeSlots, type TcpEdgeWindow } from './traffic';
import { MAX_GRAPH_WINDOW_MS, windowSeconds } from './window';

/** The PeerAuthentication mode in force for a workload (the compiled config's `authorization.mtlsMode`). */
export type MtlsModeOf = (workload: Workload) => MutualTlsMode;

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

/** Flags a record can carry while the answer still came from the upstream workload. */
const UPSTREAM_ANSWER_FLAGS = /^(-|DI|URX|UR|DC)$/;

export class MeshTelemetry implements TelemetrySink {
  /** The mesh's own process metrics (`mesh_*`); the Istio families are rendered by `metrics()` itself. */
  readonly registry = new Registry();
  private readonly series = new IstioSeries();
  private readonly rbacShadowStats = new RbacShadowStats();
  private readonly traffic = new GraphTraffic();
  private bindings = new WeakMap<Workload, Map<string, Map<Workload | typeof UNKNOWN, Binding>>>();
  /** Workloads for records that name them only by string (hand-built records). */
  private readonly namedWorkloads = new Map<string, Workload>();
  private mtlsModeOf: MtlsModeOf = () => 'PERMISSIVE';
  private mtlsCache = new WeakMap<Workload, MutualTlsMode>();

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

  record(record: RequestRecord): void {
    const source = record.source ?? this.workloadNamed(record.sourceWorkload, record.sourceApp, record.sourceVersion);
    const destination =
      record.destination ??
      (record.destinationWorkload && record.destinationWorkload !== UNKNOWN
        ? this.workloadNamed(record.destinationWorkload, record.destinationApp, record.destinationVersion)
        : undefined);
    const binding = this.binding(source, record.destinationService, record.destinationServiceName, record.destinationServiceNamespace, destination);
    const flags = record.responseFlags || '-';
    const traffic = binding.graph ?? (binding.graph = this.traffic.edge(graphPeers(record)));
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
    const second = Math.floor(this.now() / 1000);
    if (record.retriedTries) this.recordRetriedTries(record, source, requestBytes, second);
    // The graph's view: this second's slot of the edge triple.
    const slot = traffic.slots.at(second);
    traffic.slots.values[slot + durationBucket]++;
    if (reached) countReached(traffic, slot, binding.mtls);
    outcome.graph.slots.values[outcome.graph.slots.at(second)]++;
  }

  /** Each retried try that reached a workload is a request its destination sidecar reported (series and mTLS share). */
  private recordRetriedTries(record: RequestRecord, source: Workload, requestBytes: number, second: number): void {
    for (const attempt of record.retriedTries ?? []) {
      const retried = this.binding(source, record.destinationService, record.destinationServiceName, record.destinationServiceNamespace, attempt.destination);
      const series = this.destinationOutcome(retried, attempt.responseCode);
      if (!series) continue;
      series.requests++;
      series.duration.observe(attempt.durationMs);
      series.requestBytes.observe(requestBytes);
      series.responseBytes.observe(0);
      const traffic = retried.graph ?? (retried.graph = this.traffic.edge(graphPeers(record, attempt.destination)));
      countReached(traffic, traffic.slots.at(second), retried.mtls);
    }
  }

  tcpConnection(info: TcpConnectionInfo): TcpConnectionTelemetry {
    const binding = this.binding(info.source, info.destinationService, info.destinationServiceName, info.destinationServiceNamespace, info.destination);
    const edge = this.traffic.tcpEdge(info).slots;
    const count = (column: number, n: number): void => {
      edge.values[edge.at(Math.floor(this.now() / 1000)) + column] += n;
    };
    let series: [TcpSeries, TcpSeries | undefined] | undefined;
    let closed = false;
    // Like Istio's TCP stats: the connection counts as opened with its first bytes or, without any, at close.
    const open = (flags: string): [TcpSeries, TcpSeries | undefined] => {
      if (series) return series;
      series = this.tcpOutcome(binding, flags);
      series[0].opened++;
      if (series[1]) series[1].opened++;
      count(TcpColumn.Opened, 1);
      return series;
    };
    return {
      received: (bytes: number) => {
        if (closed || !(bytes > 0)) return;
        const [s, d] = open('-');
        s.received += bytes;
        if (d) d.received += bytes;
        count(TcpColumn.Received, bytes);
      },
      sent: (bytes: number) => {
        if (closed || !(bytes > 0)) return;
        const [s, d] = open('-');
        s.sent += bytes;
        if (d) d.sent += bytes;
        count(TcpColumn.Sent, bytes);
      },
      close: (responseFlags = '-') => {
        if (closed) return;
        closed = true;
        const [s, d] = open(responseFlags || '-');
        s.closed++;
        if (d) d.closed++;
        count(TcpColumn.Closed, 1);
      },
    };
  }

  /**
   * Graph traffic per edge triple over the window of `windowMs` (whole seconds, at most 60): those whole seconds
   * and the current one.
   */
  recentTraffic(windowMs = MAX_GRAPH_WINDOW_MS): EdgeTrafficWindow[] {
    return this.traffic.recentHttp(Math.floor(this.now() / 1000), windowSeconds(windowMs));
  }

  /** TCP traffic per edge over the window of `windowMs` (the same seconds as `recentTraffic`). */
  recentTcp(windowMs = MAX_GRAPH_WINDOW_MS): TcpEdgeWindow[] {
    return this.traffic.recentTcp(Math.floor(this.now() / 1000), windowSeconds(windowMs));
  }

  /** Dry-run AuthorizationPolicy verdicts, counted as Envoy's RBAC shadow stats (./rbac-shadow.ts). */
  rbacShadow(event: RbacShadowEvent): void {
    this.rbacShadowStats.count(event);
  }

  /** Prometheus text format: the Istio families, the proxies' RBAC shadow counters, then the mesh's process metrics. */
  async metrics(): Promise<string> {
    return this.istioMetrics() + this.rbacShadowStats.render() + (await this.registry.metrics());
  }

  /** The Istio families alone (text format 0.0.4). */
  istioMetrics(): string {
    return this.series.render();
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

  private mtlsMode(workload: Workload): MutualTlsMode {
    let mode = this.mtlsCache.get(workload);
    if (!mode) this.mtlsCache.set(workload, (mode = this.mtlsModeOf(workload)));
    return mode;
  }

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
      const mtls = destination !== undefined && this.mtlsMode(destination) !== 'DISABLE';
      const labels = reporterLabels(source, { service: service || UNKNOWN, serviceName: serviceName || UNKNOWN, serviceNamespace }, destination, mtls);
      binding = { ...labels, mtls, outcomes: new Map(), destinationOutcomes: new Map(), tcp: new Map() };
      byDestination.set(key, binding);
    }
    return binding;
  }

  /** The source reporter's series for an outcome, and the graph's slots for it. */
  private outcome(binding: Binding, traffic: EdgeTraffic, code: number, flags: string): SourceOutcome {
    let byFlags = binding.outcomes.get(code);
    if (!byFlags) binding.outcomes.set(code, (byFlags = new Map()));
    let outcome = byFlags.get(flags);
    if (!outcome) byFlags.set(flags, (outcome = { series: this.series.httpSeries(binding.source, code, flags), graph: traffic.outcome(code, flags) }));
    return outcome;
  }

  /** The destination reporter's series (its sidecar saw none of the caller's flags); undefined without a workload. */
  private destinationOutcome(binding: Binding, code: number): HttpSeries | undefined {
    if (!binding.destination) return undefined;
    let series = binding.destinationOutcomes.get(code);
    if (!series) binding.destinationOutcomes.set(code, (series = this.series.httpSeries(binding.destination, code, '-')));
    return series;
  }

  private tcpOutcome(binding: Binding, flags: string): [TcpSeries, TcpSeries | undefined] {
    let pair = binding.tcp.get(flags);
    if (!pair) {
      pair = [this.series.tcpSeries(binding.source, flags), binding.destination ? this.series.tcpSeries(binding.destination, '-') : undefined];
      binding.tcp.set(flags, pair);
    }
    return pair;
  }
}

/**
 * A request the destination sidecar reported, for the graph's mTLS share: Kiali divides the destination reporter's
 * requests with `connection_security_policy="mutual_tls"` by all of them (kiali/kiali
 * graph/telemetry/istio/appender/security_policy.go, `applySecurityPolicy`), so a local reply (fault abort, `UH`) is
 * in neither count.
 */
function countReached(traffic: EdgeTraffic, slot: number, mtls: boolean): void {
  traffic.slots.values[slot + REACHED_COLUMN]++;
  if (mtls) traffic.slots.values[slot + MTLS_COLUMN]++;
}

/** The graph's names of a request's triple (found once per binding); `answeredBy` for a retried try's workload. */
function graphPeers(record: RequestRecord, answeredBy?: Workload) {
  return {
    sourceWorkload: record.sourceWorkload,
    sourceApp: record.sourceApp,
    sourceVersion: record.sourceVersion,
    serviceName: record.destinationServiceName || shortServiceName(record.destinationService),
    destinationWorkload: answeredBy?.name ?? (record.destinationWorkload || UNKNOWN),
    destinationApp: answeredBy ? (answeredBy.labels.app ?? UNKNOWN) : record.destinationApp,
    destinationVersion: answeredBy ? (answeredBy.labels.version ?? UNKNOWN) : record.destinationVersion,
  };
}
