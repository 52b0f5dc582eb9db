/**
 * The data plane: what Envoy does for the ingress gateway and for each sidecar. One `DataPlane` per traffic
 * source; `handle` routes one HTTP request per the compiled Istio config and proxies it over keep-alive undici
 * pools (one per endpoint), streaming the response back.
 */
import { randomUUID } from 'node:crypto';
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import type { Dispatcher } from 'undici';
import type { Readable } from 'node:stream';
import { INGRESS_GATEWAY_WORKLOAD, type Endpoint, type RequestRecord, type TelemetrySink, type TrafficSource, type UpstreamTry, type Workload } from '../model';
import { GATEWAY_PRINCIPAL, hostMatches, isConnectErrorCode, ROOT_NAMESPACE, stripPort, workloadPrincipal } from '../istio';
import { peerPrincipal, type AuthorizationRequest, type Authorizer, type PolicyTarget } from './authorization';
import { ClusterManager, type AttemptOutcome, type EndpointSource, type UpstreamCluster, type UpstreamHost } from './upstream/cluster-manager';
import { cookieValue, generatedCookie, xxHash64, type HashPolicy } from './upstream/hashing';
import { RequestBody } from './request-body';
import {
  type CompiledCluster,
  type CompiledCors,
  type CompiledDestination,
  type CompiledHeaderOps,
  type CompiledMeshConfig,
  type CompiledRoute,
  type Feature,
  type RetryPolicy,
} from './config';
import type { CompiledMatchBlock, RequestView } from './match';
import type { AttemptTrace, DataPlaneTracing, ExchangeTrace } from './tracing';

export type { EndpointSource } from './upstream/cluster-manager';

