/**
 * The HTTP connection manager of one proxy (Envoy's `source/common/http/conn_manager_impl.cc` and
 * `conn_manager_utility.cc`): the listener's identity, one `HttpStream` per request that parses the request target,
 * normalises the path, sanitises the request headers (hop-by-hop, untrusted `x-envoy-*`, request id, forwarded-for),
 * runs the listener's and the route's filter chain (`./filters.ts`) and hands the request to the router
 * (`./router.ts`). The stream owns the downstream response: local replies, the `server` header, and the access record
 * emitted to telemetry once the answer is handed to the socket.
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { INGRESS_GATEWAY_WORKLOAD, type Endpoint, type RequestRecord, type TelemetrySink, type TrafficSource, type UpstreamTry, type Workload } from '../model';
import { GATEWAY_PRINCIPAL, workloadPrincipal } from '../istio';
import type { CompiledDestination, CompiledHeaderOps, CompiledMeshConfig, CompiledRoute, Feature } from './config';
import type { PolicyTarget } from './authorization';
import { filterChain, gatewayRbacDenied, GATEWAY_LABELS, GATEWAY_TARGET } from './filters';
import { applyHeaderOps, EDGE_ENVOY_HEADERS, HOP_BY_HOP, normalizePath, removeHeader, UNTRUSTED_ENVOY_HEADERS } from './headers';
import type { CompiledMatchBlock, RequestView } from '../config/match';
import { RequestBody } from './request-body';
import { findRoute, Router } from './router';
import type { CorsEncoder, HttpStream, ProxyInfo } from './stream';
import type { DataPlaneTracing, ExchangeTrace } from './tracing';
import { ClusterManager, type EndpointSource } from './upstream/cluster-manager';

export interface DataPlane {
  handle(req: IncomingMessage, res: ServerResponse): void;
  /** The proxy's upstream layer (Envoy's cluster manager); the sidecar's TCP listeners share it (./tcp-proxy.ts). */
  readonly clusters: ClusterManager;
  /** Closes the upstream connection pools. */
  close(): Promise<void>;
}

export interface DataPlaneOptions {
  source: TrafficSource;
  /** Read per request: the runtime swaps configs atomically at run time. */
  config: () => CompiledMeshConfig;
  endpoints: EndpointSource;
  telemetry: TelemetrySink;
  random?: () => number;
  now?: () => number;
  /**
   * Request bodies stream to the upstream; a copy is kept for retries and mirroring up to this size (Envoy's
   * retry/shadow buffer limit, default 1 MiB). A larger body is still forwarded, but no longer retried or mirrored.
   */
  maxRequestBodyBytes?: number;
  /** Spans for each proxied hop (./tracing.ts); absent = trace headers pass through untouched. */
  tracing?: DataPlaneTracing;
}

const DEFAULT_MAX_BODY = 1024 * 1024;
/** Error listeners that only keep a socket error from becoming an uncaught exception (one function, not one per request). */
const IGNORE = (): void => undefined;

/** One proxy: the gateway or a workload's sidecar (its outbound listener). */
export class ConnectionManager implements DataPlane, ProxyInfo {
  readonly random: () => number;
  readonly now: () => number;
  readonly maxBody: number;
  readonly source: TrafficSource;
  readonly sourceLabels: Readonly<Record<string, string>>;
  readonly recordSource: Pick<RequestRecord, 'sourceWorkload' | 'sourceApp' | 'sourceVersion'> & { source: Workload };
  /** This proxy's mTLS identity, what the callee's AuthorizationPolicies see as source.principal. */
  readonly principal: string;
  /** The `server` header this proxy writes on every answer (Envoy's server_name with OVERWRITE). */
  readonly serverName: string;
  /** The gateway: `use_remote_address`, every client external (x-request-id replaced, x-forwarded-for appended). */
  readonly edge: boolean;
  /** Clusters, load balancing, circuit breaking, outlier detection and connection pools (./upstream/). */
  readonly clusters: ClusterManager;
  readonly telemetry: TelemetrySink;
  /** The gateway's workload, and what AuthorizationPolicies selecting the gateway itself match against. */
  readonly gateway: Workload = INGRESS_GATEWAY_WORKLOAD;
  readonly gatewayTarget: PolicyTarget = GATEWAY_TARGET;
  closed = false;

