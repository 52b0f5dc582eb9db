/** The texts and marks of the replies Envoy makes itself (local replies): exactly Envoy's text, no trailing newline. */
export const LOCAL_REPLY = {
  noHealthyUpstream: 'no healthy upstream',
  faultAbort: 'fault filter abort',
  timeout: 'upstream request timeout',
  connectFailure: 'upstream connect error or disconnect/reset before headers. reset reason: connection failure',
  reset: 'upstream connect error or disconnect/reset before headers. reset reason: connection termination',
  overflow: 'upstream connect error or disconnect/reset before headers. reset reason: overflow',
} as const;

/** Envoy's RBAC filter answer (no trailing newline: Envoy sends the text as is). */
export const RBAC_DENIED = 'RBAC: access denied';

/** Envoy's router marks circuit-breaker 503s so callers can tell overload from an upstream failure. */
export const OVERLOADED: readonly string[] = ['x-envoy-overloaded', 'true'];
