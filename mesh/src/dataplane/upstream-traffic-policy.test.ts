/**
 * Conformance table, part 2b: a DestinationRule's trafficPolicy at the upstream — load balancing, circuit breaking
 * (connectionPool) and outlier detection — through real HTTP with seeded randomness and a fake clock.
 */
import { until } from '@cns/service-kit/testing';
import type { TrafficPolicy } from '../model';
import { LOCAL_REPLY } from './dataplane';
import { seededRandom } from './random';
import { holdable, startResilienceMesh, type Setup } from './resilience-fixture';
import { status, type MeshFixture, type Upstream } from './test-harness';

let mesh: MeshFixture;
afterEach(async () => {
  await mesh?.close();
});

/** Starts the shared gateway mesh (./resilience-fixture.ts) as this file's `mesh`, closed after each test. */
async function setup(options: Setup) {
  mesh = await startResilienceMesh(options);
  return mesh;
}

describe('load balancing', () => {
  async function ids(n: number): Promise<string[]> {
    const out: string[] = [];
    for (let i = 0; i < n; i++) out.push((await mesh.get('/')).json().id);
    return out;
  }

  test('ROUND_ROBIN cycles through the endpoints in order', async () => {
    await setup({ authorsReplicas: 3, policy: { loadBalancer: { simple: 'ROUND_ROBIN' } } });
    expect(await ids(6)).toEqual(['authors-0', 'authors-1', 'authors-2', 'authors-0', 'authors-1', 'authors-2']);
  });

  test('RANDOM follows the seeded draws', async () => {
    await setup({ seed: 21, authorsReplicas: 3, policy: { loadBalancer: { simple: 'RANDOM' } } });
    const replay = seededRandom(21);
    const got = await ids(30);
    expect(got).toEqual(got.map(() => `authors-${Math.floor(replay() * 3)}`));
    expect(new Set(got).size).toBe(3);
  });

  test('PASSTHROUGH is treated as round robin', async () => {
    await setup({ authorsReplicas: 2, policy: { loadBalancer: { simple: 'PASSTHROUGH' } } });
    expect(await ids(4)).toEqual(['authors-0', 'authors-1', 'authors-0', 'authors-1']);
  });

  test('LEAST_REQUEST (default): of two random choices, the endpoint with fewer active requests wins', async () => {
    await setup({ seed: 8, authorsReplicas: 2 });
    const hold = holdable();
    mesh.upstream('authors-0').behaviour = hold.behaviour; // authors-0 keeps every request it gets
    const replay = seededRandom(8);
    const active = [0, 0];
    const expected: string[] = [];
    const pending: Array<Promise<unknown>> = [];
    for (let i = 0; i < 20; i++) {
      const a = Math.floor(replay() * 2);
      const b = Math.floor(replay() * 2);
      const chosen = active[b] < active[a] ? b : a;
      expected.push(`authors-${chosen}`);
      if (chosen === 0) {
        active[0]++;
        pending.push(mesh.get('/'));
        await until(() => mesh.upstream('authors-0').active === active[0]);
      } else {
        expect((await mesh.get('/')).json().id).toBe('authors-1');
      }
    }
    expect(mesh.upstream('authors-0').hits).toBe(expected.filter((e) => e === 'authors-0').length);
    expect(mesh.upstream('authors-1').hits).toBe(expected.filter((e) => e === 'authors-1').length);
    expect(mesh.upstream('authors-1').hits).toBeGreaterThan(mesh.upstream('authors-0').hits);
    hold.release();
    await Promise.all(pending);
  });

  test('a subset trafficPolicy overrides the top-level one', async () => {
    await setup({
      authorsReplicas: 2,
      drSpec: {
        host: 'authors',
        trafficPolicy: { loadBalancer: { simple: 'RANDOM' } },
        subsets: [{ name: 'rr', labels: { app: 'authors' }, trafficPolicy: { loadBalancer: { simple: 'ROUND_ROBIN' } } }],
      },
      http: [{ route: [{ destination: { host: 'authors', subset: 'rr' } }] }],
    });
    expect(await ids(4)).toEqual(['authors-0', 'authors-1', 'authors-0', 'authors-1']);
  });
});