  constructor(readonly options: DataPlaneOptions) {
    this.random = options.random ?? Math.random;
    this.now = options.now ?? Date.now;
    this.maxBody = options.maxRequestBodyBytes ?? DEFAULT_MAX_BODY;
    this.telemetry = options.telemetry;
    this.clusters = new ClusterManager({ endpoints: options.endpoints, random: this.random, now: this.now });
    const source = (this.source = options.source);
    this.edge = source.kind === 'gateway';
    if (source.kind === 'gateway') {
      // A Gateway API gateway runs as its own workload (web-gateway-istio) with its own identity.
      const gateway = (this.gateway = source.workload ?? INGRESS_GATEWAY_WORKLOAD);
      this.sourceLabels = source.workload ? gateway.labels : GATEWAY_LABELS;
      this.recordSource = { source: gateway, sourceWorkload: gateway.name, sourceApp: gateway.app, sourceVersion: gateway.version };
      this.principal = source.workload ? workloadPrincipal(gateway.namespace, gateway.serviceAccount) : GATEWAY_PRINCIPAL;
      if (source.workload) this.gatewayTarget = { namespace: gateway.namespace, labels: gateway.labels };
      this.serverName = 'istio-envoy';
    } else {
      // istiod names the gateway's and inbound listeners' server `istio-envoy` but leaves the sidecar's outbound
      // listener at Envoy's default `envoy`; both overwrite what the upstream sent.
      this.serverName = 'envoy';
      this.principal = workloadPrincipal(source.workload.namespace, source.workload.serviceAccount);
      this.sourceLabels = source.workload.labels;
      this.recordSource = {
        source: source.workload,
        sourceWorkload: source.workload.name,
        sourceApp: source.workload.app,
        sourceVersion: source.workload.version,
      };
    }
  }

  handle(req: IncomingMessage, res: ServerResponse): void {
    let stream: ActiveStream | undefined;
    try {
      stream = new ActiveStream(this, req, res);
      stream.start();
    } catch (error) {
      // A bug must cost one request, never the proxy.
      if (stream) stream.internalError(error);
      else if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain', server: this.serverName }).end('internal proxy error');
    }
  }

  record(record: RequestRecord): void {
    try {
      this.options.telemetry.record(record);
    } catch {
      // telemetry must never break traffic
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.clusters.close();
  }
}

/** The proxy's side of one client request (Envoy's ActiveStream): from the request line to the access record. */
class ActiveStream implements HttpStream {
  private readonly startedAt = performance.now();
  /** Set once a route table was found (undefined for answers before that: 400, 403 at the gateway, unknown host). */
  view?: RequestView;
  route?: CompiledRoute;
  block?: CompiledMatchBlock;
  /** The weighted destination the router resolved with the route (telemetry names it even for local replies). */
  destination?: CompiledDestination;
  authority = '';
  path = '/';
  rawQuery = '';
  body?: RequestBody;
  router?: Router;
  /** The CORS filter's response headers, when the route has a CORS policy and the origin is allowed. */
  cors?: CorsEncoder;
  /** Route response header operations for a reply the proxy makes itself once a route is selected. */
  answerHeaderOps?: CompiledHeaderOps;
  faultDelayed = false;
  /** Set for the record: the endpoint whose answer the client got, and when that try started. */
  answeredBy?: Endpoint;
  answerStartedAt = 0;
  statusSent = 0;
  responseFlags = '-';
  responseDetails?: string;
  retriedTries?: UpstreamTry[];
  /** Response body bytes written to the client (for istio_response_bytes). */
  responseBodyBytes = 0;
  /** Route/per-try timeouts and back-offs armed (none without a timeout or a retry). */
  private timers?: NodeJS.Timeout[];
  done = false;
  trace?: ExchangeTrace;
  private finalStatus = 0;
  private finalFlags = '-';
  private durationMs = 0;

