// Several VirtualServices for one host and binding. On a gateway: KIA1106, as Kiali's SingleHostChecker
// (business/checkers/virtualservices/single_host_checker.go); istiod merges them there. Bound to the mesh: IST0109, as
// istioctl's ConflictingMeshGatewayHostsAnalyzer (pkg/config/analysis/analyzers/virtualservice/
// conflictingmeshgatewayhosts.go), a warning here: a sidecar keeps only one of them (config/virtual-hosts.ts).

import type { LoadedObject, VirtualService } from '../../model';
import { byCreationTime, MESH_GATEWAY } from '../../istio';
import { namespaceOf, objectRef } from '../merge';
import { asArray, serviceKey, type Index, type Report } from './context';

/** KIA1106 / IST0109: two VirtualServices for the same host bound to the same gateway, or both to the mesh. */
export function checkVirtualServiceOverlap(index: Index, report: Report): void {
  const byBinding = new Map<string, LoadedObject<VirtualService>[]>();
  for (const vs of index.virtualServices) {
    const namespace = namespaceOf(vs.object);
    const refs = asArray(vs.object.spec?.gateways).filter((g): g is string => typeof g === 'string');
    const bindings = refs.length > 0 ? refs.map((g) => (g === MESH_GATEWAY ? g : index.resolveGateway(g, namespace))) : [MESH_GATEWAY];
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
    const [binding, host] = key.split('|') as [string, string];
    if (binding === MESH_GATEWAY) reportMeshConflict(list, host, report);
    else reportGatewayOverlap(list, host, binding, report);
  }
}

function reportGatewayOverlap(list: LoadedObject<VirtualService>[], host: string, binding: string, report: Report): void {
  for (const vs of list) {
    const others = list
      .filter((o) => o !== vs)
      .map((o) => objectRef(o.object))
      .join(', ');
    report(vs, 'KIA1106', `More than one Virtual Service for same host: ${host} on ${binding} (also ${others})`, ['spec', 'hosts'], 'warning');
  }
}

/** IST0109, naming the one a sidecar keeps: the oldest (equal or no creation times: by `name.namespace`). */
function reportMeshConflict(list: LoadedObject<VirtualService>[], host: string, report: Report): void {
  const ordered = [...list].sort((a, b) => byCreationTime(a.object, b.object, 'default'));
  const names = ordered.map((o) => `${namespaceOf(o.object)}/${o.object.metadata.name}`).join(',');
  const kept = objectRef(ordered[0]!.object);
  for (const vs of list) {
    report(
      vs,
      'IST0109',
      `The VirtualServices ${names} associated with mesh gateway define the same host ${host}: a sidecar uses only ${kept} ` +
        '(the oldest; equal creation times: by name), the rules of the others never apply. Merge them into one VirtualService',
      ['spec', 'hosts'],
      'warning',
    );
  }
}
