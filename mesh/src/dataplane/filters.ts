/**
 * The HTTP filters that run before the router, as Envoy's filter chain: the gateway's own RBAC filter (listener
 * level, before routing) and, compiled once per route, its CORS filter (`cors_filter.cc`) and fault filter
 * (`fault_filter.cc`). A route with neither has an empty chain and pays nothing for them.
 */
import { ROOT_NAMESPACE } from '../istio';
import { INGRESS_GATEWAY_WORKLOAD } from '../model';
import type { PolicyTarget } from './authorization';
import type { CompiledCors, CompiledMeshConfig, CompiledRoute } from './config';
import { firstHeader, joinedHeader, removeHeader } from './headers';
import { LOCAL_REPLY, RBAC_DENIED } from './local-reply';
import type { CorsEncoder, HttpStream } from './stream';

/** A decoder filter: calls `next` to continue the chain, or answers (or schedules `next`) itself. */
export type HttpFilter = (stream: HttpStream, next: () => void) => void;

export const GATEWAY_LABELS: Readonly<Record<string, string>> = INGRESS_GATEWAY_WORKLOAD.labels;
/** The ingress gateway pod as AuthorizationPolicies select it (it runs in istio-system). */
export const GATEWAY_TARGET: PolicyTarget = { namespace: ROOT_NAMESPACE, labels: GATEWAY_LABELS };
/**
 * The port the gateway pod receives a Gateway server port on, which a gateway AuthorizationPolicy's `ports` /
 * `destination.port` see and its HTTP connection manager's stat prefix names (`outbound_0.0.0.0_<port>`,
 * pilot/pkg/networking/core/gateway.go: traffic direction + listener name). `istioctl install --set profile=demo`
 * (this repository's install) gives istio-ingressgateway's Service `80 → targetPort 8080`, `443 → 8443`
 * (manifests/charts/gateways/istio-ingress/values.yaml) and its listener binds the target port; a Gateway API gateway's
 * Service has the listener ports as they are (gatewaycommon/deploymentcontroller.go extractServicePorts: no targetPort).
 */
function gatewayPodPort(stream: HttpStream, config: CompiledMeshConfig): number {
  const source = stream.proxy.source;
  const port = source.kind === 'gateway' ? config.gateway(source.gatewayName).port : 80;
  if (stream.proxy.gateway !== INGRESS_GATEWAY_WORKLOAD) return port;
  return port === 80 ? 8080 : port === 443 ? 8443 : port;
}

/**
 * The gateway's RBAC filter: policies selecting the ingress gateway itself, checked before routing for callers from
 * outside the mesh (no principal). True when it denied (403 answered).
 */
export function gatewayRbacDenied(stream: HttpStream, config: CompiledMeshConfig): boolean {
  const authorizer = config.authorization;
  const target = stream.proxy.gatewayTarget;
  if (!authorizer?.enforces(target)) return false;
  const req = stream.req;
  const podPort = gatewayPodPort(stream, config);
  const decision = authorizer.check(target, {
    principal: undefined,
    method: req.method ?? 'GET',
    path: stream.path,
    host: stream.authority,
    port: podPort,
    header: (name) => joinedHeader(req.headers, name),
  });
  if (decision.shadow) {
    const gateway = stream.proxy.gateway;
    const event = { workload: gateway, pod: gateway.name, port: podPort, protocol: 'http' as const, direction: 'outbound' as const };
    stream.proxy.telemetry.rbacShadow?.({ ...event, results: decision.shadow });
  }
  if (decision.allowed) return false;
  stream.responseDetails = `rbac_access_denied_matched_policy[${decision.policy}]`;
  stream.reply(403, Buffer.from(RBAC_DENIED), 'text/plain', '-');
  return true;
}

const chains = new WeakMap<CompiledRoute, readonly HttpFilter[]>();
const EMPTY: readonly HttpFilter[] = [];

