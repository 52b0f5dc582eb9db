// KIA1106: several VirtualServices for one host and gateway, as Kiali's SingleHostChecker
// (business/checkers/virtualservices/single_host_checker.go).

import type { LoadedObject, VirtualService } from '../../model';
import { namespaceOf, objectRef } from '../merge';
import { asArray, serviceKey, type Index, type Report } from './context';

/** KIA1106: two VirtualServices for the same host bound to the same gateway (or both to the mesh). */
export function checkVirtualServiceOverlap(index: Index, report: Report): void {
  const byBinding = new Map<string, LoadedObject<VirtualService>[]>();
  for (const vs of index.virtualServices) {
    const namespace = namespaceOf(vs.object);
    const refs = asArray(vs.object.spec?.gateways).filter((g): g is string => typeof g === 'string');
    const bindings = refs.length > 0 ? refs.map((g) => index.resolveGateway(g, namespace)) : ['mesh'];
    for (const host of asArray(vs.object.spec?.hosts)) {
      if (typeof host !== 'string') continue;
      const hostKey = serviceKey(host, namespace) ?? host;
      for (const binding of new Set(bindings)) {
        const key = `${binding}|${hostKey}`;
        const list = byBinding.get(key) ?? [];
        if (!list.includes(vs)) list.push(vs);
        byBinding.set(key, list);
      }
    }
  }
  for (const [key, list] of byBinding) {
    if (list.length < 2) continue;
    const [binding, host] = key.split('|');
    for (const vs of list) {
      const others = list
        .filter((o) => o !== vs)
        .map((o) => objectRef(o.object))
        .join(', ');
      report(vs, 'KIA1106', `More than one Virtual Service for same host: ${host} on ${binding} (also ${others})`, ['spec', 'hosts'], 'warning');
    }
  }
}
