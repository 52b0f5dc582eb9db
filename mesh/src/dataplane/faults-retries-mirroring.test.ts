/**
 * Conformance table, part 2a: fault injection, route and per-try timeouts, retries and mirroring, through real HTTP
 * with seeded randomness.
 */
import { randomInt } from 'node:crypto';
import { binomialBounds, until } from '@cns/service-kit/testing';
import { LOCAL_REPLY } from './dataplane';
import { seededRandom } from './random';
import { authorsRoute, deadPort, failFirst, holdable, startResilienceMesh, type Setup } from './resilience-fixture';
import { echo, status, type MeshFixture } from './test-harness';

let mesh: MeshFixture;
afterEach(async () => {
  await mesh?.close();
});

/** Starts the shared gateway mesh (./resilience-fixture.ts) as this file's `mesh`, closed after each test. */
async function setup(options: Setup) {
  mesh = await startResilienceMesh(options);
  return mesh;
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
