/**
 * Spans for the hops the data plane proxies, the way Istio's Envoys report them (Envoy's HTTP tracer:
 * source/common/tracing/http_tracer_impl.cc + tracer_impl.cc; Istio's decorators and custom tags:
 * pilot/pkg/networking/core/route/route.go GetRouteOperation, telemetry.TraceOperation, core/tracing.go).
 *
 * One local proxy stands for both Envoys of a hop, so it emits both their spans:
 * - gateway: a SERVER span (the gateway's HTTP connection manager) and, per upstream try, a CLIENT child span
 *   `router <cluster> egress` (Istio sets spawn_upstream_span on gateways);
 * - sidecar: a CLIENT span (the caller's outbound listener);
 * - and, per try that reached a workload, the callee's inbound SERVER span, child of the client span. The
 *   traceparent/B3 headers sent to the application carry that server span's id, so the application's own calls
 *   (which forward the headers) become its children.
 *
 * The data plane calls {@link DataPlaneTracing.start} once per request; when the request is not sampled and came
 * with no trace context, it gets an injector that only propagates the decision, otherwise nothing is done.
 */
import type { IncomingMessage } from 'node:http';
import { canonicalRevisionOf, canonicalServiceOf, CLUSTER_DOMAIN, CLUSTER_ID, MESH_ID, upstreamFailureFlag } from '../istio';
import type { Endpoint, RbacShadowResult, SpanData, SpanSink, SpanTagValue, TrafficSource, Workload } from '../model';
import { DRY_RUN_DENY_PREFIX } from './authorization';
import type { CompiledDestination, CompiledRoute } from './config';
import type { CompiledMatchBlock } from '../config/match';
import { first, headerValue, randomId, readTraceContext, stripTraceHeaders, type TraceContext } from './trace-context';

export type { SpanData, SpanSink, SpanTagValue } from '../model';

/** Per data plane: decides per request whether it is traced. */
export interface DataPlaneTracing {
  start(req: IncomingMessage): ExchangeTrace | undefined;
}

/** What the data plane knows when an exchange ends. */
export interface ExchangeOutcome {
  status: number;
  flags: string;
  route?: CompiledRoute;
  block?: CompiledMatchBlock;
  destination?: CompiledDestination;
  /** The listener port the route was chosen for (gateway: 80; sidecar: the authority's port). */
  port?: number;
  authority: string;
  path: string;
  method: string;
}

export interface ExchangeTrace {
  /** Replaces the trace headers of the upstream request (a flat name/value list) with this hop's context. */
  inject(headers: string[], upstreamPath?: string): void;
  /** One upstream try begins: new span ids are written into the injected headers. */
  attempt(endpoint: Endpoint, clusterKey: string): AttemptTrace | undefined;
  finish(outcome: ExchangeOutcome): void;
}

export interface AttemptTrace {
  /** The try ended: `status` 0 = no response headers; `failure` an upstream error, or the flags it was cut with. */
  end(status: number, failure?: Error | string): void;
  /** The callee's dry-run AuthorizationPolicy verdicts, tagged on its inbound span. */
  dryRun?(results: readonly RbacShadowResult[]): void;
}

/**
 * Istio's optional policy tags (pilot/pkg/networking/core/tracing.go optionalPolicyTags): the RBAC filter's shadow
 * metadata, `istio.authorization.dry_run.{allow,deny}_policy.{name,result}`; no value, no tag.
 */
function dryRunTags(results: readonly RbacShadowResult[]): Record<string, string> {
  const tags: Record<string, string> = {};
  for (const { statPrefix, result, policy } of results) {
    const kind = statPrefix === DRY_RUN_DENY_PREFIX ? 'deny' : 'allow';
    if (policy) tags[`istio.authorization.dry_run.${kind}_policy.name`] = policy;
    tags[`istio.authorization.dry_run.${kind}_policy.result`] = result;
  }
  return tags;
}

export interface TracingSettings {
  /** Percentage of new traces recorded (0–100); an incoming sampled flag always wins. */
  samplingPercent: number;
  sink: SpanSink;
  namespace?: string;
  random?: () => number;
  /** Wall clock in ms with sub-ms precision (tests inject it). */
  nowMs?: () => number;
}

