/**
 * Host names as Istio reads them: a Service's FQDN and the shorter names a sidecar answers to, short VirtualService/
 * DestinationRule hosts, host patterns (`*`, `*.suffix`), gateway server hosts (`namespace/host`) and gateway
 * references (`name`, `ns/name`, `./name`), and the pod port a Service port's targetPort names.
 */
import type { Workload } from '../model';

/** The cluster's DNS suffix for Services (`<name>.<namespace>.svc.cluster.local`). */
export const CLUSTER_DOMAIN = 'svc.cluster.local';

export function serviceFqdn(name: string, namespace: string): string {
  return `${name}.${namespace}.${CLUSTER_DOMAIN}`;
}

/**
 * A short VirtualService/DestinationRule host (no dot) becomes an FQDN in the object's namespace; `*` and anything
 * with a dot stays as written (istio/istio pilot/pkg/model/config.go ResolveShortnameToFQDN). Lower-cased.
 */
export function expandShortHost(host: string, namespace: string): string {
  const lower = host.toLowerCase();
  if (lower === '*' || lower.includes('.')) return lower;
  return serviceFqdn(lower, namespace);
}

/**
 * The names a Service answers to from a sidecar in its own namespace: `name`, `name.ns`, `name.ns.svc` and the
 * FQDN (pilot/pkg/networking/core/httproute.go generateAltVirtualHostsForKubernetesService), FQDN first.
 */
export function serviceHostForms(name: string, namespace: string): string[] {
  return [serviceFqdn(name, namespace), `${name}.${namespace}.svc`, `${name}.${namespace}`, name];
}

/**
 * The Service a host names in one of the forms above (`web-api`, `web-api.default`, `web-api.default.svc`, the
 * FQDN), a short name taken in `namespace`; undefined for a wildcard or a host outside the cluster domain.
 */
export function parseServiceHost(host: string, namespace: string): { name: string; namespace: string } | undefined {
  if (host.includes('*')) return undefined;
  const short = host.endsWith(`.${CLUSTER_DOMAIN}`) ? host.slice(0, -CLUSTER_DOMAIN.length - 1) : host.endsWith('.svc') ? host.slice(0, -4) : host;
  const parts = short.split('.');
  if (parts.length === 1) return { name: parts[0]!, namespace };
  if (parts.length === 2) return { name: parts[0]!, namespace: parts[1]! };
  return undefined;
}

/** The host of an authority (`Host` header): without the port, lower-cased; an IPv6 literal keeps its brackets. */
export function stripPort(authority: string): string {
  if (authority.startsWith('[')) {
    const end = authority.indexOf(']');
    return authority.slice(0, end + 1);
  }
  const colon = authority.lastIndexOf(':');
  return (colon >= 0 ? authority.slice(0, colon) : authority).toLowerCase();
}

/** Kubernetes/Istio host patterns: `*`, `*.suffix` or an exact name (pkg/config/host Name.Matches). */
export function hostMatches(pattern: string, host: string): boolean {
  if (pattern === '*') return true;
  if (pattern.startsWith('*.')) return host.endsWith(pattern.slice(1)) && host.length > pattern.length - 1;
  return pattern === host;
}

/** How specific a matching host pattern is: exact beats the longest wildcard beats `*`. */
export function hostSpecificity(pattern: string): number {
  if (pattern === '*') return 0;
  if (pattern.startsWith('*.')) return pattern.length;
  return Number.MAX_SAFE_INTEGER;
}

/** A Gateway server host without its `namespace/` prefix (`./web.example.com`, `*\/web.example.com`). */
export function gatewayServerHost(host: string): string {
  const slash = host.indexOf('/');
  return slash >= 0 ? host.slice(slash + 1) : host;
}

/** The sidecars' pseudo-gateway a VirtualService binds to with `gateways: [mesh]` (or no `gateways`). */
export const MESH_GATEWAY = 'mesh';

/**
 * `namespace/name` of a gateway a VirtualService names (`name`, `ns/name`, `./name`, the legacy
 * `name.ns.svc.cluster.local`), `mesh` unchanged (pilot/pkg/model/config.go resolveGatewayName).
 */
export function resolveGatewayRef(reference: string, namespace: string): string {
  if (reference === MESH_GATEWAY) return reference;
  const slash = reference.indexOf('/');
  if (slash >= 0) return reference.slice(0, slash) === '.' ? `${namespace}/${reference.slice(slash + 1)}` : reference;
  const dot = reference.indexOf('.');
  if (dot < 0) return `${namespace}/${reference}`;
  const rest = reference.slice(dot + 1);
  const next = rest.indexOf('.');
  return `${next < 0 ? rest : rest.slice(0, next)}/${reference.slice(0, dot)}`;
}

/**
 * The port a connection arrives on at the pod, which AuthorizationPolicy `ports` and `destination.port` compare
 * (istiod generates them as Envoy's destination_port, the inbound listener's port: pilot/pkg/security/authz/model/
 * generator.go destPortGenerator): a numeric targetPort as is, a named one resolved against the pod's container
 * ports as Kubernetes does, no targetPort = the Service port.
 */
export function podPort(targetPort: number | string | undefined, servicePort: number, workload: Pick<Workload, 'containerPorts'>): number {
  if (typeof targetPort === 'number') return targetPort;
  if (targetPort === undefined || targetPort === '') return servicePort;
  const numeric = Number(targetPort);
  if (Number.isInteger(numeric) && numeric > 0) return numeric;
  return workload.containerPorts?.[targetPort] ?? servicePort;
}
