/**
 * The router of one request (Envoy's `source/common/router/router.cc`, `Filter`): route lookup, the weighted
 * destination, redirects and direct responses, the upstream request (rewrites, header operations, attempt count),
 * the shadow writer (mirror), timeouts and the retry state. Each try is an `UpstreamRequest` on an endpoint the
 * upstream layer (`./upstream/`) chose; the callee's inbound RBAC decision is made here per try (`./inbound.ts`).
 */
import type { Dispatcher } from 'undici';
import type { Readable } from 'node:stream';
import { hostMatches, isConnectErrorCode, stripPort } from '../istio';
import type { Authorizer } from './authorization';
import type { CompiledCluster, CompiledDestination, CompiledMeshConfig, CompiledRoute, RetryPolicy } from './config';
import { applyHeaderOps, applyRouteHeaderOps, joinedHeader, portOf, removeHeader } from './headers';
import { deniedAtDestination, RBAC_DENIED_HEADERS } from './inbound';
import { LOCAL_REPLY, OVERLOADED, RBAC_DENIED } from './local-reply';
import { redirectLocation } from './redirect';
import type { HttpStream } from './stream';
import { UpstreamRequest, type UpstreamCallbacks } from './upstream-request';
import { pickWeighted } from './weighted';
import type { AttemptOutcome, UpstreamCluster } from './upstream/cluster-manager';
import { cookieValue, generatedCookie, xxHash64, type HashPolicy } from './upstream/hashing';

/** Envoy's default retry back-off: jittered, 25 ms base, capped at 10× the base. */
const RETRY_BASE_MS = 25;
const RETRY_MAX_MS = 250;
const MESH_IDS: readonly string[] = ['mesh'];
const IGNORE = (): void => undefined;
/** The shadow's answer is ignored (fire and forget). */
const IGNORE_RESPONSE: Dispatcher.DispatchHandler = {
  onRequestStart() {},
  onResponseStart() {},
  onResponseData() {},
  onResponseEnd() {},
  onResponseError() {},
};

export function retryOnStatus(retry: RetryPolicy, status: number): boolean {
  if (retry.attempts <= 0) return false;
  if (retry.on5xx && status >= 500) return true;
  if (retry.onGatewayError && status >= 502 && status <= 504) return true;
  if (retry.onRetriable4xx && status === 409) return true;
  return retry.onCodes.has(status);
}

/**
 * Finds the route for the stream's request: the gateway's virtual hosts (after its server hosts), or this
 * sidecar's VirtualServices for the called host (the rules istiod gives this workload: config/proxy-routes.ts), on
 * the listener port, else Istio's default route to the Service. False when it answered itself.
 */
export function findRoute(stream: HttpStream, config: CompiledMeshConfig): boolean {
  const source = stream.proxy.source;
  const authority = stream.authority;
  let routes: CompiledRoute[] | null;
  let port: number;
  let gatewayIds: readonly string[];
  if (source.kind === 'gateway') {
    const table = config.gateway(source.gatewayName);
    const host = stripPort(authority);
    if (table.serverHosts && !table.serverHosts.some((pattern) => hostMatches(pattern, host))) {
      stream.noRoute();
      return false;
    }
    routes = table.virtualHosts.routesFor(host, table.port);
    port = table.port;
    gatewayIds = table.ids;
  } else {
    const service = config.resolveService(authority);
    const host = service?.fqdn ?? stripPort(authority);
    port = portOf(authority, 80);
    routes = config.sidecar(source.workload).routesFor(host, port);
    gatewayIds = MESH_IDS;
    if (!routes) {
      if (!service) {
        stream.localReply(502, `unknown mesh host '${authority}': the local mesh only routes to the Services in k8s/`, 'NR');
        return false;
      }
      // No VirtualService: Istio's default route to the Service, port from the authority when it has one.
      const hasPort = authority.lastIndexOf(':') > authority.lastIndexOf(']');
      const servicePort = hasPort ? port : service.ports.some((p) => p.port === 80) ? 80 : undefined;
      routes = [config.defaultRoute(service, servicePort)];
    }
  }
  if (!routes) {
    stream.noRoute();
    return false;
  }
  const view = (stream.view = {
    method: stream.req.method ?? 'GET',
    path: stream.path,
    rawQuery: stream.rawQuery,
    headers: stream.req.headers,
    authority,
    scheme: 'http',
    port,
    sourceLabels: stream.proxy.sourceLabels,
    gatewayIds,
  });
  for (const route of routes) {
    if (route.blocks === null) {
      stream.route = route;
      return true;
    }
    const block = route.blocks.find((b) => b.test(view));
    if (block) {
      stream.route = route;
      stream.block = block;
      return true;
    }
  }
  stream.noRoute();
  return false;
}

