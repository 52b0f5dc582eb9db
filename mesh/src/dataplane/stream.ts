/**
 * What the filters and the router see of one request's stream (Envoy's `StreamDecoderFilterCallbacks`): the request
 * as parsed, the route and destination once resolved, the state the access record reports, and the connection
 * manager's replies. `./connection-manager.ts` implements it (`ActiveStream`); filters and router depend only on
 * this interface.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Endpoint, TelemetrySink, TrafficSource, UpstreamTry, Workload } from '../model';
import type { PolicyTarget } from './authorization';
import type { CompiledDestination, CompiledRoute } from './config';
import type { CompiledMatchBlock, RequestView } from '../config/match';
import type { RequestBody } from './request-body';
import type { ExchangeTrace } from './tracing';
import type { ClusterManager } from './upstream/cluster-manager';

/** The proxy a stream belongs to (its listener and identity). */
export interface ProxyInfo {
  readonly source: TrafficSource;
  readonly random: () => number;
  readonly now: () => number;
  /** This proxy's mTLS identity, what the callee's AuthorizationPolicies see as source.principal. */
  readonly principal: string;
  /** The `server` header this proxy writes on every answer (Envoy's server_name with OVERWRITE). */
  readonly serverName: string;
  readonly sourceLabels: Readonly<Record<string, string>>;
  /** The gateway: `use_remote_address`, every client external. */
  readonly edge: boolean;
  readonly clusters: ClusterManager;
  readonly telemetry: TelemetrySink;
  /** For a gateway: its workload, and what policies selecting the gateway itself match against. */
  readonly gateway: Workload;
  readonly gatewayTarget: PolicyTarget;
}

/** The CORS filter's encoder for one request (an allowed origin was latched). */
export interface CorsEncoder {
  encodeHeaders(headers: string[]): void;
}

export interface HttpStream {
  readonly proxy: ProxyInfo;
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  /** Set once a route table was found (undefined for answers before that). */
  view?: RequestView;
  route?: CompiledRoute;
  block?: CompiledMatchBlock;
  /** The weighted destination resolved with the route (telemetry names it even for local replies). */
  destination?: CompiledDestination;
  /** Host[:port] as the client addressed it. */
  authority: string;
  /** Normalised path and raw query string. */
  path: string;
  rawQuery: string;
  body?: RequestBody;
  cors?: CorsEncoder;
  faultDelayed: boolean;
  /** For the access record: the endpoint whose answer the client got, and when that try started. */
  answeredBy?: Endpoint;
  answerStartedAt: number;
  /** The status written to the client (0 until the response started). */
  statusSent: number;
  responseFlags: string;
  responseDetails?: string;
  retriedTries?: UpstreamTry[];
  responseBodyBytes: number;
  readonly done: boolean;
  trace?: ExchangeTrace;
  /** The sanitised request headers with `host` set to `authority` (the connection manager's part of the upstream request). */
  forwardedHeaders(authority: string): string[];
  noRoute(): void;
  localReply(status: number, text: string, flags: string, extraHeaders?: readonly string[]): void;
  reply(status: number, body: Buffer, contentType: string | undefined, flags: string, extraHeaders?: readonly string[]): void;
  /** Writes this proxy's `server` header over any other. */
  setServer(headers: string[]): void;
  finish(status: number, flags: string): void;
  /** Runs a continuation from a callback, turning a bug into a 500 for this request only. */
  guard(fn: () => void): void;
  /** Schedules `fn` unless the stream is over by then. */
  later(ms: number, fn: () => void): void;
}
