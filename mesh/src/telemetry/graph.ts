/**
 * The Kiali-like graph (`/graph.json`): a versioned-app graph with service nodes, built from the window's traffic
 * (./traffic.ts) and the active Istio objects (badges). The JSON shape is what mesh/static/graph.html draws.
 */
import { parseServiceHost } from '../istio';
import type { IstioConfig, Workload } from '../model';
import { histogramQuantile } from './histogram';
import type { EdgeTrafficWindow, TcpEdgeWindow } from './traffic';

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
  /**
   * Requests a destination sidecar reported over mTLS, in % of all it reported on the edge (Kiali's isMTLS): local
   * replies such as fault aborts count on neither side; 0 when none reached a workload and on TCP edges.
   */
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

function percentile(counts: ArrayLike<number>, p: number): number {
  const value = histogramQuantile(p / 100, counts);
  return Number.isNaN(value) ? 0 : Math.round(value * 100) / 100;
}

const round1 = (n: number): number => Math.round(n * 10) / 10;
const round2 = (n: number): number => Math.round(n * 100) / 100;

/** The graph's nodes by id, in the order they were first named. */
class GraphNodes {
  readonly byId = new Map<string, GraphNode>();
  private readonly badgesByService: ReturnType<typeof serviceBadges>;

  constructor(istio: IstioConfig) {
    this.badgesByService = serviceBadges(istio);
  }

  workload(name: string, app?: string, version?: string): string {
    const id = name === 'unknown' ? 'unknown' : `workload:${name}`;
    if (!this.byId.has(id)) this.byId.set(id, { id, nodeType: name === 'unknown' ? 'unknown' : 'workload', name, app, version, badges: [] });
    return id;
  }

  service(name: string): string {
    const id = `service:${name}`;
    if (!this.byId.has(id)) {
      const info = this.badgesByService.get(name);
      this.byId.set(id, { id, nodeType: 'service', name, app: name, badges: [...(info?.badges ?? [])], virtualServices: [...(info?.virtualServices ?? [])] });
    }
    return id;
  }
}

interface EdgeAccumulator {
  source: string;
  target: string;
  requests: number;
  durations: Float64Array;
  errors: number;
  mtls: number;
  reached: number;
  codes: Record<string, number>;
  flags: Record<string, number>;
}

/** Per graph edge, the sum of its triples' traffic: counters and histograms add up (Kiali's `sum by (le)`). */
function accumulateHttpEdges(traffic: readonly EdgeTrafficWindow[], nodes: GraphNodes): Map<string, EdgeAccumulator> {
  const edges = new Map<string, EdgeAccumulator>();
  const addToEdge = (source: string, target: string, triple: EdgeTrafficWindow): void => {
    const id = `${source}->${target}`;
    let edge = edges.get(id);
    if (!edge)
      edges.set(
        id,
        (edge = {
          source,
          target,
          requests: 0,
          durations: new Float64Array(triple.durationBuckets.length),
          errors: 0,
          mtls: 0,
          reached: 0,
          codes: {},
          flags: {},
        }),
      );
    for (let b = 0; b < triple.durationBuckets.length; b++) edge.durations[b] += triple.durationBuckets[b];
    for (const { code, flags, requests } of triple.outcomes) {
      edge.requests += requests;
      if (code >= 500 || code === 0) edge.errors += requests;
      edge.codes[code] = (edge.codes[code] ?? 0) + requests;
      edge.flags[flags] = (edge.flags[flags] ?? 0) + requests;
    }
    edge.mtls += triple.mtlsRequests;
    edge.reached += triple.reachedRequests;
  };
  for (const triple of traffic) {
    const source = nodes.workload(triple.sourceWorkload, triple.sourceApp, triple.sourceVersion);
    const service = nodes.service(triple.serviceName);
    addToEdge(source, service, triple);
    if (triple.destinationWorkload !== 'unknown') {
      addToEdge(service, nodes.workload(triple.destinationWorkload, triple.destinationApp, triple.destinationVersion), triple);
    }
  }
  return edges;
}

