/**
 * Object identity and "apply" semantics: an object replaces the one with the same API group, kind, namespace and
 * name (what `kubectl apply` and the local mesh do), instead of sitting beside it.
 */
import { apiGroup } from '../istio';
import type { K8sObject, LoadedObject } from '../model';

export const DEFAULT_NAMESPACE = 'default';

export { apiGroup } from '../istio';

export function namespaceOf(object: K8sObject): string {
  return object.metadata?.namespace || DEFAULT_NAMESPACE;
}

/** Identity of an object: group, kind, namespace, name (e.g. `networking.istio.io/VirtualService/default/authors`). */
export function objectKey(object: K8sObject): string {
  return `${apiGroup(object.apiVersion)}/${object.kind}/${namespaceOf(object)}/${object.metadata.name}`;
}

/** `Kind/name`, as findings name objects. */
export function objectRef(object: K8sObject): string {
  return `${object.kind}/${object.metadata.name}`;
}

/**
 * `base` with `overlay` applied: an overlay object replaces the base object with the same key (keeping the base
 * object's position), new objects are appended. Neither input is modified.
 */
export function mergeObjects(base: LoadedObject[], overlay: LoadedObject[]): LoadedObject[] {
  const merged = [...base];
  const indexByKey = new Map<string, number>();
  merged.forEach((loaded, i) => indexByKey.set(objectKey(loaded.object), i));
  for (const loaded of overlay) {
    const key = objectKey(loaded.object);
    const existing = indexByKey.get(key);
    if (existing === undefined) {
      indexByKey.set(key, merged.length);
      merged.push(loaded);
    } else {
      merged[existing] = loaded;
    }
  }
  return merged;
}

/** `base` without the objects that `toRemove` names (by key; the removed objects' contents do not matter). */
export function removeObjects(base: LoadedObject[], toRemove: LoadedObject[]): LoadedObject[] {
  const keys = new Set(toRemove.map((loaded) => objectKey(loaded.object)));
  return base.filter((loaded) => !keys.has(objectKey(loaded.object)));
}