  constructor(
    readonly proxy: ConnectionManager,
    readonly req: IncomingMessage,
    readonly res: ServerResponse,
  ) {}

  start(): void {
    this.res.on('close', () => {
      // Downstream disconnected: cancel the upstream request, free the queue slot, record it (Envoy flag DC).
      if (!this.done) this.finish(this.statusSent || 0, 'DC');
    });
    this.res.on('error', IGNORE);
    this.req.on('error', IGNORE);
    this.trace = this.proxy.options.tracing?.start(this.req);
    if (this.proxy.closed) return this.localReply(503, 'proxy is shutting down', 'SI');
    if (!this.parseTarget()) return;
    const config = this.proxy.options.config();
    if (this.proxy.edge && gatewayRbacDenied(this, config)) return;
    if (!findRoute(this, config)) return;
    const route = this.route!;
    const hasBody = this.req.headers['transfer-encoding'] !== undefined || Number(this.req.headers['content-length'] ?? 0) > 0;
    const router = (this.router = new Router(this, config.authorization));
    if (hasBody && route.kind === 'route') {
      this.body = new RequestBody(this.req, this.proxy.maxBody, route.retry.attempts > 0);
      this.body.onOverflow = () => this.guard(() => router.onBodyOverflow());
    }
    router.resolveDestination();
    // Every local reply from here on (fault abort, no healthy upstream, overflow, connect failure, timeout, 507, a
    // direct response) carries the route's response header operations: Envoy's filter manager finalizes the route's
    // response headers on any local reply once a route is selected (filter_manager.cc, sendLocalReplyViaFilterChain).
    this.answerHeaderOps = route.responseHeaders;
    const filters = filterChain(route);
    if (filters.length === 0) return router.dispatch();
    let index = 0;
    const next = (): void => {
      if (this.done) return;
      if (index < filters.length) return filters[index++](this, next);
      router.dispatch();
    };
    next();
  }

  /** Origin form (`/path`) or absolute form (`http://host/path`, a workload's HTTP_PROXY); false when answered. */
  private parseTarget(): boolean {
    const url = this.req.url ?? '/';
    let target: string;
    if (url.startsWith('/')) {
      this.authority = this.req.headers.host ?? '';
      target = url;
    } else if (url.startsWith('http://')) {
      const slash = url.indexOf('/', 7);
      this.authority = slash < 0 ? url.slice(7) : url.slice(7, slash);
      const at = this.authority.lastIndexOf('@');
      if (at >= 0) this.authority = this.authority.slice(at + 1);
      target = slash < 0 ? '/' : url.slice(slash);
    } else {
      this.localReply(400, `unsupported request target '${url.slice(0, 100)}': the local mesh proxies plain http only`, 'NR');
      return false;
    }
    const q = target.indexOf('?');
    let path = q < 0 ? target : target.slice(0, q);
    // Istio normalises paths (RFC 3986 dot segments) before routing, so `/api/../admin` cannot slip past a prefix.
    if (path.includes('/.') || /%2e/i.test(path)) path = normalizePath(path);
    this.path = path;
    this.rawQuery = q < 0 ? '' : target.slice(q + 1);
    return true;
  }

