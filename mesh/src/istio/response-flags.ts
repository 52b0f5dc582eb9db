/**
 * Which Envoy response flag an upstream socket error earns (envoy source/common/stream_info/utility.cc
 * ResponseFlagUtils): a connection that never came up is UF (upstream connection failure), one that broke after
 * connecting is UC (upstream connection termination).
 */

/** Node/undici error codes of a connection that never came up. */
const CONNECT_ERROR_CODES: ReadonlySet<string> = new Set([
  'ECONNREFUSED',
  'UND_ERR_CONNECT_TIMEOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EADDRNOTAVAIL',
]);

/** Whether an error code means the upstream connection failed, not that it broke after connecting. */
export function isConnectErrorCode(code: string | undefined): boolean {
  return code !== undefined && CONNECT_ERROR_CODES.has(code);
}

/** `UF` for a connect failure, else `UC`. */
export function upstreamFailureFlag(code: string | undefined): 'UF' | 'UC' {
  return isConnectErrorCode(code) ? 'UF' : 'UC';
}
