/**
 * The `status` istiod writes on Gateway API objects, for the admin's Kubernetes REST: computed from the objects in
 * force, each object's `metadata.generation` being its resourceVersion in the mesh's store (it changes exactly when
 * the object does), so `status...observedGeneration` equals `metadata.generation` once the change is in force, as
 * `kubectl wait` and `npm run traffic` expect on a cluster.
 */
import type { K8sObject, LoadedObject, Service } from '../model';
import { isGatewayApiObject } from './kinds';
import { translateGatewayApi, type Translation } from './translate';

export interface StoredLike {
  loaded: LoadedObject;
  resourceVersion: number;
}

export function withGeneration(stored: StoredLike): LoadedObject {
  const { loaded } = stored;
  return { ...loaded, object: { ...loaded.object, metadata: { ...loaded.object.metadata, generation: stored.resourceVersion } as K8sObject['metadata'] } };
}

/** A status reader over a store: memoised per store version. */
export function gatewayApiStatusReader(
  stored: () => readonly StoredLike[],
  version: () => number,
  services: readonly LoadedObject<Service>[],
  namespace: string,
): (object: K8sObject) => { generation: number; status: unknown } | undefined {
  let cached: { version: number; translation: Translation; generations: Map<string, number> } | undefined;
  return (object) => {
    if (!isGatewayApiObject(object) || (object.kind !== 'HTTPRoute' && object.kind !== 'Gateway')) return undefined;
    if (!cached || cached.version !== version()) {
      const all = stored();
      const generations = new Map(all.map((s) => [`${s.loaded.object.kind}/${s.loaded.object.metadata.name}`, s.resourceVersion]));
      cached = { version: version(), translation: translateGatewayApi(all.map(withGeneration), services, namespace), generations };
    }
    const key = `${object.kind}/${object.metadata.namespace ?? namespace}/${object.metadata.name}`;
    const status = object.kind === 'HTTPRoute' ? cached.translation.routeStatus.get(key) : cached.translation.gatewayStatus.get(key);
    const generation = cached.generations.get(`${object.kind}/${object.metadata.name}`);
    return status && generation !== undefined ? { generation, status } : undefined;
  };
}
