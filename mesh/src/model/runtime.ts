/**
 * The runtime view the data plane, telemetry and the supervisor exchange: workloads, endpoints, who sent a request,
 * and the records the data plane emits (the interfaces telemetry implements).
 */

/** A Deployment as the mesh runs it: one local process per replica. */
export interface Workload {
  /** Deployment name, e.g. `web-api-v1`: Istio's `destination_workload`. */
  name: string;
  namespace: string;
  /** Pod template labels (`app`, `version`, ...): what subsets and Service selectors match. */
  labels: Record<string, string>;
  app: string;
  version: string;
  serviceAccount: string;
  replicas: number;
  /** The pod template's named container ports (`http` → 8080): what a Service's named targetPort resolves to. */
  containerPorts?: Readonly<Record<string, number>>;
}

/** One running replica of a workload. */
export interface Endpoint {
  /** Stable id, e.g. `web-api-v1-0`. */
  id: string;
  workload: Workload;
  host: string;
  port: number;
  /** False while starting, after its readiness probe fails, or once it is being stopped. */
  ready: boolean;
}

/** Who sent a request into the data plane. */
export type TrafficSource =
  /** `workload`: the gateway's own identity when it is not istio-ingressgateway (a Gateway API gateway). */
  { kind: 'gateway'; gatewayName: string; workload?: Workload } | { kind: 'sidecar'; workload: Workload };

/**
 * The ingress gateway as a workload, for telemetry: Istio runs it as Deployment `istio-ingressgateway` in
 * `istio-system` under service account `istio-ingressgateway-service-account`, pod labels
 * `app: istio-ingressgateway`, `istio: ingressgateway` (no `version`).
 */
export const INGRESS_GATEWAY_WORKLOAD: Workload = Object.freeze({
  name: 'istio-ingressgateway',
  namespace: 'istio-system',
  labels: Object.freeze({ app: 'istio-ingressgateway', istio: 'ingressgateway' }) as Record<string, string>,
  app: 'istio-ingressgateway',
  version: 'unknown',
  serviceAccount: 'istio-ingressgateway-service-account',
  replicas: 1,
});

/** One upstream try that reached a workload but was not the answer the client got (it was retried). */
export interface UpstreamTry {
  destination: Workload;
  responseCode: number;
  durationMs: number;
}

/**
 * One client-visible HTTP request as the calling proxy saw it (Istio's `reporter="source"` view). Telemetry derives
 * every standard Istio label from it, and the `reporter="destination"` series of the workload that answered.
 *
 * Binding: `source` and `destination` are the mesh's own `Workload` objects (the same object for every request of a
 * workload; `INGRESS_GATEWAY_WORKLOAD` for the gateway). Telemetry keys its label sets by those object identities,
 * `destinationService` and the outcome (`responseCode`, `responseFlags`), so a request costs a few map look-ups and
 * counter increments, never a label object built and hashed. The flat string fields repeat the same names for
 * the graph and for records built without workload objects (tests); with `source`/`destination` set they must agree.
 */
export interface RequestRecord {
  reporter: 'source' | 'destination';
  /** The calling workload (`INGRESS_GATEWAY_WORKLOAD` for the gateway). */
  source?: Workload;
  /** The workload whose replica sent the answer; undefined when none did (local reply: fault, no route, UH, UO, ...). */
  destination?: Workload;
  sourceWorkload: string;
  sourceApp: string;
  sourceVersion: string;
  destinationWorkload: string;
  destinationApp: string;
  destinationVersion: string;
  /** FQDN, e.g. `web-api.default.svc.cluster.local`; `unknown` when no route named one. */
  destinationService: string;
  destinationServiceName: string;
  /** Namespace of the destination Service (default: the mesh's namespace). */
  destinationServiceNamespace?: string;
  /** Status sent to the client; 0 when the client went away before one (DC). */
  responseCode: number;
  /** Envoy response flags: `-`, `UF` (upstream connect failure), `UH` (no healthy upstream), `UO` (overflow),
   *  `UT` (upstream timeout), `FI` (fault abort), `DI` (fault delay), `NR` (no route), `URX` (retries exhausted),
   *  `DC` (downstream closed), `UR` (upstream reset), `UPE`, `SI`, and any other Envoy flag a data-plane module adds
   *  (e.g. an RBAC deny). Comma-separated when several apply, as Envoy prints them. */
  responseFlags: string;
  requestProtocol: 'http';
  /** Envoy's RESPONSE_CODE_DETAILS when a proxy answered by itself for a reason the flags do not carry, e.g.
   *  `rbac_access_denied_matched_policy[none]` (AuthorizationPolicy; Envoy sets no response flag for it). */
  responseCodeDetails?: string;
  /** Client-visible duration: first byte in to last byte out, as Envoy's `requestComplete()`. */
  durationMs: number;
  /** Bytes received from the client for this request: request line, header block and body (Envoy's downstream
   *  wire bytes received). Optional for records built by hand; telemetry then counts 0. */
  requestBytes?: number;
  /** Bytes sent to the client: status line, header block and body (Envoy's downstream wire bytes sent). */
  responseBytes?: number;
  /** Time the destination spent on the answering try (what the destination sidecar measures); default durationMs. */
  upstreamDurationMs?: number;
  /** Earlier tries that reached a workload and were retried: each one is a request for the destination reporter. */
  retriedTries?: readonly UpstreamTry[];
  /** Which Istio features touched this request, for graph badges. */
  virtualService?: string;
  features?: Array<'fault' | 'timeout' | 'retry' | 'circuitBreaker' | 'trafficShift' | 'mirror'>;
}

