/**
 * TCP routes: where a connection to a Service port goes, from the first `tcp` rule of a mesh VirtualService for
 * the Service whose match names the port (or none), else the Service's own cluster (Envoy's tcp_proxy `cluster` /
 * `weighted_clusters`; istio/istio pilot/pkg/networking/core/networkfilter.go buildOutboundNetworkFilters).
 */
import { expandShortHost, MESH_GATEWAY } from '../istio';
import type { TCPRoute } from '../model';
import type { ClusterTable } from './clusters';
import type { MeshModel } from './model';
import type { CompiledTcpRoute } from './route-model';

export class TcpRoutes {
  private readonly routes = new Map<string, CompiledTcpRoute>();

  /** `useVirtualServices: false` (plain Kubernetes): every connection goes to the Service's cluster. */
  constructor(
    private readonly model: MeshModel,
    private readonly clusters: ClusterTable,
    private readonly useVirtualServices: boolean,
  ) {}

  /** The first `tcp` rule of a VirtualService bound to the mesh whose match names `port` (or has no port). */
  private meshTcpRule(fqdn: string, port: number): TCPRoute | undefined {
    for (const vs of this.model.virtualServices) {
      const vsNamespace = vs.metadata.namespace ?? this.model.namespace;
      const gateways = vs.spec?.gateways ?? [];
      if (gateways.length > 0 && !gateways.includes(MESH_GATEWAY)) continue;
      if (!(vs.spec?.hosts ?? []).some((h) => expandShortHost(h, vsNamespace) === fqdn)) continue;
      for (const rule of vs.spec?.tcp ?? []) {
        const matches = rule?.match ?? [];
        if (matches.length === 0 || matches.some((m) => m?.port === undefined || m.port === port)) return rule;
      }
    }
    return undefined;
  }

  routeTo(fqdn: string, port: number): CompiledTcpRoute {
    const key = `${fqdn}:${port}`;
    let route = this.routes.get(key);
    if (route) return route;
    const vsNamespace = fqdn.split('.')[1] ?? this.model.namespace;
    const entries = this.useVirtualServices ? (this.meshTcpRule(fqdn, port)?.route ?? []).filter((entry) => entry?.destination?.host) : [];
    const destinations =
      entries.length === 0
        ? [{ cluster: this.clusters.clusterFor(fqdn, undefined, port), weight: 1 }]
        : entries.map((entry) => ({
            cluster: this.clusters.clusterFor(
              expandShortHost(entry.destination.host, vsNamespace),
              entry.destination.subset,
              entry.destination.port?.number ?? port,
            ),
            weight: entries.length === 1 ? 1 : Math.max(0, entry.weight ?? 0),
          }));
    route = { destinations, totalWeight: destinations.reduce((sum, d) => sum + d.weight, 0) };
    this.routes.set(key, route);
    return route;
  }
}
