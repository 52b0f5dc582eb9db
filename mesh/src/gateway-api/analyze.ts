/**
 * CNS0303, a warning, never a refusal: a VirtualService and an HTTPRoute routing the same traffic.
 * - Through gateways: a VirtualService bound to an Istio Gateway and an HTTPRoute on a Gateway API Gateway of class
 *   istio serving the same host on the same port. Both apply on a cluster (two gateways, two sets of routes).
 * - In the mesh: a VirtualService bound to `mesh` and an HTTPRoute attached to a Service routing that Service's
 *   host. A sidecar keeps one of them (config/virtual-hosts.ts): the route in its namespace, else the older, so
 *   which one routes depends on the caller's namespace and on the order they were created in.
 */
import type { Finding, LoadedObject, VirtualService } from '../model';
import { lineOf } from '../manifests/load';
import { expandShortHost, hostMatches, MESH_GATEWAY } from '../istio';
import { GATEWAY_API_GROUP, GATEWAY_STATUS_CODE, type HTTPRoute, type KubeGateway } from './kinds';
import { isServiceParent, meshHostOf } from './mesh-routes';

interface Bound {
  loaded: LoadedObject;
  port: number;
  host: string;
}

const overlaps = (a: string, b: string) => hostMatches(a, b) || hostMatches(b, a);

export function checkRoutingOverlap(objects: readonly LoadedObject[]): Finding[] {
  const ns = (o: LoadedObject) => o.object.metadata.namespace ?? 'default';
  const istioGateways = objects.filter((o) => o.object.kind === 'Gateway' && o.object.apiVersion.startsWith('networking.istio.io/'));
  const kubeGateways = objects.filter(
    (o) =>
      o.object.kind === 'Gateway' && o.object.apiVersion.startsWith(`${GATEWAY_API_GROUP}/`) && (o.object as KubeGateway).spec?.gatewayClassName === 'istio',
  );
  const vsBound: Bound[] = [];
  for (const vs of objects.filter((o) => o.object.kind === 'VirtualService' && o.object.apiVersion.startsWith('networking.istio.io/'))) {
    const spec = vs.object.spec as { hosts?: unknown[]; gateways?: unknown[] } | undefined;
    for (const ref of spec?.gateways ?? []) {
      if (typeof ref !== 'string' || ref === 'mesh') continue;
      const [gwNs, gwName] = ref.includes('/') ? ref.split('/') : [ns(vs), ref];
      const gw = istioGateways.find((g) => g.object.metadata.name === gwName && ns(g) === gwNs);
      const servers = (gw?.object.spec as { servers?: Array<{ port?: { number?: number } }> } | undefined)?.servers ?? [];
      for (const server of servers)
        for (const host of spec?.hosts ?? []) if (typeof host === 'string' && server.port?.number) vsBound.push({ loaded: vs, port: server.port.number, host });
    }
  }
  const findings: Finding[] = [];
  for (const route of objects.filter((o) => o.object.kind === 'HTTPRoute' && o.object.apiVersion.startsWith(`${GATEWAY_API_GROUP}/`))) {
    const spec = (route.object as HTTPRoute).spec;
    const hosts = spec?.hostnames?.length ? spec.hostnames : ['*'];
    for (const parent of spec?.parentRefs ?? []) {
      const gw = kubeGateways.find((g) => g.object.metadata.name === parent?.name && ns(g) === (parent.namespace ?? ns(route)));
      for (const listener of (gw?.object as KubeGateway | undefined)?.spec?.listeners ?? []) {
        for (const other of vsBound) {
          if (other.port !== listener.port || !hosts.some((h) => overlaps(h, other.host))) continue;
          findings.push({
            code: GATEWAY_STATUS_CODE,
            severity: 'warning',
            file: route.source.file,
            line: lineOf(route.object, ['spec', 'hostnames']) ?? route.source.line,
            object: `HTTPRoute/${route.object.metadata.name}`,
            message: `routes host ${other.host} on port ${listener.port}, as VirtualService ${other.loaded.object.metadata.name} (${other.loaded.source.file}) does through an Istio Gateway: both apply, on two gateways; route each host with one API`,
          });
        }
      }
    }
  }
  return [...findings, ...checkMeshOverlap(objects)];
}

function checkMeshOverlap(objects: readonly LoadedObject[]): Finding[] {
  const ns = (o: LoadedObject) => o.object.metadata.namespace ?? 'default';
  const meshVirtualServices = objects.filter((o) => {
    if (o.object.kind !== 'VirtualService' || !o.object.apiVersion.startsWith('networking.istio.io/')) return false;
    const gateways = (o.object as VirtualService).spec?.gateways;
    return !gateways?.length || gateways.includes(MESH_GATEWAY);
  });
  const findings: Finding[] = [];
  for (const route of objects.filter((o) => o.object.kind === 'HTTPRoute' && o.object.apiVersion.startsWith(`${GATEWAY_API_GROUP}/`))) {
    ((route.object as HTTPRoute).spec?.parentRefs ?? []).forEach((parent, index) => {
      if (!parent || !isServiceParent(parent)) return;
      const host = meshHostOf(parent, ns(route));
      for (const vs of meshVirtualServices) {
        const hosts = ((vs.object as VirtualService).spec?.hosts ?? []).filter((h): h is string => typeof h === 'string');
        if (!hosts.some((h) => expandShortHost(h, ns(vs)) === host)) continue;
        findings.push({
          code: GATEWAY_STATUS_CODE,
          severity: 'warning',
          file: route.source.file,
          line: lineOf(route.object, ['spec', 'parentRefs', index]) ?? route.source.line,
          object: `HTTPRoute/${route.object.metadata.name}`,
          message:
            `routes Service ${parent.name} for the sidecars, as VirtualService ${vs.object.metadata.name} (${vs.source.file}) does: ` +
            `a sidecar keeps one virtual host per Service port: the route in the route's namespace (${ns(route)}), the older of the two elsewhere; route each host with one API`,
        });
      }
    });
  }
  return findings;
}