/** The route's filter chain, compiled on first use (routes live as long as their config). */
export function filterChain(route: CompiledRoute): readonly HttpFilter[] {
  if (!route.cors && !route.fault) return EMPTY;
  let chain = chains.get(route);
  if (!chain) {
    const filters: HttpFilter[] = [];
    if (route.cors) filters.push(corsFilter(route.cors));
    if (route.fault) filters.push(faultFilter(route.fault));
    chain = filters;
    chains.set(route, chain);
  }
  return chain;
}

/**
 * Envoy's CORS filter (cors_filter.cc, decodeHeaders): a non-empty Origin that a matcher accepts (or a matcher that
 * accepts the literal `*`) is latched for the response headers; a preflight (OPTIONS with a non-empty
 * Access-Control-Request-Method) is answered here, unless its origin is not allowed and unmatched preflights are
 * forwarded (Istio's default), in which case it goes on to the upstream like any request.
 */
function corsFilter(cors: CompiledCors): HttpFilter {
  return (stream, next) => {
    const origin = firstHeader(stream.req.headers, 'origin');
    if (!origin) return next();
    const allowed = cors.allowOrigins.some((test) => test('*') || test(origin));
    if (allowed) stream.cors = new CorsHeaders(cors, origin);
    const requestMethod = firstHeader(stream.req.headers, 'access-control-request-method');
    if (stream.view!.method !== 'OPTIONS' || !requestMethod) return next();
    if (!allowed && cors.forwardNotMatchingPreflights) return next();
    corsPreflight(stream, cors, allowed ? origin : undefined, requestMethod);
  };
}

function corsPreflight(stream: HttpStream, cors: CompiledCors, origin: string | undefined, requestMethod: string): void {
  const headers: string[] = [];
  if (origin !== undefined) headers.push('access-control-allow-origin', origin);
  if (cors.allowCredentials) headers.push('access-control-allow-credentials', 'true');
  // `*` echoes what the preflight asks for (Envoy sets the request's Access-Control-Request-Method/-Headers).
  if (cors.allowMethods) headers.push('access-control-allow-methods', cors.allowMethods === '*' ? requestMethod : cors.allowMethods);
  if (cors.allowHeaders) {
    const asked = firstHeader(stream.req.headers, 'access-control-request-headers') ?? '';
    headers.push('access-control-allow-headers', cors.allowHeaders === '*' ? asked : cors.allowHeaders);
  }
  if (cors.maxAgeSeconds) headers.push('access-control-max-age', cors.maxAgeSeconds);
  headers.push('content-length', '0');
  stream.setServer(headers);
  stream.finish(200, '-');
  stream.res.writeHead(200, headers).end();
}

/** Envoy's CORS encodeHeaders: sets (replaces an upstream's) allow-origin, credentials and expose-headers. */
class CorsHeaders implements CorsEncoder {
  constructor(
    private readonly cors: CompiledCors,
    private readonly origin: string,
  ) {}

  encodeHeaders(headers: string[]): void {
    const cors = this.cors;
    removeHeader(headers, 'access-control-allow-origin');
    headers.push('access-control-allow-origin', this.origin);
    if (cors.allowCredentials) {
      removeHeader(headers, 'access-control-allow-credentials');
      headers.push('access-control-allow-credentials', 'true');
    }
    if (cors.exposeHeaders) {
      removeHeader(headers, 'access-control-expose-headers');
      headers.push('access-control-expose-headers', cors.exposeHeaders);
    }
  }
}

/**
 * Envoy's fault filter: independent draws, delay first; the delay runs before the router, so the route timeout
 * starts after it. An abort answers with the configured status (FI, DI,FI after a delay).
 */
function faultFilter(fault: NonNullable<CompiledRoute['fault']>): HttpFilter {
  return (stream, next) => {
    const random = stream.proxy.random;
    const delay = fault.delayMs > 0 && fault.delayPercent > 0 && random() * 100 < fault.delayPercent;
    const abort = fault.abortPercent > 0 && random() * 100 < fault.abortPercent;
    const then = (): void => (abort ? stream.localReply(fault.abortStatus, LOCAL_REPLY.faultAbort, stream.faultDelayed ? 'DI,FI' : 'FI') : next());
    if (!delay) return then();
    stream.faultDelayed = true;
    stream.later(fault.delayMs, then);
  };
}
