/** `traffic V1 V2`: the getmultiple split, on the VirtualService or the HTTPRoute `web-ingress`. */
import { type HTTPRoute } from '@cns/mesh/gateway-api';
import { UserError } from '../errors';
import type { Output } from '../io';
import { describeTarget, KubeClient } from '../kube';
import { activeSplit, buildSplitPatch, formatSplit, INGRESS_VIRTUAL_SERVICE, VIRTUAL_SERVICE_API_VERSION, type Split } from '../traffic';
import { activeRouteSplit, buildRouteSplitPatch, HTTPROUTE_API_VERSION, INGRESS_HTTPROUTE, statusCaughtUp } from '../traffic-httproute';
import { npmRun } from '../routing';
import { readIngress, requireGatewayApi, requireIstio, routingState } from './shared';

/**
 * Patches the HTTPRoute's getmultiple weights and waits until its status reports the new generation (istiod, or
 * the local mesh, has taken the change), then prints the split read back.
 */
async function trafficOnRoute(client: KubeClient, route: HTTPRoute, split: Split, io: Output, waitMs: number): Promise<number> {
  await client.patchIstio(HTTPROUTE_API_VERSION, 'HTTPRoute', INGRESS_HTTPROUTE, buildRouteSplitPatch(route, split));
  const deadline = Date.now() + waitMs;
  for (;;) {
    const now = (await client.getIstio(HTTPROUTE_API_VERSION, 'HTTPRoute', INGRESS_HTTPROUTE)) as HTTPRoute | undefined;
    if (!now) throw new UserError(`HTTPRoute ${INGRESS_HTTPROUTE} disappeared after the patch`);
    const caughtUp = statusCaughtUp(now);
    if (caughtUp || Date.now() > deadline) {
      if (!caughtUp)
        io.err(
          `warning: HTTPRoute ${INGRESS_HTTPROUTE} status does not report generation ${String(now.metadata.generation)} yet: is the Istio gateway controller running?`,
        );
      io.out(`${formatSplit(activeRouteSplit(now))}  (HTTPRoute ${INGRESS_HTTPROUTE}, ${describeTarget(client.target)})`);
      return 0;
    }
    await new Promise((resolve) => setTimeout(resolve, 500)); // polling the API server, as kubectl wait does
  }
}

export async function trafficCommand(client: KubeClient, split: Split, io: Output, options: { gatewayApi?: boolean; waitMs?: number } = {}): Promise<number> {
  const groups = await requireIstio(client);
  const routing = await routingState(client, options.gatewayApi === true, groups);
  if (routing.mode === 'gateway-api') {
    requireGatewayApi(routing, client.target);
    if (!routing.httpRoute) {
      throw new UserError(
        `HTTPRoute ${INGRESS_HTTPROUTE} not found on the ${describeTarget(client.target)}: run \`${npmRun(client.target, 'deploy', '--gateway-api')}\` first`,
      );
    }
    return trafficOnRoute(client, routing.httpRoute, split, io, options.waitMs ?? 60_000);
  }
  const vs = routing.virtualService;
  if (!vs) {
    throw new UserError(`VirtualService ${INGRESS_VIRTUAL_SERVICE} not found on the ${describeTarget(client.target)}: run \`npm run deploy\` first`);
  }
  await client.patchIstio(VIRTUAL_SERVICE_API_VERSION, 'VirtualService', INGRESS_VIRTUAL_SERVICE, buildSplitPatch(vs, split));
  // Print what the target holds now, not what was asked for.
  const now = await readIngress(client);
  if (!now) throw new UserError(`VirtualService ${INGRESS_VIRTUAL_SERVICE} disappeared after the patch`);
  io.out(`${formatSplit(activeSplit(now))}  (VirtualService ${INGRESS_VIRTUAL_SERVICE}, ${describeTarget(client.target)})`);
  return 0;
}