  /**
   * The request headers as the connection manager forwards them (`mutateRequestHeaders`, `cleanInternalHeaders`):
   * lower-case names, no hop-by-hop or untrusted control headers, a request id, and the gateway's forwarded-for.
   * `host` is the (possibly rewritten) `authority`; `x-envoy-attempt-count` is the router's to write.
   */
  forwardedHeaders(authority: string): string[] {
    const raw = this.req.rawHeaders;
    const headers: string[] = [];
    let hasRequestId = false;
    let hasForwardedProto = false;
    let forwardedFor: string | undefined;
    // The gateway (use_remote_address) treats every client as external: Envoy >= 1.36 trusts no address by default
    // and Istio configures no internal_address_config there, so with preserve_external_request_id unset (false) it
    // replaces the client's x-request-id. Sidecars keep the id they receive.
    const edge = this.proxy.edge;
    for (let i = 0; i < raw.length; i += 2) {
      // Envoy keeps header names lower-case (its header map) and writes them so on HTTP/1 (no preserve_case).
      const lower = raw[i].toLowerCase();
      // `expect: 100-continue` was settled with the client (Node answers it); the body streams with its own length.
      if (HOP_BY_HOP.has(lower) || lower === 'host' || lower === 'expect') continue;
      if (UNTRUSTED_ENVOY_HEADERS.has(lower) || (edge && EDGE_ENVOY_HEADERS.has(lower))) continue;
      // The router writes its own attempt count; the gateway sets x-forwarded-proto itself.
      if (lower === 'x-envoy-attempt-count' || (edge && lower === 'x-forwarded-proto')) continue;
      if (lower === 'x-request-id') hasRequestId = true;
      else if (lower === 'x-forwarded-proto') hasForwardedProto = true;
      else if (lower === 'x-forwarded-for') {
        forwardedFor = forwardedFor === undefined ? raw[i + 1] : `${forwardedFor}, ${raw[i + 1]}`;
        continue;
      }
      headers.push(lower, raw[i + 1]);
    }
    headers.push('host', authority);
    if (!hasRequestId) headers.push('x-request-id', randomUUID());
    if (edge) {
      // The edge proxy appends the client address, as Envoy does with use_remote_address.
      const client = this.req.socket.remoteAddress ?? '';
      headers.push('x-forwarded-for', forwardedFor ? `${forwardedFor}, ${client}` : client);
      headers.push('x-envoy-external-address', client);
    } else if (forwardedFor !== undefined) {
      headers.push('x-forwarded-for', forwardedFor);
    }
    // With use_remote_address and no trusted hops (the gateway) Envoy overwrites the client's x-forwarded-proto;
    // every proxy adds it when absent.
    if (!hasForwardedProto) headers.push('x-forwarded-proto', 'http');
    return headers;
  }

  /** Envoy's router answers a request no route matches with a bare 404: no body (response code details route_not_found). */
  noRoute(): void {
    this.reply(404, Buffer.alloc(0), undefined, 'NR');
  }

  /** An Envoy-style local reply: plain text, the proxy's own status. */
  localReply(status: number, text: string, flags: string, extraHeaders?: readonly string[]): void {
    // Envoy sends the text as is (e.g. 19 bytes for `no healthy upstream`), no trailing newline.
    this.reply(status, Buffer.from(text), 'text/plain', flags, extraHeaders);
  }

  reply(status: number, body: Buffer, contentType: string | undefined, flags: string, extraHeaders: readonly string[] = []): void {
    if (this.done) return;
    this.finish(status, flags);
    if (this.res.headersSent) {
      this.res.destroy();
      return;
    }
    const own = contentType === undefined ? ['content-length', String(body.length)] : ['content-type', contentType, 'content-length', String(body.length)];
    const headers = [...own, ...extraHeaders];
    this.cors?.encodeHeaders(headers);
    applyHeaderOps(headers, this.answerHeaderOps);
    this.setServer(headers);
    try {
      this.res.writeHead(status, headers);
    } catch {
      // A header operation's value Node cannot send (a control character): the reply goes out without them.
      this.res.writeHead(status, [...own, 'server', this.proxy.serverName]);
    }
    const sendBody = this.view?.method !== 'HEAD';
    if (sendBody) this.responseBodyBytes = body.length;
    this.res.end(sendBody ? body : undefined);
  }

  /** The connection manager writes its server name last, over any upstream value or header operation. */
  setServer(headers: string[]): void {
    removeHeader(headers, 'server');
    headers.push('server', this.proxy.serverName);
  }

