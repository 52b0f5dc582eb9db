/**
 * The route model: what the model stage (model.ts) and a route-table builder (istio-builder.ts,
 * kubernetes-builder.ts, and later the Gateway API translator) produce and what the data plane consumes. Names and
 * shapes are the data plane's contract: see README.md in this folder for what a front end must produce.
 */
import type { Endpoint, IstioConfig, LoadedObject, Service, ServicePort, Workload } from '../model';
import type { Authorizer } from './authorizer';
import type { HashPolicy } from './hash-policy';
import type { CompiledMatchBlock, StringPredicate } from './match';

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

/** A proxy's virtual hosts (virtual-hosts.ts VirtualHostTable). */
export interface VirtualHosts {
  /**
   * Routes on listener `port` (every port when undefined) of the VirtualServices whose most specific host pattern
   * matches `host`, in order; null when none does.
   */
  routesFor(host: string, port?: number): CompiledRoute[] | null;
}

export interface GatewayTable {
  /** Names the gateway is known by, for `match.gateways`. */
  ids: string[];
  /** Host patterns of the gateway's HTTP servers on `port` (null = accept every host, no Gateway objects). */
  serverHosts: string[] | null;
  port: number;
  virtualHosts: VirtualHosts;
}

export interface CompiledMeshConfig {
  mode: 'istio' | 'kubernetes';
  namespace: string;
  /** Gateway routing table for a TrafficSource's gateway name: the rules that reach the gateway's proxy. */
  gateway(name: string): GatewayTable;
  /**
   * The sidecar virtual hosts of one workload's proxy: VirtualServices bound to `mesh`, by destination FQDN, with
   * only the rules that reach this workload (`sourceLabels`, `sourceNamespace`, `gateways`; config/proxy-routes.ts).
   */
  sidecar(workload: Workload): VirtualHosts;
  /** Known Service FQDN for a host as a caller wrote it (`authors`, `authors.default`, FQDN); undefined if unknown. */
  resolveService(host: string): ServiceInfo | undefined;
  /** The cluster of a Service on a port with no VirtualService: Istio's default route. */
  defaultRoute(service: ServiceInfo, port: number | undefined): CompiledRoute;
  /** A TCP Service port's route: the first mesh VirtualService `tcp` rule for it, else the Service's cluster. */
  tcpRoute(serviceFqdn: string, port: number): CompiledTcpRoute;
  /** AuthorizationPolicies and PeerAuthentications, enforced by the destination's proxy (authorization.ts). */
  authorization: Authorizer;
}
