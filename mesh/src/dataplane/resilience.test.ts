/**
 * Conformance table, part 2: faults, timeouts, retries, mirroring, load balancing, circuit breaking, outlier
 * detection, telemetry and the proxy's HTTP hygiene, through real HTTP with seeded randomness and a fake clock.
 */
import { randomInt } from 'node:crypto';
import http from 'node:http';
import { binomialBounds } from '@cns/service-kit/testing';
import type { DestinationRuleSpec, HTTPRoute, TrafficPolicy } from '../model';
import { createServiceApp } from '@cns/service-kit';
import { LOCAL_REPLY } from './dataplane';
import { until } from '@cns/service-kit/testing';
import { seededRandom } from './random';
import {
  destinationRule,
  echo,
  gateway,
  send,
  service,
  startMesh,
  status,
  virtualService,
  workload,
  type MeshFixture,
  type Upstream,
  type UpstreamBehaviour,
} from './test-harness';

const authors = workload('authors', 'authors', 'v1');
const articles = workload('articles', 'articles', 'v1');
const services = [service('authors', 3000), service('articles', 8080)];
const authorsRoute = { destination: { host: 'authors' } };

let mesh: MeshFixture;
afterEach(async () => {
  await mesh?.close();
});

interface Setup {
  http?: HTTPRoute[];
  policy?: TrafficPolicy;
  drSpec?: DestinationRuleSpec;
  authorsReplicas?: number;
  seed?: number;
  now?: () => number;
  maxRequestBodyBytes?: number;
}

/** A gateway mesh with `authorsReplicas` authors endpoints (authors-0..n) and one articles endpoint. */
async function setup({ http: rules = [{ route: [authorsRoute] }], policy, drSpec, authorsReplicas = 1, seed = 1, now, maxRequestBodyBytes }: Setup) {
  const replicas = [
    ...Array.from({ length: authorsReplicas }, (_, i) => ({ id: `authors-${i}`, workload: authors })),
    { id: 'articles-0', workload: articles },
  ];
  const rules_ = [destinationRule('authors', drSpec ?? { host: 'authors', trafficPolicy: policy })];
  mesh = await startMesh({
    replicas,
    random: seededRandom(seed),
    now,
    maxRequestBodyBytes,
    state: {
      services,
      istio: {
        gateways: [gateway('web-gateway')],
        virtualServices: [virtualService('edge', { hosts: ['*'], gateways: ['web-gateway'], http: rules })],
        destinationRules: policy || drSpec ? rules_ : [],
      },
    },
  });
  return mesh;
}

/** An upstream behaviour that holds every request until `release()`; after that it answers at once. */
function holdable(): { behaviour: UpstreamBehaviour; release: () => void } {
  const held: Array<() => void> = [];
  let released = false;
  return {
    behaviour: (req, res, upstream) => {
      const answer = () => echo(req, res, upstream);
      if (released) answer();
      else held.push(answer);
    },
    release: () => {
      released = true;
      for (const answer of held.splice(0)) answer();
    },
  };
}

/** Answers the first `failures` requests with `code`, then echoes. */
function failFirst(failures: number, code: number): UpstreamBehaviour {
  return (req, res, upstream) => (upstream.hits <= failures ? status(code)(req, res, upstream) : echo(req, res, upstream));
}

