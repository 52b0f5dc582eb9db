/**
 * What the callee's inbound sidecar decides about a request this proxy forwards: its AuthorizationPolicies (Envoy's
 * RBAC filter, `source/extensions/filters/http/rbac/rbac_filter.cc`), on the request as forwarded (rewritten path and
 * host, header operations applied), with the caller's mTLS identity unless PeerAuthentication disables it.
 */
import type { Endpoint } from '../model';
import { peerPrincipal, type Authorizer } from './authorization';
import type { CompiledCluster } from './config';
import { RBAC_DENIED } from './local-reply';
import type { HttpStream } from './stream';
import type { AttemptTrace } from './tracing';

/** The matched policy id when the callee's policies deny the request, else undefined. */
export function deniedAtDestination(
  authorizer: Authorizer | undefined,
  endpoint: Endpoint,
  cluster: CompiledCluster,
  stream: HttpStream,
  headers: readonly string[],
  upstreamPath: string,
  trace: AttemptTrace | undefined,
): string | undefined {
  const target = endpoint.workload;
  if (!authorizer?.enforces(target)) return undefined;
  const header = (name: string): string | undefined => {
    let value: string | undefined;
    for (let i = 0; i < headers.length; i += 2) {
      if (headers[i].toLowerCase() === name) value = value === undefined ? headers[i + 1] : `${value},${headers[i + 1]}`;
    }
    return value;
  };
  const q = upstreamPath.indexOf('?');
  const path = q < 0 ? upstreamPath : upstreamPath.slice(0, q);
  const port = cluster.podPort(target);
  const principal = peerPrincipal(authorizer, target, port, stream.proxy.principal);
  const method = stream.view?.method ?? stream.req.method ?? 'GET';
  const decision = authorizer.check(target, { principal, method, path, host: header('host') ?? '', port, header });
  if (decision.shadow) {
    // istio.io/dry-run policies: counted as Envoy's shadow rules and tagged on the callee's span, never enforced.
    stream.proxy.telemetry.rbacShadow?.({ workload: target, pod: endpoint.id, port, protocol: 'http', results: decision.shadow });
    trace?.dryRun?.(decision.shadow);
  }
  return decision.allowed ? undefined : decision.policy;
}

/** The header block of the callee sidecar's 403 as the caller's proxy receives it (its `server` is dropped there). */
export function RBAC_DENIED_HEADERS(): string[] {
  return ['content-length', String(Buffer.byteLength(RBAC_DENIED)), 'content-type', 'text/plain', 'date', new Date().toUTCString()];
}
