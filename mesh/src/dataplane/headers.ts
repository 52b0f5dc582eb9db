/**
 * Header lists and header operations of the HTTP data plane: what the connection manager strips or never trusts, and
 * Istio's route/destination header operations applied in Envoy's order. Headers travel as flat [name, value, ...] lists.
 */
import type { IncomingHttpHeaders } from 'node:http';
import type { CompiledHeaderOps } from './config';

/** Headers that describe one connection, never forwarded (RFC 9110 §7.6.1), plus those the proxy sets itself. */
export const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
]);

/**
 * Envoy's control headers a caller may not set: the connection manager removes them from every request it does not
 * trust as internal (`ConnectionManagerUtility::cleanInternalHeaders`; with Envoy >= 1.36's empty internal address
 * list and Istio's settings that is every request, at the gateway and at sidecars), so a client cannot ask the mesh
 * for retries or timeouts and the app never sees them. `x-envoy-internal` is always removed first.
 */
export const UNTRUSTED_ENVOY_HEADERS = new Set([
  'x-envoy-internal',
  'x-envoy-retriable-status-codes',
  'x-envoy-retriable-header-names',
  'x-envoy-retry-on',
  'x-envoy-retry-grpc-on',
  'x-envoy-max-retries',
  'x-envoy-upstream-alt-stat-name',
  'x-envoy-upstream-rq-timeout-ms',
  'x-envoy-upstream-rq-per-try-timeout-ms',
  'x-envoy-upstream-rq-timeout-alt-response',
  'x-envoy-expected-rq-timeout-ms',
  'x-envoy-force-trace',
  'x-envoy-ip-tags',
  'x-envoy-original-url',
  'x-envoy-hedge-on-per-try-timeout',
]);
/** Removed as well on an edge request (the gateway, `use_remote_address`); it then sets x-envoy-external-address itself. */
export const EDGE_ENVOY_HEADERS = new Set([
  'x-envoy-decorator-operation',
  'x-envoy-downstream-service-cluster',
  'x-envoy-downstream-service-node',
  'x-envoy-external-address',
  'x-request-id',
]);

/** Route- and destination-level operations in Envoy's order (see `CompiledRoute.destinationOpsAfterRoute`). */
export function applyRouteHeaderOps(
  headers: string[],
  route: CompiledHeaderOps | undefined,
  destination: CompiledHeaderOps | undefined,
  destinationAfterRoute: boolean,
): void {
  if (!destinationAfterRoute) {
    applyHeaderOps(headers, destination);
    applyHeaderOps(headers, route);
    return;
  }
  if (!route || !destination) return applyHeaderOps(headers, route ?? destination);
  // One Envoy header parser: every removal first, then the route's writes, then the destination's.
  for (const name of [...route.remove, ...destination.remove]) removeHeader(headers, name);
  applyHeaderOps(headers, { ...route, remove: [] });
  applyHeaderOps(headers, { ...destination, remove: [] });
}

export function applyHeaderOps(headers: string[], ops: CompiledHeaderOps | undefined): void {
  if (!ops) return;
  for (const name of ops.remove) removeHeader(headers, name);
  for (const [name, value] of ops.set) {
    removeHeader(headers, name);
    headers.push(name, value);
  }
  for (const [name, value] of ops.add) headers.push(name, value);
}

/** Removes a header from a flat [name, value, ...] list; `name` is lower-case. */
export function removeHeader(headers: string[], name: string): void {
  for (let i = headers.length - 2; i >= 0; i -= 2) {
    if (headers[i].toLowerCase() === name) headers.splice(i, 2);
  }
}

/** A request header's values joined with ',' (how Envoy's header matchers see repeated headers). */
export function joinedHeader(headers: IncomingHttpHeaders, name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value.join(',') : value;
}

export function firstHeader(headers: IncomingHttpHeaders, name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/** Removes `.`/`..` segments (also percent-encoded ones) the way Envoy's normalize_path does. */
export function normalizePath(path: string): string {
  try {
    return new URL(path.replace(/%2e/gi, '.'), 'http://mesh.local').pathname;
  } catch {
    return path;
  }
}

export function portOf(authority: string, fallback: number): number {
  const colon = authority.lastIndexOf(':');
  if (colon < 0 || authority.endsWith(']')) return fallback;
  const port = Number(authority.slice(colon + 1));
  return Number.isInteger(port) && port > 0 ? port : fallback;
}
