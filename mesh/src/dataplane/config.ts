/**
 * compileMeshConfig: turns the loaded Kubernetes Services and Istio objects into route tables the data plane can
 * walk without re-reading YAML on each request: anchored regexes, parsed durations, resolved FQDNs, one cluster
 * object per (host, subset, port) with its merged traffic policy.
 */
import type {
  DestinationRule,
  Endpoint,
  Gateway,
  HeaderOperations,
  HTTPMatchRequest,
  HTTPRoute,
  IstioConfig,
  LoadedObject,
  Service,
  ServicePort,
  StringMatch,
  Subset,
  TCPRoute,
  TrafficPolicy,
  VirtualService,
  Workload,
} from '../model';
import { ALLOW_ALL, compileAuthorization, podPort, type Authorizer } from './authorization';
import { expandShortHost, gatewayServerHost, hostMatches, hostSpecificity, parseDuration, parseServiceHost, resolveGatewayRef, serviceFqdn, stripPort } from '../istio';
import { compileConsistentHash, type HashPolicy } from './upstream/hashing';
import { compileMatchBlock, compileRegexRewrite, compileStringMatch, type CompiledMatchBlock, type StringPredicate } from './match';
import { ROUTE_SEMANTICS_ANNOTATION } from '../gateway-api/kinds';

export interface MeshState {
  istio: IstioConfig;
  services: LoadedObject<Service>[];
  workloads: Workload[];
  /** 'kubernetes' = --no-istio: plain Service behaviour, even spread over all pods. */
  mode: 'istio' | 'kubernetes';
  namespace?: string;
}

export type Feature = 'fault' | 'timeout' | 'retry' | 'circuitBreaker' | 'trafficShift' | 'mirror';

export interface ServiceInfo {
  name: string;
  namespace: string;
  fqdn: string;
  selector: ReadonlyArray<[string, string]>;
  ports: ServicePort[];
}

export interface OutlierPolicy {
  consecutive5xx: number;
  consecutiveGateway: number;
  intervalMs: number;
  baseEjectionMs: number;
  maxEjectionPercent: number;
  minHealthPercent: number;
}

export interface ClusterPolicy {
  lb: 'ROUND_ROBIN' | 'RANDOM' | 'LEAST_REQUEST';
  /** Circuit breaking: in-flight requests the cluster may have before new ones wait (HTTP/1: one per connection). */
  maxConnections: number;
  /** Requests allowed to wait for a connection; beyond that: 503 UO. */
  maxPending: number;
  /** Concurrent requests (Envoy max_requests, Istio http2MaxRequests); beyond that: 503 UO. */
  maxRequests: number;
  /** True when any of the limits above is finite. */
  limited: boolean;
  /** loadBalancer.consistentHash (hashing.ts); replaces `lb` when set. */
  hash?: HashPolicy;
  outlier?: OutlierPolicy;
}

/** An Envoy cluster: the endpoints of one Service, narrowed by one subset, on one port. */
export interface CompiledCluster {
  /** Envoy-style name: `outbound|8080|v1|articles.default.svc.cluster.local`. */
  key: string;
  serviceFqdn: string;
  serviceName: string;
  /** Labels an endpoint's workload must carry (Service selector + subset labels); null = selects nothing. */
  labels: ReadonlyArray<[string, string]> | null;
  /**
   * False when istiod would build no such cluster (a subset no DestinationRule defines, a port the Service lacks, a
   * host that is no Service): Envoy's router then answers 503 with an empty body and flag NC (cluster not found).
   */
  exists: boolean;
  policy: ClusterPolicy;
  /** The port an endpoint of this workload receives on (the Service port's targetPort, a named one resolved): AuthorizationPolicy `ports`. */
  podPort(workload: Workload): number;
  /** The ready endpoints of this cluster, in the order the endpoint source lists them. */
  select(endpoints: readonly Endpoint[]): Endpoint[];
}

/** Where a TCP connection to a Service port goes: Envoy's tcp_proxy `cluster` or `weighted_clusters`. */
export interface CompiledTcpRoute {
  destinations: Array<{ cluster: CompiledCluster; weight: number }>;
  totalWeight: number;
}

export interface CompiledHeaderOps {
  remove: string[];
  set: Array<[string, string]>;
  add: Array<[string, string]>;
}

export interface RetryPolicy {
  /** Retries after the first try (0 = off). */
  attempts: number;
  perTryTimeoutMs?: number;
  on5xx: boolean;
  onGatewayError: boolean;
  onConnectFailure: boolean;
  onReset: boolean;
  onRetriable4xx: boolean;
  onCodes: ReadonlySet<number>;
}

export interface CompiledDestination {
  cluster: CompiledCluster;
  weight: number;
  requestHeaders?: CompiledHeaderOps;
  responseHeaders?: CompiledHeaderOps;
  features: readonly Feature[];
}

export interface CompiledCors {
  /** Envoy's matchers: an origin is allowed when one matches it or the literal `*` (cors_filter.cc isOriginAllowed). */
  allowOrigins: StringPredicate[];
  /** Istio sets forward_not_matching_preflights unless `unmatchedPreflights: IGNORE` (route.go forwardNotMatchingPreflights). */
  forwardNotMatchingPreflights: boolean;
  allowMethods?: string;
  allowHeaders?: string;
  exposeHeaders?: string;
  maxAgeSeconds?: string;
  allowCredentials: boolean;
}