export class Router implements UpstreamCallbacks {
  private readonly route: CompiledRoute;
  /** The destination's cluster in the upstream layer, once the route is dispatched. */
  private upstream?: UpstreamCluster;
  private upstreamHeaders?: string[];
  private upstreamPath = '/';
  /** Where the x-envoy-attempt-count value sits in upstreamHeaders (rewritten for each retry). */
  private attemptCountAt = 0;
  private tries = 0;
  /** Endpoints tried: the first one alone until a retry needs the set (most requests make one try). */
  private firstTried?: string;
  private tried?: Set<string>;
  private attempt?: UpstreamRequest;
  private waitingForSlot?: () => void;
  /** consistentHash: the request's hash (computed once), and a Set-Cookie for a generated hash cookie. */
  private hash?: { value: bigint | undefined };
  private setCookie?: string;

  constructor(
    private readonly stream: HttpStream,
    private readonly authorizer: Authorizer | undefined,
  ) {
    this.route = stream.route!;
  }

  /**
   * Envoy picks the weighted cluster when it resolves the route, before the CORS and fault filters run, so
   * telemetry names the destination service even for aborted requests.
   */
  resolveDestination(): void {
    const route = this.route;
    if (route.kind === 'route') this.stream.destination = pickWeighted(route.destinations, route.totalWeight, this.stream.proxy.random);
  }

  /** The end of the filter chain: answer (redirect, direct response, NC/UH) or send the first try. */
  dispatch(): void {
    const stream = this.stream;
    const route = this.route;
    if (route.kind === 'redirect') return this.redirect();
    if (route.kind === 'direct') {
      const direct = route.direct!;
      return stream.reply(direct.status, direct.body, 'text/plain', stream.faultDelayed ? 'DI' : '-');
    }
    const destination = stream.destination;
    if (!destination) return stream.localReply(503, LOCAL_REPLY.noHealthyUpstream, 'UH');
    // Envoy's router finds no such cluster: 503 with an empty body, flag NC (router.cc, clusterNotFoundResponseCode).
    if (!destination.cluster.exists) return stream.reply(route.gatewaySemantics ? 500 : 503, Buffer.alloc(0), undefined, 'NC'); // Gateway API routes: 500
    this.upstream = stream.proxy.clusters.get(destination.cluster);
    this.buildUpstreamRequest(destination);
    if (route.mirror && (route.mirror.percent >= 100 || stream.proxy.random() * 100 < route.mirror.percent)) this.mirror(route.mirror.cluster);
    for (const m of route.mirrors ?? []) if (m.percent >= 100 || stream.proxy.random() * 100 < m.percent) this.mirror(m.cluster);
    if (route.timeoutMs) stream.later(route.timeoutMs, () => this.onRouteTimeout());
    this.nextAttempt();
  }

  private redirect(): void {
    const stream = this.stream;
    const redirect = this.route.redirect!;
    const headers = ['location', redirectLocation(stream, redirect), 'content-length', '0'];
    stream.cors?.encodeHeaders(headers);
    applyHeaderOps(headers, this.route.responseHeaders); // Envoy finalizes route response headers on redirects too
    stream.setServer(headers);
    stream.finish(redirect.code, stream.faultDelayed ? 'DI' : '-');
    stream.res.writeHead(redirect.code, headers).end();
  }

