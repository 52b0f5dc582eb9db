/**
 * What the mesh measures, from the data plane's RequestRecords: Prometheus metrics with Istio's names and labels
 * (what Kiali and Grafana read), and a Kiali-like graph over a recent time window.
 */
import { collectDefaultMetrics, Counter, Histogram, Registry } from 'prom-client';
import type { IstioConfig, RequestRecord, TelemetrySink, Workload } from '../model';

const ISTIO_LABELS = [
  'reporter',
  'source_workload',
  'source_workload_namespace',
  'source_app',
  'source_version',
  'destination_workload',
  'destination_workload_namespace',
  'destination_app',
  'destination_version',
  'destination_service',
  'destination_service_name',
  'destination_service_namespace',
  'response_code',
  'response_flags',
  'request_protocol',
] as const;

/** Istio's default buckets for istio_request_duration_milliseconds. */
const ISTIO_DURATION_BUCKETS = [0.5, 1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000];

/** Records are kept this long for the graph; a graph window is at most this. */
export const MAX_GRAPH_WINDOW_MS = 60_000;
/** Memory bound under load tests: beyond this many records the oldest go first (rates use the span kept). */
const MAX_WINDOW_RECORDS = 100_000;

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

export class MeshTelemetry implements TelemetrySink {
  readonly registry = new Registry();
  private readonly requests: Counter<(typeof ISTIO_LABELS)[number]>;
  private readonly durations: Histogram<(typeof ISTIO_LABELS)[number]>;
  private window: TimedRecord[] = [];
  private windowStart = 0;
  private capped = false;

  constructor(
    private readonly namespace = 'default',
    private readonly now: () => number = Date.now,
  ) {
    this.requests = new Counter({
      name: 'istio_requests_total',
      help: 'Requests handled by the mesh, labelled like Istio standard metrics',
      labelNames: ISTIO_LABELS,
      registers: [this.registry],
    });
    this.durations = new Histogram({
      name: 'istio_request_duration_milliseconds',
      help: 'Request duration in milliseconds, labelled like Istio standard metrics',
      labelNames: ISTIO_LABELS,
      buckets: ISTIO_DURATION_BUCKETS,
      registers: [this.registry],
    });
    collectDefaultMetrics({ register: this.registry, prefix: 'mesh_' });
  }

  record(record: RequestRecord): void {
    const labels = {
      reporter: record.reporter,
      source_workload: record.sourceWorkload,
      // The ingress gateway runs in istio-system in a cluster.
      source_workload_namespace: record.sourceWorkload === 'istio-ingressgateway' ? 'istio-system' : this.namespace,
      source_app: record.sourceApp,
      source_version: record.sourceVersion,
      destination_workload: record.destinationWorkload,
      destination_workload_namespace: this.namespace,
      destination_app: record.destinationApp,
      destination_version: record.destinationVersion,
      destination_service: record.destinationService,
      destination_service_name: record.destinationServiceName,
      destination_service_namespace: this.namespace,
      response_code: String(record.responseCode),
      response_flags: record.responseFlags || '-',
      request_protocol: record.requestProtocol,
    };
    this.requests.inc(labels);
    this.durations.observe(labels, record.durationMs);
    // In a cluster the destination pod's sidecar reports the same request again (reporter="destination"), and
    // Istio's Grafana dashboards and Kiali mostly query that side. The mesh has one proxy per hop, so it adds the
    // destination-side series for requests that reached a workload cleanly; local replies (faults, no route,
    // no healthy upstream, overflow) never reach one, exactly as in a cluster.
    if (record.reporter === 'source' && record.destinationWorkload !== 'unknown' && (record.responseFlags || '-') === '-') {
      const destination = { ...labels, reporter: 'destination' };
      this.requests.inc(destination);
      this.durations.observe(destination, record.durationMs);
    }
    const at = this.now();
    this.window.push({ at, record });
    this.prune(at);
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

  metrics(): Promise<string> {
    return this.registry.metrics();
  }

  graph(inputs: GraphInputs, windowMs = 30_000): Graph {
    let window = Math.min(Math.max(windowMs, 1000), MAX_GRAPH_WINDOW_MS);
    // When the record cap dropped part of the window, rates are per the span actually kept.
    const oldest = this.window[this.windowStart];
    if (this.capped && oldest) window = Math.max(1000, Math.min(window, this.now() - oldest.at));
    return buildGraph(this.recent(window), inputs, window);
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
export function buildGraph(records: readonly RequestRecord[], inputs: GraphInputs, windowMs: number): Graph {
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

  const versionShares: VersionShare[] = [];
  for (const node of nodes.values()) {
    if (node.nodeType !== 'service') continue;
    const versionOf = (edge: (typeof graphEdges)[number]) => nodes.get(edge.target)?.version ?? 'unknown';
    // In version order (v1 before v2, v10 after v9), whatever order the traffic arrived in.
    const out = graphEdges
      .filter((e) => e.source === node.id)
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
