/** `urls`: where the app answers, derived from the target (deploy prints it too). */
import { adminLinks, formatLinks, forPeople, gatewayLinks } from '@cns/mesh/links';
import { meshGatewayUrl } from '../mesh-admin';
import type { Output } from '../io';
import { DEFAULT_NAMESPACE, KubeClient } from '../kube';
import { INGRESS_VIRTUAL_SERVICE } from '../traffic';
import { appPaths, gatewayAddress, type GatewayAddress, INGRESS_GATEWAY_SERVICE, isMinikube, ISTIO_NAMESPACE, urlLines, type AppPaths } from '../urls';
import { readIngress, readIngressRoute, type GatewayOptions } from './shared';

/** The ingress gateway base URL, or a hint why there is none. */
export async function gatewayBase(client: KubeClient, options: GatewayOptions): Promise<GatewayAddress & { minikube: boolean }> {
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
  const route = await readIngressRoute(client, await client.apiGroups(), false);
  const where = route
    ? { namespace: DEFAULT_NAMESPACE, name: `${route.spec?.parentRefs?.[0]?.name ?? 'web-gateway'}-istio` }
    : { namespace: ISTIO_NAMESPACE, name: INGRESS_GATEWAY_SERVICE };
  const service = await client.readService(where.name, where.namespace);
  if (!service) {
    return {
      note: route
        ? `Service ${where.namespace}/${where.name} not found: is the Gateway programmed? (kubectl get gateway)`
        : `Service ${ISTIO_NAMESPACE}/${INGRESS_GATEWAY_SERVICE} not found: install Istio with the demo profile`,
      minikube: client.target.contextName === 'minikube',
    };
  }
  const nodes = await client.listNodes().catch(() => []);
  const minikube = isMinikube(client.target.contextName, nodes);
  return { ...gatewayAddress(service, nodes, where), minikube };
}

export async function printUrls(client: KubeClient, options: GatewayOptions, io: Output): Promise<boolean> {
  const vs = await readIngress(client);
  const paths: AppPaths = appPaths(vs);
  const base = await gatewayBase(client, options);
  if (!base.url) {
    io.out(`No gateway URL: ${base.note}`);
    return false;
  }
  if (client.target.kind === 'mesh') {
    // The same lines as the banner of `npm start`, with localhost as it prints them.
    const admin = forPeople(client.target.server);
    const links = [...gatewayLinks(forPeople(base.url), paths), ...adminLinks(admin), { label: 'Mesh admin', url: `${admin}/`, note: 'every admin route' }];
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
  if (!vs) io.out(`(VirtualService ${INGRESS_VIRTUAL_SERVICE} not found: run \`npm run deploy\` first)`);
  return true;
}

export async function urlsCommand(client: KubeClient, options: GatewayOptions, io: Output): Promise<number> {
  return (await printUrls(client, options, io)) ? 0 : 1;
}