/**
 * A TCP connection the mesh proxies (e.g. articles → Postgres), as the calling proxy sees it. Telemetry reports it
 * from both reporters like Istio's TCP metrics: `istio_tcp_connections_opened_total` when opened,
 * `istio_tcp_received_bytes_total` (client → server: bytes the proxy received from the downstream) and
 * `istio_tcp_sent_bytes_total` (server → client: bytes the proxy sent to the downstream) as bytes flow, and
 * `istio_tcp_connections_closed_total` when closed; and a TCP edge (bytes/s) in the graph.
 */
export interface TcpConnectionInfo {
  /** The workload that opened the connection. */
  source: Workload;
  /** The workload of the replica the proxy connected to; undefined if none (then only the source side reports). */
  destination?: Workload;
  /** FQDN of the Service, e.g. `postgres.default.svc.cluster.local`. */
  destinationService: string;
  destinationServiceName: string;
  destinationServiceNamespace?: string;
}

/** Handle for one proxied TCP connection; every method is cheap and never throws. */
export interface TcpConnectionTelemetry {
  /** Bytes the proxy received from the client (client → server direction). */
  received(bytes: number): void;
  /** Bytes the proxy sent to the client (server → client direction). */
  sent(bytes: number): void;
  /** Once, when either side closed; `responseFlags` as Envoy's TCP proxy sets them (`-`, `UF` connect failure, `UH`). */
  close(responseFlags?: string): void;
}

/** One RBAC filter's verdict from its shadow rules (dry-run AuthorizationPolicies), as Envoy counts and records it. */
export interface RbacShadowResult {
  /** istiod's shadow_rules_stat_prefix: `istio_dry_run_allow_` or `istio_dry_run_deny_`. */
  statPrefix: string;
  result: 'allowed' | 'denied';
  /** shadow_effective_policy_id: the matching dry-run rule (`ns[default]-policy[name]-rule[0]`), if one matched. */
  policy?: string;
}

/** Dry-run verdicts at a callee's inbound proxy (`pod` is the endpoint id, `port` the port the pod received on). */
export interface RbacShadowEvent {
  workload: Workload;
  pod: string;
  port: number;
  protocol: 'http' | 'tcp';
  /** The listener's traffic direction: a sidecar's inbound listener (default), or the gateway's (outbound). */
  direction?: 'inbound' | 'outbound';
  results: readonly RbacShadowResult[];
}

export interface TelemetrySink {
  record(record: RequestRecord): void;
  /** Counts dry-run AuthorizationPolicy verdicts (Envoy's RBAC shadow_allowed/shadow_denied); optional for test sinks. */
  rbacShadow?(event: RbacShadowEvent): void;
  /**
   * Opens the telemetry of one proxied TCP connection; call it when the upstream connection is established (or
   * failed: then `close('UF')` at once). Optional so that test sinks need not implement it.
   */
  tcpConnection?(info: TcpConnectionInfo): TcpConnectionTelemetry;
}

// Spans: the data plane's tracer (dataplane/tracing.ts) finishes them, telemetry's trace store and OTLP export take them.

export type SpanTagValue = string | number | boolean;

/** A finished span, in the terms both the Jaeger API and OTLP need. */
export interface SpanData {
  /** 32 lower-case hex digits. */
  traceId: string;
  /** 16 lower-case hex digits. */
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: 'server' | 'client';
  /** The reporting proxy's service (Jaeger process), Istio's service cluster: `istio-ingressgateway.istio-system`, `web-api.default`, ... */
  service: string;
  /** Microseconds since the epoch. */
  startUs: number;
  durationUs: number;
  tags: Record<string, SpanTagValue>;
  error: boolean;
  tracestate?: string;
}

export interface SpanSink {
  /** Called once per finished span; must not throw (errors are swallowed). */
  onSpan(span: SpanData): void;
}
