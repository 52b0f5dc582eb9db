/**
 * Per-cluster runtime state of one data plane (Envoy keeps it per proxy too): load-balancer cursor, circuit-breaker
 * counters and queue, and outlier-detection state per endpoint. It survives config swaps, keyed by cluster name.
 */
import type { Endpoint } from '../../model';
import type { ClusterPolicy, OutlierPolicy } from '../config';
import { buildHashTable, type HashTable } from './hashing';

export interface HostState {
  /** Requests in flight to this endpoint from this cluster (LEAST_REQUEST). */
  active: number;
  consecutive5xx: number;
  consecutiveGateway: number;
  /** Clock value until which the endpoint is ejected; 0 = not ejected. */
  ejectedUntil: number;
  ejections: number;
  /** When the last ejection ended, to forget ejections over time like Envoy's interval sweeps. */
  returnedAt: number;
}

/** What an attempt's result means for outlier detection. */
export type AttemptOutcome = 'success' | 'error5xx' | 'gatewayError' | 'localFailure';

export type AcquireResult = 'granted' | 'queued' | 'overflow';

export class ClusterState {
  private roundRobin = 0;
  /** Requests holding a connection-pool slot (circuit breaking). */
  private active = 0;
  private readonly waiting: Array<() => void> = [];
  private readonly hosts = new Map<string, HostState>();
  /** consistentHash: the ring/Maglev table of the current healthy endpoint set (rebuilt when it changes, as Envoy does). */
  private hashTable?: { key: string; table: HashTable };

  host(id: string): HostState {
    let state = this.hosts.get(id);
    if (!state) {
      state = { active: 0, consecutive5xx: 0, consecutiveGateway: 0, ejectedUntil: 0, ejections: 0, returnedAt: 0 };
      this.hosts.set(id, state);
    }
    return state;
  }

  private isEjected(state: HostState | undefined, now: number): boolean {
    if (!state || state.ejectedUntil === 0) return false;
    if (now < state.ejectedUntil) return true;
    state.ejectedUntil = 0;
    state.returnedAt = now;
    return false;
  }

  /**
   * Chooses an endpoint among a cluster's ready endpoints: drops ejected ones (unless fewer than minHealthPercent
   * stay healthy: Envoy's panic mode routes to all), prefers endpoints not tried yet (Istio's previous_hosts retry
   * predicate), then applies the load-balancing policy. Undefined when nothing is left.
   */
  pick(
    candidates: readonly Endpoint[],
    policy: ClusterPolicy,
    tried: ReadonlySet<string> | undefined,
    random: () => number,
    now: number,
    /** The request's consistent-hash value; undefined with a hash policy = nothing to hash (Envoy picks at random). */
    hash?: bigint,
  ): Endpoint | undefined {
    let pool: readonly Endpoint[] = candidates;
    if (policy.outlier && this.hosts.size > 0) {
      const healthy = candidates.filter((e) => !this.isEjected(this.hosts.get(e.id), now));
      if (healthy.length < candidates.length) {
        const panic = healthy.length * 100 < policy.outlier.minHealthPercent * candidates.length;
        pool = panic ? candidates : healthy;
      }
    }
    if (policy.hash) {
      if (pool.length === 0) return undefined;
      if (hash === undefined) return pool[Math.floor(random() * pool.length)];
      const key = pool.map((e) => `${e.id}@${e.host}:${e.port}`).join(',');
      if (this.hashTable?.key !== key) this.hashTable = { key, table: buildHashTable(pool, policy.hash) };
      // A retry walks on to the next endpoint of the ring/table that was not tried (previous_hosts predicate).
      return this.hashTable.table.pick(hash, tried);
    }
    if (tried && tried.size > 0 && pool.length > 1) {
      const fresh = pool.filter((e) => !tried.has(e.id));
      if (fresh.length > 0) pool = fresh;
    }
    const n = pool.length;
    if (n === 0) return undefined;
    if (n === 1) return pool[0];
    switch (policy.lb) {
      case 'ROUND_ROBIN':
        return pool[this.roundRobin++ % n];
      case 'RANDOM':
        return pool[Math.floor(random() * n)];
      default: {
        // Envoy's LEAST_REQUEST with equal weights: power of two choices on active requests.
        const first = pool[Math.floor(random() * n)];
        const second = pool[Math.floor(random() * n)];
        return this.host(second.id).active < this.host(first.id).active ? second : first;
      }
    }
  }