  private buildUpstreamRequest(destination: CompiledDestination): void {
    const stream = this.stream;
    const route = this.route;
    let authority = stream.authority;
    let path = stream.path;
    if (route.rewrite) {
      if (route.rewrite.authority !== undefined) authority = route.rewrite.authority;
      if (route.rewrite.uri !== undefined) {
        // Envoy prefix_rewrite: the matched prefix is replaced ("/" when the rule has no uri match, as Istio matches
        // prefix "/" then); an exact or regex match has the whole path replaced.
        const prefixLength = stream.block ? stream.block.uriPrefixLength : 1;
        if (route.gatewaySemantics && route.rewrite.uri === '/' && prefixLength !== undefined) {
          // istiod: regex `^<prefix>(/?)(.*)` → `/\2`, so removing the whole prefix leaves one `/`.
          path = `/${path.slice(prefixLength).replace(/^\//, '')}`;
        } else path = prefixLength !== undefined ? route.rewrite.uri + path.slice(prefixLength) : route.rewrite.uri;
        if (path === '') path = '/';
      } else if (route.rewrite.regex) {
        path = route.rewrite.regex(path);
      }
    }
    this.upstreamPath = stream.rawQuery ? `${path}?${stream.rawQuery}` : path;
    const headers = stream.forwardedHeaders(authority);
    applyRouteHeaderOps(headers, route.requestHeaders, destination.requestHeaders, route.destinationOpsAfterRoute);
    stream.trace?.inject(headers, this.upstreamPath);
    // Istio sets include_request_attempt_count on every outbound and gateway virtual host (proxy_headers.go), so
    // Envoy's router sets x-envoy-attempt-count on each try, over any value a header operation wrote.
    if (route.requestHeaders || destination.requestHeaders) removeHeader(headers, 'x-envoy-attempt-count');
    headers.push('x-envoy-attempt-count', '1');
    this.attemptCountAt = headers.length - 1;
    this.upstreamHeaders = headers;
  }

  /** The shadow writer: a fire-and-forget copy to the mirror cluster, Host `name-shadow[:port]`. */
  private mirror(cluster: CompiledCluster): void {
    const stream = this.stream;
    const upstream = stream.proxy.clusters.get(cluster);
    const endpoint = upstream.pick();
    if (!endpoint) return;
    const headers = [...this.upstreamHeaders!];
    removeHeader(headers, 'host');
    const authority = stream.authority;
    const colon = authority.lastIndexOf(':');
    headers.push('host', colon > 0 ? `${authority.slice(0, colon)}-shadow${authority.slice(colon)}` : `${authority}-shadow`);
    // The shadow streams the body alongside the primary request (Envoy's streaming shadows).
    const body: Readable | null = stream.body?.shadow() ?? null;
    try {
      upstream.httpPool(endpoint).dispatch({ path: this.upstreamPath, method: stream.view!.method, headers, body }, IGNORE_RESPONSE);
    } catch {
      // fire and forget
    }
  }

  /** Takes a circuit-breaker slot (at once, after the pending queue, or 503 UO) and starts a try. */
  private nextAttempt(): void {
    if (this.stream.done) return;
    const upstream = this.upstream!;
    if (!upstream.config.policy.limited) {
      // No connection-pool limits: the slot is granted at once (no pending-queue callback to allocate).
      upstream.acquire(IGNORE);
      return this.startAttempt(upstream);
    }
    const granted = (): void => {
      this.waitingForSlot = undefined;
      if (this.stream.done) return upstream.releaseSlot();
      this.stream.guard(() => this.startAttempt(upstream));
    };
    const result = upstream.acquire(granted);
    if (result === 'overflow') return this.stream.localReply(503, LOCAL_REPLY.overflow, 'UO', OVERLOADED);
    if (result === 'queued') this.waitingForSlot = granted;
    else this.startAttempt(upstream);
  }

  private startAttempt(upstream: UpstreamCluster): void {
    const stream = this.stream;
    const cluster = upstream.config;
    const hash = cluster.policy.hash ? (this.hash ??= { value: this.requestHash(cluster.policy.hash) }).value : undefined;
    const tried = this.tries > 0 ? (this.tried ??= new Set([this.firstTried!])) : undefined;
    const host = upstream.open(tried, hash);
    if (!host) return stream.localReply(503, LOCAL_REPLY.noHealthyUpstream, this.tries > 0 ? 'UH,URX' : 'UH');
    const endpoint = host.endpoint;
    this.tries++;
    if (tried) tried.add(endpoint.id);
    else this.firstTried = endpoint.id;
    const trace = stream.trace?.attempt(endpoint, cluster.key);
    const denied = deniedAtDestination(this.authorizer, endpoint, cluster, stream, this.upstreamHeaders!, this.upstreamPath, trace);
    if (denied !== undefined) {
      this.attempt = new UpstreamRequest(this, host, null, undefined, trace);
      return this.answerAsDestinationProxy(this.attempt, denied);
    }
    const body = stream.body?.forAttempt() ?? null;
    const requestBody = stream.body;
    const release = body && requestBody ? () => requestBody.release(body) : undefined;
    const attempt = (this.attempt = new UpstreamRequest(this, host, body, release, trace));
    const perTry = this.route.retry.perTryTimeoutMs;
    if (perTry) stream.later(perTry, () => this.onPerTryTimeout(attempt));
    if (this.tries > 1) this.upstreamHeaders![this.attemptCountAt] = String(this.tries);
    upstream.httpPool(endpoint).dispatch({ path: this.upstreamPath, method: stream.view!.method, headers: this.upstreamHeaders, body }, attempt);
  }