export interface CompiledRoute {
  virtualService: string;
  name?: string;
  /** null: the rule has no match and takes everything. */
  blocks: CompiledMatchBlock[] | null;
  kind: 'route' | 'redirect' | 'direct';
  destinations: CompiledDestination[];
  totalWeight: number;
  redirect?: { uri?: string; prefixRewrite?: string; authority?: string; scheme?: string; port?: number; fromRequestPort: boolean; code: number };
  direct?: { status: number; body: Buffer };
  /** `uri` replaces the matched prefix (Envoy prefix_rewrite); `regex` is uriRegexRewrite (Envoy regex_rewrite). */
  rewrite?: { uri?: string; authority?: string; regex?: (path: string) => string };
  timeoutMs?: number;
  retry: RetryPolicy;
  fault?: { delayMs: number; delayPercent: number; abortStatus: number; abortPercent: number };
  mirror?: { cluster: CompiledCluster; percent: number };
  /** `mirrors` (several per rule, e.g. from Gateway API RequestMirror filters), after `mirror`. */
  mirrors?: Array<{ cluster: CompiledCluster; percent: number }>;
  /**
   * A rule istiod generated from a Gateway API route (`internal.istio.io/route-semantics: gateway`): a missing
   * backend answers 500 instead of 503 (route.go applyHTTPRouteDestination, cluster_not_found_response_code),
   * prefix rewrite `/` drops the matched prefix whole, redirects derive the port as the Gateway API says.
   */
  gatewaySemantics?: boolean;
  requestHeaders?: CompiledHeaderOps;
  responseHeaders?: CompiledHeaderOps;
  /**
   * Where the destination's header operations go. One destination: Istio appends them to the route's own lists
   * (route.go processDestination), so all removes run first, then the route's writes, then the destination's.
   * Several: they sit on Envoy's weighted cluster, whose parser runs before the route's (WeightedClusterEntry).
   */
  destinationOpsAfterRoute: boolean;
  cors?: CompiledCors;
  /** Features of the rule itself (destination features add the cluster's). */
  features: readonly Feature[];
}

interface VirtualHostEntry {
  hosts: string[];
  routes: CompiledRoute[];
}

/** Routes for a set of virtual hosts, resolved per request host and memoised. */
class VirtualHostTable {
  private readonly cache = new Map<string, CompiledRoute[] | null>();
  /** `catchAllLast`: a gateway's virtual host, whose catch-all routes istiod moves to the end (SortVHostRoutes). */
  constructor(
    private readonly entries: VirtualHostEntry[],
    private readonly catchAllLast = false,
  ) {}

  /** Routes of the VirtualServices whose most specific host pattern matches `host`, in load order; null if none. */
  routesFor(host: string): CompiledRoute[] | null {
    const cached = this.cache.get(host);
    if (cached !== undefined) return cached;
    let best = -1;
    let routes: CompiledRoute[] | null = null;
    for (const entry of this.entries) {
      let specificity = -1;
      for (const pattern of entry.hosts) if (hostMatches(pattern, host)) specificity = Math.max(specificity, hostSpecificity(pattern));
      if (specificity < 0) continue;
      if (specificity > best) {
        best = specificity;
        routes = [...entry.routes];
      } else if (specificity === best && routes) {
        routes.push(...entry.routes);
      }
    }
    if (routes && this.catchAllLast) routes = catchAllRoutesLast(routes);
    if (this.cache.size < 1024) this.cache.set(host, routes);
    return routes;
  }
}

/**
 * istiod builds one Envoy route per match block and, on gateways, moves the catch-all ones (prefix `/` or regex `.*`,
 * no header or query match; a rule without match) behind all others, keeping the relative order
 * (pilot/pkg/networking/core/route/route.go SortVHostRoutes, IsCatchAllRoute). A rule whose blocks are mixed is split.
 */
function catchAllRoutesLast(routes: CompiledRoute[]): CompiledRoute[] {
  const specific: CompiledRoute[] = [];
  const catchAll: CompiledRoute[] = [];
  for (const route of routes) {
    if (route.blocks === null) {
      catchAll.push(route);
      continue;
    }
    const wide = route.blocks.filter((b) => b.catchAll);
    if (wide.length === 0) specific.push(route);
    else if (wide.length === route.blocks.length) catchAll.push(route);
    else {
      specific.push({ ...route, blocks: route.blocks.filter((b) => !b.catchAll) });
      catchAll.push({ ...route, blocks: wide });
    }
  }
  return catchAll.length === 0 ? routes : [...specific, ...catchAll];
}

export interface GatewayTable {
  /** Names the gateway is known by, for `match.gateways`. */
  ids: string[];
  /** Host patterns of the gateway's HTTP servers on `port` (null = accept every host, no Gateway objects). */
  serverHosts: string[] | null;
  port: number;
  virtualHosts: VirtualHostTable;
}