export interface DataPlane {
  handle(req: IncomingMessage, res: ServerResponse): void;
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
/** Envoy's default retry back-off: jittered, 25 ms base, capped at 10× the base. */
const RETRY_BASE_MS = 25;
const RETRY_MAX_MS = 250;

/** Headers that describe one connection, never forwarded (RFC 9110 §7.6.1), plus those the proxy sets itself. */
const HOP_BY_HOP = new Set([
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
const UNTRUSTED_ENVOY_HEADERS = new Set([
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
const EDGE_ENVOY_HEADERS = new Set([
  'x-envoy-decorator-operation',
  'x-envoy-downstream-service-cluster',
  'x-envoy-downstream-service-node',
  'x-envoy-external-address',
  'x-request-id',
]);

const GATEWAY_LABELS: Readonly<Record<string, string>> = { istio: 'ingressgateway', app: 'istio-ingressgateway' };
/** The ingress gateway pod as AuthorizationPolicies select it (it runs in istio-system). */
const GATEWAY_TARGET: PolicyTarget = { namespace: ROOT_NAMESPACE, labels: GATEWAY_LABELS };
/**
 * The port the gateway pod receives Gateway port 80 on: `istioctl install --set profile=demo` (this repository's
 * install) gives the istio-ingressgateway Service `80 → targetPort 8080` (istio/istio
 * manifests/charts/gateways/istio-ingress/values.yaml), and the gateway's listener binds the target port. So a
 * gateway AuthorizationPolicy's `ports` / `destination.port` see 8080, and its HTTP connection manager's stat prefix
 * is `outbound_0.0.0.0_8080` (pilot/pkg/networking/core/gateway.go: traffic direction + listener name).
 */
const GATEWAY_POD_PORT = 8080;
/** Envoy's router marks circuit-breaker 503s so callers can tell overload from an upstream failure. */
const OVERLOADED: readonly string[] = ['x-envoy-overloaded', 'true'];
/** Envoy's RBAC filter answer (no trailing newline: Envoy sends the text as is). */
const RBAC_DENIED = 'RBAC: access denied';
const MESH_IDS: readonly string[] = ['mesh'];
/** Error listeners that only keep a socket error from becoming an uncaught exception (one function, not one per request). */
const IGNORE = (): void => undefined;

export const LOCAL_REPLY = {
  noHealthyUpstream: 'no healthy upstream',
  faultAbort: 'fault filter abort',
  timeout: 'upstream request timeout',
  connectFailure: 'upstream connect error or disconnect/reset before headers. reset reason: connection failure',
  reset: 'upstream connect error or disconnect/reset before headers. reset reason: connection termination',
  overflow: 'upstream connect error or disconnect/reset before headers. reset reason: overflow',
} as const;

/** Route- and destination-level operations in Envoy's order (see `CompiledRoute.destinationOpsAfterRoute`). */
function applyRouteHeaderOps(headers: string[], route: CompiledHeaderOps | undefined, destination: CompiledHeaderOps | undefined, destinationAfterRoute: boolean): void {
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

function applyHeaderOps(headers: string[], ops: CompiledHeaderOps | undefined): void {
  if (!ops) return;
  for (const name of ops.remove) removeHeader(headers, name);
  for (const [name, value] of ops.set) {
    removeHeader(headers, name);
    headers.push(name, value);
  }
  for (const [name, value] of ops.add) headers.push(name, value);
}

/** Removes a header from a flat [name, value, ...] list; `name` is lower-case. */
function removeHeader(headers: string[], name: string): void {
  for (let i = headers.length - 2; i >= 0; i -= 2) {
    if (headers[i].toLowerCase() === name) headers.splice(i, 2);
  }
}

/** A request header's values joined with ',' (how Envoy's header matchers see repeated headers). */
function joinedHeader(headers: IncomingHttpHeaders, name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value.join(',') : value;
}

function firstHeader(headers: IncomingHttpHeaders, name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/** Removes `.`/`..` segments (also percent-encoded ones) the way Envoy's normalize_path does. */
function normalizePath(path: string): string {
  try {
    return new URL(path.replace(/%2e/gi, '.'), 'http://mesh.local').pathname;
  } catch {
    return path;
  }
}

function portOf(authority: string, fallback: number): number {
  const colon = authority.lastIndexOf(':');
  if (colon < 0 || authority.endsWith(']')) return fallback;
  const port = Number(authority.slice(colon + 1));
  return Number.isInteger(port) && port > 0 ? port : fallback;
}

class ProxyDataPlane implements DataPlane {
  readonly random: () => number;
  readonly now: () => number;
  readonly maxBody: number;
  readonly sourceLabels: Readonly<Record<string, string>>;
  readonly recordSource: Pick<RequestRecord, 'sourceWorkload' | 'sourceApp' | 'sourceVersion'> & { source: Workload };
  /** This proxy's mTLS identity, what the callee's AuthorizationPolicies see as source.principal. */
  readonly principal: string;
  /** The `server` header this proxy writes on every answer (Envoy's server_name with OVERWRITE). */
  readonly serverName: string;
  /** Clusters, load balancing, circuit breaking, outlier detection and connection pools (./upstream/). */
  readonly clusters: ClusterManager;
  /** What AuthorizationPolicies selecting the gateway itself match against. */
  gatewayTarget: PolicyTarget = GATEWAY_TARGET;
  closed = false;

  constructor(readonly options: DataPlaneOptions) {
    this.random = options.random ?? Math.random;
    this.now = options.now ?? Date.now;
    this.maxBody = options.maxRequestBodyBytes ?? DEFAULT_MAX_BODY;
    this.clusters = new ClusterManager({ endpoints: options.endpoints, random: this.random, now: this.now });
    const source = options.source;
    if (source.kind === 'gateway') {
      const gateway = source.workload ?? INGRESS_GATEWAY_WORKLOAD;
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
      this.recordSource = { source: source.workload, sourceWorkload: source.workload.name, sourceApp: source.workload.app, sourceVersion: source.workload.version };
    }
  }

  handle(req: IncomingMessage, res: ServerResponse): void {
    let exchange: Exchange | undefined;
    try {
      exchange = new Exchange(this, req, res);
      exchange.start();
    } catch (error) {
      // A bug must cost one request, never the proxy.
      if (exchange) exchange.internalError(error);
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

/**
 * One upstream try. It uses undici's classic handler callbacks (onConnect/onHeaders/onData/...), which undici 7's
 * core calls directly; the newer controller-style API goes through an adapter that re-parses every header block.
 */
class Attempt implements Dispatcher.DispatchHandler {
  private abortUpstream?: (error: Error) => void;
  private resumeUpstream?: () => void;
  cancelled = false;
  settled = false;
  startedAt = 0;
  status = 0;
  trace?: AttemptTrace;
  /** The request body this try sends (a stream or the kept copy). */
  body: Buffer | NodeJS.ReadableStream | null = null;

  readonly endpoint: Endpoint;

  constructor(
    readonly exchange: Exchange,
    readonly host: UpstreamHost,
  ) {
    this.endpoint = host.endpoint;
  }

  /** `flags`: why the proxy cut the try, for its span (default: a timeout). */
  cancel(flags = 'UT'): void {
    this.cancelled = true;
    this.settle(flags);
    this.abortUpstream?.(new Error('cancelled by the proxy'));
  }

  resume = (): void => this.resumeUpstream?.();

  /** Returns the pool slot and the endpoint's active count exactly once. */
  settle(failure?: Error | string): void {
    if (this.settled) return;
    this.settled = true;
    this.exchange.releaseBody(this);
    this.trace?.end(this.status, failure);
    this.host.release();
  }

  onConnect(abort: (error?: Error) => void): void {
    this.abortUpstream = abort;
    if (this.cancelled) abort(new Error('cancelled by the proxy'));
  }

  onHeaders(statusCode: number, rawHeaders: Buffer[], resume: () => void): boolean {
    if (this.cancelled || statusCode < 200) return true;
    this.status = statusCode;
    this.resumeUpstream = resume;
    this.exchange.onUpstreamHeaders(this, statusCode, rawHeaders);
    return true;
  }

  onData(chunk: Buffer): boolean {
    if (this.cancelled) return true;
    return this.exchange.onUpstreamData(this, chunk);
  }

  onComplete(): void {
    this.settle();
    if (!this.cancelled) this.exchange.onUpstreamEnd();
  }

  onError(error: Error): void {
    this.settle(error);
    if (!this.cancelled) this.exchange.onUpstreamError(this, error);
  }
}

/** The proxy's side of one client request, from routing to the last byte. */
class Exchange {
  private readonly startedAt = performance.now();
  private view!: RequestView;
  private route?: CompiledRoute;
  private block?: CompiledMatchBlock;
  destination?: CompiledDestination;
  /** The destination's cluster in the upstream layer, once the route is dispatched. */
  private upstream?: UpstreamCluster;
  private authority = '';
  private body?: RequestBody;
  private upstreamHeaders?: string[];
  private upstreamPath = '/';
  /** Where the x-envoy-attempt-count value sits in upstreamHeaders (rewritten for each retry). */
  private attemptCountAt = 0;
  private corsOrigin?: string;
  /** Route response header operations for a reply the proxy makes itself once a route is selected. */
  private answerHeaderOps?: CompiledHeaderOps;
  private faultDelayed = false;
  private tries = 0;
  /** Endpoints tried: the first one alone until a retry needs the set (most requests make one try). */
  private firstTried?: string;
  private tried?: Set<string>;
  private attempt?: Attempt;
  private waitingForSlot?: () => void;
  private answeredBy?: Endpoint;
  private statusSent = 0;
  private responseFlags = '-';
  private responseDetails?: string;
  /** consistentHash: the request's hash (computed once), and a Set-Cookie for a generated hash cookie. */
  private hash?: { value: bigint | undefined };
  private setCookie?: string;
  private authorizer?: Authorizer;
  /** Response body bytes written to the client (for istio_response_bytes). */
  private responseBodyBytes = 0;
  private answerStartedAt = 0;
  private retriedTries?: UpstreamTry[];
  /** Route/per-try timeouts and back-offs armed (none without a timeout or a retry). */
  private timers?: NodeJS.Timeout[];
  private done = false;
  private trace?: ExchangeTrace;

  constructor(
    private readonly dp: ProxyDataPlane,
    private readonly req: IncomingMessage,
    private readonly res: ServerResponse,
  ) {}

  start(): void {
    this.res.on('close', () => {
      if (!this.done) this.onClientGone();
    });
    this.res.on('error', IGNORE);
    this.req.on('error', IGNORE);
    this.trace = this.dp.options.tracing?.start(this.req);
    if (this.dp.closed) return this.localReply(503, 'proxy is shutting down', 'SI');

    const url = this.req.url ?? '/';
    let target: string;
    if (url.startsWith('/')) {
      this.authority = this.req.headers.host ?? '';
      target = url;
    } else if (url.startsWith('http://')) {
      // Absolute form: the workload's HTTP_PROXY points at its sidecar.
      const slash = url.indexOf('/', 7);
      this.authority = slash < 0 ? url.slice(7) : url.slice(7, slash);
      const at = this.authority.lastIndexOf('@');
      if (at >= 0) this.authority = this.authority.slice(at + 1);
      target = slash < 0 ? '/' : url.slice(slash);
    } else {
      return this.localReply(400, `unsupported request target '${url.slice(0, 100)}': the local mesh proxies plain http only`, 'NR');
    }
    const q = target.indexOf('?');
    let path = q < 0 ? target : target.slice(0, q);
    // Istio normalises paths (RFC 3986 dot segments) before routing, so `/api/../admin` cannot slip past a prefix.
    if (path.includes('/.') || /%2e/i.test(path)) path = normalizePath(path);
    const rawQuery = q < 0 ? '' : target.slice(q + 1);

    const config = this.dp.options.config();
    this.authorizer = config.authorization;
    const source = this.dp.options.source;
    let routes: CompiledRoute[] | null;
    let port: number;
    let gatewayIds: readonly string[];
    if (source.kind === 'gateway' && config.authorization?.enforces(this.dp.gatewayTarget)) {
      // Policies selecting the ingress gateway itself: the caller is outside the mesh (no principal).
      const decision = config.authorization.check(this.dp.gatewayTarget, this.authorizationRequest(undefined, path, this.authority, GATEWAY_POD_PORT, (name) => joinedHeader(this.req.headers, name)));
      if (decision.shadow) {
        const gatewayWorkload = this.dp.options.source.kind === 'gateway' ? (this.dp.options.source.workload ?? INGRESS_GATEWAY_WORKLOAD) : INGRESS_GATEWAY_WORKLOAD;
        const event = { workload: gatewayWorkload, pod: gatewayWorkload.name, port: GATEWAY_POD_PORT, protocol: 'http' as const, direction: 'outbound' as const };
        this.dp.options.telemetry.rbacShadow?.({ ...event, results: decision.shadow });
      }
      if (!decision.allowed) {
        this.responseDetails = `rbac_access_denied_matched_policy[${decision.policy}]`;
        return this.reply(403, Buffer.from(RBAC_DENIED), 'text/plain', '-');
      }
    }
    if (source.kind === 'gateway') {
      const table = config.gateway(source.gatewayName);
      const host = stripPort(this.authority);
      if (table.serverHosts && !table.serverHosts.some((pattern) => hostMatches(pattern, host))) {
        return this.noRoute();
      }
      routes = table.virtualHosts.routesFor(host);
      port = table.port;
      gatewayIds = table.ids;
    } else {
      const service = config.resolveService(this.authority);
      const host = service?.fqdn ?? stripPort(this.authority);
      routes = config.mode === 'istio' ? config.meshVirtualHosts.routesFor(host) : null;
      port = portOf(this.authority, 80);
      gatewayIds = MESH_IDS;
      if (!routes) {
        if (!service) {
          return this.localReply(502, `unknown mesh host '${this.authority}': the local mesh only routes to the Services in k8s/`, 'NR');
        }
        // No VirtualService: Istio's default route to the Service, port from the authority when it has one.
        const hasPort = this.authority.lastIndexOf(':') > this.authority.lastIndexOf(']');
        const servicePort = hasPort ? port : service.ports.some((p) => p.port === 80) ? 80 : undefined;
        routes = [config.defaultRoute(service, servicePort)];
      }
    }
    if (!routes) return this.noRoute();

    this.view = {
      method: this.req.method ?? 'GET',
      path,
      rawQuery,
      headers: this.req.headers,
      authority: this.authority,
      scheme: 'http',
      port,
      sourceLabels: this.dp.sourceLabels,
      gatewayIds,
    };
    for (const route of routes) {
      if (route.blocks === null) {
        this.route = route;
        break;
      }
      const block = route.blocks.find((b) => b.test(this.view));
      if (block) {
        this.route = route;
        this.block = block;
        break;
      }
    }
    if (!this.route) return this.noRoute();

    const hasBody = this.req.headers['transfer-encoding'] !== undefined || Number(this.req.headers['content-length'] ?? 0) > 0;
    if (hasBody && this.route.kind === 'route') {
      this.body = new RequestBody(this.req, this.dp.maxBody, this.route.retry.attempts > 0);
      this.body.onOverflow = () => this.guard(() => this.onBodyOverflow());
    }
    this.afterRouting();
  }

  /**
   * Envoy gives up retries and mirrors when the body outgrows the buffer; if that happens while a retry waits for
   * its back-off (no try in flight), the request cannot go on: 507 (router.cc, Filter::decodeData).
   */
  private onBodyOverflow(): void {
    if (this.done || this.statusSent) return;
    const inFlight = this.attempt !== undefined && !this.attempt.settled;
    if (!inFlight && this.tries > 0) this.localReply(507, 'exceeded request buffer limit while retrying upstream', '-');
  }

  /** Runs a continuation from a callback, turning a bug into a 500 for this request only. */
  private guard(fn: () => void): void {
    try {
      fn();
    } catch (error) {
      this.internalError(error);
    }
  }

  private afterRouting(): void {
    const route = this.route!;
    // Envoy picks the weighted cluster when it resolves the route, before the CORS and fault filters run, so
    // telemetry names the destination service even for aborted requests.
    if (route.kind === 'route') this.destination = this.pickDestination(route);
    // Every local reply from here on (fault abort, no healthy upstream, overflow, connect failure, timeout, 507, a
    // direct response) carries the route's response header operations: Envoy's filter manager finalizes the route's
    // response headers on any local reply once a route is selected (filter_manager.cc, sendLocalReplyViaFilterChain).
    this.answerHeaderOps = route.responseHeaders;
    if (route.cors && this.corsPreflightAnswered(route.cors)) return;
    const fault = route.fault;
    if (fault) {
      // Independent draws, delay first (Envoy's fault filter order).
      const delay = fault.delayMs > 0 && fault.delayPercent > 0 && this.dp.random() * 100 < fault.delayPercent;
      const abort = fault.abortPercent > 0 && this.dp.random() * 100 < fault.abortPercent;
      const then = () => (abort ? this.localReply(fault.abortStatus, LOCAL_REPLY.faultAbort, this.faultDelayed ? 'DI,FI' : 'FI') : this.dispatchRoute());
      if (delay) {
        this.faultDelayed = true;
        this.later(fault.delayMs, then);
        return;
      }
      return then();
    }
    this.dispatchRoute();
  }

  private dispatchRoute(): void {
    const route = this.route!;
    if (route.kind === 'redirect') return this.redirect();
    if (route.kind === 'direct') {
      const direct = route.direct!;
      return this.reply(direct.status, direct.body, 'text/plain', this.faultDelayed ? 'DI' : '-');
    }
    if (!this.destination) return this.localReply(503, LOCAL_REPLY.noHealthyUpstream, 'UH');
    // Envoy's router finds no such cluster: 503 with an empty body, flag NC (router.cc, clusterNotFoundResponseCode).
    if (!this.destination.cluster.exists) return this.reply(route.gatewaySemantics ? 500 : 503, Buffer.alloc(0), undefined, 'NC'); // Gateway API routes: 500
    this.upstream = this.dp.clusters.get(this.destination.cluster);
    this.buildUpstreamRequest();
    if (route.mirror && (route.mirror.percent >= 100 || this.dp.random() * 100 < route.mirror.percent)) this.mirror(route.mirror.cluster);
    for (const m of route.mirrors ?? []) if (m.percent >= 100 || this.dp.random() * 100 < m.percent) this.mirror(m.cluster);
    if (route.timeoutMs) this.later(route.timeoutMs, () => this.onRouteTimeout());
    this.nextAttempt();
  }

  private pickDestination(route: CompiledRoute): CompiledDestination | undefined {
    const destinations = route.destinations;
    if (destinations.length === 1) return destinations[0];
    if (route.totalWeight <= 0) return undefined;
    let draw = this.dp.random() * route.totalWeight;
    for (const destination of destinations) {
      if (destination.weight <= 0) continue;
      if (draw < destination.weight) return destination;
      draw -= destination.weight;
    }
    return destinations.findLast((d) => d.weight > 0);
  }

  private buildUpstreamRequest(): void {
    const route = this.route!;
    const raw = this.req.rawHeaders;
    const headers: string[] = [];
    let hasRequestId = false;
    let hasForwardedProto = false;
    let forwardedFor: string | undefined;
    // The gateway (use_remote_address) treats every client as external: Envoy >= 1.36 trusts no address by default
    // and Istio configures no internal_address_config there, so with preserve_external_request_id unset (false) it
    // replaces the client's x-request-id. Sidecars keep the id they receive.
    const edge = this.dp.options.source.kind === 'gateway';
    for (let i = 0; i < raw.length; i += 2) {
      // Envoy keeps header names lower-case (its header map) and writes them so on HTTP/1 (no preserve_case).
      const lower = raw[i].toLowerCase();
      // `expect: 100-continue` was settled with the client (Node answers it); the body streams with its own length.
      if (HOP_BY_HOP.has(lower) || lower === 'host' || lower === 'expect') continue;
      if (UNTRUSTED_ENVOY_HEADERS.has(lower) || (edge && EDGE_ENVOY_HEADERS.has(lower))) continue;
      // The router writes its own attempt count (below); the gateway sets x-forwarded-proto itself.
      if (lower === 'x-envoy-attempt-count' || (edge && lower === 'x-forwarded-proto')) continue;
      if (lower === 'x-request-id') hasRequestId = true;
      else if (lower === 'x-forwarded-proto') hasForwardedProto = true;
      else if (lower === 'x-forwarded-for') {
        forwardedFor = forwardedFor === undefined ? raw[i + 1] : `${forwardedFor}, ${raw[i + 1]}`;
        continue;
      }
      headers.push(lower, raw[i + 1]);
    }
    let authority = this.authority;
    let path = this.view.path;
    if (route.rewrite) {
      if (route.rewrite.authority !== undefined) authority = route.rewrite.authority;
      if (route.rewrite.uri !== undefined) {
        // Envoy prefix_rewrite: the matched prefix is replaced ("/" when the rule has no uri match, as Istio matches
        // prefix "/" then); an exact or regex match has the whole path replaced.
        const prefixLength = this.block ? this.block.uriPrefixLength : 1;
        if (route.gatewaySemantics && route.rewrite.uri === '/' && prefixLength !== undefined) {
          // istiod: regex `^<prefix>(/?)(.*)` → `/\2`, so removing the whole prefix leaves one `/`.
          path = `/${path.slice(prefixLength).replace(/^\//, '')}`;
        } else path = prefixLength !== undefined ? route.rewrite.uri + path.slice(prefixLength) : route.rewrite.uri;
        if (path === '') path = '/';
      } else if (route.rewrite.regex) {
        path = route.rewrite.regex(path);
      }
    }
    this.upstreamPath = this.view.rawQuery ? `${path}?${this.view.rawQuery}` : path;
    headers.push('host', authority);
    if (!hasRequestId) headers.push('x-request-id', randomUUID());
    if (this.dp.options.source.kind === 'gateway') {
      // The edge proxy appends the client address, as Envoy does with use_remote_address.
      const client = this.req.socket.remoteAddress ?? '';
      headers.push('x-forwarded-for', forwardedFor ? `${forwardedFor}, ${client}` : client);
      headers.push('x-envoy-external-address', client);
    } else if (forwardedFor !== undefined) {
      headers.push('x-forwarded-for', forwardedFor);
    }
    // Envoy's connection manager (conn_manager_utility.cc mutateRequestHeaders): with use_remote_address and no
    // trusted hops (the gateway) it overwrites the client's x-forwarded-proto; every proxy adds it when absent.
    if (!hasForwardedProto) headers.push('x-forwarded-proto', 'http');
    const destination = this.destination!;
    applyRouteHeaderOps(headers, route.requestHeaders, destination.requestHeaders, route.destinationOpsAfterRoute);
    this.trace?.inject(headers, this.upstreamPath);
    // Istio sets include_request_attempt_count on every outbound and gateway virtual host (proxy_headers.go), so
    // Envoy's router sets x-envoy-attempt-count on each try, over any value a header operation wrote.
    if (route.requestHeaders || destination.requestHeaders) removeHeader(headers, 'x-envoy-attempt-count');
    headers.push('x-envoy-attempt-count', '1');
    this.attemptCountAt = headers.length - 1;
    this.upstreamHeaders = headers;
  }

  private mirror(cluster: CompiledCluster): void {
    const upstream = this.dp.clusters.get(cluster);
    const endpoint = upstream.pick();
    if (!endpoint) return;
    const headers = [...this.upstreamHeaders!];
    removeHeader(headers, 'host');
    // Envoy marks shadow traffic by appending -shadow to the host name.
    const colon = this.authority.lastIndexOf(':');
    headers.push('host', colon > 0 ? `${this.authority.slice(0, colon)}-shadow${this.authority.slice(colon)}` : `${this.authority}-shadow`);
    const ignore: Dispatcher.DispatchHandler = {
      onRequestStart() {},
      onResponseStart() {},
      onResponseData() {},
      onResponseEnd() {},
      onResponseError() {},
    };
    const send = (body: Readable | null) => {
      try {
        upstream.httpPool(endpoint).dispatch({ path: this.upstreamPath, method: this.view.method, headers, body }, ignore);
      } catch {
        // fire and forget
      }
    };
    // The shadow streams the body alongside the primary request (Envoy's streaming shadows).
    send(this.body?.shadow() ?? null);
  }

  private nextAttempt(): void {
    if (this.done) return;
    const upstream = this.upstream!;
    if (!upstream.config.policy.limited) {
      // No connection-pool limits: the slot is granted at once (no pending-queue callback to allocate).
      upstream.acquire(IGNORE);
      return this.startAttempt(upstream);
    }
    const granted = () => {
      this.waitingForSlot = undefined;
      if (this.done) return upstream.releaseSlot();
      this.guard(() => this.startAttempt(upstream));
    };
    const result = upstream.acquire(granted);
    if (result === 'overflow') return this.localReply(503, LOCAL_REPLY.overflow, 'UO', OVERLOADED);
    if (result === 'queued') this.waitingForSlot = granted;
    else this.startAttempt(upstream);
  }

  private startAttempt(upstream: UpstreamCluster): void {
    const cluster = upstream.config;
    const hash = cluster.policy.hash ? (this.hash ??= { value: this.requestHash(cluster.policy.hash) }).value : undefined;
    const tried = this.tries > 0 ? (this.tried ??= new Set([this.firstTried!])) : undefined;
    const host = upstream.open(tried, hash);
    if (!host) return this.localReply(503, LOCAL_REPLY.noHealthyUpstream, this.tries > 0 ? 'UH,URX' : 'UH');
    const endpoint = host.endpoint;
    this.tries++;
    if (tried) tried.add(endpoint.id);
    else this.firstTried = endpoint.id;
    const attempt = new Attempt(this, host);
    attempt.startedAt = performance.now();
    if (this.trace) attempt.trace = this.trace.attempt(endpoint, cluster.key);
    this.attempt = attempt;
    const denied = this.deniedAtDestination(endpoint, cluster);
    if (denied !== undefined) return this.answerAsDestinationProxy(attempt, denied);
    const perTry = this.route!.retry.perTryTimeoutMs;
    if (perTry) this.later(perTry, () => this.onPerTryTimeout(attempt));
    if (this.tries > 1) this.upstreamHeaders![this.attemptCountAt] = String(this.tries);
    const body = this.body?.forAttempt() ?? null;
    attempt.body = body;
    upstream.httpPool(endpoint).dispatch({ path: this.upstreamPath, method: this.view.method, headers: this.upstreamHeaders, body }, attempt);
  }

  /** The value Envoy's hash policy hashes for this request; a missing hash cookie is generated when it has a ttl. */
  private requestHash(policy: HashPolicy): bigint | undefined {
    let value: string | undefined;
    switch (policy.source) {
      case 'header':
        value = joinedHeader(this.req.headers, policy.name);
        break;
      case 'query':
        value = new URLSearchParams(this.view.rawQuery).get(policy.name) ?? undefined;
        break;
      case 'sourceIp':
        value = this.req.socket.remoteAddress;
        break;
      case 'cookie': {
        value = cookieValue(this.req.headers.cookie, policy.name);
        if (value === undefined && policy.cookieTtlSeconds !== undefined) {
          const socket = this.req.socket;
          const cookie = generatedCookie(policy, `${socket.remoteAddress}:${socket.remotePort}`, `${socket.localAddress}:${socket.localPort}`);
          value = cookie?.value;
          this.setCookie = cookie?.header;
        }
        break;
      }
    }
    return value === undefined ? undefined : xxHash64(value);
  }

  private authorizationRequest(principal: string | undefined, path: string, host: string, port: number, header: (name: string) => string | undefined): AuthorizationRequest {
    return { principal, method: this.view?.method ?? this.req.method ?? 'GET', path, host, port, header };
  }

  /**
   * The callee's inbound sidecar enforces its AuthorizationPolicies on the request as forwarded (rewritten path and
   * host, header operations applied). Returns the matched policy id when it denies, else undefined.
   */
  private deniedAtDestination(endpoint: Endpoint, cluster: CompiledCluster): string | undefined {
    const authorizer = this.authorizer;
    const target = endpoint.workload;
    if (!authorizer?.enforces(target)) return undefined;
    const headers = this.upstreamHeaders!;
    const header = (name: string): string | undefined => {
      let value: string | undefined;
      for (let i = 0; i < headers.length; i += 2) {
        if (headers[i].toLowerCase() === name) value = value === undefined ? headers[i + 1] : `${value},${headers[i + 1]}`;
      }
      return value;
    };
    const q = this.upstreamPath.indexOf('?');
    const path = q < 0 ? this.upstreamPath : this.upstreamPath.slice(0, q);
    const port = cluster.podPort(target);
    const principal = peerPrincipal(authorizer, target, port, this.dp.principal);
    const decision = authorizer.check(target, this.authorizationRequest(principal, path, header('host') ?? '', port, header));
    if (decision.shadow) {
      this.dp.options.telemetry.rbacShadow?.({ workload: target, pod: endpoint.id, port, protocol: 'http', results: decision.shadow });
      this.attempt?.trace?.dryRun?.(decision.shadow);
    }
    return decision.allowed ? undefined : decision.policy;
  }

  /**
   * Envoy's RBAC filter on the callee's inbound listener answers 403 itself. To this (outbound) proxy that is an
   * ordinary upstream answer, so it goes through the same path: retry policy, outlier detection, header ops.
   */
  private answerAsDestinationProxy(attempt: Attempt, policy: string): void {
    this.responseDetails = `rbac_access_denied_matched_policy[${policy}]`;
    const body = Buffer.from(RBAC_DENIED);
    const headers = ['content-length', String(body.length), 'content-type', 'text/plain', 'date', new Date().toUTCString(), 'server', 'istio-envoy'];
    attempt.onConnect(() => undefined);
    attempt.onHeaders(403, headers.map((h) => Buffer.from(h, 'latin1')), () => undefined);
    attempt.onData(body);
    attempt.onComplete();
  }

  private retriesLeft(): boolean {
    // A body that outgrew the buffer cannot be replayed: Envoy drops the retry policy for the request.
    return this.tries <= this.route!.retry.attempts && !this.body?.overflowed;
  }

  /** A try is over: its body stream no longer holds the client back. */
  releaseBody(attempt: Attempt): void {
    if (attempt.body) this.body?.release(attempt.body);
  }

  private report(attempt: Attempt, outcome: AttemptOutcome): void {
    attempt.host.report(outcome);
  }

  /** Retries after Envoy's jittered back-off, or answers with the final failure. */
  private retryOr(fail: () => void, retriable: boolean): void {
    if (retriable && this.retriesLeft()) {
      const cap = Math.min(RETRY_MAX_MS, RETRY_BASE_MS * 2 ** (this.tries - 1));
      this.later(Math.floor(this.dp.random() * cap), () => this.nextAttempt());
      return;
    }
    fail();
  }

  private exhaustedFlag(flag: string): string {
    return this.tries > 1 ? `${flag},URX` : flag;
  }

  onUpstreamHeaders(attempt: Attempt, status: number, rawHeaders: Buffer[]): void {
    if (this.done) return attempt.cancel();
    const retry = this.route!.retry;
    this.report(attempt, status >= 500 ? (status >= 502 && status <= 504 ? 'gatewayError' : 'error5xx') : 'success');
    const retriable = retryOnStatus(retry, status);
    if (retriable && this.retriesLeft()) {
      // The destination's sidecar saw (and reports) this try even though the client never will.
      (this.retriedTries ??= []).push({ destination: attempt.endpoint.workload, responseCode: status, durationMs: performance.now() - attempt.startedAt });
      attempt.cancel();
      return this.retryOr(() => undefined, true);
    }
    if (retriable && this.tries > 1) this.responseFlags = 'URX';
    else if (this.faultDelayed) this.responseFlags = 'DI';
    this.answeredBy = attempt.endpoint;
    this.answerStartedAt = attempt.startedAt;
    const headers: string[] = [];
    for (let i = 0; i < rawHeaders.length; i += 2) {
      const lower = rawHeaders[i].toString('latin1').toLowerCase();
      if (HOP_BY_HOP.has(lower) || lower === 'server') continue;
      headers.push(lower, rawHeaders[i + 1].toString('latin1'));
    }
    headers.push('x-envoy-upstream-service-time', String(Math.round(performance.now() - attempt.startedAt)));
    if (this.setCookie) headers.push('set-cookie', this.setCookie);
    this.addCorsHeaders(headers);
    const route = this.route!;
    const destination = this.destination!;
    if (route.responseHeaders || destination.responseHeaders) {
      applyRouteHeaderOps(headers, route.responseHeaders, destination.responseHeaders, route.destinationOpsAfterRoute);
      this.setServer(headers);
    } else {
      // The copy above skipped the upstream's server header and nothing else writes one: no second scan.
      headers.push('server', this.dp.serverName);
    }
    try {
      this.res.writeHead(status, headers);
    } catch {
      // Node rejects header values it cannot send (control characters from an upstream or a header op).
      attempt.cancel();
      return this.localReply(502, 'upstream response has a header that cannot be forwarded', 'UPE');
    }
    this.statusSent = status;
  }

  /** Streams a body chunk; false pauses the upstream socket until the client has drained. */
  onUpstreamData(attempt: Attempt, chunk: Buffer): boolean {
    if (this.done) return true;
    this.responseBodyBytes += chunk.length;
    if (this.res.write(chunk)) return true;
    this.res.once('drain', attempt.resume);
    return false;
  }

  onUpstreamEnd(): void {
    if (this.done) return;
    this.finish(this.statusSent, this.responseFlags);
    this.res.end();
  }

  onUpstreamError(attempt: Attempt, error: Error): void {
    if (this.done) return;
    if (this.statusSent) {
      // The response already started: all the proxy can do is cut it, as Envoy resets the stream.
      this.finish(this.statusSent, 'UR');
      this.res.destroy();
      return;
    }
    const code = (error as { code?: string }).code ?? '';
    const retry = this.route!.retry;
    this.report(attempt, 'localFailure');
    if (isConnectErrorCode(code)) {
      this.retryOr(
        () => this.localReply(503, LOCAL_REPLY.connectFailure, this.exhaustedFlag('UF')),
        retry.onConnectFailure || retry.on5xx || retry.onGatewayError,
      );
    } else {
      this.retryOr(() => this.localReply(503, LOCAL_REPLY.reset, this.exhaustedFlag('UC')), retry.onReset || retry.on5xx);
    }
  }

  private onPerTryTimeout(attempt: Attempt): void {
    if (this.done || attempt.settled || attempt !== this.attempt || this.statusSent) return;
    attempt.cancel();
    this.report(attempt, 'localFailure');
    const retry = this.route!.retry;
    this.retryOr(() => this.localReply(504, LOCAL_REPLY.timeout, this.exhaustedFlag('UT')), retry.on5xx || retry.onGatewayError || retry.onReset);
  }

  private onRouteTimeout(): void {
    if (this.done) return;
    this.attempt?.cancel();
    if (this.statusSent) {
      this.finish(this.statusSent, 'UT');
      this.res.destroy();
      return;
    }
    this.localReply(504, LOCAL_REPLY.timeout, 'UT');
  }

  private onClientGone(): void {
    // Downstream disconnected: cancel the upstream request, free the queue slot, record it (Envoy flag DC).
    this.finish(this.statusSent || 0, 'DC');
  }

  /**
   * Envoy's CORS filter (cors_filter.cc, decodeHeaders): a non-empty Origin that a matcher accepts (or a matcher that
   * accepts the literal `*`) is latched for the response headers; a preflight (OPTIONS with a non-empty
   * Access-Control-Request-Method) is answered here, unless its origin is not allowed and unmatched preflights are
   * forwarded (Istio's default), in which case it goes on to the upstream like any request.
   */
  private corsPreflightAnswered(cors: CompiledCors): boolean {
    const origin = firstHeader(this.req.headers, 'origin');
    if (!origin) return false;
    const allowed = cors.allowOrigins.some((test) => test('*') || test(origin));
    if (allowed) this.corsOrigin = origin;
    const requestMethod = firstHeader(this.req.headers, 'access-control-request-method');
    if (this.view.method !== 'OPTIONS' || !requestMethod) return false;
    if (!allowed && cors.forwardNotMatchingPreflights) return false;
    this.corsPreflight(cors, requestMethod);
    return true;
  }

  private corsPreflight(cors: CompiledCors, requestMethod: string): void {
    const headers: string[] = [];
    if (this.corsOrigin !== undefined) headers.push('access-control-allow-origin', this.corsOrigin);
    if (cors.allowCredentials) headers.push('access-control-allow-credentials', 'true');
    // `*` echoes what the preflight asks for (Envoy sets the request's Access-Control-Request-Method/-Headers).
    if (cors.allowMethods) headers.push('access-control-allow-methods', cors.allowMethods === '*' ? requestMethod : cors.allowMethods);
    if (cors.allowHeaders) {
      const asked = firstHeader(this.req.headers, 'access-control-request-headers') ?? '';
      headers.push('access-control-allow-headers', cors.allowHeaders === '*' ? asked : cors.allowHeaders);
    }
    if (cors.maxAgeSeconds) headers.push('access-control-max-age', cors.maxAgeSeconds);
    headers.push('content-length', '0');
    this.setServer(headers);
    this.finish(200, '-');
    this.res.writeHead(200, headers).end();
  }

  /** Envoy's CORS encodeHeaders: sets (replaces an upstream's) allow-origin, credentials and expose-headers. */
  private addCorsHeaders(headers: string[]): void {
    if (this.corsOrigin === undefined) return;
    const cors = this.route!.cors!;
    removeHeader(headers, 'access-control-allow-origin');
    headers.push('access-control-allow-origin', this.corsOrigin);
    if (cors.allowCredentials) {
      removeHeader(headers, 'access-control-allow-credentials');
      headers.push('access-control-allow-credentials', 'true');
    }
    if (cors.exposeHeaders) {
      removeHeader(headers, 'access-control-expose-headers');
      headers.push('access-control-expose-headers', cors.exposeHeaders);
    }
  }

  /**
   * The Location as Istio configures Envoy's redirect (route.go ApplyRedirect) and Envoy builds it
   * (source/common/http/utility.cc, Utility::newUri and processRequestHost).
   */
  private redirectLocation(redirect: NonNullable<CompiledRoute['redirect']>): string {
    const scheme = redirect.scheme ?? this.view.scheme;
    // ApplyRedirect: derivePort FROM_REQUEST_PORT is the listener's port; an explicit :80 with http or :443 with
    // https is dropped (the local listeners are plain HTTP, so no scheme means http).
    let port = redirect.fromRequestPort ? this.view.port : redirect.port || undefined;
    if ((port === 80 && scheme === 'http') || (port === 443 && scheme === 'https')) port = undefined;
    // newUri: a host_redirect is used as given; otherwise the request's host loses its port when a port is set or
    // when the scheme changes from the one the request came with (x-forwarded-proto) and the port was its default.
    let host = redirect.authority;
    if (!host) {
      host = this.authority;
      const requestPort = host.lastIndexOf(':') > host.lastIndexOf(']') ? host.slice(host.lastIndexOf(':')) : undefined;
      const requestScheme = this.forwardedProto();
      const defaultPort = requestScheme === 'https' ? ':443' : requestScheme === 'http' ? ':80' : undefined;
      if (requestPort !== undefined && (port !== undefined || (scheme !== requestScheme && requestPort === defaultPort))) {
        host = host.slice(0, -requestPort.length);
      }
    }
    // Envoy prefix_rewrite replaces the matched prefix ("/" without a uri match); path_redirect the whole path and,
    // without a query of its own, keeps the request's query string.
    let target = redirect.uri ?? this.view.path;
    if (redirect.prefixRewrite !== undefined && redirect.uri === undefined) {
      target = redirect.prefixRewrite + this.view.path.slice(this.block ? (this.block.uriPrefixLength ?? 0) : 1);
    }
    if (!target.startsWith('/')) target = `/${target}`;
    if (this.view.rawQuery && !target.includes('?')) target = `${target}?${this.view.rawQuery}`;
    return `${scheme}://${host}${port === undefined ? '' : `:${port}`}${target}`;
  }

  /** The x-forwarded-proto Envoy sees: the gateway overwrites the client's (no trusted hops), a sidecar keeps it. */
  private forwardedProto(): string {
    if (this.dp.options.source.kind === 'gateway') return 'http';
    return firstHeader(this.req.headers, 'x-forwarded-proto') ?? 'http';
  }

  private redirect(): void {
    const redirect = this.route!.redirect!;
    const headers = ['location', this.redirectLocation(redirect), 'content-length', '0'];
    this.addCorsHeaders(headers);
    applyHeaderOps(headers, this.route!.responseHeaders); // Envoy finalizes route response headers on redirects too
    this.setServer(headers);
    this.finish(redirect.code, this.faultDelayed ? 'DI' : '-');
    this.res.writeHead(redirect.code, headers).end();
  }

  /** Envoy's router answers a request no route matches with a bare 404: no body (response code details route_not_found). */
  private noRoute(): void {
    this.reply(404, Buffer.alloc(0), undefined, 'NR');
  }

  /** An Envoy-style local reply: plain text, the proxy's own status. */
  private localReply(status: number, text: string, flags: string, extraHeaders?: readonly string[]): void {
    // Envoy sends the text as is (e.g. 19 bytes for `no healthy upstream`), no trailing newline.
    this.reply(status, Buffer.from(text), 'text/plain', flags, extraHeaders);
  }

  private reply(status: number, body: Buffer, contentType: string | undefined, flags: string, extraHeaders: readonly string[] = []): void {
    if (this.done) return;
    this.finish(status, flags);
    if (this.res.headersSent) {
      this.res.destroy();
      return;
    }
    const own = contentType === undefined ? ['content-length', String(body.length)] : ['content-type', contentType, 'content-length', String(body.length)];
    const headers = [...own, ...extraHeaders];
    this.addCorsHeaders(headers);
    applyHeaderOps(headers, this.answerHeaderOps);
    this.setServer(headers);
    try {
      this.res.writeHead(status, headers);
    } catch {
      // A header operation's value Node cannot send (a control character): the reply goes out without them.
      this.res.writeHead(status, [...own, 'server', this.dp.serverName]);
    }
    const sendBody = this.view?.method !== 'HEAD';
    if (sendBody) this.responseBodyBytes = body.length;
    this.res.end(sendBody ? body : undefined);
  }

  /** The connection manager writes its server name last, over any upstream value or header operation. */
  private setServer(headers: string[]): void {
    removeHeader(headers, 'server');
    headers.push('server', this.dp.serverName);
  }

  internalError(error: unknown): void {
    if (this.done) return;
    void error; // no stack traces to clients; the request record carries the 500
    this.localReply(500, 'internal proxy error', '-');
  }

  /** Schedules `fn` unless the exchange is over by then. */
  private later(ms: number, fn: () => void): void {
    const timer = setTimeout(() => {
      if (!this.done) this.guard(fn);
    }, ms);
    (this.timers ??= []).push(timer);
  }

  /** Ends the exchange once: stops timers, the current attempt and any queue wait, and records telemetry. */
  private finish(status: number, flags: string): void {
    if (this.done) return;
    this.done = true;
    if (this.timers) for (const timer of this.timers) clearTimeout(timer);
    // A normal end has settled the attempt already; anything else (timeout, client gone, reset) abandons it.
    if (this.attempt && !this.attempt.settled) this.attempt.cancel(flags);
    if (this.waitingForSlot) this.upstream!.cancelWaiting(this.waitingForSlot);
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

  private finalStatus = 0;
  private finalFlags = '-';
  private durationMs = 0;

  private readonly emitRecord = (): void => {
    const destination = this.destination;
    const endpoint = this.answeredBy;
    const features: readonly Feature[] | undefined = destination?.features ?? this.route?.features;
    const recordSource = this.dp.recordSource;
    // Every field written out (no object spread): one object shape per record, built without a runtime call.
    this.dp.record({
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

export function retryOnStatus(retry: RetryPolicy, status: number): boolean {
  if (retry.attempts <= 0) return false;
  if (retry.on5xx && status >= 500) return true;
  if (retry.onGatewayError && status >= 502 && status <= 504) return true;
  if (retry.onRetriable4xx && status === 409) return true;
  return retry.onCodes.has(status);
}

export function createDataPlane(options: DataPlaneOptions): DataPlane {
  return new ProxyDataPlane(options);
}