  /**
   * Envoy's RBAC filter on the callee's inbound listener answers 403 itself. To this (outbound) proxy that is an
   * ordinary upstream answer, so it goes through the same path: retry policy, outlier detection, header ops.
   */
  private answerAsDestinationProxy(request: UpstreamRequest, policy: string): void {
    this.stream.responseDetails = `rbac_access_denied_matched_policy[${policy}]`;
    request.status = 403;
    this.onUpstreamHeaders(request, 403, RBAC_DENIED_HEADERS());
    // Retried (the policy lists 403) or the answer could not be written: the try is over already.
    if (request.cancelled || this.stream.done) return;
    this.onUpstreamData(request, Buffer.from(RBAC_DENIED));
    request.settle();
    this.onUpstreamEnd();
  }

  /** The value Envoy's hash policy hashes for this request; a missing hash cookie is generated when it has a ttl. */
  private requestHash(policy: HashPolicy): bigint | undefined {
    const req = this.stream.req;
    let value: string | undefined;
    switch (policy.source) {
      case 'header':
        value = joinedHeader(req.headers, policy.name);
        break;
      case 'query':
        value = new URLSearchParams(this.stream.rawQuery).get(policy.name) ?? undefined;
        break;
      case 'sourceIp':
        value = req.socket.remoteAddress;
        break;
      case 'cookie': {
        value = cookieValue(req.headers.cookie, policy.name);
        if (value === undefined && policy.cookieTtlSeconds !== undefined) {
          const socket = req.socket;
          const cookie = generatedCookie(policy, `${socket.remoteAddress}:${socket.remotePort}`, `${socket.localAddress}:${socket.localPort}`);
          value = cookie?.value;
          this.setCookie = cookie?.header;
        }
        break;
      }
    }
    return value === undefined ? undefined : xxHash64(value);
  }

  private retriesLeft(): boolean {
    // A body that outgrew the buffer cannot be replayed: Envoy drops the retry policy for the request.
    return this.tries <= this.route.retry.attempts && !this.stream.body?.overflowed;
  }

  private report(attempt: UpstreamRequest, outcome: AttemptOutcome): void {
    attempt.host.report(outcome);
  }

  /** Retries after Envoy's jittered back-off, or answers with the final failure. */
  private retryOr(fail: () => void, retriable: boolean): void {
    if (retriable && this.retriesLeft()) {
      const cap = Math.min(RETRY_MAX_MS, RETRY_BASE_MS * 2 ** (this.tries - 1));
      this.stream.later(Math.floor(this.stream.proxy.random() * cap), () => this.nextAttempt());
      return;
    }
    fail();
  }

  private exhaustedFlag(flag: string): string {
    return this.tries > 1 ? `${flag},URX` : flag;
  }