export interface CompiledMeshConfig {
  mode: 'istio' | 'kubernetes';
  namespace: string;
  /** Gateway routing table for a TrafficSource's gateway name. */
  gateway(name: string): GatewayTable;
  /** VirtualServices bound to `mesh`, by destination FQDN. */
  meshVirtualHosts: VirtualHostTable;
  /** Known Service FQDN for a host as a caller wrote it (`authors`, `authors.default`, FQDN); undefined if unknown. */
  resolveService(host: string): ServiceInfo | undefined;
  /** The cluster of a Service on a port with no VirtualService: Istio's default route. */
  defaultRoute(service: ServiceInfo, port: number | undefined): CompiledRoute;
  /** A TCP Service port's route: the first mesh VirtualService `tcp` rule for it, else the Service's cluster. */
  tcpRoute(serviceFqdn: string, port: number): CompiledTcpRoute;
  /** AuthorizationPolicies and PeerAuthentications, enforced by the destination's proxy (authorization.ts). */
  authorization: Authorizer;
}

const UNLIMITED = Number.MAX_SAFE_INTEGER;

/** Istio's retry policy when a route sets none (since 1.24 no longer retrying 503). */
const DEFAULT_RETRY: RetryPolicy = {
  attempts: 2,
  on5xx: false,
  onGatewayError: false,
  onConnectFailure: true,
  onReset: false,
  onRetriable4xx: false,
  onCodes: new Set(),
};
const NO_RETRY: RetryPolicy = { ...DEFAULT_RETRY, attempts: 0, onConnectFailure: false };

export function parseRetryOn(retryOn: string | undefined): Omit<RetryPolicy, 'attempts' | 'perTryTimeoutMs'> {
  const policy = { on5xx: false, onGatewayError: false, onConnectFailure: false, onReset: false, onRetriable4xx: false, onCodes: new Set<number>() };
  const items = (retryOn ?? 'connect-failure,refused-stream,unavailable,cancelled').split(',');
  for (const raw of items) {
    const item = raw.trim();
    if (item === '5xx') policy.on5xx = true;
    else if (item === 'gateway-error') policy.onGatewayError = true;
    else if (item === 'connect-failure') policy.onConnectFailure = true;
    else if (item === 'reset') policy.onReset = true;
    else if (item === 'retriable-4xx') policy.onRetriable4xx = true;
    else if (/^\d{3}$/.test(item)) policy.onCodes.add(Number(item));
    // refused-stream (HTTP/2 only), gRPC codes (unavailable, cancelled, ...) and retriable-status-codes cannot occur
    // on the mesh's HTTP/1.1 hops; they are accepted and have no effect.
  }
  return policy;
}

function labelEntries(labels: Record<string, string> | undefined): Array<[string, string]> {
  return Object.entries(labels ?? {}).filter((entry): entry is [string, string] => typeof entry[1] === 'string');
}

function compileHeaderOps(ops: HeaderOperations | undefined): CompiledHeaderOps | undefined {
  if (!ops || (!ops.set && !ops.add && !ops.remove)) return undefined;
  return {
    remove: (ops.remove ?? []).map((name) => name.toLowerCase()),
    set: Object.entries(ops.set ?? {}).map(([k, v]) => [k.toLowerCase(), String(v)]),
    add: Object.entries(ops.add ?? {}).map(([k, v]) => [k.toLowerCase(), String(v)]),
  };
}

function compileRewrite(rewrite: HTTPRoute['rewrite']): CompiledRoute['rewrite'] {
  if (!rewrite) return undefined;
  const { uri, authority, uriRegexRewrite } = rewrite;
  const regex = uriRegexRewrite?.match && uriRegexRewrite.rewrite ? compileRegexRewrite(uriRegexRewrite.match, uriRegexRewrite.rewrite) : undefined;
  if (!uri && authority === undefined && !regex) return undefined;
  return { uri: uri || undefined, authority, regex };
}

/**
 * Root VirtualServices with their `delegate` rules replaced by the delegate's rules, as istiod merges them
 * (pilot/pkg/model/virtualservice.go MergeHTTPRoutes, mergeHTTPRoute, mergeHTTPMatchRequests, hasConflict): each
 * delegate match is ANDed with every root match it does not conflict with (a delegate match with none is dropped,
 * with its rule), and the delegate rule inherits the root rule's fields it does not set. Delegates (no hosts) serve
 * no traffic themselves.
 */
function resolveDelegates(virtualServices: VirtualService[], defaultNamespace: string): VirtualService[] {
  const delegates = new Map<string, VirtualService>();
  for (const vs of virtualServices) {
    if ((vs.spec?.hosts ?? []).length === 0) delegates.set(`${vs.metadata.namespace ?? defaultNamespace}/${vs.metadata.name}`, vs);
  }
  if (delegates.size === 0) return virtualServices;
  return virtualServices.map((vs) => {
    const http = vs.spec?.http;
    if (!http?.some((rule) => rule?.delegate)) return vs;
    const expanded = http.flatMap((rule) => {
      if (!rule?.delegate) return [rule];
      const target = delegates.get(`${rule.delegate.namespace ?? vs.metadata.namespace ?? defaultNamespace}/${rule.delegate.name}`);
      return (target?.spec?.http ?? []).map((sub) => mergeDelegateRule(rule, sub)).filter((r): r is HTTPRoute => r !== undefined);
    });
    return { ...vs, spec: { ...vs.spec!, http: expanded } };
  });
}

const INHERITED: ReadonlyArray<keyof HTTPRoute> = ['rewrite', 'directResponse', 'timeout', 'retries', 'fault', 'mirror', 'mirrorPercentage', 'corsPolicy', 'headers'];

