/**
 * Conformance table, part 1: VirtualService matching, weights and subsets through real HTTP (gateway source,
 * upstream servers on port 0, seeded randomness). Route actions, sidecar traffic and --no-istio:
 * routing-actions.test.ts.
 */
import { randomInt } from 'node:crypto';
import { binomialBounds } from '@cns/service-kit/testing';
import type { HTTPRoute } from '../model';
import { seededRandom } from './random';
import { gatewayMeshOptions, gatewayVs, idOf as idOfReplica, replicas, services, subsets, to, v1, v2 } from './routing-fixture';
import { gateway, startMesh, tally, virtualService, workload, type MeshFixture } from './test-harness';

let mesh: MeshFixture;
afterEach(async () => {
  await mesh?.close();
});

async function gatewayMesh(http: HTTPRoute[], random = seededRandom(1)) {
  mesh = await startMesh(gatewayMeshOptions(http, random));
  return mesh;
}

const idOf = (path: string, headers?: Record<string, string>, method?: string): Promise<string> => idOfReplica(mesh, path, headers, method);

describe('match semantics (gateway)', () => {
  test('rules are ordered: the first matching rule wins even when a later one matches too', async () => {
    await gatewayMesh([
      { match: [{ uri: { prefix: '/api' } }], route: [to('articles')] },
      { match: [{ uri: { prefix: '/api/v1' } }], route: [to('authors')] },
    ]);
    expect(await idOf('/api/v1/x')).toBe('articles-0');
  });

  test('a rule without match takes everything; no matching rule gives 404 NR', async () => {
    await gatewayMesh([{ match: [{ uri: { exact: '/only' } }], route: [to('articles')] }]);
    expect(await idOf('/only')).toBe('articles-0');
    const miss = await mesh.get('/other');
    expect(miss.status).toBe(404);
    // Envoy's router: a bare 404 without body or content-type.
    expect(miss.text).toBe('');
    expect(miss.headers['content-length']).toBe('0');
    expect(miss.headers['content-type']).toBeUndefined();
    expect(mesh.records.at(-1)).toMatchObject({ responseCode: 404, responseFlags: 'NR', destinationWorkload: 'unknown' });
    await mesh.close();
    await gatewayMesh([{ route: [to('authors')] }]);
    expect(await idOf('/anything/at/all')).toBe('authors-0');
  });

  test.each([
    ['/exact', 'articles-0'],
    ['/exact/more', '404'],
    ['/re/v12', 'authors-0'],
    ['/re/v12x', '404'], // regexes are anchored: a partial match is no match
    ['/x/re/v1', '404'],
    ['/prefix/deep/path', 'web-api-v1-0'],
    ['/PREFIX', '404'], // case-sensitive without ignoreUriCase
  ])('uri exact / regex / prefix: %s -> %s', async (path, expected) => {
    await gatewayMesh([
      { match: [{ uri: { exact: '/exact' } }], route: [to('articles')] },
      { match: [{ uri: { regex: '/re/v[0-9]+' } }], route: [to('authors')] },
      { match: [{ uri: { prefix: '/prefix' } }], route: [to('web-api', 'v1')] },
    ]);
    expect(await idOf(path)).toBe(expected);
  });

  test('dot segments are normalised before matching and forwarding', async () => {
    await gatewayMesh([
      { match: [{ uri: { prefix: '/public' } }], route: [to('articles')] },
      { match: [{ uri: { prefix: '/admin' } }], route: [to('authors')] },
    ]);
    const res = await mesh.get('/public/../admin/x');
    expect(res.json()).toMatchObject({ id: 'authors-0', url: '/admin/x' });
    expect((await mesh.get('/public/%2e%2e/admin/y')).json()).toMatchObject({ id: 'authors-0', url: '/admin/y' });
    expect((await mesh.get('/public/./a?q=1')).json()).toMatchObject({ id: 'articles-0', url: '/public/a?q=1' });
  });

  test('ignoreUriCase makes exact and prefix uri matches case-insensitive', async () => {
    await gatewayMesh([
      { match: [{ uri: { prefix: '/Web-Api' }, ignoreUriCase: true }], route: [to('web-api', 'v1')] },
      { match: [{ uri: { exact: '/Exact' }, ignoreUriCase: true }], route: [to('articles')] },
    ]);
    expect(await idOf('/web-api/v1/getmultiple')).toBe('web-api-v1-0');
    expect(await idOf('/WEB-API/x')).toBe('web-api-v1-0');
    expect(await idOf('/eXaCt')).toBe('articles-0');
  });

  test('method, scheme and authority matches', async () => {
    await gatewayMesh([
      { match: [{ method: { exact: 'POST' } }], route: [to('articles')] },
      { match: [{ authority: { regex: 'shop\\.example\\.com(:[0-9]+)?' } }], route: [to('authors')] },
      { match: [{ scheme: { exact: 'https' } }], route: [to('web-api', 'v2')] }, // the gateway serves plain http
      { match: [{ scheme: { exact: 'http' } }], route: [to('web-api', 'v1')] },
    ]);
    expect(await idOf('/', undefined, 'POST')).toBe('articles-0');
    expect(await idOf('/', { host: 'shop.example.com:8080' })).toBe('authors-0');
    expect(await idOf('/', { host: 'other.example.com' })).toBe('web-api-v1-0');
  });

  test.each([
    [{ 'end-user': 'jason' }, 'articles-0'],
    [{ 'end-user': 'jasonx' }, 'web-api-v1-0'],
    [{ 'x-canary': 'yes-please' }, 'authors-0'],
    [{ 'x-version': 'v2' }, 'web-api-v2-0'],
    [{ 'x-version': 'v22' }, 'web-api-v1-0'],
    [{ 'x-debug': '' }, 'web-api-v2-0'], // presence match: any value, even empty
  ])('header matches exact / prefix / regex / presence: %j -> %s', async (headers, expected) => {
    await gatewayMesh([
      { match: [{ headers: { 'end-user': { exact: 'jason' } } }], route: [to('articles')] },
      { match: [{ headers: { 'x-canary': { prefix: 'yes' } } }], route: [to('authors')] },
      { match: [{ headers: { 'x-version': { regex: 'v[2-9]' } } }, { headers: { 'x-debug': {} } }], route: [to('web-api', 'v2')] },
      { route: [to('web-api', 'v1')] },
    ]);
    expect(await idOf('/', headers)).toBe(expected);
  });

  test('withoutHeaders matches when the header is absent or does not match', async () => {
    await gatewayMesh([{ match: [{ withoutHeaders: { 'end-user': { exact: 'jason' } } }], route: [to('web-api', 'v1')] }, { route: [to('web-api', 'v2')] }]);
    expect(await idOf('/')).toBe('web-api-v1-0');
    expect(await idOf('/', { 'end-user': 'maria' })).toBe('web-api-v1-0');
    expect(await idOf('/', { 'end-user': 'jason' })).toBe('web-api-v2-0');
  });

  test.each([
    ['/?canary=true', 'web-api-v2-0'],
    ['/?canary=truex', 'web-api-v1-0'],
    ['/?id=123', 'articles-0'],
    ['/?id=12a', 'web-api-v1-0'], // regex on the whole value
    ['/?debug', 'authors-0'],
    ['/?debug=', 'authors-0'],
    ['/', 'web-api-v1-0'],
  ])('queryParams exact / regex / presence: %s -> %s', async (path, expected) => {
    await gatewayMesh([
      { match: [{ queryParams: { canary: { exact: 'true' } } }], route: [to('web-api', 'v2')] },
      { match: [{ queryParams: { id: { regex: '[0-9]+' } } }], route: [to('articles')] },
      { match: [{ queryParams: { debug: {} } }], route: [to('authors')] },
      { route: [to('web-api', 'v1')] },
    ]);
    expect(await idOf(path)).toBe(expected);
  });

  test('match blocks are OR-ed, fields inside one block AND-ed', async () => {
    await gatewayMesh([
      {
        match: [{ uri: { prefix: '/a' }, headers: { 'x-user': { exact: 'alice' } } }, { uri: { prefix: '/b' } }],
        route: [to('articles')],
      },
      { route: [to('authors')] },
    ]);
    expect(await idOf('/a', { 'x-user': 'alice' })).toBe('articles-0');
    expect(await idOf('/a')).toBe('authors-0'); // first block needs both fields
    expect(await idOf('/a', { 'x-user': 'bob' })).toBe('authors-0');
    expect(await idOf('/b')).toBe('articles-0'); // second block alone is enough
  });

  test('port and gateways matches use the gateway server port and name', async () => {
    await gatewayMesh([
      { match: [{ port: 443 }], route: [to('authors')] },
      { match: [{ gateways: ['mesh'] }], route: [to('authors')] },
      { match: [{ port: 80, gateways: ['web-gateway'] }], route: [to('articles')] },
    ]);
    expect(await idOf('/')).toBe('articles-0');
  });

  test('the Gateway server hosts and VirtualService hosts must match the Host header', async () => {
    mesh = await startMesh({
      replicas,
      state: {
        services,
        istio: {
          gateways: [gateway('web-gateway', ['shop.example.com', '*.example.org'])],
          virtualServices: [
            virtualService('shop', { hosts: ['shop.example.com'], gateways: ['web-gateway'], http: [{ route: [to('articles')] }] }),
            virtualService('org', { hosts: ['*.example.org'], gateways: ['default/web-gateway'], http: [{ route: [to('authors')] }] }),
          ],
          destinationRules: [],
        },
      },
    });
    expect(await idOf('/', { host: 'shop.example.com:8080' })).toBe('articles-0');
    expect(await idOf('/', { host: 'api.example.org' })).toBe('authors-0');
    expect(await idOf('/', { host: 'localhost:8080' })).toBe('404');
    expect(mesh.records.at(-1)?.responseFlags).toBe('NR');
  });

  test('a VirtualService not bound to the gateway is not used by it', async () => {
    mesh = await startMesh({
      replicas,
      state: {
        services,
        istio: {
          gateways: [gateway('web-gateway')],
          virtualServices: [virtualService('mesh-only', { hosts: ['*'], http: [{ route: [to('articles')] }] })],
          destinationRules: [],
        },
      },
    });
    expect(await idOf('/')).toBe('404');
  });
});

