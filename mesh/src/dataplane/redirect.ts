/**
 * The Location of a redirect as Istio configures Envoy's redirect (route.go ApplyRedirect) and Envoy builds it
 * (source/common/http/utility.cc, Utility::newUri and processRequestHost).
 */
import type { CompiledRoute } from './config';
import { firstHeader } from './headers';
import type { HttpStream } from './stream';

export function redirectLocation(stream: HttpStream, redirect: NonNullable<CompiledRoute['redirect']>): string {
  const view = stream.view!;
  const scheme = redirect.scheme ?? view.scheme;
  // ApplyRedirect: derivePort FROM_REQUEST_PORT is the listener's port; an explicit :80 with http or :443 with
  // https is dropped (the local listeners are plain HTTP, so no scheme means http).
  let port = redirect.fromRequestPort ? view.port : redirect.port || undefined;
  if ((port === 80 && scheme === 'http') || (port === 443 && scheme === 'https')) port = undefined;
  // newUri: a host_redirect is used as given; otherwise the request's host loses its port when a port is set or
  // when the scheme changes from the one the request came with (x-forwarded-proto) and the port was its default.
  let host = redirect.authority;
  if (!host) {
    host = stream.authority;
    const requestPort = host.lastIndexOf(':') > host.lastIndexOf(']') ? host.slice(host.lastIndexOf(':')) : undefined;
    const requestScheme = forwardedProto(stream);
    const defaultPort = requestScheme === 'https' ? ':443' : requestScheme === 'http' ? ':80' : undefined;
    if (requestPort !== undefined && (port !== undefined || (scheme !== requestScheme && requestPort === defaultPort))) {
      host = host.slice(0, -requestPort.length);
    }
  }
  // Envoy prefix_rewrite replaces the matched prefix ("/" without a uri match); path_redirect the whole path and,
  // without a query of its own, keeps the request's query string.
  let target = redirect.uri ?? view.path;
  if (redirect.prefixRewrite !== undefined && redirect.uri === undefined) {
    target = redirect.prefixRewrite + view.path.slice(stream.block ? (stream.block.uriPrefixLength ?? 0) : 1);
  }
  if (!target.startsWith('/')) target = `/${target}`;
  if (view.rawQuery && !target.includes('?')) target = `${target}?${view.rawQuery}`;
  return `${scheme}://${host}${port === undefined ? '' : `:${port}`}${target}`;
}

/** The x-forwarded-proto Envoy sees: the gateway overwrites the client's (no trusted hops), a sidecar keeps it. */
function forwardedProto(stream: HttpStream): string {
  if (stream.proxy.edge) return 'http';
  return firstHeader(stream.req.headers, 'x-forwarded-proto') ?? 'http';
}
