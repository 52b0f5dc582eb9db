/**
 * Who may talk to the mesh admin server. It listens on loopback, but a web page open in the developer's browser
 * can still reach loopback: through DNS rebinding (a foreign name that resolves to 127.0.0.1, seen in `Host`) or
 * with a cross-site request that needs no CORS preflight (a form POST, a `no-cors` fetch). So every request must
 * name a loopback host, and a state-changing one must not come from another origin or carry a body type a form
 * can send. The CLI, `@kubernetes/client-node` and `kubectl --server` send none of that.
 */
import type { IncomingMessage } from 'node:http';
import net from 'node:net';

export function isLoopback(address: string | undefined): boolean {
  if (!address) return false;
  return address === '::1' || address.startsWith('127.') || address.startsWith('::ffff:127.');
}

/** `Host` header values that name this machine's loopback: localhost, 127.0.0.0/8, [::1], each with an optional port. */
export function isLoopbackHost(host: string | undefined): boolean {
  const match = /^(\[[^\]]+\]|[^:[\]]+)(?::(\d{1,5}))?$/.exec(host ?? '');
  if (!match) return false;
  const name = match[1].toLowerCase();
  if (name === 'localhost') return true;
  if (name.startsWith('[')) return net.isIPv6(name.slice(1, -1)) && shortestV6(name.slice(1, -1)) === '::1';
  return net.isIPv4(name) && name.startsWith('127.');
}

function shortestV6(address: string): string {
  // The URL parser writes every IPv6 address in its shortest form ([0:0::1] becomes [::1]).
  return new URL(`http://[${address}]/`).hostname.slice(1, -1);
}

/** Methods that change state; GET/HEAD/OPTIONS only read. */
const STATE_CHANGING = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/** The body types an HTML form or a `no-cors` fetch can send cross-site without a CORS preflight. */
const SIMPLE_BODY_TYPES = new Set(['application/x-www-form-urlencoded', 'multipart/form-data', 'text/plain']);

function sameOrigin(origin: string, host: string): boolean {
  try {
    return new URL(origin).origin === new URL(`http://${host}`).origin;
  } catch {
    return false; // "null" (sandboxed frames, file://) and anything unparsable
  }
}

/** Why the admin server refuses this request (answered with 403), or undefined when it may go on. */
export function refusalReason(req: IncomingMessage): string | undefined {
  if (!isLoopback(req.socket.remoteAddress)) return 'the mesh admin API answers loopback clients only';
  const host = req.headers.host;
  if (!isLoopbackHost(host)) {
    return `the mesh admin API answers only requests for a loopback host (localhost, 127.0.0.1, [::1]), not Host "${host ?? ''}"`;
  }
  if (!STATE_CHANGING.has(req.method ?? 'GET')) return undefined;
  const origin = req.headers.origin;
  if (origin !== undefined && !sameOrigin(origin, host!)) return `changes are refused from a web page of another origin (Origin "${origin}")`;
  const site = req.headers['sec-fetch-site'];
  if (site === 'cross-site' || site === 'same-site') return `changes are refused from a web page of another origin (Sec-Fetch-Site: ${site})`;
  const bodyType = (req.headers['content-type'] ?? '').split(';')[0].trim().toLowerCase();
  if (SIMPLE_BODY_TYPES.has(bodyType)) {
    return `changes are refused with content type "${bodyType}" (a browser form can send it): send application/yaml or application/json`;
  }
  return undefined;
}
