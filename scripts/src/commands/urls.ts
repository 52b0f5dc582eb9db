/** `urls`: where the app answers, derived from the target (deploy prints it too). */
import { adminLinks, formatLinks, forPeople, gatewayLinks } from '@cns/mesh/links';
import { meshGatewayUrl } from '../mesh-admin';
import type { Output } from '../io';
import { DEFAULT_NAMESPACE, KubeClient } from '../kube';
import { INGRESS_VIRTUAL_SERVICE } from '../traffic';
import { INGRESS_HTTPROUTE } from '../traffic-httproute';
import { gatewayWorkload, INGRESS_GATEWAY, npmRun, type RoutingState } from '../routing';
import {
  appPaths,
  gatewayAddress,
  type GatewayAddress,
  httpRouteAppPaths,
  INGRESS_GATEWAY_SERVICE,
  isMinikube,
  ISTIO_NAMESPACE,
  urlLines,
  type AppPaths,
} from '../urls';
import { routingState, type GatewayOptions } from './shared';

/** The ingress gateway base URL, or a hint why there is none. */
export async function gatewayBase(client: KubeClient, options: GatewayOptions, routing?: RoutingState): Promise<GatewayAddress & { minikube: boolean }> {
  const env = options.env ?? process.env;
  const explicit = options.gatewayUrl ?? env.GATEWAY_URL;
  if (explicit) return { url: explicit.replace(/\/+$/, ''), note: 'given with --gateway-url / GATEWAY_URL', minikube: false };
  if (client.target.kind === 'mesh') {
    const announced = await meshGatewayUrl(client.target.server);
    if (announced) return { url: announced.replace(/\/+$/, ''), note: 'local mesh ingress gateway', minikube: false };
    const port = env.GATEWAY_PORT ?? '8080';
    return { url: `http://127.0.0.1:${port}`, note: 'local mesh ingress gateway (GATEWAY_PORT, default 8080)', minikube: false };
  }
  // Gateway API mode: the gateway Istio deploys for Gateway `web-gateway` is the Service `web-gateway-istio` here.
  const gatewayApi = (routing ?? (await routingState(client, options.gatewayApi === true))).mode === 'gateway-api';
  const gatewayName = routing?.httpRoute?.spec?.parentRefs?.[0]?.name ?? INGRESS_GATEWAY;
  const where = gatewayApi
    ? { namespace: DEFAULT_NAMESPACE, name: gatewayWorkload(gatewayName) }
    : { namespace: ISTIO_NAMESPACE, name: INGRESS_GATEWAY_SERVICE };
  const service = await client.readService(where.name, where.namespace);
  if (!service) {
    return {
      note: gatewayApi
        ? `Service ${where.namespace}/${where.name} not found: is the Gateway programmed? (kubectl get gateway)`
        : `Service ${ISTIO_NAMESPACE}/${INGRESS_GATEWAY_SERVICE} not found: install Istio with the demo profile`,
      minikube: client.target.contextName === 'minikube',
    };
  }
  const nodes = await client.listNodes().catch(() => []);
  const minikube = isMinikube(client.target.contextName, nodes);
  return { ...gatewayAddress(service, nodes, where), minikube };
}

/** The app paths as the ingress route of the routing mode has them. */
export function routedPaths(routing: RoutingState): AppPaths {
  return routing.mode === 'gateway-api' ? httpRouteAppPaths(routing.httpRoute) : appPaths(routing.virtualService);
}

export async function printUrls(client: KubeClient, options: GatewayOptions, io: Output): Promise<boolean> {
  const routing = await routingState(client, options.gatewayApi === true);
  const paths = routedPaths(routing);
  const base = await gatewayBase(client, options, routing);
  if (!base.url) {
    io.out(`No gateway URL: ${base.note}`);
    return false;
  }
  if (client.target.kind === 'mesh') {
    // The same lines as the banner of `npm start`, with localhost as it prints them.
    const admin = forPeople(client.target.server);
    const links = [
      ...gatewayLinks(forPeople(base.url), paths),
      ...adminLinks(admin, routing.mode),
      { label: 'Mesh admin', url: `${admin}/`, note: 'every admin route' },
    ];
    for (const line of formatLinks(links, '')) io.out(line);
  } else {
    for (const line of urlLines(base.url, paths)) io.out(line);
    io.out(`Gateway:      ${base.note}`);
    io.out('Kiali:        istioctl dashboard kiali   (or: kubectl -n istio-system port-forward svc/kiali 20001:20001)');
    if (base.minikube && base.via === 'nodePort') {
      io.out(
        'Minikube:     if the node IP is not reachable from this machine (docker driver on macOS/Windows), run ' +
          '`minikube tunnel` in another terminal and run `npm run urls -- --cluster` again',
      );
    }
  }
  const gatewayApi = routing.mode === 'gateway-api';
  if (!(gatewayApi ? routing.httpRoute : routing.virtualService)) {
    const deploy = npmRun(client.target, 'deploy', ...(gatewayApi ? ['--gateway-api'] : []));
    io.out(`(${gatewayApi ? `HTTPRoute ${INGRESS_HTTPROUTE}` : `VirtualService ${INGRESS_VIRTUAL_SERVICE}`} not found: run \`${deploy}\` first)`);
  }
  return true;
}

export async function urlsCommand(client: KubeClient, options: GatewayOptions, io: Output): Promise<number> {
  return (await printUrls(client, options, io)) ? 0 : 1;
}