function mergeDelegateRule(root: HTTPRoute, sub: HTTPRoute): HTTPRoute | undefined {
  const match = mergeDelegateMatches(root.match ?? [], sub.match ?? []);
  if (match === undefined) return undefined;
  const merged: HTTPRoute = { ...sub, match: match.length > 0 ? match : undefined, name: sub.name && root.name ? `${root.name}-${sub.name}` : (sub.name ?? root.name) };
  for (const field of INHERITED) if (merged[field] === undefined && root[field] !== undefined) (merged as Record<string, unknown>)[field] = root[field];
  return merged;
}

function mergeDelegateMatches(root: HTTPMatchRequest[], sub: HTTPMatchRequest[]): HTTPMatchRequest[] | undefined {
  if (root.length === 0) return sub;
  if (sub.length === 0) return root;
  const out: HTTPMatchRequest[] = [];
  for (const leaf of sub) {
    const fitting = root.filter((r) => !matchConflict(r, leaf));
    if (fitting.length === 0) return undefined;
    for (const r of fitting) {
      out.push({
        ...leaf,
        uri: leaf.uri ?? r.uri,
        scheme: leaf.scheme ?? r.scheme,
        method: leaf.method ?? r.method,
        authority: leaf.authority ?? r.authority,
        headers: r.headers || leaf.headers ? { ...r.headers, ...leaf.headers } : undefined,
        withoutHeaders: r.withoutHeaders || leaf.withoutHeaders ? { ...r.withoutHeaders, ...leaf.withoutHeaders } : undefined,
        queryParams: r.queryParams || leaf.queryParams ? { ...r.queryParams, ...leaf.queryParams } : undefined,
        sourceLabels: r.sourceLabels || leaf.sourceLabels ? { ...r.sourceLabels, ...leaf.sourceLabels } : undefined,
        port: leaf.port ?? r.port,
        gateways: leaf.gateways?.length ? leaf.gateways : r.gateways,
      });
    }
  }
  return out;
}

function matchConflict(root: HTTPMatchRequest, leaf: HTTPMatchRequest): boolean {
  const fields = ['uri', 'scheme', 'method', 'authority'] as const;
  if (fields.some((f) => stringMatchConflict(root[f], leaf[f]))) return true;
  for (const map of ['headers', 'withoutHeaders', 'queryParams'] as const) {
    for (const [key, value] of Object.entries(leaf[map] ?? {})) if (stringMatchConflict(root[map]?.[key], value)) return true;
  }
  if (Boolean(root.ignoreUriCase) !== Boolean(leaf.ignoreUriCase)) return true;
  if (root.port && leaf.port && root.port !== leaf.port) return true;
  for (const [key, value] of Object.entries(leaf.sourceLabels ?? {})) if (root.sourceLabels?.[key] !== undefined && root.sourceLabels[key] !== value) return true;
  if (root.gateways?.length && leaf.gateways?.length && !leaf.gateways.every((g) => root.gateways!.includes(g))) return true;
  return false;
}

/** The delegate's match must lie within the root's (virtualservice.go stringMatchConflict). */
function stringMatchConflict(root: StringMatch | undefined, leaf: StringMatch | undefined): boolean {
  if (!root || !leaf) return false;
  if (root.regex || leaf.regex) return true;
  if (root.exact) return leaf.exact !== root.exact;
  if (root.prefix) {
    if (leaf.prefix) return !leaf.prefix.startsWith(root.prefix);
    if (leaf.exact) return !leaf.exact.startsWith(root.prefix);
  }
  return true;
}

function percentOf(value: number | undefined): number {
  return typeof value === 'number' && Number.isFinite(value) ? Math.min(100, Math.max(0, value)) : 0;
}

function positiveOr(value: number | undefined, fallback: number): number {
  return typeof value === 'number' && value > 0 ? value : fallback;
}

/** Subset policy fields replace the DestinationRule's top-level ones field by field (Istio's merge). */
/** A policy's `portLevelSettings` entry for `port` replaces its four fields wholesale (no inheritance). */
function atPort(policy: TrafficPolicy | undefined, port: number | undefined): { policy: TrafficPolicy | undefined; portLevel: boolean } {
  const level = port === undefined ? undefined : policy?.portLevelSettings?.find((p) => p?.port?.number === port);
  if (!level) return { policy, portLevel: false };
  const { loadBalancer, connectionPool, outlierDetection, tls } = level;
  return { policy: { loadBalancer, connectionPool, outlierDetection, tls }, portLevel: true };
}

/**
 * The policy of a cluster on `port`: the DestinationRule's (its port-level settings first), then the subset's fields
 * override (with a port-level subset setting, all four fields) — istio/istio pilot/pkg/networking/util
 * MergeSubsetTrafficPolicy, GetPortLevelTrafficPolicy and pilot/pkg/model MergeTrafficPolicy.
 */
function mergePolicy(top: TrafficPolicy | undefined, subset: TrafficPolicy | undefined, port: number | undefined): TrafficPolicy {
  const base = atPort(top, port).policy ?? {};
  const { policy: own, portLevel } = atPort(subset, port);
  if (!own) return base;
  const merged: TrafficPolicy = { ...base };
  for (const field of ['connectionPool', 'outlierDetection', 'loadBalancer', 'tls'] as const) {
    if (own[field] !== undefined || portLevel) (merged as Record<string, unknown>)[field] = own[field];
  }
  return merged;
}

