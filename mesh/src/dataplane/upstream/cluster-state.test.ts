/** ClusterState without HTTP: endpoint choice, circuit-breaker queue and the outlier-ejection arithmetic. */
import type { Endpoint } from '../../model';
import { ClusterState } from './cluster-state';
import type { ClusterPolicy, OutlierPolicy } from '../config';
import { seededRandom } from '../random';
import { workload } from '../test-harness';

const authors = workload('authors', 'authors', 'v1');
const endpoints: Endpoint[] = [0, 1, 2, 3].map((i) => ({ id: `authors-${i}`, workload: authors, host: '127.0.0.1', port: 1000 + i, ready: true }));
const outlier: OutlierPolicy = {
  consecutive5xx: 1,
  consecutiveGateway: 0,
  intervalMs: 10_000,
  baseEjectionMs: 30_000,
  maxEjectionPercent: 100,
  minHealthPercent: 0,
};
const policy = (extra: Partial<ClusterPolicy> = {}): ClusterPolicy => ({
  lb: 'ROUND_ROBIN',
  maxConnections: Number.MAX_SAFE_INTEGER,
  maxPending: Number.MAX_SAFE_INTEGER,
  maxRequests: Number.MAX_SAFE_INTEGER,
  limited: false,
  outlier,
  ...extra,
});

test('tried endpoints are avoided while others remain', () => {
  const state = new ClusterState();
  const tried = new Set(['authors-0', 'authors-1', 'authors-2']);
  expect(state.pick(endpoints, policy({ lb: 'RANDOM' }), tried, seededRandom(1), 0)?.id).toBe('authors-3');
  const all = new Set(endpoints.map((e) => e.id));
  expect(state.pick(endpoints, policy(), all, seededRandom(1), 0)).toBeDefined(); // everything tried: any
});

test('the ejection multiplier grows per ejection and decays one step per healthy interval', () => {
  const state = new ClusterState();
  const p = policy();
  state.report('authors-0', 'error5xx', outlier, 4, 0); // ejected until 30 s
  expect(state.ejectedIds(29_999)).toEqual(['authors-0']);
  expect(state.ejectedIds(30_000)).toEqual([]);
  state.report('authors-0', 'error5xx', outlier, 4, 30_000); // second ejection: 60 s
  expect(state.ejectedIds(89_999)).toEqual(['authors-0']);
  expect(state.ejectedIds(90_000)).toEqual([]);
  // healthy for 2 intervals: multiplier 2 -> 0, so the next ejection lasts 1 × 30 s again
  state.report('authors-0', 'error5xx', outlier, 4, 110_000);
  expect(state.ejectedIds(139_999)).toEqual(['authors-0']);
  expect(state.ejectedIds(140_000)).toEqual([]);
  expect(state.pick(endpoints, p, undefined, seededRandom(1), 140_000)).toBeDefined();
});

test('maxEjectionPercent 50 of 4 endpoints: two can be ejected, not three', () => {
  const state = new ClusterState();
  const half = { ...outlier, maxEjectionPercent: 50 };
  for (const id of ['authors-0', 'authors-1', 'authors-2']) state.report(id, 'gatewayError', half, 4, 0);
  expect(state.ejectedIds(1)).toEqual(['authors-0', 'authors-1']);
});

test('maxEjectionPercent counts the ejection about to happen: 10 % of 9 hosts ejects none, of 10 hosts one', () => {
  const tenPercent = { ...outlier, maxEjectionPercent: 10 };
  const nine = new ClusterState();
  for (const id of ['authors-0', 'authors-1']) nine.report(id, 'error5xx', tenPercent, 9, 0);
  expect(nine.ejectedIds(1)).toEqual([]);
  const ten = new ClusterState();
  for (const id of ['authors-0', 'authors-1']) ten.report(id, 'error5xx', tenPercent, 10, 0);
  expect(ten.ejectedIds(1)).toEqual(['authors-0']);
  // The only host of a cluster: 1/1 = 100 %, ejected only when maxEjectionPercent is 100.
  const single = new ClusterState();
  single.report('authors-0', 'error5xx', { ...outlier, maxEjectionPercent: 99 }, 1, 0);
  expect(single.ejectedIds(1)).toEqual([]);
  single.report('authors-0', 'error5xx', outlier, 1, 0);
  expect(single.ejectedIds(1)).toEqual(['authors-0']);
});

test('a success resets the consecutive error count', () => {
  const state = new ClusterState();
  const three = { ...outlier, consecutive5xx: 3 };
  state.report('authors-0', 'error5xx', three, 4, 0);
  state.report('authors-0', 'error5xx', three, 4, 0);
  state.report('authors-0', 'success', three, 4, 0);
  state.report('authors-0', 'error5xx', three, 4, 0);
  expect(state.ejectedIds(0)).toEqual([]);
});

test('circuit breaker: granted, queued in order, then overflow; release hands the slot to the oldest waiter', () => {
  const state = new ClusterState();
  const limited = policy({ maxConnections: 1, maxPending: 2, limited: true });
  const started: string[] = [];
  expect(state.acquire(limited, () => started.push('a'))).toBe('granted');
  expect(state.acquire(limited, () => started.push('b'))).toBe('queued');
  const c = () => started.push('c');
  expect(state.acquire(limited, c)).toBe('queued');
  expect(state.acquire(limited, () => started.push('d'))).toBe('overflow');
  state.cancelWaiting(c);
  state.release(limited);
  expect(started).toEqual(['b']);
  state.release(limited);
  expect(started).toEqual(['b']); // c left the queue
  expect(state.acquire(limited, () => undefined)).toBe('granted');
});
