/**
 * Routes per proxy, as istiod builds them: it translates a VirtualService separately for each proxy and listener
 * port and leaves out every match that cannot apply there, instead of testing it per request
 * (istio/istio pilot/pkg/networking/core/route/route.go: BuildHTTPRoutesForVirtualService, TranslateRoute,
 * sourceMatchHTTP). So `sourceLabels`, `sourceNamespace`, `gateways` and `port` choose which proxies get a rule,
 * a rule left with no match for a proxy is not there at all, and a VirtualService left with no rule does not
 * shadow the host's default route. After a catch-all route istiod emits nothing more for that VirtualService.
 */
import type { CompiledMatchBlock, ProxyCondition } from './match';
import type { CompiledRoute } from './route-model';

/** The proxy routes are built for: its workload's labels and namespace, the gateway names it serves (or `mesh`). */
export interface ProxyIdentity {
  labels: Readonly<Record<string, string>>;
  namespace: string;
  gatewayNames: ReadonlySet<string>;
}

/** sourceMatchHTTP: `gateways` alone decides when set; else `sourceLabels` ⊆ the proxy's labels and `sourceNamespace`. */
function reaches(condition: ProxyCondition | undefined, proxy: ProxyIdentity): boolean {
  if (!condition) return true;
  if (condition.gateways) return condition.gateways.some((g) => proxy.gatewayNames.has(g));
  if (condition.sourceLabels && !condition.sourceLabels.every(([k, v]) => proxy.labels[k] === v)) return false;
  return condition.sourceNamespace === undefined || condition.sourceNamespace === proxy.namespace;
}

function keepBlocks(route: CompiledRoute, keep: (block: CompiledMatchBlock) => boolean): CompiledRoute | undefined {
  const blocks = route.blocks!.filter(keep);
  if (blocks.length === 0) return undefined;
  return blocks.length === route.blocks!.length ? route : { ...route, blocks };
}

/** One VirtualService's routes for `proxy`: the match blocks it cannot match dropped, then rules left without any. */
export function routesForProxy(routes: readonly CompiledRoute[], proxy: ProxyIdentity): CompiledRoute[] {
  const out: CompiledRoute[] = [];
  for (const route of routes) {
    const kept = route.blocks === null ? route : keepBlocks(route, (block) => reaches(block.proxy, proxy));
    if (kept) out.push(kept);
  }
  return out;
}

/**
 * One VirtualService's routes on a listener port (all ports when undefined): blocks for another port dropped, and
 * nothing after the first catch-all route (IsCatchAllRoute; a rule without match is one).
 */
export function routesForPort(routes: readonly CompiledRoute[], port: number | undefined): CompiledRoute[] {
  const out: CompiledRoute[] = [];
  for (const route of routes) {
    if (route.blocks === null) {
      out.push(route);
      break;
    }
    let kept = port === undefined ? route : keepBlocks(route, (block) => block.proxy?.port === undefined || block.proxy.port === port);
    if (!kept) continue;
    const catchAllAt = kept.blocks!.findIndex((block) => block.catchAll);
    if (catchAllAt >= 0 && catchAllAt < kept.blocks!.length - 1) kept = { ...kept, blocks: kept.blocks!.slice(0, catchAllAt + 1) };
    out.push(kept);
    if (catchAllAt >= 0) break;
  }
  return out;
}