function httpEdges(edges: Map<string, EdgeAccumulator>, nodes: GraphNodes, seconds: number): GraphEdge[] {
  const outgoing = new Map<string, number>();
  for (const edge of edges.values()) outgoing.set(edge.source, (outgoing.get(edge.source) ?? 0) + edge.requests);
  return [...edges.entries()].map(([id, edge]) => {
    const requests = edge.requests;
    const targetNode = nodes.byId.get(edge.target)!;
    const sourceNode = nodes.byId.get(edge.source)!;
    const serviceBadgesOnEdge = (targetNode.nodeType === 'service' ? targetNode : sourceNode.nodeType === 'service' ? sourceNode : undefined)?.badges ?? [];
    return {
      id,
      source: edge.source,
      target: edge.target,
      protocol: 'http' as const,
      requests,
      rate: round2(requests / seconds),
      httpPercentReq: round1((requests / (outgoing.get(edge.source) ?? requests)) * 100),
      errorPercent: round1((edge.errors / requests) * 100),
      mtlsPercent: edge.reached > 0 ? round1((edge.mtls / edge.reached) * 100) : 0,
      responseCodes: edge.codes,
      responseFlags: edge.flags,
      p50: percentile(edge.durations, 50),
      p95: percentile(edge.durations, 95),
      p99: percentile(edge.durations, 99),
      badges: serviceBadgesOnEdge.filter((b) => b !== 'virtualService' && b !== 'circuitBreaker'),
    };
  });
}

/** TCP edges (Kiali draws them with bytes/s): caller → service → destination workload, like HTTP. */
function addTcpEdges(graphEdges: GraphEdge[], tcpEdges: readonly TcpEdgeWindow[], nodes: GraphNodes, seconds: number): void {
  for (const tcp of tcpEdges) {
    const source = nodes.workload(tcp.source.name, tcp.source.app, tcp.source.version);
    const service = nodes.service(tcp.serviceName);
    const hops: Array<[string, string]> = [[source, service]];
    if (tcp.destination) hops.push([service, nodes.workload(tcp.destination.name, tcp.destination.app, tcp.destination.version)]);
    for (const [from, to] of hops) {
      const id = `${from}->${to}/tcp`;
      const existing = graphEdges.find((e) => e.id === id);
      const edge: GraphEdge = existing ?? {
        id,
        source: from,
        target: to,
        protocol: 'tcp',
        requests: 0,
        rate: 0,
        httpPercentReq: 0,
        errorPercent: 0,
        mtlsPercent: 0,
        responseCodes: {},
        responseFlags: {},
        p50: 0,
        p95: 0,
        p99: 0,
        badges: [],
        tcp: { sentBytesPerSecond: 0, receivedBytesPerSecond: 0, bytesPerSecond: 0, opened: 0, closed: 0 },
      };
      const t = edge.tcp!;
      t.sentBytesPerSecond = round2(t.sentBytesPerSecond + tcp.sent / seconds);
      t.receivedBytesPerSecond = round2(t.receivedBytesPerSecond + tcp.received / seconds);
      t.bytesPerSecond = round2(t.sentBytesPerSecond + t.receivedBytesPerSecond);
      t.opened += tcp.opened;
      t.closed += tcp.closed;
      if (!existing) graphEdges.push(edge);
    }
  }
}

/** Per service with HTTP traffic out, each version's share of it, in version order (v1 before v2, v10 after v9). */
function versionShares(nodes: GraphNodes, graphEdges: readonly GraphEdge[]): VersionShare[] {
  const shares: VersionShare[] = [];
  const versionOf = (edge: GraphEdge) => nodes.byId.get(edge.target)?.version ?? 'unknown';
  for (const node of nodes.byId.values()) {
    if (node.nodeType !== 'service') continue;
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
    shares.push({ service: node.name, requests: total, versions });
  }
  return shares;
}

/**
 * Versioned-app graph with service nodes, as Kiali draws it: caller workload → service → destination workload.
 * Every workload the mesh runs and every Service is a node even without traffic. `traffic` is per edge triple over
 * the window (`GraphTraffic.recentHttp`); rates are per `window.spanSeconds`.
 */
export function buildGraph(
  traffic: readonly EdgeTrafficWindow[],
  inputs: GraphInputs,
  window: { seconds: number; spanSeconds?: number },
  tcpEdges: readonly TcpEdgeWindow[] = [],
): Graph {
  const nodes = new GraphNodes(inputs.istio);
  for (const workload of inputs.workloads) {
    const id = nodes.workload(workload.name, workload.app, workload.version);
    nodes.byId.get(id)!.replicas = inputs.readyCount(workload.name);
  }
  for (const service of inputs.serviceNames) nodes.service(service);
  const seconds = window.spanSeconds ?? window.seconds;
  const graphEdges = httpEdges(accumulateHttpEdges(traffic, nodes), nodes, seconds);
  addTcpEdges(graphEdges, tcpEdges, nodes, seconds);
  return {
    timestamp: new Date().toISOString(),
    windowSeconds: window.seconds,
    nodes: [...nodes.byId.values()],
    edges: graphEdges,
    versionShares: versionShares(nodes, graphEdges),
  };
}