// ---------------------------------------------------------------- names and tags

/**
 * Per cluster key `outbound|port|subset|host`: `host:port` and the callee's inbound span name `host:port/*`. Cluster
 * keys are few and long-lived: split once each, and every span shares the same strings.
 */
const clusterNames = new Map<string, { hostPort: string; inboundName: string }>();
function clusterName(clusterKey: string): { hostPort: string; inboundName: string } {
  let names = clusterNames.get(clusterKey);
  if (names === undefined) {
    const [, port, , host] = clusterKey.split('|');
    names = { hostPort: `${host}:${port}`, inboundName: `${host}:${port}/*` };
    if (clusterNames.size > 10_000) clusterNames.clear(); // bound: config changes can mint new keys
    clusterNames.set(clusterKey, names);
  }
  return names;
}

/** Istio's route decorator (GetRouteOperation): `host:port/path` for one cluster, else `vs-name:port/path`. */
export function operationName(
  route: CompiledRoute | undefined,
  block: CompiledMatchBlock | undefined,
  destination: CompiledDestination | undefined,
  port: number | undefined,
  authority: string,
): string {
  const path = block?.tracePath ?? '/*';
  const cluster = route?.kind === 'route' && route.destinations.length === 1 ? (destination ?? route.destinations[0]).cluster : undefined;
  if (cluster) return path === '/*' ? clusterName(cluster.key).inboundName : clusterName(cluster.key).hostPort + path;
  if (route) return `${route.virtualService}:${port ?? 80}${path}`;
  return `${authority || 'unknown'}:${port ?? 80}/*`;
}

/**
 * The reporting proxy. Its Istio tags (buildServiceTags: istio.canonical_revision, istio.canonical_service,
 * istio.mesh_id, istio.namespace, istio.cluster_id) are fields, written into each span's tag literal in that order:
 * a literal with fixed keys is cheap to build, one with a spread is built key by key at run time.
 */
interface Reporter {
  service: string;
  nodeId: string;
  canonicalRevision: string;
  canonicalService: string;
  namespace: string;
  /** A callee's reporter only: the replica's port and `inbound|<port>||`, its upstream cluster. */
  inboundPort?: number;
  inboundCluster?: string;
}

function gatewayReporter(workload?: Workload): Reporter {
  if (workload) {
    // A Gateway API gateway: its own Deployment in the Gateway's namespace (canonical revision `latest`).
    const service = `${workload.name}.${workload.namespace}`;
    return {
      service,
      nodeId: `router~127.0.0.1~${service}~${workload.namespace}.svc.cluster.local`,
      canonicalRevision: 'latest',
      canonicalService: workload.name,
      namespace: workload.namespace,
    };
  }
  return {
    service: 'istio-ingressgateway.istio-system',
    nodeId: `router~127.0.0.1~istio-ingressgateway.istio-system~istio-system.${CLUSTER_DOMAIN}`,
    canonicalRevision: 'latest',
    canonicalService: 'istio-ingressgateway',
    namespace: 'istio-system',
  };
}

function sidecarReporter(podName: string, labels: Readonly<Record<string, string>>, fallbackName: string, namespace: string): Reporter {
  const service = canonicalServiceOf(labels, fallbackName);
  const revision = canonicalRevisionOf(labels);
  return {
    // Istio names a proxy's spans by its service cluster, `<canonical service>.<namespace>` (tracing.go: XdsNode.Cluster).
    service: `${service}.${namespace}`,
    nodeId: `sidecar~127.0.0.1~${podName}.${namespace}~${namespace}.${CLUSTER_DOMAIN}`,
    canonicalRevision: revision,
    canonicalService: service,
    namespace,
  };
}

// ---------------------------------------------------------------- tracer

interface OpenSpan {
  spanId: string;
  parentSpanId?: string;
  startMs: number;
}

class Tracer implements DataPlaneTracing {
  readonly reporter: Reporter;
  readonly random: () => number;
  readonly nowMs: () => number;
  readonly namespace: string;
  private readonly inboundReporters = new Map<string, Reporter>();

