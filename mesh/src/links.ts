/**
 * The mesh's pages and APIs as a person opens them: one list for the `npm start` banner, `npm run urls` and the
 * admin index, so the three cannot drift apart.
 */

/**
 * The service name the Jaeger query links ask for. Spans name a service `<app>.<namespace>` as Istio's sidecars do
 * (Jaeger matches `service` exactly), so the links use the full name.
 */
export const EXAMPLE_TRACE_SERVICE = 'web-api.default';

/** A URL as a person types it: `localhost` instead of the loopback address the servers bind. */
export function forPeople(url: string): string {
  return url.replace(/^(https?:\/\/)127\.0\.0\.1(?=[:/]|$)/, '$1localhost');
}

export interface MeshLink {
  label: string;
  url: string;
  /** Shown after the URL (other URLs on the same page, what to do with it). */
  note?: string;
}

/** Where the app answers through the gateway (the paths as the ingress VirtualService routes them). */
export function gatewayLinks(gatewayUrl: string, paths = { getMultiple: '/web-api/v1/getmultiple', swaggerUi: '/openapi/ui' }): MeshLink[] {
  const app = gatewayUrl.replace(/\/+$/, '');
  return [
    { label: 'App', url: `${app}/` },
    { label: 'getmultiple', url: `curl ${app}${paths.getMultiple}` },
    { label: 'Swagger UI', url: `${app}${paths.swaggerUi}` },
  ];
}

/** The 80/20 file a person applies first, for each way of routing (the Istio API or the Kubernetes Gateway API). */
export const TRAFFIC_EXAMPLE = { istio: 'istio/traffic/web-ingress-80-20.yaml', 'gateway-api': 'gateway-api/traffic/web-ingress-80-20.yaml' } as const;

/** The admin's pages and APIs, with `adminUrl` as given (pass it through forPeople() for printing). */
export function adminLinks(adminUrl: string, routing: keyof typeof TRAFFIC_EXAMPLE = 'istio'): MeshLink[] {
  const admin = adminUrl.replace(/\/+$/, '');
  return [
    { label: 'Traffic graph', url: `${admin}/graph` },
    { label: 'Traces', url: `${admin}/traces`, note: `Jaeger query API: ${admin}/api/traces?service=${EXAMPLE_TRACE_SERVICE}` },
    { label: 'Metrics', url: `${admin}/metrics`, note: `per workload: ${admin}/workloads/<name>/metrics` },
    { label: 'Endpoints', url: `${admin}/endpoints` },
    { label: 'Config', url: `${admin}/config`, note: `apply: curl -X POST '${admin}/config/apply?file=${TRAFFIC_EXAMPLE[routing]}'` },
  ];
}

/** `Label  URL   (note)` lines with the URLs in one column. */
export function formatLinks(links: MeshLink[], indent = '  '): string[] {
  const width = Math.max(...links.map((l) => l.label.length)) + 2;
  return links.map((l) => `${indent}${l.label.padEnd(width)}${l.url}${l.note ? `   (${l.note})` : ''}`);
}