/**
 * Several DestinationRules for one host are merged as istiod does (pilot/pkg/model/destination_rule.go
 * mergeDestinationRule): later subsets are appended unless the name is taken, the first top-level policy wins.
 */
function mergeDestinationRules(first: DestinationRule, later: DestinationRule): DestinationRule {
  const spec = first.spec!;
  const names = new Set((spec.subsets ?? []).map((s) => s?.name));
  const added = (later.spec?.subsets ?? []).filter((s) => s && !names.has(s.name));
  return {
    ...first,
    spec: { ...spec, subsets: [...(spec.subsets ?? []), ...added], trafficPolicy: spec.trafficPolicy ?? later.spec?.trafficPolicy },
  };
}

function compilePolicy(policy: TrafficPolicy): ClusterPolicy {
  const simple = policy.loadBalancer?.simple;
  // PASSTHROUGH (use the caller's destination address) has no meaning locally: treated as round robin.
  const lb = simple === 'ROUND_ROBIN' || simple === 'PASSTHROUGH' ? 'ROUND_ROBIN' : simple === 'RANDOM' ? 'RANDOM' : 'LEAST_REQUEST';
  const maxConnections = positiveOr(policy.connectionPool?.tcp?.maxConnections, UNLIMITED);
  const maxPending = positiveOr(policy.connectionPool?.http?.http1MaxPendingRequests, UNLIMITED);
  const maxRequests = positiveOr(policy.connectionPool?.http?.http2MaxRequests, UNLIMITED);
  const od = policy.outlierDetection;
  let outlier: OutlierPolicy | undefined;
  if (od) {
    outlier = {
      // Istio: 0 disables a detector; consecutive5xxErrors defaults to 5, consecutiveGatewayErrors to off.
      consecutive5xx: typeof od.consecutive5xxErrors === 'number' ? od.consecutive5xxErrors : 5,
      consecutiveGateway: od.consecutiveGatewayErrors ?? 0,
      intervalMs: parseDuration(od.interval) ?? 10_000,
      baseEjectionMs: parseDuration(od.baseEjectionTime) ?? 30_000,
      // Istio passes maxEjectionPercent only when > 0, so 0 (or unset) leaves Envoy's default of 10.
      maxEjectionPercent: typeof od.maxEjectionPercent === 'number' && od.maxEjectionPercent > 0 ? Math.min(100, od.maxEjectionPercent) : 10,
      minHealthPercent: od.minHealthPercent ?? 0,
    };
    if (outlier.consecutive5xx <= 0 && outlier.consecutiveGateway <= 0) outlier = undefined;
  }
  return {
    lb,
    maxConnections,
    maxPending,
    maxRequests,
    limited: maxConnections !== UNLIMITED || maxPending !== UNLIMITED || maxRequests !== UNLIMITED,
    outlier,
    hash: compileConsistentHash(policy.loadBalancer?.consistentHash),
  };
}

const ROUND_ROBIN_ONLY: ClusterPolicy = {
  lb: 'ROUND_ROBIN',
  maxConnections: UNLIMITED,
  maxPending: UNLIMITED,
  maxRequests: UNLIMITED,
  limited: false,
};

function makeCluster(
  key: string,
  serviceFqdn: string,
  serviceName: string,
  labels: ReadonlyArray<[string, string]> | null,
  policy: ClusterPolicy,
  targetPort: { targetPort?: number | string; port: number },
  exists = true,
): CompiledCluster {
  // Membership depends only on a workload's labels; memoise it per workload object.
  const membership = new WeakMap<Workload, boolean>();
  const isMember = (workload: Workload): boolean => {
    let member = membership.get(workload);
    if (member === undefined) {
      member = labels !== null && labels.every(([k, v]) => workload.labels[k] === v);
      membership.set(workload, member);
    }
    return member;
  };
  return {
    key,
    serviceFqdn,
    serviceName,
    labels,
    exists,
    policy,
    podPort: (workload) => podPort(targetPort.targetPort, targetPort.port, workload),
    select(endpoints) {
      const selected: Endpoint[] = [];
      if (labels === null) return selected;
      for (const endpoint of endpoints) if (endpoint.ready && isMember(endpoint.workload)) selected.push(endpoint);
      return selected;
    },
  };
}