  constructor(
    readonly source: TrafficSource,
    readonly settings: TracingSettings,
  ) {
    this.random = settings.random ?? Math.random;
    const origin = performance.timeOrigin;
    this.nowMs = settings.nowMs ?? (() => origin + performance.now());
    this.namespace = settings.namespace ?? 'default';
    this.reporter =
      source.kind === 'gateway'
        ? gatewayReporter(source.workload)
        : sidecarReporter(source.workload.name, source.workload.labels, source.workload.app, this.namespace);
  }

  start(req: IncomingMessage): ExchangeTrace | undefined {
    const incoming = readTraceContext(req.headers);
    const percent = this.settings.samplingPercent;
    if (incoming && 'traceId' in incoming) {
      const sampled = incoming.sampled ?? (percent >= 100 || (percent > 0 && this.random() * 100 < percent));
      // An unsampled caller context passes through untouched: nothing to record, nothing to rewrite.
      if (!sampled) return undefined;
      return new SampledTrace(this, req, incoming);
    }
    const sampled = incoming?.sampled ?? (percent >= 100 || (percent > 0 && this.random() * 100 < percent));
    if (sampled) return new SampledTrace(this, req, { traceId: randomId(16), b3Single: false });
    // A new trace that is not recorded: the decision still travels, so the next hops do not start their own.
    return new UnsampledTrace();
  }

  inboundReporter(endpoint: Endpoint): Reporter {
    let reporter = this.inboundReporters.get(endpoint.id);
    // A restarted replica keeps its id and gets a new port: its inbound cluster name follows.
    if (!reporter || reporter.inboundPort !== endpoint.port) {
      const workload = endpoint.workload;
      reporter = {
        ...sidecarReporter(endpoint.id, workload.labels, workload.app, workload.namespace || this.namespace),
        inboundPort: endpoint.port,
        inboundCluster: `inbound|${endpoint.port}||`,
      };
      this.inboundReporters.set(endpoint.id, reporter);
    }
    return reporter;
  }

  emit(span: SpanData): void {
    try {
      this.settings.sink.onSpan(span);
    } catch {
      // tracing must never break traffic
    }
  }
}

class UnsampledTrace implements ExchangeTrace {
  inject(headers: string[]): void {
    stripTraceHeaders(headers);
    const traceId = randomId(16);
    const spanId = randomId(8);
    headers.push('traceparent', `00-${traceId}-${spanId}-00`, 'x-b3-traceid', traceId, 'x-b3-spanid', spanId, 'x-b3-sampled', '0');
  }
  attempt(): undefined {
    return undefined;
  }
  finish(): void {}
}

/** Header value slots rewritten per try. */
interface Slots {
  headers: string[];
  traceparent: number;
  spanId: number;
  parentSpanId: number;
  b3: number;
}

class SampledTrace implements ExchangeTrace {
  /** Gateway: its server span; sidecar: the caller's client span. */
  private readonly span: OpenSpan;
  private readonly peerAddress: string;
  private readonly userAgent: string;
  private readonly forwardedProto: string;
  private readonly method: string;
  private requestId?: string;
  /** `http://host/path` of the upstream request, for the callee's server span. */
  private upstreamUrl = '';
  private slots?: Slots;
  private tries = 0;
  private finished = false;

  constructor(
    private readonly tracer: Tracer,
    req: IncomingMessage,
    private readonly context: TraceContext,
  ) {
    this.span = { spanId: randomId(8), parentSpanId: context.parentId, startMs: tracer.nowMs() };
    this.peerAddress = req.socket.remoteAddress ?? '';
    this.userAgent = first(req.headers['user-agent']) ?? '-';
    this.forwardedProto = first(req.headers['x-forwarded-proto']) ?? 'http';
    this.method = req.method ?? 'GET';
    this.requestId = first(req.headers['x-request-id']);
  }

