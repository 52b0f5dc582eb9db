/**
 * What the graph keeps of the traffic: per edge triple (caller workload, service, answering workload), as the source
 * reporter saw it, per one-second slot of the window (./window.ts). For HTTP: requests per outcome (response code and
 * flags), a duration histogram on Istio's buckets — what Kiali reads from Prometheus
 * (istio_requests_total, istio_request_duration_milliseconds_bucket) for its graph; and the destination reporter's
 * requests, all and over mTLS, which Kiali's mTLS share reads (its appender security_policy.go). For TCP: bytes each way and
 * connections opened/closed.
 */
import type { TcpConnectionInfo, Workload } from '../model';
import { BUCKETS } from './histogram';
import { UNKNOWN } from './labels';
import { SecondSlots } from './window';

/** The graph's names of a (caller, service, answering workload) triple, as the first request named them. */
export interface GraphPeers {
  sourceWorkload: string;
  sourceApp: string;
  sourceVersion: string;
  serviceName: string;
  /** `unknown` when no workload answered. */
  destinationWorkload: string;
  destinationApp: string;
  destinationVersion: string;
}

/** One outcome (response code, response flags) of an edge's traffic: requests per one-second slot. */
export class OutcomeSlots {
  readonly slots = new SecondSlots(1);
  constructor(
    readonly code: number,
    readonly flags: string,
  ) {}
}

/** Column of the mTLS request count in an HTTP edge's slots, after the duration buckets. */
export const MTLS_COLUMN = BUCKETS;
/** Column of the requests a destination sidecar reported (reached a workload, retried tries included). */
export const REACHED_COLUMN = BUCKETS + 1;

/**
 * One HTTP edge triple: per slot, BUCKETS per-bucket (not cumulative) duration counts, then the mTLS requests and the
 * requests that reached a workload (the mTLS share's denominator).
 */
export class EdgeTraffic {
  readonly slots = new SecondSlots(BUCKETS + 2);
  readonly outcomes: OutcomeSlots[] = [];
  constructor(readonly peers: GraphPeers) {}

  outcome(code: number, flags: string): OutcomeSlots {
    let found = this.outcomes.find((o) => o.code === code && o.flags === flags);
    if (!found) this.outcomes.push((found = new OutcomeSlots(code, flags)));
    return found;
  }
}

/** Columns of a TCP edge's slots. */
export const TcpColumn = { Sent: 0, Received: 1, Opened: 2, Closed: 3 } as const;

export class TcpEdgeTraffic {
  readonly slots = new SecondSlots(4);
  constructor(
    readonly source: Workload,
    readonly destination: Workload | undefined,
    readonly serviceName: string,
  ) {}
}

/** An edge triple's traffic summed over a graph window. */
export interface EdgeTrafficWindow extends GraphPeers {
  outcomes: Array<{ code: number; flags: string; requests: number }>;
  /** Per-bucket duration counts on ISTIO_DEFAULT_BUCKETS, the last one +Inf. */
  durationBuckets: Float64Array;
  /** Requests the destination sidecar reported over mTLS (`connection_security_policy="mutual_tls"`). */
  mtlsRequests: number;
  /** Requests the destination sidecar reported at all: local replies (fault aborts, `UH`, `NR`) are not among them. */
  reachedRequests: number;
}

export interface TcpEdgeWindow {
  source: Workload;
  destination?: Workload;
  serviceName: string;
  sent: number;
  received: number;
  opened: number;
  closed: number;
}

export class GraphTraffic {
  /** HTTP traffic per (caller, service, answering workload) triple, by its names. */
  private readonly http = new Map<string, EdgeTraffic>();
  private readonly tcp = new Map<string, TcpEdgeTraffic>();

  /** The traffic of a triple, by the names the graph draws. */
  edge(peers: GraphPeers): EdgeTraffic {
    const key = Object.values(peers).join('\u0000');
    let traffic = this.http.get(key);
    if (!traffic) this.http.set(key, (traffic = new EdgeTraffic(peers)));
    return traffic;
  }

  tcpEdge(info: TcpConnectionInfo): TcpEdgeTraffic {
    const key = `${info.source.name}|${info.destinationServiceName}|${info.destination?.name ?? UNKNOWN}`;
    let edge = this.tcp.get(key);
    if (!edge) this.tcp.set(key, (edge = new TcpEdgeTraffic(info.source, info.destination, info.destinationServiceName)));
    return edge;
  }

  /** HTTP traffic per edge triple over `seconds` whole seconds before `nowSecond` and that second itself. */
  recentHttp(nowSecond: number, seconds: number): EdgeTrafficWindow[] {
    const out: EdgeTrafficWindow[] = [];
    for (const traffic of this.http.values()) {
      const outcomes = traffic.outcomes.map((o) => ({ code: o.code, flags: o.flags, requests: o.slots.sum(nowSecond, seconds)[0] }));
      if (!outcomes.some((o) => o.requests > 0)) continue;
      const sums = traffic.slots.sum(nowSecond, seconds);
      out.push({
        ...traffic.peers,
        outcomes: outcomes.filter((o) => o.requests > 0),
        durationBuckets: sums.slice(0, BUCKETS),
        mtlsRequests: sums[MTLS_COLUMN],
        reachedRequests: sums[REACHED_COLUMN],
      });
    }
    return out;
  }

  /** TCP traffic per edge over the same seconds as `recentHttp`. */
  recentTcp(nowSecond: number, seconds: number): TcpEdgeWindow[] {
    const out: TcpEdgeWindow[] = [];
    for (const edge of this.tcp.values()) {
      const sums = edge.slots.sum(nowSecond, seconds);
      if (sums.every((n) => n === 0)) continue;
      out.push({
        source: edge.source,
        destination: edge.destination,
        serviceName: edge.serviceName,
        sent: sums[TcpColumn.Sent],
        received: sums[TcpColumn.Received],
        opened: sums[TcpColumn.Opened],
        closed: sums[TcpColumn.Closed],
      });
    }
    return out;
  }
}