  /** Takes a connection-pool slot: at once, after waiting in the pending queue (`onGranted` later), or not at all. */
  acquire(policy: ClusterPolicy, onGranted: () => void): AcquireResult {
    if (!policy.limited) {
      this.active++;
      return 'granted';
    }
    if (this.active >= policy.maxRequests) return 'overflow';
    if (this.active < policy.maxConnections) {
      this.active++;
      return 'granted';
    }
    if (this.waiting.length < policy.maxPending) {
      this.waiting.push(onGranted);
      return 'queued';
    }
    return 'overflow';
  }

  /**
   * A TCP connection's slot: Envoy's tcp_proxy checks the cluster's max_connections before it asks the pool for a
   * connection and fails at once with UO when none is left (no pending queue for TCP).
   */
  acquireConnection(policy: ClusterPolicy): boolean {
    if (policy.limited && this.active >= policy.maxConnections) return false;
    this.active++;
    return true;
  }

  /** Gives a slot back and hands it to the oldest waiting request, if any. */
  release(policy: ClusterPolicy): void {
    this.active = Math.max(0, this.active - 1);
    while (this.waiting.length > 0 && this.active < Math.min(policy.maxConnections, policy.maxRequests)) {
      const next = this.waiting.shift()!;
      this.active++;
      next();
    }
  }

  /** Removes a request from the pending queue (client gone, timeout). */
  cancelWaiting(onGranted: () => void): void {
    const index = this.waiting.indexOf(onGranted);
    if (index >= 0) this.waiting.splice(index, 1);
  }

  /** Feeds an attempt's result to outlier detection; ejects the endpoint when a threshold is crossed. */
  report(endpointId: string, outcome: AttemptOutcome, outlier: OutlierPolicy | undefined, clusterSize: number, now: number): void {
    if (!outlier) return;
    const state = this.host(endpointId);
    if (outcome === 'success') {
      state.consecutive5xx = 0;
      state.consecutiveGateway = 0;
      return;
    }
    // Locally originated failures (connect failure, reset, timeout) count as 5xx and as gateway errors,
    // as Envoy does without split_external_local_origin_errors.
    state.consecutive5xx++;
    if (outcome !== 'error5xx') state.consecutiveGateway++;
    else state.consecutiveGateway = 0;
    const tripped =
      (outlier.consecutive5xx > 0 && state.consecutive5xx >= outlier.consecutive5xx) ||
      (outlier.consecutiveGateway > 0 && state.consecutiveGateway >= outlier.consecutiveGateway);
    if (tripped && !this.isEjected(state, now)) this.eject(state, outlier, clusterSize, now);
  }

  private eject(state: HostState, outlier: OutlierPolicy, clusterSize: number, now: number): void {
    let ejected = 0;
    for (const other of this.hosts.values()) if (this.isEjected(other, now)) ejected++;
    // Envoy's DetectorImpl::ejectHost: eject only while (ejected + 1) / hosts stays within maxEjectionPercent.
    // Istio never sets always_eject_one_host, so with the default 10 % a cluster of fewer than 10 endpoints
    // (the only host of a cluster included) never ejects anything.
    if (((ejected + 1) * 100) / Math.max(1, clusterSize) > outlier.maxEjectionPercent) return;
    if (state.returnedAt > 0 && outlier.intervalMs > 0) {
      // Envoy lowers the ejection multiplier by one for each interval sweep the endpoint stayed healthy.
      state.ejections = Math.max(0, state.ejections - Math.floor((now - state.returnedAt) / outlier.intervalMs));
    }
    state.ejections++;
    state.ejectedUntil = now + outlier.baseEjectionMs * state.ejections;
    state.consecutive5xx = 0;
    state.consecutiveGateway = 0;
  }

  /** For tests and the admin view: ids of the endpoints currently ejected. */
  ejectedIds(now: number): string[] {
    return [...this.hosts.entries()].filter(([, s]) => this.isEjected(s, now)).map(([id]) => id);
  }
}
