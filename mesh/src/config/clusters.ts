/**
 * Clusters: one per (Service, subset, port), named as istiod names them (`outbound|8080|v1|articles.default.svc…`),
 * with the DestinationRule's traffic policy merged for that subset and port, and the endpoints it selects.
 */
import type { Endpoint, Subset, TrafficPolicy, Workload } from '../model';
import { parseDuration, podPort } from '../istio';
import { compileConsistentHash } from './hash-policy';
import { labelEntries, type MeshModel } from './model';
import type { ClusterPolicy, CompiledCluster, OutlierPolicy } from './route-model';

const UNLIMITED = Number.MAX_SAFE_INTEGER;

/**
 * The clusters routes point at, built on first use and shared by every route table of one config.
 * `trafficPolicies: false` (plain Kubernetes) ignores DestinationRules: round robin, no limits, no subsets.
 */
export class ClusterTable {
  private readonly clusters = new Map<string, CompiledCluster>();

  constructor(
    private readonly model: MeshModel,
    private readonly trafficPolicies: boolean,
  ) {}

  clusterFor(host: string, subset: string | undefined, port: number | undefined): CompiledCluster {
    const service = this.model.services.get(host) ?? this.model.resolveService(host);
    const fqdn = service?.fqdn ?? host;
    const servicePort = service ? (port === undefined ? service.ports[0] : service.ports.find((p) => p.port === port)) : undefined;
    const key = `outbound|${servicePort?.port ?? port ?? ''}|${subset ?? ''}|${fqdn}`;
    const existing = this.clusters.get(key);
    if (existing) return existing;
    let labels: Array<[string, string]> | null = null;
    let policy = ROUND_ROBIN_ONLY;
    let exists = service !== undefined && servicePort !== undefined;
    if (service && servicePort) {
      // A Service without a selector has no endpoints here (no manual Endpoints objects in the local mesh).
      labels = service.selector.length > 0 ? [...service.selector] : null;
      const rule = this.trafficPolicies ? this.model.destinationRules.get(fqdn) : undefined;
      let subsetDef: Subset | undefined;
      if (subset !== undefined) {
        subsetDef = rule?.spec?.subsets?.find((s) => s.name === subset);
        // istiod builds clusters only for the subsets DestinationRules define.
        if (!subsetDef) {
          labels = null;
          exists = false;
        } else if (labels) labels.push(...labelEntries(subsetDef.labels));
      }
      if (this.trafficPolicies) policy = compilePolicy(mergePolicy(rule?.spec?.trafficPolicy, subsetDef?.trafficPolicy, servicePort.port));
    }
    const targetPort = { targetPort: servicePort?.targetPort, port: servicePort?.port ?? port ?? 80 };
    const cluster = makeCluster(key, fqdn, service?.name ?? fqdn.split('.')[0]!, labels, policy, targetPort, exists);
    this.clusters.set(key, cluster);
    return cluster;
  }
}

function positiveOr(value: number | undefined, fallback: number): number {
  return typeof value === 'number' && value > 0 ? value : fallback;
}

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