describe('weights and subsets', () => {
  test('relative weights 1:3: one seeded draw per request picks the destination (exact replay)', async () => {
    await gatewayMesh([{ route: [to('web-api', 'v1', 1), to('web-api', 'v2', 3)] }], seededRandom(42));
    const ids: string[] = [];
    for (let i = 0; i < 200; i++) ids.push(await idOf('/'));
    // Replay the same draws: one random() per request decides the destination.
    const replay = seededRandom(42);
    const expected = ids.map(() => (replay() * 4 < 1 ? 'web-api-v1-0' : 'web-api-v2-0'));
    expect(ids).toEqual(expected);
    expect(mesh.records.at(-1)?.features).toContain('trafficShift');
  });

  test('relative weights 1:3 with fresh random draws: v2 gets 3/4 of the requests within 4 σ', async () => {
    const route = [to('web-api', 'v1', 1), to('web-api', 'v2', 3)];
    // A different seed every run (shown on failure, to replay it), so this is a real sample, not a fixed one.
    const seed = randomInt(2 ** 31);
    await gatewayMesh([{ route }], seededRandom(seed));
    const n = 400;
    const ids: string[] = [];
    for (let i = 0; i < n; i++) ids.push(await idOf('/'));
    const p = route[1].weight! / route.reduce((sum, r) => sum + r.weight!, 0);
    const { low, high } = binomialBounds(n, p);
    const v2 = tally(ids)['web-api-v2-0'] ?? 0;
    expect({ seed, v2, inBounds: v2 >= low && v2 <= high }).toEqual({ seed, v2, inBounds: true });
    expect(v2 + (tally(ids)['web-api-v1-0'] ?? 0)).toBe(n);
  });

  test('weight 0 or no weight among several destinations gets nothing; a single destination gets all', async () => {
    await gatewayMesh([
      { match: [{ uri: { prefix: '/zero' } }], route: [to('web-api', 'v1', 0), to('web-api', 'v2', 5)] },
      { match: [{ uri: { prefix: '/missing' } }], route: [to('web-api', 'v1'), to('web-api', 'v2', 1)] },
      { match: [{ uri: { prefix: '/single' } }], route: [to('web-api', 'v1')] },
    ]);
    const zero: string[] = [];
    const missing: string[] = [];
    const single: string[] = [];
    for (let i = 0; i < 30; i++) {
      zero.push(await idOf('/zero'));
      missing.push(await idOf('/missing'));
      single.push(await idOf('/single'));
    }
    expect(tally(zero)).toEqual({ 'web-api-v2-0': 30 });
    expect(tally(missing)).toEqual({ 'web-api-v2-0': 30 });
    expect(tally(single)).toEqual({ 'web-api-v1-0': 30 });
  });

  test('a subset selects the endpoints whose pod labels carry its labels, within the Service selector', async () => {
    mesh = await startMesh({
      replicas: [...replicas, { id: 'imposter-v1-0', workload: workload('imposter', 'imposter', 'v1') }, { id: 'web-api-v1-1', workload: v1 }],
      random: seededRandom(3),
      state: {
        services,
        istio: { gateways: [gateway('web-gateway')], virtualServices: [gatewayVs([{ route: [to('web-api', 'v1')] }])], destinationRules: [subsets] },
      },
    });
    const ids: string[] = [];
    for (let i = 0; i < 40; i++) ids.push(await idOf('/'));
    // version=v1 alone would also select the imposter; the Service selector app=web-api rules it out.
    expect(Object.keys(tally(ids)).sort()).toEqual(['web-api-v1-0', 'web-api-v1-1']);
  });

  // A subset no DestinationRule defines is 503 NC (no cluster): routing-fidelity.test.ts.
  test('a subset without pods and not-ready endpoints give 503 no healthy upstream (UH)', async () => {
    mesh = await startMesh({
      replicas: [
        { id: 'web-api-v1-0', workload: v1, ready: false },
        { id: 'web-api-v2-0', workload: v2 },
      ],
      state: {
        services,
        istio: {
          gateways: [gateway('web-gateway')],
          virtualServices: [
            gatewayVs([
              { match: [{ uri: { prefix: '/nosuch' } }], route: [to('web-api', 'nosuch')] },
              { match: [{ uri: { prefix: '/v3' } }], route: [to('web-api', 'v3')] },
              { match: [{ uri: { prefix: '/v1' } }], route: [to('web-api', 'v1')] },
              { route: [to('web-api', 'v2')] },
            ]),
          ],
          destinationRules: [subsets],
        },
      },
    });
    for (const path of ['/v3', '/v1']) {
      const res = await mesh.get(path);
      expect(res.status).toBe(503);
      expect(res.text).toBe('no healthy upstream');
      expect(mesh.records.at(-1)).toMatchObject({ responseFlags: 'UH', destinationWorkload: 'unknown', destinationServiceName: 'web-api' });
    }
    mesh.endpoints[0].ready = true; // the live endpoint view is read per request
    expect(await idOf('/v1')).toBe('web-api-v1-0');
    expect(await idOf('/')).toBe('web-api-v2-0');
  });

  test('destination port picks the Service port; a port the Service lacks has no endpoints', async () => {
    await gatewayMesh([
      { match: [{ uri: { prefix: '/good' } }], route: [{ destination: { host: 'articles', port: { number: 8080 } } }] },
      { match: [{ uri: { prefix: '/bad' } }], route: [{ destination: { host: 'articles', port: { number: 9999 } } }] },
    ]);
    expect(await idOf('/good')).toBe('articles-0');
    expect(await idOf('/bad')).toBe('503');
  });
});
