/**
 * The upstream layer of one proxy, as Envoy's cluster manager: per cluster its load balancer, circuit breaker and
 * outlier detection (`ClusterState`, kept across config swaps by cluster name), and per endpoint one keep-alive HTTP
 * connection pool. The HTTP router and the TCP proxy both go through it, so a DestinationRule applies to both alike.
 *
 * A request (or TCP connection) holds a circuit-breaker slot from `acquire` until its `UpstreamHost` is released;
 * `open` picks the endpoint and counts the request on it (LEAST_REQUEST); every outcome goes through `report`.
 */
import { Pool } from 'undici';
import type { Endpoint } from '../../model';
import type { ClusterPolicy, CompiledCluster } from '../config';
import { ClusterState, type AcquireResult, type AttemptOutcome } from './cluster-state';

export type { AcquireResult, AttemptOutcome } from './cluster-state';

export interface EndpointSource {
  /** All replicas, ready or not; a live view. */
  endpoints(): readonly Endpoint[];
}

/** One request's (or connection's) hold on an endpoint: its slot and active count, given back once. */
export class UpstreamHost {
  private released = false;

  constructor(
    readonly endpoint: Endpoint,
    private readonly upstream: UpstreamCluster,
    private readonly policy: ClusterPolicy,
  ) {}

  /** Feeds the try's outcome to the cluster's outlier detection. */
  report(outcome: AttemptOutcome): void {
    this.upstream.report(this.endpoint, outcome);
  }

  /** Returns the slot and the endpoint's active count; later calls do nothing. */
  release(): void {
    if (this.released) return;
    this.released = true;
    this.upstream.state.host(this.endpoint.id).active--;
    this.upstream.state.release(this.policy);
  }
}

/** A cluster as one proxy sees it now: the compiled cluster of the current config over its kept state. */
export class UpstreamCluster {
  constructor(
    readonly config: CompiledCluster,
    readonly state: ClusterState,
    private readonly manager: ClusterManager,
  ) {}

  /** The cluster's ready endpoints, in the order the endpoint source lists them. */
  endpoints(): Endpoint[] {
    return this.config.select(this.manager.endpointSource.endpoints());
  }

  /** Takes a circuit-breaker slot: at once, after waiting in the pending queue (`onGranted` later), or not at all. */
  acquire(onGranted: () => void): AcquireResult {
    return this.state.acquire(this.config.policy, onGranted);
  }

  /** A TCP connection's slot (max_connections, no pending queue); false = overflow (UO). */
  acquireConnection(): boolean {
    return this.state.acquireConnection(this.config.policy);
  }

  /** Gives back a slot taken by `acquire` that no `UpstreamHost` holds (the request ended while it waited). */
  releaseSlot(): void {
    this.state.release(this.config.policy);
  }

  cancelWaiting(onGranted: () => void): void {
    this.state.cancelWaiting(onGranted);
  }

  /**
   * With a slot held: picks an endpoint (skipping `tried` when others are left, walking the hash ring for `hash`) and
   * counts the request on it. Undefined when no endpoint is left; the slot is then given back.
   */
  open(tried: ReadonlySet<string> | undefined, hash: bigint | undefined): UpstreamHost | undefined {
    const endpoint = this.pick(tried, hash);
    if (!endpoint) {
      this.releaseSlot();
      return undefined;
    }
    this.state.host(endpoint.id).active++;
    return new UpstreamHost(endpoint, this, this.config.policy);
  }

  /** An endpoint without holding it (a mirror: fire and forget, outside the circuit breaker). */
  pick(tried?: ReadonlySet<string>, hash?: bigint): Endpoint | undefined {
    return this.state.pick(this.endpoints(), this.config.policy, tried, this.manager.random, this.manager.now(), hash);
  }

  report(endpoint: Endpoint, outcome: AttemptOutcome): void {
    const outlier = this.config.policy.outlier;
    if (!outlier) return;
    this.state.report(endpoint.id, outcome, outlier, this.endpoints().length, this.manager.now());
  }

  /** The endpoint's keep-alive HTTP pool. */
  httpPool(endpoint: Endpoint): Pool {
    return this.manager.httpPool(endpoint);
  }
}

export interface ClusterManagerOptions {
  endpoints: EndpointSource;
  random: () => number;
  now: () => number;
}

export class ClusterManager {
  readonly endpointSource: EndpointSource;
  readonly random: () => number;
  readonly now: () => number;
  private readonly clusters = new Map<string, UpstreamCluster>();
  private readonly pools = new Map<string, Pool>();

  constructor(options: ClusterManagerOptions) {
    this.endpointSource = options.endpoints;
    this.random = options.random;
    this.now = options.now;
  }

  /** The cluster with the state it keeps across config swaps (by cluster name, as Envoy keeps a cluster it re-receives unchanged). */
  get(config: CompiledCluster): UpstreamCluster {
    let cluster = this.clusters.get(config.key);
    if (cluster?.config !== config) {
      cluster = new UpstreamCluster(config, cluster?.state ?? new ClusterState(), this);
      this.clusters.set(config.key, cluster);
    }
    return cluster;
  }

  httpPool(endpoint: Endpoint): Pool {
    const origin = `http://${endpoint.host}:${endpoint.port}`;
    let pool = this.pools.get(origin);
    if (!pool) {
      pool = new Pool(origin, { pipelining: 1, keepAliveTimeout: 4_000, connect: { timeout: 10_000 } });
      this.pools.set(origin, pool);
      this.prunePools();
    }
    return pool;
  }

  /** Endpoints come and go (restarts get new ports): drop pools nobody can reach any more. */
  private prunePools(): void {
    const endpoints = this.endpointSource.endpoints();
    if (this.pools.size <= endpoints.length * 2 + 8) return;
    const live = new Set(endpoints.map((e) => `http://${e.host}:${e.port}`));
    for (const [origin, pool] of this.pools) {
      if (!live.has(origin)) {
        this.pools.delete(origin);
        void pool.close().catch(() => undefined);
      }
    }
  }

  /** Closes the HTTP pools: in-flight requests get a moment, then are cut (shutdown must not hang on a slow upstream). */
  async close(): Promise<void> {
    const pools = [...this.pools.values()];
    this.pools.clear();
    await Promise.all(
      pools.map(async (pool) => {
        let timer: NodeJS.Timeout | undefined;
        const deadline = new Promise<void>((resolve) => {
          timer = setTimeout(resolve, 2_000);
          timer.unref();
        });
        await Promise.race([pool.close().catch(() => undefined), deadline]);
        clearTimeout(timer);
        await pool.destroy().catch(() => undefined);
      }),
    );
  }
}
