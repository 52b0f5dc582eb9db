/**
 * Where the app answers: the ingress gateway's address derived from its Service (LoadBalancer address, or a
 * node address + the http2 nodePort), and the app paths derived from the `web-ingress` VirtualService or HTTPRoute.
 * Pure functions, no I/O.
 */
import type { HTTPRoute } from '@cns/mesh/gateway-api';
import type { VirtualService } from '@cns/mesh/model';

export const INGRESS_GATEWAY_SERVICE = 'istio-ingressgateway';
export const ISTIO_NAMESPACE = 'istio-system';

/** The fields of a V1Service / V1Node this module reads (structurally compatible with the client's types). */
export interface ServiceLike {
  spec?: { type?: string; ports?: Array<{ name?: string; port: number; nodePort?: number }> };
  status?: { loadBalancer?: { ingress?: Array<{ ip?: string; hostname?: string }> } };
}
export interface NodeLike {
  metadata?: { name?: string; labels?: Record<string, string> };
  status?: { addresses?: Array<{ type: string; address: string }> };
}

export interface GatewayAddress {
  /** `http://HOST[:PORT]`, when the gateway is reachable from outside the cluster. */
  url?: string;
  /** How it was derived, or what to do when there is no URL. */
  note: string;
  /** Where the URL came from: the Service's LoadBalancer address or a node address + nodePort. */
  via?: 'loadBalancer' | 'nodePort';
}

function hostPort(host: string, port: number): string {
  const h = host.includes(':') ? `[${host}]` : host; // IPv6 literal
  return port === 80 ? `http://${h}` : `http://${h}:${port}`;
}

/**
 * The ingress gateway's URL from its Service: a LoadBalancer address (e.g. under `minikube tunnel`) wins;
 * otherwise the first node's InternalIP (ExternalIP if it has one) with the nodePort of the port named http2.
 */
export function gatewayAddress(
  service: ServiceLike,
  nodes: NodeLike[],
  where: { namespace: string; name: string } = { namespace: ISTIO_NAMESPACE, name: INGRESS_GATEWAY_SERVICE },
): GatewayAddress {
  const ports = service.spec?.ports ?? [];
  const http = ports.find((p) => p.name === 'http2') ?? ports.find((p) => p.port === 80) ?? ports.find((p) => p.name === 'http');
  if (!http) {
    return { note: `the ${where.name} Service has no port named http2` };
  }
  const ingress = service.status?.loadBalancer?.ingress?.find((i) => i.ip || i.hostname);
  if (ingress) {
    const address = (ingress.ip || ingress.hostname)!;
    return {
      url: hostPort(address, http.port),
      // What `kubectl -n istio-system get svc istio-ingressgateway` shows as EXTERNAL-IP.
      note: `LoadBalancer address ${address} (EXTERNAL-IP of ${where.namespace}/${where.name}), port ${http.port}`,
      via: 'loadBalancer',
    };
  }
  if (http.nodePort) {
    for (const type of ['ExternalIP', 'InternalIP']) {
      for (const node of nodes) {
        const address = node.status?.addresses?.find((a) => a.type === type)?.address;
        if (address) {
          return {
            url: hostPort(address, http.nodePort),
            note: `node ${node.metadata?.name ?? '?'} ${type} + nodePort ${http.nodePort} of port ${http.name ?? http.port}`,
            via: 'nodePort',
          };
        }
      }
    }
    return { note: `no node has an address; the gateway listens on nodePort ${http.nodePort}` };
  }
  return {
    note:
      'the ingress gateway is a LoadBalancer without an address yet: run `minikube tunnel` in another terminal ' +
      `(or \`kubectl -n ${where.namespace} port-forward svc/${where.name} 8080:80\`)`,
  };
}

/** Minikube nodes carry `minikube.k8s.io/*` labels; the context is usually named minikube too. */
export function isMinikube(contextName: string, nodes: NodeLike[]): boolean {
  return contextName === 'minikube' || nodes.some((n) => Object.keys(n.metadata?.labels ?? {}).some((k) => k.startsWith('minikube.k8s.io/')));
}

export interface AppPaths {
  getMultiple: string;
  swaggerUi: string;
}

export const DEFAULT_APP_PATHS: AppPaths = { getMultiple: '/web-api/v1/getmultiple', swaggerUi: '/openapi/ui' };

/** The app's paths from the literal paths a route matches, in rule order (the first fitting one wins). */
function pickAppPaths(paths: string[]): AppPaths {
  return {
    getMultiple: paths.find((p) => p.includes('getmultiple')) ?? DEFAULT_APP_PATHS.getMultiple,
    swaggerUi: paths.find((p) => p.includes('/openapi/ui')) ?? DEFAULT_APP_PATHS.swaggerUi,
  };
}

/** The app's paths as the ingress VirtualService routes them (URI `exact`/`prefix`; a regex is no path), so the printed URLs follow the manifests. */
export function appPaths(vs: VirtualService | undefined): AppPaths {
  const paths = (vs?.spec?.http ?? []).flatMap((route) => (route.match ?? []).map((match) => match.uri?.exact ?? match.uri?.prefix));
  return pickAppPaths(paths.filter((path): path is string => Boolean(path)));
}

/** The app's paths as the ingress HTTPRoute routes them (Gateway API mode; `Exact`/`PathPrefix`, a `RegularExpression` is no path). */
export function httpRouteAppPaths(route: HTTPRoute | undefined): AppPaths {
  const paths = (route?.spec?.rules ?? []).flatMap((rule) =>
    (rule.matches ?? []).map((match) => (match.path?.type === 'RegularExpression' ? undefined : match.path?.value)),
  );
  return pickAppPaths(paths.filter((path): path is string => Boolean(path)));
}

/** The lines `urls` prints for a gateway base URL. */
export function urlLines(base: string, paths: AppPaths): string[] {
  const root = base.replace(/\/+$/, '');
  return [`Web app:      ${root}/`, `getmultiple:  curl -s ${root}${paths.getMultiple}`, `Swagger UI:   ${root}${paths.swaggerUi}`];
}
