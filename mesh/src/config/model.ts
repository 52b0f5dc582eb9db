/**
 * The model stage: Kubernetes Services and Istio objects → a merged model, before any route is translated, as istiod
 * builds its PushContext (istio/istio pilot/pkg/model): Services by FQDN and the names they answer to,
 * DestinationRules merged per host (destination_rule.go mergeDestinationRule), root VirtualServices with their
 * delegates merged in (virtualservice.go mergeVirtualServicesIfNeeded), short hosts resolved in the object's
 * namespace (resolveVirtualServiceShortnames). Route-table builders translate this model, never the raw objects.
 */
import { expandShortHost, parseServiceHost, serviceFqdn, stripPort } from '../istio';
import type { DestinationRule, Gateway, HTTPMatchRequest, HTTPRoute, StringMatch, VirtualService } from '../model';
import type { MeshState, ServiceInfo } from './route-model';

export interface MeshModel {
  /** The namespace short names resolve in when an object names none. */
  namespace: string;
  /** Services by FQDN. */
  services: ReadonlyMap<string, ServiceInfo>;
  /** The Service a host names as a caller wrote it (`authors`, `authors.default`, `…svc`, FQDN, with a port). */
  resolveService(host: string): ServiceInfo | undefined;
  /** DestinationRules by FQDN host, several for one host merged. */
  destinationRules: ReadonlyMap<string, DestinationRule>;
  /** VirtualServices with their delegates merged in (delegates themselves serve no traffic, but stay listed). */
  virtualServices: VirtualService[];
  gateways: Gateway[];
}

export function labelEntries(labels: Record<string, string> | undefined): Array<[string, string]> {
  return Object.entries(labels ?? {}).filter((entry): entry is [string, string] => typeof entry[1] === 'string');
}

export function buildMeshModel(state: MeshState): MeshModel {
  const namespace = state.namespace ?? 'default';
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
  for (const { object } of state.istio.destinationRules) {
    if (!object?.spec?.host) continue;
    const host = expandShortHost(object.spec.host, object.metadata.namespace ?? namespace);
    const existing = destinationRules.get(host);
    destinationRules.set(host, existing ? mergeDestinationRules(existing, object) : object);
  }

  const virtualServices = resolveDelegates(
    state.istio.virtualServices.map((loaded) => loaded.object).filter((vs) => vs?.metadata?.name && vs.spec),
    namespace,
  );
  const gateways = state.istio.gateways.map((g) => g.object).filter((g) => g?.metadata?.name);
  return { namespace, services, resolveService, destinationRules, virtualServices, gateways };
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

const INHERITED: ReadonlyArray<keyof HTTPRoute> = [
  'rewrite',
  'directResponse',
  'timeout',
  'retries',
  'fault',
  'mirror',
  'mirrorPercentage',
  'corsPolicy',
  'headers',
];

function mergeDelegateRule(root: HTTPRoute, sub: HTTPRoute): HTTPRoute | undefined {
  const match = mergeDelegateMatches(root.match ?? [], sub.match ?? []);
  if (match === undefined) return undefined;
  const merged: HTTPRoute = {
    ...sub,
    match: match.length > 0 ? match : undefined,
    name: sub.name && root.name ? `${root.name}-${sub.name}` : (sub.name ?? root.name),
  };
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
  for (const [key, value] of Object.entries(leaf.sourceLabels ?? {}))
    if (root.sourceLabels?.[key] !== undefined && root.sourceLabels[key] !== value) return true;
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
