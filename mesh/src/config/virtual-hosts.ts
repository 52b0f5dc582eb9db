/**
 * A proxy's virtual hosts: the routes of the VirtualServices whose host patterns match a request's host, most
 * specific pattern first, memoised per host (Envoy's virtual host selection). Several VirtualServices on one host:
 * a gateway merges them, a sidecar keeps the first (see `VirtualHostOptions`).
 */
import { hostMatches, hostSpecificity } from '../istio';
import { routesForPort } from './proxy-routes';
import type { CompiledRoute, VirtualHosts } from './route-model';

export interface VirtualHostEntry {
  hosts: string[];
  routes: CompiledRoute[];
}

export interface VirtualHostOptions {
  /** A gateway's virtual host, whose catch-all routes istiod moves to the end (route.go SortVHostRoutes). */
  catchAllLast?: boolean;
  /**
   * A sidecar's: of several entries on one host pattern only the first with routes on the port applies. istiod builds
   * a sidecar's virtual hosts in VirtualService order and drops a later one for the same `host:port` as a duplicate
   * domain (httproute.go BuildSidecarOutboundVirtualHosts, `vhosts.InsertContains`); one with no route for this proxy
   * and port builds none, so it claims nothing (route.go buildSidecarVirtualHostsForVirtualService). A gateway merges
   * them instead (gateway.go buildGatewayHTTPRouteConfig).
   */
  firstClaimOnly?: boolean;
}

/** Routes for a set of virtual hosts, resolved per request host and memoised. */
export class VirtualHostTable implements VirtualHosts {
  private readonly cache = new Map<string, CompiledRoute[] | null>();
  constructor(
    private readonly entries: VirtualHostEntry[],
    private readonly options: VirtualHostOptions = {},
  ) {}

  /**
   * Routes on listener `port` (every port when undefined) of the VirtualServices whose most specific host pattern
   * matches `host`, in load order; null if none. A VirtualService with no route on the port does not count.
   */
  routesFor(host: string, port?: number): CompiledRoute[] | null {
    const key = port === undefined ? host : `${port} ${host}`;
    const cached = this.cache.get(key);
    if (cached !== undefined) return cached;
    let best = -1;
    let routes: CompiledRoute[] | null = null;
    for (const entry of this.entries) {
      let specificity = -1;
      for (const pattern of entry.hosts) if (hostMatches(pattern, host)) specificity = Math.max(specificity, hostSpecificity(pattern));
      if (specificity < 0 || specificity < best) continue;
      const onPort = routesForPort(entry.routes, port);
      if (onPort.length === 0) continue;
      if (specificity > best) {
        best = specificity;
        routes = onPort;
      } else if (routes && !this.options.firstClaimOnly) {
        routes.push(...onPort);
      }
    }
    if (routes && this.options.catchAllLast) routes = catchAllRoutesLast(routes);
    if (this.cache.size < 1024) this.cache.set(key, routes);
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