describe('circuit breaking (connectionPool)', () => {
  test('beyond maxConnections + http1MaxPendingRequests, requests fail fast with 503 UO', async () => {
    await setup({ policy: { connectionPool: { tcp: { maxConnections: 1 }, http: { http1MaxPendingRequests: 1 } } } });
    const hold = holdable();
    const authors0: Upstream = mesh.upstream('authors-0');
    authors0.behaviour = hold.behaviour;
    const first = mesh.get('/');
    await until(() => authors0.active === 1);
    const second = mesh.get('/'); // waits for the connection
    const third = mesh.get('/'); // overflows
    const overflow = await Promise.race([second, third]);
    expect(overflow.status).toBe(503);
    expect(overflow.text).toBe(LOCAL_REPLY.overflow);
    expect(overflow.headers['x-envoy-overloaded']).toBe('true');
    expect(mesh.records.at(-1)).toMatchObject({ responseFlags: 'UO', features: ['circuitBreaker'] });
    expect(authors0.hits).toBe(1); // the queued request has not reached the upstream yet
    hold.release();
    const statuses = (await Promise.all([first, second, third])).map((r) => r.status).sort();
    expect(statuses).toEqual([200, 200, 503]);
    expect(authors0.hits).toBe(2);
  });

  test('slots held by requests whose clients went away (active or queued) are given back', async () => {
    await setup({ policy: { connectionPool: { tcp: { maxConnections: 1 }, http: { http1MaxPendingRequests: 5 } } } });
    const hold = holdable();
    const authors0 = mesh.upstream('authors-0');
    authors0.behaviour = hold.behaviour;
    const clients: Array<import('node:http').ClientRequest> = [];
    const sent = Array.from({ length: 4 }, () => mesh.get('/', { onRequest: (req) => clients.push(req) }).catch(() => 'aborted'));
    await until(() => authors0.active === 1 && clients.length === 4);
    for (const req of clients) req.destroy();
    expect(await Promise.all(sent)).toEqual(['aborted', 'aborted', 'aborted', 'aborted']);
    await until(() => mesh.records.length === 4, 3000, 'four DC records');
    expect(mesh.records.map((r) => r.responseFlags)).toEqual(['DC', 'DC', 'DC', 'DC']);
    hold.release();
    // with a leaked slot this would wait forever or overflow
    const after = await Promise.all([mesh.get('/'), mesh.get('/')]);
    expect(after.map((r) => r.status)).toEqual([200, 200]);
  });

  test('http2MaxRequests caps concurrent requests without queueing', async () => {
    await setup({ policy: { connectionPool: { http: { http2MaxRequests: 2 } } } });
    const hold = holdable();
    mesh.upstream('authors-0').behaviour = hold.behaviour;
    const held = [mesh.get('/'), mesh.get('/')];
    await until(() => mesh.upstream('authors-0').active === 2);
    expect((await mesh.get('/')).status).toBe(503);
    hold.release();
    expect((await Promise.all(held)).map((r) => r.status)).toEqual([200, 200]);
  });
});