  inject(headers: string[], upstreamPath = '/'): void {
    stripTraceHeaders(headers);
    this.requestId = headerValue(headers, 'x-request-id') ?? this.requestId;
    this.upstreamUrl = `http://${headerValue(headers, 'host') ?? ''}${upstreamPath}`.slice(0, 512);
    const { traceId } = this.context;
    const base = headers.length;
    // Values are placeholders until attempt() writes the ids of the try.
    headers.push('traceparent', '', 'x-b3-traceid', traceId, 'x-b3-spanid', '', 'x-b3-parentspanid', '', 'x-b3-sampled', '1');
    let b3 = -1;
    if (this.context.b3Single) {
      b3 = headers.length + 1;
      headers.push('b3', '');
    }
    if (this.context.tracestate) headers.push('tracestate', this.context.tracestate);
    this.slots = { headers, traceparent: base + 1, spanId: base + 5, parentSpanId: base + 7, b3 };
  }

  attempt(endpoint: Endpoint, clusterKey: string): AttemptTrace {
    this.tries++;
    const gateway = this.tracer.source.kind === 'gateway';
    const startMs = this.tracer.nowMs();
    // The gateway's router span per try; a sidecar's client span covers all tries (no upstream span there).
    const client: OpenSpan = gateway ? { spanId: randomId(8), parentSpanId: this.span.spanId, startMs } : this.span;
    const server: OpenSpan = { spanId: randomId(8), parentSpanId: client.spanId, startMs };
    const slots = this.slots;
    if (slots) {
      const h = slots.headers;
      h[slots.traceparent] = `00-${this.context.traceId}-${server.spanId}-01`;
      h[slots.spanId] = server.spanId;
      h[slots.parentSpanId] = client.spanId;
      if (slots.b3 >= 0) h[slots.b3] = `${this.context.traceId}-${server.spanId}-1-${client.spanId}`;
    }
    const retry = this.tries - 1;
    let ended = false;
    let policyTags: Record<string, string> | undefined;
    return {
      end: (status, failure) => {
        if (ended) return;
        ended = true;
        const flags = status > 0 ? '-' : failureFlags(failure);
        if (gateway) this.emitRouterSpan(client, endpoint, clusterKey, status, flags, retry);
        // A try refused at connect never reached the callee's sidecar: no server span.
        if (flags !== 'UF') this.emitInboundSpan(server, endpoint, clusterKey, status, status > 0 ? '-' : 'DC', policyTags);
      },
      dryRun: (results) => {
        policyTags = dryRunTags(results);
      },
    };
  }

  finish(outcome: ExchangeOutcome): void {
    if (this.finished) return;
    this.finished = true;
    const tracer = this.tracer;
    this.emitSpan(this.span, {
      name: operationName(outcome.route, outcome.block, outcome.destination, outcome.port, outcome.authority),
      kind: tracer.source.kind === 'gateway' ? 'server' : 'client',
      reporter: tracer.reporter,
      downstream: {
        url: `${this.forwardedProto}://${outcome.authority}${outcome.path}`.slice(0, 256 + outcome.authority.length + 10),
        method: outcome.method,
        peerAddress: this.peerAddress,
      },
      cluster: outcome.destination?.cluster.key,
      status: outcome.status,
      flags: outcome.flags,
      routeName: outcome.route?.name,
    });
  }

  /** The gateway's `router <cluster> egress` span of one try (Envoy's upstream span). */
  private emitRouterSpan(span: OpenSpan, endpoint: Endpoint, clusterKey: string, status: number, flags: string, retry: number): void {
    const address = `${endpoint.host}:${endpoint.port}`;
    this.emitSpan(span, {
      name: `router ${clusterKey} egress`,
      kind: 'client',
      reporter: this.tracer.reporter,
      upstreamAddress: address,
      cluster: clusterKey,
      status,
      flags,
      retry,
    });
  }

  /** The callee's inbound SERVER span of one try that reached it. */
  private emitInboundSpan(span: OpenSpan, endpoint: Endpoint, clusterKey: string, status: number, flags: string, policyTags?: Record<string, string>): void {
    const reporter = this.tracer.inboundReporter(endpoint);
    this.emitSpan(span, {
      policyTags,
      name: clusterName(clusterKey).inboundName,
      kind: 'server',
      reporter,
      downstream: { url: this.upstreamUrl, method: this.method, peerAddress: '127.0.0.1' },
      cluster: reporter.inboundCluster,
      status,
      flags,
    });
  }

