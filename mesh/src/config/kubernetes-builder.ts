/**
 * The plain-Kubernetes route-table builder (`--no-istio`): what the same manifests do without Istio. The gateway
 * behaves like an Ingress with the VirtualServices' host/path rules (each rule to its first destination's Service:
 * no subsets, weights, faults, retries, timeouts, mirrors, CORS, header operations, redirects or direct
 * responses); sidecars do not exist, so every call goes to the Service, spread evenly over its ready pods; nothing
 * is authorized or refused.
 */
import { ALLOW_ALL } from './authorizer';
import { expandShortHost, MESH_GATEWAY } from '../istio';
import type { HTTPRoute, VirtualService } from '../model';
import { ClusterTable } from './clusters';
import { DefaultRoutes } from './default-route';
import { TcpRoutes } from './tcp-route';
import { compileBlocks, compileRewrite, hasGatewaySemantics, NO_RETRY } from './http-route';
import type { MeshModel } from './model';
import type { CompiledMeshConfig, CompiledRoute, GatewayTable } from './route-model';
import { VirtualHostTable } from './virtual-hosts';

/** An Ingress path: the rule's matches to its first destination's Service. */
function ingressRoute(vs: VirtualService, rule: HTTPRoute, namespace: string, clusters: ClusterTable): CompiledRoute {
  const gatewaySemantics = hasGatewaySemantics(vs);
  const first = rule.route![0];
  const destinations = first?.destination?.host
    ? [{ cluster: clusters.clusterFor(expandShortHost(first.destination.host, namespace), undefined, first.destination.port?.number), weight: 1, features: [] }]
    : [];
  return {
    virtualService: vs.metadata.name,
    name: rule.name,
    blocks: compileBlocks(rule, namespace, gatewaySemantics),
    kind: 'route',
    redirect: undefined,
    direct: undefined,
    destinations,
    totalWeight: destinations.length,
    rewrite: compileRewrite(rule.rewrite),
    destinationOpsAfterRoute: (rule.route ?? []).length === 1,
    timeoutMs: undefined,
    retry: NO_RETRY,
    fault: undefined,
    mirror: undefined,
    mirrors: undefined,
    gatewaySemantics: gatewaySemantics || undefined,
    requestHeaders: undefined,
    responseHeaders: undefined,
    cors: undefined,
    features: [],
  };
}

/** Without Istio no proxy routes a workload's calls: they go to the Service. */
const NO_SIDECAR_ROUTES = new VirtualHostTable([]);

export function buildKubernetesRouteTables(model: MeshModel): CompiledMeshConfig {
  const clusters = new ClusterTable(model, false);
  const routesOf = (vs: VirtualService): CompiledRoute[] => {
    const vsNamespace = vs.metadata.namespace ?? model.namespace;
    return (vs.spec?.http ?? []).filter((rule) => rule?.route?.length).map((rule) => ingressRoute(vs, rule, vsNamespace, clusters));
  };
  const gatewayTables = new Map<string, GatewayTable>();
  const defaults = new DefaultRoutes(clusters, NO_RETRY);
  const tcpRoutes = new TcpRoutes(model, clusters, false);
  return {
    mode: 'kubernetes',
    namespace: model.namespace,
    gateway(name) {
      let table = gatewayTables.get(name);
      if (!table) {
        const entries = model.virtualServices
          .filter((vs) => (vs.spec?.gateways ?? []).some((g) => g !== MESH_GATEWAY))
          .map((vs) => ({ hosts: (vs.spec?.hosts ?? []).map((h) => h.toLowerCase()), routes: routesOf(vs) }));
        table = { ids: [name], serverHosts: null, port: 80, virtualHosts: new VirtualHostTable(entries) };
        gatewayTables.set(name, table);
      }
      return table;
    },
    sidecar: () => NO_SIDECAR_ROUTES,
    resolveService: model.resolveService,
    defaultRoute: (service, port) => defaults.routeTo(service, port),
    tcpRoute: (fqdn, port) => tcpRoutes.routeTo(fqdn, port),
    authorization: ALLOW_ALL,
  };
}
