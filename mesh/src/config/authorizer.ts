/**
 * What the data plane asks the callee's AuthorizationPolicies and PeerAuthentications: the interface of the
 * compiled policies in the route model. dataplane/authorization.ts compiles them (Envoy's RBAC filters as istiod
 * generates them); the route model only carries the result.
 */
import type { MutualTlsMode, RbacShadowResult } from '../model';

/** The workload a policy may select: the callee (or the gateway itself). */
export interface PolicyTarget {
  namespace: string;
  labels: Readonly<Record<string, string>>;
}

/** The request as the enforcing proxy sees it. */
export interface AuthorizationRequest {
  /** The peer's principal from its mTLS certificate; undefined on a plaintext connection (mTLS DISABLE). */
  principal: string | undefined;
  method: string;
  /** Path without the query string. */
  path: string;
  /** Host / :authority as received. */
  host: string;
  /** The port the workload receives on (Istio's destination.port: the container port). */
  port: number;
  /** Values of a request header (lower-case name), joined with ',' as Envoy does; undefined when absent. */
  header(name: string): string | undefined;
}

/**
 * A TCP connection as the callee's network RBAC filter sees it: only L4 attributes (the peer's principal and the
 * port); there is no method, path, host or header on a plain TCP connection.
 */
export interface AuthorizationConnection {
  principal: string | undefined;
  /** The port the workload receives on (the Service's targetPort). */
  port: number;
}

/**
 * What the RBAC filters decided: `policy` is what Envoy writes into rbac_access_denied_matched_policy[...], a rule
 * id or `none` (no ALLOW matched). `shadow` holds the dry-run policies' verdicts, present only when some apply.
 */
export type AuthorizationDecision = ({ allowed: true } | { allowed: false; policy: string }) & { shadow?: RbacShadowResult[] };

export interface Authorizer {
  /** Whether any CUSTOM/DENY/ALLOW policy selects the workload (nothing to check otherwise). */
  enforces(target: PolicyTarget): boolean;
  check(target: PolicyTarget, request: AuthorizationRequest): AuthorizationDecision;
  /** The same policies as istiod writes them into the network RBAC filter of a TCP port (see `compileRule`). */
  checkConnection(target: PolicyTarget, connection: AuthorizationConnection): AuthorizationDecision;
  /** PeerAuthentication mode in force for the workload's port (workload > namespace > mesh; default PERMISSIVE). */
  mtlsMode(target: PolicyTarget, port: number): MutualTlsMode;
}

/** No policies at all (the `--no-istio` mode and configs without security objects). */
export const ALLOW_ALL: Authorizer = {
  enforces: () => false,
  check: () => ({ allowed: true }),
  checkConnection: () => ({ allowed: true }),
  mtlsMode: () => 'PERMISSIVE',
};