  /**
   * The one span builder: Envoy's tags in the order Envoy writes them (http_tracer_impl.cc: the request's tags for
   * spans of a downstream request, then Istio's custom tags (buildServiceTags), then the upstream cluster and the
   * outcome).
   */
  private emitSpan(span: OpenSpan, spec: SpanSpec): void {
    const { reporter, downstream, status } = spec;
    // Two fixed-key literals (a span of a downstream request, the router span): V8 builds a literal with fixed keys
    // in one step, keys added one by one are not (ba494a0 measured tag literals against a spread).
    const tags: Record<string, SpanTagValue> = downstream
      ? {
          node_id: reporter.nodeId,
          zone: '',
          'guid:x-request-id': this.requestId ?? '',
          'http.url': downstream.url,
          'http.method': downstream.method,
          downstream_cluster: '-',
          user_agent: this.userAgent,
          'http.protocol': 'HTTP/1.1',
          'peer.address': downstream.peerAddress,
          'istio.canonical_revision': reporter.canonicalRevision,
          'istio.canonical_service': reporter.canonicalService,
          'istio.mesh_id': MESH_ID,
          'istio.namespace': reporter.namespace,
          'istio.cluster_id': CLUSTER_ID,
        }
      : {
          node_id: reporter.nodeId,
          zone: '',
          'http.protocol': 'HTTP/1.1',
          upstream_address: spec.upstreamAddress ?? '',
          'peer.address': spec.upstreamAddress ?? '',
          'istio.canonical_revision': reporter.canonicalRevision,
          'istio.canonical_service': reporter.canonicalService,
          'istio.mesh_id': MESH_ID,
          'istio.namespace': reporter.namespace,
          'istio.cluster_id': CLUSTER_ID,
        };
    // Istio appends its optional policy tags to the service tags (tracing.go); they exist only with a value.
    if (spec.policyTags) Object.assign(tags, spec.policyTags);
    tags.component = 'proxy';
    if (spec.cluster) {
      tags.upstream_cluster = spec.cluster;
      tags['upstream_cluster.name'] = spec.cluster;
    }
    tags['http.status_code'] = String(status);
    tags.response_flags = spec.flags;
    if (spec.routeName) tags.route_name = spec.routeName;
    if (spec.retry) tags['retry.count'] = spec.retry;
    const error = status === 0 || status >= 500;
    if (error) tags.error = true;
    this.tracer.emit({
      traceId: this.context.traceId,
      spanId: span.spanId,
      parentSpanId: span.parentSpanId,
      name: spec.name,
      kind: spec.kind,
      service: reporter.service,
      startUs: Math.round(span.startMs * 1000),
      durationUs: Math.max(1, Math.round((this.tracer.nowMs() - span.startMs) * 1000)),
      tags,
      error,
      tracestate: this.context.tracestate,
    });
  }
}

/** What distinguishes the mesh's three spans (a hop's own span, the gateway's router span, the callee's inbound span). */
interface SpanSpec {
  name: string;
  kind: SpanData['kind'];
  reporter: Reporter;
  /** Spans of a downstream request (not the router span): its URL, method and peer. */
  downstream?: { url: string; method: string; peerAddress: string };
  /** The router span's upstream host:port (also its peer). */
  upstreamAddress?: string;
  cluster?: string;
  status: number;
  flags: string;
  routeName?: string;
  /** Retries before this try (router span), tagged when > 0. */
  retry?: number;
  /** The callee's dry-run verdicts (inbound span): istio.authorization.dry_run.* */
  policyTags?: Record<string, string>;
}

function failureFlags(failure: Error | string | undefined): string {
  if (typeof failure === 'string') return failure;
  if (failure) return upstreamFailureFlag((failure as { code?: string }).code);
  return 'UC';
}

export function createTracing(source: TrafficSource, settings: TracingSettings): DataPlaneTracing {
  return new Tracer(source, settings);
}
