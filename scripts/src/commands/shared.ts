/**
 * Steps several commands share: the Istio API check, the served-group filter, the routing mode.
 */
import { GATEWAY_API_GROUP, type HTTPRoute } from '@cns/mesh/gateway-api';
import type { VirtualService } from '@cns/mesh/model';
import { UserError } from '../errors';
import type { Output } from '../io';
import { describeTarget, KubeClient, type Target } from '../kube';
import { label, type FileObject } from '../manifests';
import { INGRESS_VIRTUAL_SERVICE, VIRTUAL_SERVICE_API_VERSION } from '../traffic';
import { HTTPROUTE_API_VERSION, INGRESS_HTTPROUTE } from '../traffic-httproute';
import { decideRouting, GATEWAY_API_INSTALL, GATEWAY_API_VERSION, type RoutingState } from '../routing';

export const NETWORKING_GROUP = 'networking.istio.io';

/**
 * Fails with the message the issue asks for when the cluster does not know the Istio types, instead of the
 * API's "no matches for kind Gateway"; returns the Istio groups the target serves.
 */
export async function requireIstio(client: KubeClient): Promise<Map<string, string[]>> {
  const groups = await client.apiGroups();
  const networking = groups.get(NETWORKING_GROUP);
  if (!networking) {
    throw new UserError('Istio is not installed: the Gateway resource type is unknown; install Istio first');
  }
  if (!networking.includes('v1')) {
    throw new UserError(`Istio is too old: ${NETWORKING_GROUP}/v1 is not served (only ${networking.join(', ')}); install Istio 1.22 or newer`);
  }
  return groups;
}

/** Objects whose API group the target serves; the others are skipped with a note (e.g. a partial Istio API). */
export function servedObjects(objects: FileObject[], groups: Map<string, string[]>, io: Output): FileObject[] {
  const groupOf = (o: FileObject): string => o.object.apiVersion.split('/')[0]!;
  const served = objects.filter((o) => groups.has(groupOf(o)));
  const skipped = objects.filter((o) => !served.includes(o));
  if (skipped.length > 0) {
    io.err(`skipped (API group not served by the target): ${skipped.map((o) => label(o.object)).join(', ')}`);
  }
  return served;
}

export async function readIngress(client: KubeClient): Promise<VirtualService | undefined> {
  return (await client.getIstio(VIRTUAL_SERVICE_API_VERSION, 'VirtualService', INGRESS_VIRTUAL_SERVICE)) as VirtualService | undefined;
}

export interface GatewayOptions {
  /** Overrides the derived gateway URL (e.g. `http://127.0.0.1:8080`). */
  gatewayUrl?: string;
  /** GATEWAY_URL / GATEWAY_PORT come from here (the CLI passes its environment). */
  env?: NodeJS.ProcessEnv;
  /** `--gateway-api`: Gateway API mode even when not detected. */
  gatewayApi?: boolean;
}

/** The routing mode of a command on this target (routing.ts, decideRouting), from what is deployed there. */
export async function routingState(client: KubeClient, gatewayApi: boolean, groups?: Map<string, string[]>): Promise<RoutingState> {
  const served = groups ?? (await client.apiGroups());
  const gatewayApiServed = served.get(GATEWAY_API_GROUP)?.includes('v1') ?? false;
  const [virtualService, httpRoute] = await Promise.all([
    served.has(NETWORKING_GROUP) ? readIngress(client) : undefined,
    gatewayApiServed ? (client.getIstio(HTTPROUTE_API_VERSION, 'HTTPRoute', INGRESS_HTTPROUTE) as Promise<HTTPRoute | undefined>) : undefined,
  ]);
  return decideRouting({ flag: gatewayApi, gatewayApiServed, virtualService, httpRoute });
}

/** Gateway API mode needs the Gateway API CRDs (a cluster does not have them until installed). */
export function requireGatewayApi(routing: RoutingState, target: Target): void {
  if (!routing.gatewayApiServed) {
    throw new UserError(
      `the Gateway API is not installed on the ${describeTarget(target)}: ${GATEWAY_API_GROUP}/v1 is not served; ` +
        `install its CRDs (${GATEWAY_API_VERSION}, the version Istio 1.22 supports): ${GATEWAY_API_INSTALL}`,
    );
  }
}
