/**
 * The data plane: what Envoy does for the ingress gateway and for each sidecar. One `DataPlane` per traffic
 * source; `handle` routes one HTTP request per the compiled Istio config and proxies it over keep-alive undici
 * pools (one per endpoint), streaming the response back. The parts, as Envoy's: `connection-manager.ts` (listener,
 * header sanitising, request id, access record) → `filters.ts` (rbac, cors, fault) → `router.ts` (route, retries,
 * upstream requests, mirror, header operations) → `upstream/` (clusters, load balancing, circuit breaking, outlier
 * detection, pools).
 */
import { ConnectionManager, type DataPlane, type DataPlaneOptions } from './connection-manager';

export type { DataPlane, DataPlaneOptions } from './connection-manager';
export type { EndpointSource } from './upstream/cluster-manager';
export { LOCAL_REPLY } from './local-reply';
export { retryOnStatus } from './router';

export function createDataPlane(options: DataPlaneOptions): DataPlane {
  return new ConnectionManager(options);
}
