/**
 * The Istio route-table builder: translates the merged model into the sidecars' virtual hosts (VirtualServices
 * bound to `mesh`), each gateway's virtual hosts (VirtualServices bound to it, behind its servers' hosts), the
 * default route of a Service without a VirtualService, and the compiled AuthorizationPolicies
 * (istio/istio pilot/pkg/networking/core httproute.go for sidecars, gateway.go for gateways).
 */
import { expandShortHost, gatewayServerHost, MESH_GATEWAY, resolveGatewayRef, virtualServiceOrder } from '../istio';
import { INGRESS_GATEWAY_WORKLOAD, type Gateway, type VirtualService, type Workload } from '../model';
import { ClusterTable } from './clusters';
import { DefaultRoutes } from './default-route';
import { TcpRoutes } from './tcp-route';
import { DEFAULT_RETRY, hasAction, translateRoute } from './http-route';
import type { MeshModel } from './model';
import { routesForProxy, type ProxyIdentity } from './proxy-routes';
import type { Authorizer } from './authorizer';
import type { CompiledMeshConfig, CompiledRoute, GatewayTable } from './route-model';
import { VirtualHostTable, type VirtualHostEntry } from './virtual-hosts';

const MESH_ONLY: ReadonlySet<string> = new Set([MESH_GATEWAY]);

/** The virtual hosts `proxy` gets: each VirtualService's rules that reach it; one left with none is left out. */
function entriesFor(entries: readonly VirtualHostEntry[], proxy: ProxyIdentity): VirtualHostEntry[] {
  return entries.map((entry) => ({ hosts: entry.hosts, routes: routesForProxy(entry.routes, proxy) })).filter((entry) => entry.routes.length > 0);
}

export function buildIstioRouteTables(model: MeshModel, authorization: Authorizer): CompiledMeshConfig {
  const { namespace } = model;
  const clusters = new ClusterTable(model, true);
  const routesOf = (vs: VirtualService): CompiledRoute[] => {
    const vsNamespace = vs.metadata.namespace ?? namespace;
    return (vs.spec?.http ?? []).filter(hasAction).map((rule) => translateRoute(vs, rule, vsNamespace, clusters));
  };
  const hostsOf = (vs: VirtualService): string[] => (vs.spec?.hosts ?? []).map((h) => expandShortHost(h, vs.metadata.namespace ?? namespace));

  // Sidecar traffic: VirtualServices bound to `mesh` (or to no gateway), hosts expanded to FQDNs, trimmed per workload,
  // in the order istiod gives that workload's namespace; of several on one host the first with routes applies.
  const meshServices = model.virtualServices.filter((vs) => {
    const gateways = vs.spec?.gateways ?? [];
    return gateways.length === 0 || gateways.includes(MESH_GATEWAY);
  });
  const meshEntries = new Map(meshServices.map((vs) => [vs, { hosts: hostsOf(vs), routes: routesOf(vs) }]));
  const sidecars = new WeakMap<Workload, VirtualHostTable>();
  const sidecar = (workload: Workload): VirtualHostTable => {
    let table = sidecars.get(workload);
    if (!table) {
      const ordered = [...meshServices].sort(virtualServiceOrder(workload.namespace, namespace)).map((vs) => meshEntries.get(vs)!);
      const proxy = { labels: workload.labels, namespace: workload.namespace, gatewayNames: MESH_ONLY };
      table = new VirtualHostTable(entriesFor(ordered, proxy), { firstClaimOnly: true });
      sidecars.set(workload, table);
    }
    return table;
  };

  const gatewayRef = (g: Gateway) => `${g.metadata.namespace ?? namespace}/${g.metadata.name}`;
  const buildGatewayTable = (sourceName: string): GatewayTable => {
    let serving = model.gateways.filter((g) => g.metadata.name === sourceName || gatewayRef(g) === sourceName);
    // The runtime may name the gateway workload rather than a Gateway object: one ingress pod serves them all.
    if (serving.length === 0) serving = model.gateways;
    const httpServers = serving.flatMap((g) => (g.spec?.servers ?? []).filter((s) => /^(HTTP|HTTP2)$/i.test(s?.port?.protocol ?? '')));
    const port = httpServers.some((s) => s.port.number === 80) ? 80 : (httpServers[0]?.port.number ?? 80);
    const serverHosts = httpServers
      .filter((s) => s.port.number === port)
      .flatMap((s) => s.hosts ?? [])
      .map((h) => gatewayServerHost(h).toLowerCase());
    const refs = new Set(serving.map(gatewayRef));
    const proxy = { labels: INGRESS_GATEWAY_WORKLOAD.labels, namespace: INGRESS_GATEWAY_WORKLOAD.namespace, gatewayNames: refs };
    // Merged in istiod's order (VirtualServicesForGateway), not load order. Short hosts are FQDNs in the VirtualService's
    // namespace for gateways too (resolveVirtualServiceShortnames): `hosts: [web-api]` serves Host web-api.default.svc.cluster.local.
    const entries: VirtualHostEntry[] = model.virtualServices
      .filter((vs) => (vs.spec?.gateways ?? []).some((g) => refs.has(resolveGatewayRef(g, vs.metadata.namespace ?? namespace))))
      .sort(virtualServiceOrder(proxy.namespace, namespace))
      .map((vs) => ({ hosts: hostsOf(vs), routes: routesOf(vs) }));
    const ids = [...new Set(serving.flatMap((g) => [g.metadata.name, gatewayRef(g)]))];
    return { ids, serverHosts, port, virtualHosts: new VirtualHostTable(entriesFor(entries, proxy), { catchAllLast: true }) };
  };

  const gatewayTables = new Map<string, GatewayTable>();
  const defaults = new DefaultRoutes(clusters, DEFAULT_RETRY);
  const tcpRoutes = new TcpRoutes(model, clusters, true);
  return {
    mode: 'istio',
    namespace,
    gateway(name) {
      let table = gatewayTables.get(name);
      if (!table) {
        table = buildGatewayTable(name);
        gatewayTables.set(name, table);
      }
      return table;
    },
    sidecar,
    resolveService: model.resolveService,
    defaultRoute: (service, port) => defaults.routeTo(service, port),
    tcpRoute: (fqdn, port) => tcpRoutes.routeTo(fqdn, port),
    authorization,
  };
}