async function deadPort(): Promise<number> {
  const server = http.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe('fault injection', () => {
  test('abort 100 %: the proxy answers with the status and Envoy body, flag FI, no upstream call', async () => {
    await setup({ http: [{ fault: { abort: { httpStatus: 503, percentage: { value: 100 } } }, route: [authorsRoute] }] });
    const res = await mesh.get('/');
    expect(res.status).toBe(503);
    expect(res.text).toBe(LOCAL_REPLY.faultAbort);
    expect(mesh.upstream('authors-0').hits).toBe(0);
    expect(mesh.records.at(-1)).toMatchObject({ responseCode: 503, responseFlags: 'FI', virtualService: 'edge', features: ['fault'] });
  });

  test('abort 30 %: exactly the seeded draws abort (one draw per request)', async () => {
    await setup({ seed: 99, http: [{ fault: { abort: { httpStatus: 500, percentage: { value: 30 } } }, route: [authorsRoute] }] });
    const codes: number[] = [];
    for (let i = 0; i < 200; i++) codes.push((await mesh.get('/')).status);
    const replay = seededRandom(99);
    expect(codes).toEqual(codes.map(() => (replay() * 100 < 30 ? 500 : 200)));
  });

  test('abort 30 % with fresh random draws: the aborted share is 30 % within 4 σ', async () => {
    const abort = { httpStatus: 500, percentage: { value: 30 } };
    // A different seed every run (shown on failure, to replay it), so this is a real sample, not a fixed one.
    const seed = randomInt(2 ** 31);
    await setup({ seed, http: [{ fault: { abort }, route: [authorsRoute] }] });
    const n = 400;
    let aborted = 0;
    for (let i = 0; i < n; i++) if ((await mesh.get('/')).status === abort.httpStatus) aborted += 1;
    const { low, high } = binomialBounds(n, abort.percentage.value / 100);
    expect({ seed, aborted, inBounds: aborted >= low && aborted <= high }).toEqual({ seed, aborted, inBounds: true });
  });

  test('a fault without percentage injects nothing', async () => {
    await setup({ http: [{ fault: { abort: { httpStatus: 500 }, delay: { fixedDelay: '5s' } }, route: [authorsRoute] }] });
    expect((await mesh.get('/')).status).toBe(200);
  });

  test('delay 100 % holds the request for fixedDelay, then forwards it (flag DI)', async () => {
    await setup({ http: [{ fault: { delay: { fixedDelay: '200ms', percentage: { value: 100 } } }, route: [authorsRoute] }] });
    const started = performance.now();
    const res = await mesh.get('/');
    expect(res.status).toBe(200);
    expect(performance.now() - started).toBeGreaterThanOrEqual(195);
    expect(mesh.records.at(-1)?.responseFlags).toBe('DI');
  });

  test('delay and abort are independent draws (delay drawn first)', async () => {
    await setup({
      seed: 5,
      http: [
        { fault: { delay: { fixedDelay: '1ms', percentage: { value: 50 } }, abort: { httpStatus: 418, percentage: { value: 50 } } }, route: [authorsRoute] },
      ],
    });
    for (let i = 0; i < 40; i++) await mesh.get('/');
    const replay = seededRandom(5);
    const expected = mesh.records.map(() => {
      const delayed = replay() * 100 < 50;
      const aborted = replay() * 100 < 50;
      return aborted ? (delayed ? 'DI,FI' : 'FI') : delayed ? 'DI' : '-';
    });
    expect(mesh.records.map((r) => r.responseFlags)).toEqual(expected);
    expect(new Set(expected).size).toBe(4); // the seed exercises every combination
  });
});

describe('timeouts and retries', () => {
  test('route timeout: 504 upstream request timeout (UT) and the upstream request is cancelled', async () => {
    await setup({ http: [{ timeout: '100ms', route: [authorsRoute] }] });
    const hold = holdable();
    mesh.upstream('authors-0').behaviour = hold.behaviour;
    const started = performance.now();
    const res = await mesh.get('/');
    expect(res.status).toBe(504);
    expect(res.text).toBe(LOCAL_REPLY.timeout);
    expect(performance.now() - started).toBeGreaterThanOrEqual(95);
    expect(mesh.records.at(-1)).toMatchObject({ responseFlags: 'UT', features: ['timeout'] });
    await until(() => mesh.upstream('authors-0').cancelled === 1, 2000, 'upstream cancel');
    hold.release();
  });

  test('retryOn 5xx: failing tries are retried until one succeeds', async () => {
    await setup({ http: [{ retries: { attempts: 3, retryOn: '5xx' }, route: [authorsRoute] }] });
    mesh.upstream('authors-0').behaviour = failFirst(2, 503);
    const res = await mesh.get('/');
    expect(res.status).toBe(200);
    expect(mesh.upstream('authors-0').hits).toBe(3);
    expect(mesh.records).toHaveLength(1);
    expect(mesh.records[0]).toMatchObject({ responseCode: 200, responseFlags: '-', features: ['retry'] });
  });

  test('attempts counts retries: attempts 2 = 3 tries, then the last upstream answer with flag URX', async () => {
    await setup({ http: [{ retries: { attempts: 2, retryOn: 'gateway-error' }, route: [authorsRoute] }] });
    mesh.upstream('authors-0').behaviour = status(502);
    const res = await mesh.get('/');
    expect(res.status).toBe(502);
    expect(res.text).toBe('authors-0');
    expect(mesh.upstream('authors-0').hits).toBe(3);
    expect(mesh.records.at(-1)?.responseFlags).toBe('URX');
  });

  test.each([
    ['gateway-error', 500, 1],
    ['gateway-error', 504, 3],
    ['retriable-4xx', 409, 3],
    ['retriable-4xx', 404, 1],
    ['503', 503, 3],
    ['503', 500, 1],
    ['connect-failure', 503, 1],
  ])('retryOn %s with upstream %i makes %i tries', async (retryOn, code, tries) => {
    await setup({ http: [{ retries: { attempts: 2, retryOn }, route: [authorsRoute] }] });
    mesh.upstream('authors-0').behaviour = status(code);
    expect((await mesh.get('/')).status).toBe(code);
    expect(mesh.upstream('authors-0').hits).toBe(tries);
  });

  test('perTryTimeout: a hanging try is cut and retried; the retry answers', async () => {
    await setup({ http: [{ retries: { attempts: 2, perTryTimeout: '250ms', retryOn: 'gateway-error' }, route: [authorsRoute] }] });
    const hold = holdable();
    mesh.upstream('authors-0').behaviour = (req, res, upstream) => (upstream.hits === 1 ? hold.behaviour(req, res, upstream) : echo(req, res, upstream));
    const res = await mesh.get('/');
    expect(res.status).toBe(200);
    expect(mesh.upstream('authors-0').hits).toBeGreaterThanOrEqual(2);
    await until(() => mesh.upstream('authors-0').cancelled >= 1, 2000, 'first try cancelled');
    hold.release();
  });

  test('perTryTimeout on every try: 504 after 1 + attempts tries (UT,URX); the route timeout bounds them all', async () => {
    await setup({
      http: [
        { match: [{ uri: { prefix: '/pertry' } }], retries: { attempts: 1, perTryTimeout: '50ms', retryOn: '5xx' }, route: [authorsRoute] },
        { timeout: '150ms', retries: { attempts: 5, perTryTimeout: '100ms', retryOn: '5xx' }, route: [authorsRoute] },
      ],
    });
    const hold = holdable();
    mesh.upstream('authors-0').behaviour = hold.behaviour;
    const res = await mesh.get('/pertry');
    expect(res.status).toBe(504);
    expect(res.text).toBe(LOCAL_REPLY.timeout);
    expect(mesh.records.at(-1)?.responseFlags).toBe('UT,URX');
    // 5 retries × 100 ms would outlast the 150 ms route timeout: the route timeout answers (UT, not UT,URX)
    const bounded = await mesh.get('/bounded');
    expect(bounded.status).toBe(504);
    expect(mesh.records.at(-1)?.responseFlags).toBe('UT');
    hold.release();
  });

  test('a retry prefers an endpoint not tried yet', async () => {
    await setup({
      authorsReplicas: 2,
      policy: { loadBalancer: { simple: 'ROUND_ROBIN' } },
      http: [{ retries: { attempts: 1, retryOn: '5xx' }, route: [authorsRoute] }],
    });
    mesh.upstream('authors-0').behaviour = status(503);
    const results = await Promise.all(Array.from({ length: 10 }, () => mesh.get('/')));
    expect(results.map((r) => r.status)).toEqual(Array(10).fill(200));
    expect(mesh.upstream('authors-1').hits).toBe(10);
  });

  test('with no retry policy, connect failures are retried (Istio default) on another endpoint', async () => {
    await setup({ authorsReplicas: 2, policy: { loadBalancer: { simple: 'ROUND_ROBIN' } } });
    mesh.endpoints[0].port = await deadPort();
    const results = [];
    for (let i = 0; i < 6; i++) results.push(await mesh.get('/'));
    expect(results.map((r) => r.status)).toEqual(Array(6).fill(200));
    expect(new Set(results.map((r) => r.json().id))).toEqual(new Set(['authors-1']));
  });

  test('connect failure everywhere: 503 upstream connect error, UF,URX after the default retries; UF without retries', async () => {
    await setup({ http: [{ match: [{ uri: { prefix: '/noretry' } }], retries: { attempts: 0 }, route: [authorsRoute] }, { route: [authorsRoute] }] });
    mesh.endpoints[0].port = await deadPort();
    const res = await mesh.get('/');
    expect(res.status).toBe(503);
    expect(res.text).toBe(LOCAL_REPLY.connectFailure);
    expect(mesh.records.at(-1)?.responseFlags).toBe('UF,URX');
    expect((await mesh.get('/noretry')).status).toBe(503);
    expect(mesh.records.at(-1)?.responseFlags).toBe('UF');
  });

  test('an upstream that closes the connection before answering gives 503 reset (UC)', async () => {
    await setup({ http: [{ retries: { attempts: 0 }, route: [authorsRoute] }] });
    mesh.upstream('authors-0').behaviour = (req) => req.socket.destroy();
    const res = await mesh.get('/');
    expect(res.status).toBe(503);
    expect(res.text).toBe(LOCAL_REPLY.reset);
    expect(mesh.records.at(-1)?.responseFlags).toBe('UC');
  });
});

describe('mirroring', () => {
  test('mirror sends a fire-and-forget copy (Host -shadow); the client gets the primary answer', async () => {
    await setup({ http: [{ route: [{ destination: { host: 'articles' } }], mirror: { host: 'authors' } }] });
    mesh.upstream('authors-0').behaviour = status(500); // the mirror's answer is ignored
    const res = await mesh.get('/copy?x=1', { headers: { host: 'shop:8080' } });
    expect(res.json()).toMatchObject({ id: 'articles-0', url: '/copy?x=1' });
    await until(() => mesh.upstream('authors-0').hits === 1, 2000, 'mirror copy');
    expect(mesh.records).toHaveLength(1);
    expect(mesh.records[0]).toMatchObject({ responseCode: 200, destinationWorkload: 'articles' });
    expect(mesh.records[0].features).toContain('mirror');
  });

  test('the mirror gets the request body as it streams, also one larger than the retry buffer', async () => {
    await setup({ maxRequestBodyBytes: 1024, http: [{ route: [{ destination: { host: 'articles' } }], mirror: { host: 'authors' } }] });
    const body = 'm'.repeat(300_000);
    const res = await mesh.get('/upload', { method: 'POST', body });
    expect(res.json()).toMatchObject({ id: 'articles-0', body });
    await until(() => mesh.upstream('authors-0').received.length === 1, 3000, 'mirrored body');
    expect(mesh.upstream('authors-0').received[0].body).toBe(body);
  });

  test('mirrorPercentage picks the seeded share of requests', async () => {
    await setup({ seed: 11, http: [{ route: [{ destination: { host: 'articles' } }], mirror: { host: 'authors' }, mirrorPercentage: { value: 25 } }] });
    mesh.upstream('authors-0').behaviour = (req, res, upstream) => {
      upstream.received.push({ id: upstream.id, method: '', url: req.url ?? '', headers: req.headers, body: '' });
      echo(req, res, upstream);
    };
    for (let i = 0; i < 80; i++) await mesh.get(`/r${i}`);
    const replay = seededRandom(11);
    const expected = Array.from({ length: 80 }, (_, i) => (replay() * 100 < 25 ? `/r${i}` : null)).filter(Boolean);
    await until(() => mesh.upstream('authors-0').hits === expected.length, 3000, 'mirrored copies');
    expect(new Set(mesh.upstream('authors-0').received.map((r) => r.url))).toEqual(new Set(expected));
  });
});

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

describe('HTTP hygiene and telemetry', () => {
  test("server header: the gateway writes istio-envoy over the upstream's own, a sidecar writes envoy, local replies too", async () => {
    await setup({ http: [{ match: [{ uri: { prefix: '/api' } }], route: [authorsRoute], headers: { response: { set: { server: 'custom' } } } }] });
    mesh.upstream('authors-0').behaviour = (req, res) => {
      req.resume();
      res.writeHead(200, { server: 'Express', 'content-type': 'text/plain' }).end('ok');
    };
    expect((await mesh.get('/api')).headers.server).toBe('istio-envoy');
    expect((await mesh.get('/missing')).headers.server).toBe('istio-envoy');
    await mesh.close();
    mesh = await startMesh({
      replicas: [{ id: 'authors-0', workload: authors }],
      source: { kind: 'sidecar', workload: articles },
      state: { services },
    });
    expect((await send(mesh.port, 'http://authors:3000/')).headers.server).toBe('envoy');
  });

  test("x-request-id: the gateway replaces a client's (every client is external), a sidecar keeps it; trace headers and XFF", async () => {
    await setup({});
    const fresh = (await mesh.get('/', { headers: { traceparent: '00-abc-def-01', te: 'trailers', 'proxy-connection': 'keep-alive' } })).json();
    expect(fresh.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
    expect(fresh.headers.traceparent).toBe('00-abc-def-01');
    expect(fresh.headers['x-forwarded-for']).toBe('127.0.0.1');
    expect(fresh.headers['x-forwarded-proto']).toBe('http');
    expect(fresh.headers.te).toBeUndefined();
    expect(fresh.headers['proxy-connection']).toBeUndefined();
    const edge = (await mesh.get('/', { headers: { 'x-request-id': 'req-1', 'x-forwarded-for': '10.0.0.1', 'x-envoy-external-address': '6.6.6.6' } })).json();
    expect(edge.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
    expect(edge.headers['x-forwarded-for']).toBe('10.0.0.1, 127.0.0.1');
    expect(edge.headers['x-envoy-external-address']).toBe('127.0.0.1');
    await mesh.close();
    mesh = await startMesh({ replicas: [{ id: 'authors-0', workload: authors }], source: { kind: 'sidecar', workload: articles }, state: { services } });
    const kept = (await send(mesh.port, 'http://authors:3000/', { headers: { 'x-request-id': 'req-1' } })).json();
    expect(kept.headers['x-request-id']).toBe('req-1');
    expect(kept.headers['x-envoy-external-address']).toBeUndefined();
  });

  test('gateway telemetry: source istio-ingressgateway, destination the workload that answered', async () => {
    await setup({});
    await mesh.get('/');
    expect(mesh.records).toEqual([
      expect.objectContaining({
        reporter: 'source',
        sourceWorkload: 'istio-ingressgateway',
        sourceApp: 'istio-ingressgateway',
        destinationWorkload: 'authors',
        destinationApp: 'authors',
        destinationVersion: 'v1',
        destinationService: 'authors.default.svc.cluster.local',
        destinationServiceName: 'authors',
        responseCode: 200,
        responseFlags: '-',
        virtualService: 'edge',
      }),
    ]);
    expect(mesh.records[0].durationMs).toBeGreaterThan(0);
  });

  test('responses carry x-envoy-upstream-service-time; a closed data plane answers 503 without crashing', async () => {
    await setup({});
    const res = await mesh.get('/');
    expect(res.headers['x-envoy-upstream-service-time']).toMatch(/^\d+$/);
    await mesh.dataPlane.close();
    const closed = await mesh.get('/');
    expect(closed.status).toBe(503);
    expect(closed.text).toBe('proxy is shutting down');
  });

  test('request bodies are forwarded (fixed length, chunked, expect: 100-continue) and a retry replays them', async () => {
    await setup({ maxRequestBodyBytes: 1024, http: [{ retries: { attempts: 1, retryOn: '5xx' }, route: [authorsRoute] }] });
    mesh.upstream('authors-0').behaviour = failFirst(1, 503); // the retry must replay the body
    const json = await mesh.get('/', { method: 'POST', body: '{"a":1}', headers: { 'content-type': 'application/json' } });
    expect(json.json()).toMatchObject({ method: 'POST', body: '{"a":1}', headers: { 'content-length': '7' } });
    expect(mesh.upstream('authors-0').hits).toBe(2);
    const chunked = await mesh.get('/', { method: 'PUT', body: 'second', onRequest: (req) => req.write('first-') });
    expect(chunked.json().body).toBe('first-second');
    const expecting = await mesh.get('/', { method: 'POST', body: 'z'.repeat(800), headers: { expect: '100-continue' } });
    expect(expecting.json().body).toBe('z'.repeat(800));
    // Beyond the retry buffer the body still goes through, in full.
    const large = await mesh.get('/', { method: 'POST', body: 'x'.repeat(2000) });
    expect(large.status).toBe(200);
    expect(large.json().body).toBe('x'.repeat(2000));
  });

  test('request bodies stream: the service sees the first bytes before the client has sent the rest', async () => {
    await setup({});
    let received = 0;
    mesh.upstream('authors-0').behaviour = (req, res) => {
      req.on('data', (chunk: Buffer) => (received += chunk.length));
      req.on('end', () => res.writeHead(200, { 'content-type': 'text/plain' }).end(String(received)));
    };
    let finish: () => void = () => undefined;
    const answer = mesh.get('/', {
      method: 'POST',
      headers: { 'content-type': 'application/octet-stream' },
      onRequest: (req) => {
        req.write(Buffer.alloc(1000, 1));
        finish = () => req.end(Buffer.alloc(500, 2));
      },
      hold: true,
    });
    await until(() => received === 1000, 5_000, 'the first chunk at the service');
    finish();
    expect((await answer).text).toBe('1500');
  });

  test('a body larger than the buffer reaches the service, whose own limit answers with its JSON 413', async () => {
    await setup({});
    // A real service-kit app (express.json with a 2 MiB limit), as authors runs it.
    const app = createServiceApp({
      service: 'authors',
      bodyLimit: '2mb',
      routes: (routes) => routes.post('/api/v1/things', (_req, res) => res.status(201).json({ ok: true })),
    });
    let received = 0;
    mesh.upstream('authors-0').behaviour = (req, res) => {
      req.on('data', (chunk: Buffer) => (received += chunk.length));
      app(req, res);
    };
    const body = JSON.stringify({ name: 'n'.repeat(3 * 1024 * 1024) });
    const res = await mesh.get('/api/v1/things', { method: 'POST', body, headers: { 'content-type': 'application/json' } });
    expect(res.status).toBe(413);
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    expect(res.json()).toMatchObject({ error: 'payload_too_large' });
    expect(received).toBeGreaterThan(1024 * 1024); // far past the proxy's 1 MiB buffer
    expect(mesh.records.at(-1)).toMatchObject({ responseCode: 413, responseFlags: '-' });
  });

  test('a retry policy buffers only up to the limit: a larger body is not retried', async () => {
    const http = [{ retries: { attempts: 2, retryOn: '5xx' }, route: [authorsRoute] }];
    await setup({ maxRequestBodyBytes: 1024, http });
    mesh.upstream('authors-0').behaviour = failFirst(1, 503);
    const small = await mesh.get('/', { method: 'POST', body: 's'.repeat(1024) });
    expect(small.status).toBe(200);
    expect(mesh.upstream('authors-0').hits).toBe(2);
    await mesh.close();

    await setup({ maxRequestBodyBytes: 1024, http });
    mesh.upstream('authors-0').behaviour = failFirst(1, 503);
    const large = await mesh.get('/', { method: 'POST', body: 'l'.repeat(1025) });
    expect(large.status).toBe(503);
    expect(mesh.upstream('authors-0').hits).toBe(1);
    expect(mesh.records.at(-1)).toMatchObject({ responseCode: 503, responseFlags: '-' });
  });

  test('HEAD keeps the length and sends no body; chunked and large responses stream through', async () => {
    await setup({});
    const head = await mesh.get('/', { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(Number(head.headers['content-length'])).toBeGreaterThan(0);
    expect(head.text).toBe('');
    const big = 'y'.repeat(5 * 1024 * 1024);
    mesh.upstream('authors-0').behaviour = (req, res) => {
      req.resume();
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.write('part1-');
      res.write(big);
      res.end('-end');
    };
    const streamed = await mesh.get('/');
    expect(streamed.headers['transfer-encoding']).toBe('chunked');
    expect(streamed.text.length).toBe(big.length + 10);
    expect(streamed.text.endsWith('-end')).toBe(true);
  });

  test('a client that disconnects cancels the upstream request (flag DC) and the proxy carries on', async () => {
    await setup({});
    const hold = holdable();
    mesh.upstream('authors-0').behaviour = hold.behaviour;
    const aborted = mesh.get('/', { onRequest: (req) => void until(() => mesh.upstream('authors-0').active === 1).then(() => req.destroy()) });
    await expect(aborted).rejects.toThrow();
    await until(() => mesh.upstream('authors-0').cancelled === 1, 2000, 'upstream cancel');
    await until(() => mesh.records.length === 1);
    expect(mesh.records[0]).toMatchObject({ responseCode: 0, responseFlags: 'DC' });
    hold.release();
    expect((await mesh.get('/')).status).toBe(200);
  });

  test('the config is read per request: a swapped config applies to the next request', async () => {
    await setup({});
    expect((await mesh.get('/')).json().id).toBe('authors-0');
    mesh.setState({
      istio: {
        gateways: [gateway('web-gateway')],
        virtualServices: [virtualService('edge', { hosts: ['*'], gateways: ['web-gateway'], http: [{ route: [{ destination: { host: 'articles' } }] }] })],
        destinationRules: [],
      },
    });
    expect((await mesh.get('/')).json().id).toBe('articles-0');
  });

  test('an upstream header Node cannot forward gives 502, not a crash', async () => {
    await setup({ http: [{ route: [authorsRoute], headers: { response: { set: { 'x-bad': 'line\nbreak' } } } }] });
    const res = await mesh.get('/');
    expect(res.status).toBe(502);
    expect(mesh.records.at(-1)?.responseFlags).toBe('UPE');
    expect((await mesh.get('/')).status).toBe(502);
  });

  test('odd but valid config never crashes the proxy', async () => {
    await setup({
      http: [
        { match: [{ uri: { regex: '(' } }], route: [authorsRoute] }, // unparseable regex: never matches
        { match: [{}], route: [] },
        {
          match: [{ uri: { prefix: '/weights' } }],
          route: [
            { destination: { host: 'authors' }, weight: 0 },
            { destination: { host: 'articles' }, weight: 0 },
          ],
        },
        { route: [{ destination: { host: 'nosuch' } }] },
      ],
    });
    expect((await mesh.get('/(')).status).toBe(503);
    expect((await mesh.get('/weights')).status).toBe(503);
    expect((await send(mesh.port, '/', { headers: { host: '' } })).status).toBe(503);
  });
});
