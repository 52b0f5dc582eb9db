/**
 * consistentHash load balancing through the real data plane on real sockets: header, cookie (generated when
 * missing), query parameter and source IP keys, on a ring hash and on a Maglev table, as Envoy implements them.
 */
import type { LoadBalancerSettings } from '../../model';
import { destinationRule, gateway, service, startMesh, tally, virtualService, workload, type MeshFixture } from '../test-harness';

const authors = workload('authors', 'authors', 'v1');
const REPLICAS = 3;

let mesh: MeshFixture;
afterEach(async () => {
  await mesh?.close();
});

async function setup(consistentHash: NonNullable<LoadBalancerSettings['consistentHash']>): Promise<MeshFixture> {
  mesh = await startMesh({
    replicas: Array.from({ length: REPLICAS }, (_, i) => ({ id: `authors-${i}`, workload: authors })),
    state: {
      services: [service('authors', 3000)],
      istio: {
        gateways: [gateway('web-gateway')],
        virtualServices: [virtualService('edge', { hosts: ['*'], gateways: ['web-gateway'], http: [{ route: [{ destination: { host: 'authors' } }] }] })],
        destinationRules: [destinationRule('authors', { host: 'authors', trafficPolicy: { loadBalancer: { consistentHash } } })],
      },
    },
  });
  return mesh;
}

async function idFor(path: string, headers: Record<string, string> = {}): Promise<string> {
  const res = await mesh.get(path, { headers });
  expect(res.status).toBe(200);
  return res.json().id;
}

/**
 * Bounds for one endpoint's count among `keys` distinct keys. Each key lands on an endpoint with the probability of
 * that endpoint's share of the ring/table: 1/n on average, with the spread of the share itself (for a ring of
 * `points` points, variance p(1-p)/(points+1); a Maglev table gives every endpoint the same slots ±1).
 */
function bounds(keys: number, points: number | undefined, sigmas = 4): { low: number; high: number } {
  const p = 1 / REPLICAS;
  const shareVariance = points === undefined ? 0 : (p * (1 - p)) / (points + 1);
  const sd = Math.sqrt(keys * p * (1 - p) + keys * keys * shareVariance);
  return { low: keys * p - sigmas * sd, high: keys * p + sigmas * sd };
}

async function spread(keys: number, request: (key: string) => Promise<string>): Promise<Record<string, number>> {
  const ids: string[] = [];
  for (let i = 0; i < keys; i++) ids.push(await request(`user-${i}-${Math.random().toString(36).slice(2)}`));
  return tally(ids);
}

describe('consistentHash', () => {
  test('httpHeaderName on a ring: the same value always reaches the same endpoint; many values spread over all', async () => {
    await setup({ httpHeaderName: 'x-user', ringHash: { minimumRingSize: 1024 } });
    for (const user of ['alice', 'bob', 'carol']) {
      const first = await idFor('/', { 'x-user': user });
      for (let i = 0; i < 10; i++) expect(await idFor('/', { 'x-user': user })).toBe(first);
    }
    const keys = 900;
    const counts = await spread(keys, (key) => idFor('/', { 'x-user': key }));
    const { low, high } = bounds(keys, 1024);
    for (let i = 0; i < REPLICAS; i++) {
      expect(counts[`authors-${i}`] ?? 0).toBeGreaterThan(low);
      expect(counts[`authors-${i}`] ?? 0).toBeLessThan(high);
    }
  });

  test('maglev: sticky per value, and every endpoint gets its equal share of the table', async () => {
    await setup({ httpHeaderName: 'x-user', maglev: { tableSize: 65537 } });
    const first = await idFor('/', { 'x-user': 'alice' });
    for (let i = 0; i < 10; i++) expect(await idFor('/', { 'x-user': 'alice' })).toBe(first);
    const keys = 900;
    const counts = await spread(keys, (key) => idFor('/', { 'x-user': key }));
    const { low, high } = bounds(keys, undefined);
    for (let i = 0; i < REPLICAS; i++) {
      expect(counts[`authors-${i}`] ?? 0).toBeGreaterThan(low);
      expect(counts[`authors-${i}`] ?? 0).toBeLessThan(high);
    }
  });

  test('without the header there is nothing to hash: Envoy picks at random, so requests spread', async () => {
    await setup({ httpHeaderName: 'x-user' });
    const counts = tally(await Promise.all(Array.from({ length: 60 }, () => idFor('/'))));
    expect(Object.keys(counts).length).toBeGreaterThan(1);
  });

  test('httpQueryParameterName hashes the parameter value', async () => {
    await setup({ httpQueryParameterName: 'name' });
    const first = await idFor('/api/v1/getauthor?name=Niklas');
    for (let i = 0; i < 10; i++) expect(await idFor(`/api/v1/getauthor?x=${i}&name=Niklas`)).toBe(first);
    const counts = await spread(60, (key) => idFor(`/api/v1/getauthor?name=${key}`));
    expect(Object.keys(counts).length).toBe(REPLICAS);
  });

  test('httpCookie with ttl: a missing cookie is generated (Set-Cookie) and sending it back keeps the endpoint', async () => {
    await setup({ httpCookie: { name: 'session', path: '/', ttl: '60s' } });
    const first = await mesh.get('/');
    const setCookie = String(first.headers['set-cookie']);
    expect(setCookie).toMatch(/^session="[0-9a-f]{16}"; Max-Age=60; Path=\/; HttpOnly$/);
    const cookie = setCookie.split(';')[0];
    for (let i = 0; i < 10; i++) {
      const again = await mesh.get('/', { headers: { cookie: `other=1; ${cookie}` } });
      expect(again.json().id).toBe(first.json().id);
      expect(again.headers['set-cookie']).toBeUndefined();
    }
    const counts = await spread(60, (key) => idFor('/', { cookie: `session=${key}` }));
    expect(Object.keys(counts).length).toBe(REPLICAS);
  });

  test('httpCookie without ttl: nothing is generated', async () => {
    await setup({ httpCookie: { name: 'session' } });
    expect((await mesh.get('/')).headers['set-cookie']).toBeUndefined();
  });

  test('useSourceIp: every request from this client (127.0.0.1) reaches one endpoint', async () => {
    await setup({ useSourceIp: true });
    const ids = new Set<string>();
    for (let i = 0; i < 30; i++) ids.add(await idFor('/'));
    expect(ids.size).toBe(1);
  });

  test('an endpoint leaving the set: the ring is rebuilt without it and every key is sticky again', async () => {
    await setup({ httpHeaderName: 'x-user' });
    const users = Array.from({ length: 60 }, (_, i) => `u${i}`);
    for (const user of users) await idFor('/', { 'x-user': user });
    mesh.endpoints[0].ready = false;
    // (Envoy's ring gives each endpoint ceil(minimumRingSize / n) points, so with n = 2 the remaining endpoints
    // get more points and some of their keys move between them too.)
    for (const user of users) {
      const now = await idFor('/', { 'x-user': user });
      expect(now).not.toBe('authors-0');
      expect(await idFor('/', { 'x-user': user })).toBe(now);
    }
  });
});
