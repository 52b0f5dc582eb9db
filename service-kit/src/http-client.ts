// Tests compile this file through the @cns/* path mapping, outside service-kit's tsconfig, so the ambient
// declaration is referenced here rather than picked up by `include`.
// eslint-disable-next-line @typescript-eslint/triple-slash-reference
/// <reference path="./proxy-from-env.d.ts" />
import http from 'node:http';
import https from 'node:https';
import axios, { type AxiosInstance, type AxiosProxyConfig } from 'axios';
import { getProxyForUrl } from 'proxy-from-env';
import { currentRequestContext } from './context';
import { createJsonHttpAdapter } from './json-http-adapter';

export interface HttpClientOptions {
  /** e.g. `http://articles:8080` (the in-cluster name; a local mesh reaches it through `HTTP_PROXY`). */
  baseURL: string;
  /** Per-call timeout in milliseconds. */
  timeoutMs: number;
  /**
   * Calls on the wire to this upstream at once, those whose caller timed out included; a call beyond it fails at
   * once with code `UPSTREAM_OVERFLOW` (load shedding). Default: no limit. See json-http-adapter.ts.
   */
  maxInFlight?: number;
  /** How long a timed-out call may still finish and keep its connection (default 10 s). */
  lingerMs?: number;
}

/**
 * One keep-alive pool per process for every client: calls to the same upstream (or the same sidecar) reuse
 * their connections instead of paying a TCP handshake each. Idle sockets are closed after 30 s, well before
 * the servers' own 65 s keep-alive timeout, so a socket the other side is closing is not reused.
 * `keepAliveMsecs` is axios' own figure: its adapter calls `socket.setKeepAlive(true, 60_000)` on every request, and
 * the agent sets its `keepAliveMsecs` again when the socket goes back to the pool. With two different delays each
 * call re-armed TCP keep-alive twice (8 setsockopt syscalls per call, 48 per v1 getmultiple); with the same one
 * Node sees no change and makes none.
 */
const agentOptions = { keepAlive: true, keepAliveMsecs: 60_000, timeout: 30_000 };
const agents = {
  http: new http.Agent(agentOptions),
  https: new https.Agent(agentOptions),
};

/**
 * The proxy for `baseURL` from `HTTP_PROXY`/`HTTPS_PROXY`/`NO_PROXY` (proxy-from-env, the rules axios itself
 * applies), read once when the client is made. Left to axios, the environment is parsed again on every call;
 * a client has a single base URL, so one lookup gives the same answer. `false`: no proxy.
 */
export function proxyFor(baseURL: string): AxiosProxyConfig | false {
  const proxyUrl = getProxyForUrl(baseURL);
  if (!proxyUrl) return false;
  const url = new URL(proxyUrl);
  const protocol = url.protocol.replace(/:$/, '');
  return {
    protocol,
    host: url.hostname,
    port: url.port ? Number(url.port) : protocol === 'https' ? 443 : 80,
    ...(url.username ? { auth: { username: decodeURIComponent(url.username), password: decodeURIComponent(url.password) } } : {}),
  };
}

/**
 * An axios instance for calls to another service. It copies the current request's trace headers
 * (`x-request-id`, `traceparent`, `x-b3-*`, `end-user`, ...) onto every call, has a timeout after which the caller
 * gets ECONNABORTED while the exchange may finish on its connection, and optionally an in-flight limit. The proxy
 * (`HTTP_PROXY`/`NO_PROXY`, the local mesh's sidecar scheme) is resolved once, here; change the environment
 * and make a new client to change it.
 */
export function createHttpClient(options: HttpClientOptions): AxiosInstance {
  const client = axios.create({
    baseURL: options.baseURL,
    timeout: options.timeoutMs,
    proxy: proxyFor(options.baseURL),
    httpAgent: agents.http,
    httpsAgent: agents.https,
    // Callers look at the status themselves (404 from authors is an answer, not a failure).
    validateStatus: () => true,
    // Upstream bodies are small JSON; refuse anything absurd instead of buffering it.
    maxContentLength: 5 * 1024 * 1024,
    maxRedirects: 0,
    // The plain JSON exchanges on node:http (json-http-adapter.ts); anything else goes to axios' own http adapter.
    adapter: createJsonHttpAdapter({ maxInFlight: options.maxInFlight, lingerMs: options.lingerMs }),
  });
  // axios' defaults carry a `common` bucket and one per method; every call deep-copies and merges them (caseless,
  // key by key). One flat set with the same effect (axios' own Accept; transformRequest sets the JSON
  // Content-Type of a body) is merged in one pass.
  client.defaults.headers = { Accept: 'application/json, text/plain, */*' } as unknown as typeof client.defaults.headers;
  client.interceptors.request.use(
    (config) => {
      const context = currentRequestContext();
      if (context) config.headers.set(context.propagatedHeaders, false);
      return config;
    },
    undefined,
    // Nothing here waits: axios can run the interceptor in the same tick as the call.
    { synchronous: true },
  );
  return client;
}
