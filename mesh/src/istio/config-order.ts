/**
 * The order istiod gives configs of one kind (pilot/pkg/model/config.go sortByCreationComparator), and how it tells
 * the VirtualServices it generated from Gateway API routes (pkg/config/constants InternalRouteSemantics,
 * pilot/pkg/model UseGatewaySemantics).
 */
import type { VirtualService } from '../model';

/** istiod marks the VirtualServices it generates from Gateway API routes with this annotation, value `gateway`. */
export const ROUTE_SEMANTICS_ANNOTATION = 'internal.istio.io/route-semantics';

/** Whether istiod generated the VirtualService from a Gateway API route (route semantics `gateway`). */
export function hasGatewaySemantics(vs: VirtualService): boolean {
  return vs.metadata.annotations?.[ROUTE_SEMANTICS_ANNOTATION] === 'gateway';
}

/** An object's metadata as istiod orders it: the local mesh has no creation time unless the object gives one. */
type Stamped = { metadata: { name: string; namespace?: string; creationTimestamp?: string } };

/**
 * sortByCreationComparator (VirtualServices are sorted so in virtualservice.go mergeVirtualServicesIfNeeded): older
 * first; equal times (or none) by `name.namespace`, `namespace` standing in for an object that names none.
 */
export function byCreationTime(a: Stamped, b: Stamped, namespace: string): number {
  const [ta, tb] = [a.metadata.creationTimestamp ?? '', b.metadata.creationTimestamp ?? ''];
  if (ta !== tb) return Date.parse(ta || '0') - Date.parse(tb || '0');
  const [na, nb] = [`${a.metadata.name}.${a.metadata.namespace ?? namespace}`, `${b.metadata.name}.${b.metadata.namespace ?? namespace}`];
  return na < nb ? -1 : na > nb ? 1 : 0;
}

/**
 * The order a proxy in `proxyNamespace` gets the VirtualServices bound to one gateway or to `mesh` (push_context.go
 * VirtualServicesForGateway, applied to the creation-sorted index): first the ones istiod generated from Gateway API
 * routes of the proxy's own namespace ("consumer override"), then the others, each group in creation order.
 * `exportTo` is not modelled: every VirtualService counts as exported to all namespaces.
 */
export function virtualServiceOrder(proxyNamespace: string, namespace: string): (a: VirtualService, b: VirtualService) => number {
  const override = (vs: VirtualService) => (hasGatewaySemantics(vs) && (vs.metadata.namespace ?? namespace) === proxyNamespace ? 0 : 1);
  return (a, b) => override(a) - override(b) || byCreationTime(a, b, namespace);
}
