/**
 * The route of a Service that no VirtualService names: all traffic to the Service's cluster on the port called
 * (istio/istio pilot/pkg/networking/core/route/route.go BuildDefaultHTTPOutboundRoute), one per cluster.
 */
import type { ClusterTable } from './clusters';
import type { CompiledRoute, RetryPolicy, ServiceInfo } from './route-model';

export class DefaultRoutes {
  private readonly routes = new Map<string, CompiledRoute>();

  constructor(
    private readonly clusters: ClusterTable,
    private readonly retry: RetryPolicy,
  ) {}

  routeTo(service: ServiceInfo, port: number | undefined): CompiledRoute {
    const cluster = this.clusters.clusterFor(service.fqdn, undefined, port);
    let route = this.routes.get(cluster.key);
    if (!route) {
      const policy = cluster.policy;
      route = {
        virtualService: '',
        blocks: null,
        kind: 'route',
        destinations: [{ cluster, weight: 1, features: policy.limited || policy.outlier ? ['circuitBreaker'] : [] }],
        totalWeight: 1,
        destinationOpsAfterRoute: true,
        retry: this.retry,
        features: [],
      };
      this.routes.set(cluster.key, route);
    }
    return route;
  }
}