export function compileMeshConfig(state: MeshState): CompiledMeshConfig {
  const namespace = state.namespace ?? 'default';
  const kubernetesMode = state.mode === 'kubernetes';

  const services = new Map<string, ServiceInfo>();
  for (const { object } of state.services) {
    if (!object?.metadata?.name) continue;
    const ns = object.metadata.namespace ?? namespace;
    const fqdn = serviceFqdn(object.metadata.name, ns);
    if (services.has(fqdn)) continue;
    services.set(fqdn, {
      name: object.metadata.name,
      namespace: ns,
      fqdn,
      selector: labelEntries(object.spec?.selector),
      ports: object.spec?.ports ?? [],
    });
  }

  const resolveService = (host: string): ServiceInfo | undefined => {
    const name = stripPort(host).replace(/\.$/, '');
    const named = parseServiceHost(name, namespace);
    return services.get(name) ?? (named && services.get(serviceFqdn(named.name, named.namespace)));
  };

  const destinationRules = new Map<string, DestinationRule>();
  if (!kubernetesMode) {
    for (const { object } of state.istio.destinationRules) {
      if (!object?.spec?.host) continue;
      const host = expandShortHost(object.spec.host, object.metadata.namespace ?? namespace);
      const existing = destinationRules.get(host);
      destinationRules.set(host, existing ? mergeDestinationRules(existing, object) : object);
    }
  }

  const clusters = new Map<string, CompiledCluster>();
  const clusterFor = (host: string, subset: string | undefined, port: number | undefined): CompiledCluster => {
    const service = services.get(host) ?? resolveService(host);
    const fqdn = service?.fqdn ?? host;
    const servicePort = service ? (port === undefined ? service.ports[0] : service.ports.find((p) => p.port === port)) : undefined;
    const key = `outbound|${servicePort?.port ?? port ?? ''}|${subset ?? ''}|${fqdn}`;
    const existing = clusters.get(key);
    if (existing) return existing;
    let labels: Array<[string, string]> | null = null;
    let policy = ROUND_ROBIN_ONLY;
    let exists = service !== undefined && servicePort !== undefined;
    if (service && servicePort) {
      // A Service without a selector has no endpoints here (no manual Endpoints objects in the local mesh).
      labels = service.selector.length > 0 ? [...service.selector] : null;
      const rule = destinationRules.get(fqdn);
      let subsetDef: Subset | undefined;
      if (subset !== undefined) {
        subsetDef = rule?.spec?.subsets?.find((s) => s.name === subset);
        // istiod builds clusters only for the subsets DestinationRules define.
        if (!subsetDef) {
          labels = null;
          exists = false;
        }
        else if (labels) labels.push(...labelEntries(subsetDef.labels));
      }
      if (!kubernetesMode) policy = compilePolicy(mergePolicy(rule?.spec?.trafficPolicy, subsetDef?.trafficPolicy, servicePort.port));
    }
    const targetPort = { targetPort: servicePort?.targetPort, port: servicePort?.port ?? port ?? 80 };
    const cluster = makeCluster(key, fqdn, service?.name ?? fqdn.split('.')[0], labels, policy, targetPort, exists);
    clusters.set(key, cluster);
    return cluster;
  };

  const compileRoute = (vs: VirtualService, rule: HTTPRoute, vsNamespace: string): CompiledRoute => {
    const vsName = vs.metadata.name;
    const gatewaySemantics = vs.metadata.annotations?.[ROUTE_SEMANTICS_ANNOTATION] === 'gateway';
    const blocks = rule.match && rule.match.length > 0 ? rule.match.map((m) => compileMatchBlock(m, gatewaySemantics)) : null;
    const features: Feature[] = [];
    const timeoutMs = kubernetesMode ? undefined : parseDuration(rule.timeout) || undefined;
    if (timeoutMs) features.push('timeout');

    let retry = kubernetesMode ? NO_RETRY : DEFAULT_RETRY;
    if (!kubernetesMode && rule.retries) {
      const attempts = Math.max(0, Math.floor(rule.retries.attempts ?? 0));
      retry = { attempts, perTryTimeoutMs: parseDuration(rule.retries.perTryTimeout) || undefined, ...parseRetryOn(rule.retries.retryOn) };
      if (attempts > 0) features.push('retry');
    }

    let fault: CompiledRoute['fault'];
    if (!kubernetesMode && rule.fault && (rule.fault.delay || rule.fault.abort)) {
      fault = {
        delayMs: parseDuration(rule.fault.delay?.fixedDelay) ?? 0,
        delayPercent: percentOf(rule.fault.delay?.percentage?.value),
        abortStatus: rule.fault.abort?.httpStatus ?? 0,
        abortPercent: rule.fault.abort?.httpStatus ? percentOf(rule.fault.abort?.percentage?.value) : 0,
      };
      features.push('fault');
    }

    const destinations: CompiledDestination[] = [];
    let totalWeight = 0;
    const routeDestinations = rule.route ?? [];
    for (const [index, entry] of routeDestinations.entries()) {
      if (!entry?.destination?.host) continue;
      if (kubernetesMode && index > 0) break; // an Ingress path points at one Service
      const host = expandShortHost(entry.destination.host, vsNamespace);
      const cluster = clusterFor(host, kubernetesMode ? undefined : entry.destination.subset, entry.destination.port?.number);
      // Relative weights: a lone destination takes everything; among several, a missing or 0 weight takes nothing.
      const weight = routeDestinations.length === 1 || kubernetesMode ? 1 : Math.max(0, entry.weight ?? 0);
      totalWeight += weight;
      destinations.push({
        cluster,
        weight,
        requestHeaders: kubernetesMode ? undefined : compileHeaderOps(entry.headers?.request),
        responseHeaders: kubernetesMode ? undefined : compileHeaderOps(entry.headers?.response),
        features: [],
      });
    }
    if (destinations.filter((d) => d.weight > 0).length > 1) features.push('trafficShift');

    let mirror: CompiledRoute['mirror'];
    if (!kubernetesMode && rule.mirror?.host) {
      mirror = {
        cluster: clusterFor(expandShortHost(rule.mirror.host, vsNamespace), rule.mirror.subset, rule.mirror.port?.number),
        percent: rule.mirrorPercentage ? percentOf(rule.mirrorPercentage.value) : 100,
      };
      features.push('mirror');
    }
    let mirrors: CompiledRoute['mirrors'];
    if (!kubernetesMode && rule.mirrors?.length) {
      mirrors = rule.mirrors
        .filter((m) => m?.destination?.host)
        .map((m) => ({
          cluster: clusterFor(expandShortHost(m.destination.host, vsNamespace), m.destination.subset, m.destination.port?.number),
          percent: m.percentage ? percentOf(m.percentage.value) : 100,
        }));
      if (!features.includes('mirror')) features.push('mirror');
    }
    for (const destination of destinations) {
      const policy = destination.cluster.policy;
      destination.features = policy.limited || policy.outlier ? [...features, 'circuitBreaker'] : features;
    }

    let cors: CompiledCors | undefined;
    if (!kubernetesMode && rule.corsPolicy) {
      const c = rule.corsPolicy;
      const maxAgeMs = parseDuration(c.maxAge);
      // TranslateCORSPolicy: allowOrigins, else the deprecated allowOrigin strings as exact matches; a StringMatch
      // without a match type converts to no matcher (util.ConvertToEnvoyMatches).
      const origins: StringMatch[] = c.allowOrigins ?? c.allowOrigin?.map((exact) => ({ exact })) ?? [];
      cors = {
        allowOrigins: origins.filter((m) => m && (m.exact ?? m.prefix ?? m.regex) !== undefined).map((m) => compileStringMatch(m)),
        forwardNotMatchingPreflights: c.unmatchedPreflights !== 'IGNORE',
        allowMethods: c.allowMethods?.join(','),
        allowHeaders: c.allowHeaders?.join(','),
        exposeHeaders: c.exposeHeaders?.join(','),
        maxAgeSeconds: maxAgeMs === undefined ? undefined : String(Math.floor(maxAgeMs / 1000)),
        allowCredentials: c.allowCredentials === true,
      };
    }

    let kind: CompiledRoute['kind'] = 'route';
    let redirect: CompiledRoute['redirect'];
    let direct: CompiledRoute['direct'];
    if (!kubernetesMode && rule.redirect) {
      kind = 'redirect';
      const { derivePort, redirectCode, ...rest } = rule.redirect;
      // ApplyRedirect (route.go): redirectCode 0 means 301; derivePort FROM_REQUEST_PORT is the listener's port.
      redirect = { ...rest, fromRequestPort: derivePort === 'FROM_REQUEST_PORT', code: redirectCode || 301 };
    } else if (!kubernetesMode && rule.directResponse) {
      kind = 'direct';
      const body = rule.directResponse.body;
      direct = {
        status: rule.directResponse.status,
        body: body?.string !== undefined ? Buffer.from(body.string) : body?.bytes !== undefined ? Buffer.from(body.bytes, 'base64') : Buffer.alloc(0),
      };
    }

    return {
      virtualService: vsName,
      name: rule.name,
      blocks,
      kind,
      destinations,
      totalWeight,
      redirect,
      direct,
      rewrite: compileRewrite(rule.rewrite),
      destinationOpsAfterRoute: routeDestinations.length === 1,
      timeoutMs,
      retry,
      fault,
      mirror,
      mirrors,
      gatewaySemantics: gatewaySemantics || undefined,
      requestHeaders: kubernetesMode ? undefined : compileHeaderOps(rule.headers?.request),
      responseHeaders: kubernetesMode ? undefined : compileHeaderOps(rule.headers?.response),
      cors,
      features,
    };
  };

  const compileRoutes = (vs: VirtualService): CompiledRoute[] => {
    const vsNamespace = vs.metadata.namespace ?? namespace;
    return (vs.spec?.http ?? [])
      .filter((rule) => rule && (rule.route?.length || (!kubernetesMode && (rule.redirect || rule.directResponse))))
      .map((rule) => compileRoute(vs, rule, vsNamespace));
  };

  const virtualServices = resolveDelegates(
    state.istio.virtualServices.map((loaded) => loaded.object).filter((vs) => vs?.metadata?.name && vs.spec),
    namespace,
  );

  // Sidecar traffic: VirtualServices bound to `mesh`, hosts expanded to FQDNs.
  const meshEntries: VirtualHostEntry[] = [];
  if (!kubernetesMode) {
    for (const vs of virtualServices) {
      const gateways = vs.spec?.gateways ?? [];
      if (gateways.length > 0 && !gateways.includes('mesh')) continue;
      const vsNamespace = vs.metadata.namespace ?? namespace;
      meshEntries.push({ hosts: (vs.spec?.hosts ?? []).map((h) => expandShortHost(h, vsNamespace)), routes: compileRoutes(vs) });
    }
  }
  const meshVirtualHosts = new VirtualHostTable(meshEntries);

  const gatewayTables = new Map<string, GatewayTable>();
  const gatewayObjects: Gateway[] = kubernetesMode ? [] : state.istio.gateways.map((g) => g.object).filter((g) => g?.metadata?.name);
  const gatewayRef = (g: Gateway) => `${g.metadata.namespace ?? namespace}/${g.metadata.name}`;
  const buildGatewayTable = (sourceName: string): GatewayTable => {
    if (kubernetesMode) {
      // No Istio: behave like an Ingress with the same host/path rules (see README of this folder).
      const entries = virtualServices
        .filter((vs) => (vs.spec?.gateways ?? []).some((g) => g !== 'mesh'))
        .map((vs) => ({ hosts: (vs.spec?.hosts ?? []).map((h) => h.toLowerCase()), routes: compileRoutes(vs) }));
      return { ids: [sourceName], serverHosts: null, port: 80, virtualHosts: new VirtualHostTable(entries) };
    }
    let serving = gatewayObjects.filter((g) => g.metadata.name === sourceName || gatewayRef(g) === sourceName);
    // The runtime may name the gateway workload rather than a Gateway object: one ingress pod serves them all.
    if (serving.length === 0) serving = gatewayObjects;
    const httpServers = serving.flatMap((g) => (g.spec?.servers ?? []).filter((s) => /^(HTTP|HTTP2)$/i.test(s?.port?.protocol ?? '')));
    const port = httpServers.some((s) => s.port.number === 80) ? 80 : (httpServers[0]?.port.number ?? 80);
    const serverHosts = httpServers
      .filter((s) => s.port.number === port)
      .flatMap((s) => s.hosts ?? [])
      .map((h) => gatewayServerHost(h).toLowerCase());
    const refs = new Set(serving.map(gatewayRef));
    const entries: VirtualHostEntry[] = [];
    for (const vs of virtualServices) {
      const vsNamespace = vs.metadata.namespace ?? namespace;
      const bound = (vs.spec?.gateways ?? []).some((g) => refs.has(resolveGatewayRef(g, vsNamespace)));
      // Short hosts are FQDNs in the VirtualService's namespace for gateways too (model/virtualservice.go
      // resolveVirtualServiceShortnames): `hosts: [web-api]` serves Host web-api.default.svc.cluster.local.
      if (bound) entries.push({ hosts: (vs.spec?.hosts ?? []).map((h) => expandShortHost(h, vsNamespace)), routes: compileRoutes(vs) });
    }
    const ids = [...new Set(serving.flatMap((g) => [g.metadata.name, gatewayRef(g)]))];
    return { ids, serverHosts, port, virtualHosts: new VirtualHostTable(entries, true) };
  };

  const defaultRoutes = new Map<string, CompiledRoute>();
  const defaultRoute = (service: ServiceInfo, port: number | undefined): CompiledRoute => {
    const cluster = clusterFor(service.fqdn, undefined, port);
    let route = defaultRoutes.get(cluster.key);
    if (!route) {
      const policy = cluster.policy;
      route = {
        virtualService: '',
        blocks: null,
        kind: 'route',
        destinations: [{ cluster, weight: 1, features: policy.limited || policy.outlier ? ['circuitBreaker'] : [] }],
        totalWeight: 1,
        destinationOpsAfterRoute: true,
        retry: kubernetesMode ? NO_RETRY : DEFAULT_RETRY,
        features: [],
      };
      defaultRoutes.set(cluster.key, route);
    }
    return route;
  };

  const tcpRoutes = new Map<string, CompiledTcpRoute>();
  /** The first `tcp` rule of a VirtualService bound to the mesh whose match names `port` (or has no port). */
  const meshTcpRule = (fqdn: string, port: number): TCPRoute | undefined => {
    for (const { object: vs } of state.istio.virtualServices) {
      const vsNamespace = vs?.metadata?.namespace ?? namespace;
      const gateways = vs?.spec?.gateways ?? [];
      if (gateways.length > 0 && !gateways.includes('mesh')) continue;
      if (!(vs?.spec?.hosts ?? []).some((h) => expandShortHost(h, vsNamespace) === fqdn)) continue;
      for (const rule of vs.spec?.tcp ?? []) {
        const matches = rule?.match ?? [];
        if (matches.length === 0 || matches.some((m) => m?.port === undefined || m.port === port)) return rule;
      }
    }
    return undefined;
  };
  const tcpRoute = (fqdn: string, port: number): CompiledTcpRoute => {
    const key = `${fqdn}:${port}`;
    let route = tcpRoutes.get(key);
    if (route) return route;
    const vsNamespace = fqdn.split('.')[1] ?? namespace;
    const entries = kubernetesMode ? [] : (meshTcpRule(fqdn, port)?.route ?? []).filter((entry) => entry?.destination?.host);
    const destinations =
      entries.length === 0
        ? [{ cluster: clusterFor(fqdn, undefined, port), weight: 1 }]
        : entries.map((entry) => ({
            cluster: clusterFor(expandShortHost(entry.destination.host, vsNamespace), entry.destination.subset, entry.destination.port?.number ?? port),
            weight: entries.length === 1 ? 1 : Math.max(0, entry.weight ?? 0),
          }));
    route = { destinations, totalWeight: destinations.reduce((sum, d) => sum + d.weight, 0) };
    tcpRoutes.set(key, route);
    return route;
  };

  return {
    mode: state.mode,
    namespace,
    tcpRoute,
    gateway(name) {
      let table = gatewayTables.get(name);
      if (!table) {
        table = buildGatewayTable(name);
        gatewayTables.set(name, table);
      }
      return table;
    },
    meshVirtualHosts,
    resolveService,
    defaultRoute,
    authorization: kubernetesMode
      ? ALLOW_ALL
      : compileAuthorization(state.istio.authorizationPolicies ?? [], state.istio.peerAuthentications ?? [], namespace),
  };
}