  /** `headers`: the upstream's, lower-case, without hop-by-hop headers and `server`. */
  onUpstreamHeaders(attempt: UpstreamRequest, status: number, headers: string[]): void {
    const stream = this.stream;
    if (stream.done) return attempt.cancel();
    const route = this.route;
    this.report(attempt, status >= 500 ? (status >= 502 && status <= 504 ? 'gatewayError' : 'error5xx') : 'success');
    const retriable = retryOnStatus(route.retry, status);
    if (retriable && this.retriesLeft()) {
      // The destination's sidecar saw (and reports) this try even though the client never will.
      (stream.retriedTries ??= []).push({ destination: attempt.endpoint.workload, responseCode: status, durationMs: performance.now() - attempt.startedAt });
      attempt.cancel();
      return this.retryOr(IGNORE, true);
    }
    if (retriable && this.tries > 1) stream.responseFlags = 'URX';
    else if (stream.faultDelayed) stream.responseFlags = 'DI';
    stream.answeredBy = attempt.endpoint;
    stream.answerStartedAt = attempt.startedAt;
    headers.push('x-envoy-upstream-service-time', String(Math.round(performance.now() - attempt.startedAt)));
    if (this.setCookie) headers.push('set-cookie', this.setCookie);
    stream.cors?.encodeHeaders(headers);
    const destination = stream.destination!;
    if (route.responseHeaders || destination.responseHeaders) {
      applyRouteHeaderOps(headers, route.responseHeaders, destination.responseHeaders, route.destinationOpsAfterRoute);
      stream.setServer(headers);
    } else {
      // The upstream's server header was dropped with the hop-by-hop ones and nothing else writes one: no second scan.
      headers.push('server', stream.proxy.serverName);
    }
    try {
      stream.res.writeHead(status, headers);
    } catch {
      // Node rejects header values it cannot send (control characters from an upstream or a header op).
      attempt.cancel();
      return stream.localReply(502, 'upstream response has a header that cannot be forwarded', 'UPE');
    }
    stream.statusSent = status;
  }

  /** Streams a body chunk; false pauses the upstream socket until the client has drained. */
  onUpstreamData(attempt: UpstreamRequest, chunk: Buffer): boolean {
    const stream = this.stream;
    if (stream.done) return true;
    stream.responseBodyBytes += chunk.length;
    if (stream.res.write(chunk)) return true;
    stream.res.once('drain', attempt.resume);
    return false;
  }

  onUpstreamEnd(): void {
    const stream = this.stream;
    if (stream.done) return;
    stream.finish(stream.statusSent, stream.responseFlags);
    stream.res.end();
  }

  onUpstreamError(attempt: UpstreamRequest, error: Error): void {
    const stream = this.stream;
    if (stream.done) return;
    if (stream.statusSent) {
      // The response already started: all the proxy can do is cut it, as Envoy resets the stream.
      stream.finish(stream.statusSent, 'UR');
      stream.res.destroy();
      return;
    }
    const code = (error as { code?: string }).code ?? '';
    const retry = this.route.retry;
    this.report(attempt, 'localFailure');
    if (isConnectErrorCode(code)) {
      this.retryOr(
        () => stream.localReply(503, LOCAL_REPLY.connectFailure, this.exhaustedFlag('UF')),
        retry.onConnectFailure || retry.on5xx || retry.onGatewayError,
      );
    } else {
      this.retryOr(() => stream.localReply(503, LOCAL_REPLY.reset, this.exhaustedFlag('UC')), retry.onReset || retry.on5xx);
    }
  }

  private onPerTryTimeout(attempt: UpstreamRequest): void {
    if (this.stream.done || attempt.settled || attempt !== this.attempt || this.stream.statusSent) return;
    attempt.cancel();
    this.report(attempt, 'localFailure');
    const retry = this.route.retry;
    this.retryOr(() => this.stream.localReply(504, LOCAL_REPLY.timeout, this.exhaustedFlag('UT')), retry.on5xx || retry.onGatewayError || retry.onReset);
  }

  private onRouteTimeout(): void {
    const stream = this.stream;
    if (stream.done) return;
    this.attempt?.cancel();
    if (stream.statusSent) {
      stream.finish(stream.statusSent, 'UT');
      stream.res.destroy();
      return;
    }
    stream.localReply(504, LOCAL_REPLY.timeout, 'UT');
  }

  /**
   * Envoy gives up retries and mirrors when the body outgrows the buffer; if that happens while a retry waits for
   * its back-off (no try in flight), the request cannot go on: 507 (router.cc, Filter::decodeData).
   */
  onBodyOverflow(): void {
    if (this.stream.done || this.stream.statusSent) return;
    const inFlight = this.attempt !== undefined && !this.attempt.settled;
    if (!inFlight && this.tries > 0) this.stream.localReply(507, 'exceeded request buffer limit while retrying upstream', '-');
  }

  /** The stream ended (answered, timed out, client gone): abandon the try in flight and any queue wait. */
  onStreamEnd(flags: string): void {
    if (this.attempt && !this.attempt.settled) this.attempt.cancel(flags);
    if (this.waitingForSlot) this.upstream!.cancelWaiting(this.waitingForSlot);
  }
}