describe('outlier detection', () => {
  const outlier = (extra: object = {}): TrafficPolicy => ({
    loadBalancer: { simple: 'ROUND_ROBIN' },
    outlierDetection: { consecutive5xxErrors: 2, interval: '10s', baseEjectionTime: '30s', maxEjectionPercent: 100, ...extra },
  });

  test('consecutive 5xx eject an endpoint for baseEjectionTime × ejections, then it returns', async () => {
    let clock = 1_000_000;
    await setup({ authorsReplicas: 2, policy: outlier(), now: () => clock });
    mesh.upstream('authors-0').behaviour = status(503);
    const codes = async (n: number) => {
      const out: string[] = [];
      for (let i = 0; i < n; i++) {
        const res = await mesh.get('/');
        out.push(res.status === 200 ? res.json().id : String(res.status));
      }
      return out;
    };
    // round robin: 0 fails, 1 answers, 0 fails again -> ejected
    expect(await codes(3)).toEqual(['503', 'authors-1', '503']);
    expect(await codes(4)).toEqual(['authors-1', 'authors-1', 'authors-1', 'authors-1']);
    clock += 29_999;
    expect(await codes(2)).toEqual(['authors-1', 'authors-1']);
    clock += 1; // 30 s after the ejection it is back
    const back = await codes(4);
    expect(back.filter((c) => c === '503')).toHaveLength(2);
    // second ejection lasts 2 × 30 s
    clock += 30_000;
    expect(await codes(2)).toEqual(['authors-1', 'authors-1']);
    clock += 30_000;
    expect((await codes(2)).filter((c) => c === '503')).toHaveLength(1);
  });

  test('consecutiveGatewayErrors counts only 502/503/504 and connect failures', async () => {
    await setup({ authorsReplicas: 2, policy: outlier({ consecutive5xxErrors: 0, consecutiveGatewayErrors: 2 }), now: () => 1 });
    mesh.upstream('authors-0').behaviour = status(500);
    for (let i = 0; i < 6; i++) await mesh.get('/');
    expect(mesh.upstream('authors-0').hits).toBe(3); // 500 is no gateway error: never ejected
    mesh.upstream('authors-0').behaviour = status(504);
    for (let i = 0; i < 4; i++) await mesh.get('/');
    const hitsAtEjection = mesh.upstream('authors-0').hits;
    for (let i = 0; i < 4; i++) await mesh.get('/');
    expect(mesh.upstream('authors-0').hits).toBe(hitsAtEjection);
  });

  test('maxEjectionPercent 50 of 3 endpoints: one failing endpoint is ejected, the second is not ((1+1)/3 > 50 %)', async () => {
    await setup({ authorsReplicas: 3, policy: outlier({ maxEjectionPercent: 50 }) });
    mesh.upstream('authors-0').behaviour = status(503);
    mesh.upstream('authors-1').behaviour = status(503);
    for (let i = 0; i < 12; i++) await mesh.get('/');
    const first = [mesh.upstream('authors-0').hits, mesh.upstream('authors-1').hits];
    for (let i = 0; i < 12; i++) await mesh.get('/');
    const grew = [mesh.upstream('authors-0').hits - first[0], mesh.upstream('authors-1').hits - first[1]];
    // exactly one of the two failing endpoints is out; the other keeps getting traffic
    expect(grew.filter((g) => g === 0)).toHaveLength(1);
    expect(grew.filter((g) => g > 0)).toHaveLength(1);
  });

  test('the default 10 % never ejects from a cluster of fewer than 10 endpoints, not even its only host', async () => {
    for (const replicas of [1, 3]) {
      const { maxEjectionPercent: _omitted, ...defaults } = outlier().outlierDetection!;
      await setup({ authorsReplicas: replicas, policy: { loadBalancer: { simple: 'ROUND_ROBIN' }, outlierDetection: defaults } });
      mesh.upstream('authors-0').behaviour = status(503);
      for (let i = 0; i < 6 * replicas; i++) await mesh.get('/');
      // round robin keeps sending authors-0 its share: the upstream's own 503s, never UH
      expect(mesh.upstream('authors-0').hits).toBe(6);
      expect(mesh.records.some((r) => r.responseFlags.includes('UH'))).toBe(false);
      await mesh.close();
    }
  });

  test('below minHealthPercent healthy endpoints, ejections are ignored (panic mode)', async () => {
    await setup({ authorsReplicas: 2, policy: outlier({ minHealthPercent: 60 }) });
    mesh.upstream('authors-0').behaviour = status(503);
    for (let i = 0; i < 10; i++) await mesh.get('/');
    expect(mesh.upstream('authors-0').hits).toBe(5);
  });

  test('every endpoint ejected (minHealthPercent 0): 503 no healthy upstream', async () => {
    await setup({ authorsReplicas: 1, policy: outlier() });
    mesh.upstream('authors-0').behaviour = status(503);
    await mesh.get('/');
    await mesh.get('/');
    const res = await mesh.get('/');
    expect(res.text).toBe(LOCAL_REPLY.noHealthyUpstream);
    expect(mesh.records.at(-1)?.responseFlags).toBe('UH');
  });
});
