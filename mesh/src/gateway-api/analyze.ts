/**
 * CNS0303: a VirtualService bound to an Istio Gateway and an HTTPRoute on a Gateway API Gateway of class istio
 * that serve the same host on the same port. Both apply on a cluster (two gateways, two sets of routes), which is
 * rarely what was meant: a warning, never a refusal.
 */
import type { Finding, LoadedObject } from '../model';
import { lineOf } from '../manifests/load';
import { hostMatches } from '../istio';
import { GATEWAY_API_GROUP, GATEWAY_STATUS_CODE, type HTTPRoute, type KubeGateway } from './kinds';

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
  return findings;
}