  internalError(error: unknown): void {
    if (this.done) return;
    void error; // no stack traces to clients; the request record carries the 500
    this.localReply(500, 'internal proxy error', '-');
  }

  /** Runs a continuation from a callback, turning a bug into a 500 for this request only. */
  guard(fn: () => void): void {
    try {
      fn();
    } catch (error) {
      this.internalError(error);
    }
  }

  /** Schedules `fn` unless the stream is over by then. */
  later(ms: number, fn: () => void): void {
    const timer = setTimeout(() => {
      if (!this.done) this.guard(fn);
    }, ms);
    (this.timers ??= []).push(timer);
  }

  /** Ends the stream once: stops timers, the router's try and any queue wait, and records telemetry. */
  finish(status: number, flags: string): void {
    if (this.done) return;
    this.done = true;
    if (this.timers) for (const timer of this.timers) clearTimeout(timer);
    this.router?.onStreamEnd(flags);
    this.finalStatus = status;
    this.finalFlags = flags;
    this.durationMs = performance.now() - this.startedAt;
    this.trace?.finish({
      status,
      flags,
      route: this.route,
      block: this.block,
      destination: this.destination,
      port: this.view?.port,
      authority: this.authority,
      path: this.view ? (this.view.rawQuery ? `${this.view.path}?${this.view.rawQuery}` : this.view.path) : (this.req.url ?? '/'),
      method: this.req.method ?? 'GET',
    });
    // Recorded once the answer has been handed to the socket (the callers write it right after finish), so the
    // record has the response's size; still before the client can have read it.
    queueMicrotask(this.emitRecord);
  }

  private readonly emitRecord = (): void => {
    const destination = this.destination;
    const endpoint = this.answeredBy;
    const features: readonly Feature[] | undefined = destination?.features ?? this.route?.features;
    const recordSource = this.proxy.recordSource;
    // Every field written out (no object spread): one object shape per record, built without a runtime call.
    this.proxy.record({
      reporter: 'source',
      source: recordSource.source,
      sourceWorkload: recordSource.sourceWorkload,
      sourceApp: recordSource.sourceApp,
      sourceVersion: recordSource.sourceVersion,
      destination: endpoint?.workload,
      destinationWorkload: endpoint?.workload.name ?? 'unknown',
      destinationApp: endpoint?.workload.app ?? 'unknown',
      destinationVersion: endpoint?.workload.version ?? 'unknown',
      destinationService: destination?.cluster.serviceFqdn ?? 'unknown',
      destinationServiceName: destination?.cluster.serviceName ?? 'unknown',
      responseCode: this.finalStatus,
      responseFlags: this.finalFlags,
      requestProtocol: 'http',
      durationMs: this.durationMs,
      requestBytes: this.requestWireBytes(),
      responseBytes: this.responseWireBytes(),
      upstreamDurationMs: endpoint ? this.durationMs - (this.answerStartedAt - this.startedAt) : undefined,
      retriedTries: this.retriedTries,
      virtualService: this.route?.virtualService || undefined,
      responseCodeDetails: this.responseDetails,
      features: features && features.length > 0 ? [...features] : undefined,
    });
  };

  /** Request line, header block and body as received (Envoy's downstream wire bytes received, HTTP/1.1). */
  private requestWireBytes(): number {
    const raw = this.req.rawHeaders;
    // "METHOD SP target SP HTTP/1.1 CRLF" (+12), "name: value CRLF" per header (+4), final CRLF (+2).
    let bytes = (this.req.method?.length ?? 3) + (this.req.url?.length ?? 1) + 14;
    for (let i = 0; i < raw.length; i += 2) bytes += raw[i].length + raw[i + 1].length + 4;
    return bytes + (this.body?.received ?? 0);
  }

  /** Status line and header block as Node wrote them, plus the body bytes (chunk framing not counted). */
  private responseWireBytes(): number {
    const header = (this.res as unknown as { _header?: string | null })._header;
    return (typeof header === 'string' ? header.length : 0) + this.responseBodyBytes;
  }
}
