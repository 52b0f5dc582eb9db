/**
 * Conformance table, part 1: VirtualService matching and route actions through real HTTP
 * (gateway and sidecar sources, upstream servers on port 0, seeded randomness).
 */
import { randomInt } from 'node:crypto';
import { binomialBounds } from '@cns/service-kit/testing';
import type { HTTPRoute, VirtualServiceSpec } from '../model';
import { seededRandom } from './random';
import { destinationRule, gateway, send, service, startMesh, tally, virtualService, workload, type MeshFixture } from './test-harness';

const v1 = workload('web-api-v1', 'web-api', 'v1');
const v2 = workload('web-api-v2', 'web-api', 'v2');
const articles = workload('articles', 'articles', 'v1');
const authors = workload('authors', 'authors', 'v1');

const replicas = [
  { id: 'web-api-v1-0', workload: v1 },
  { id: 'web-api-v2-0', workload: v2 },
  { id: 'articles-0', workload: articles },
  { id: 'authors-0', workload: authors },
];
const services = [service('web-api', 3000), service('articles', 8080), service('authors', 3000)];
const subsets = destinationRule('web-api', {
  host: 'web-api',
  subsets: [
    { name: 'v1', labels: { version: 'v1' } },
    { name: 'v2', labels: { version: 'v2' } },
    { name: 'v3', labels: { version: 'v3' } },
  ],
});

const to = (host: string, subset?: string, weight?: number) => ({ destination: { host, subset }, weight });

function gatewayVs(http: HTTPRoute[], extra: Partial<VirtualServiceSpec> = {}) {
  return virtualService('web-ingress', { hosts: ['*'], gateways: ['web-gateway'], http, ...extra });
}

let mesh: MeshFixture;
afterEach(async () => {
  await mesh?.close();
});

async function gatewayMesh(http: HTTPRoute[], random = seededRandom(1)) {
  mesh = await startMesh({
    replicas,
    random,
    state: { services, istio: { gateways: [gateway('web-gateway')], virtualServices: [gatewayVs(http)], destinationRules: [subsets] } },
  });
  return mesh;
}

async function idOf(path: string, headers?: Record<string, string>, method?: string): Promise<string> {
  const res = await mesh.get(path, { headers, method });
  return res.status === 200 ? res.json().id : `${res.status}`;
}

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

describe('route actions', () => {
  test.each([
    ['/web-api/v1/getmultiple?x=1', '/api/v1/getmultiple?x=1', 'articles:8080'],
    ['/whole', '/replaced', 'localhost'],
    ['/strip/', '/', 'localhost'],
  ])('rewrite: %s is sent upstream as %s (Host %s)', async (path, upstreamPath, host) => {
    await gatewayMesh([
      { match: [{ uri: { prefix: '/web-api/v1/' } }], rewrite: { uri: '/api/v1/', authority: 'articles:8080' }, route: [to('articles')] },
      { match: [{ uri: { exact: '/whole' } }], rewrite: { uri: '/replaced' }, route: [to('articles')] },
      { match: [{ uri: { prefix: '/strip/' } }], rewrite: { uri: '/' }, route: [to('articles')] },
    ]);
    const res = await mesh.get(path, { headers: { host: 'localhost' } });
    expect(res.json()).toMatchObject({ id: 'articles-0', url: upstreamPath, headers: { host } });
  });

  test('redirect: default 301, Location from uri/authority/scheme/port, query kept', async () => {
    await gatewayMesh([
      { match: [{ uri: { exact: '/old' } }], redirect: { uri: '/new' } },
      { match: [{ uri: { exact: '/moved' } }], redirect: { authority: 'example.com', scheme: 'https', port: 8443, redirectCode: 308 } },
    ]);
    const first = await mesh.get('/old?a=1', { headers: { host: 'localhost:8080' } });
    expect(first.status).toBe(301);
    expect(first.headers.location).toBe('http://localhost:8080/new?a=1');
    const second = await mesh.get('/moved', { headers: { host: 'localhost:8080' } });
    expect(second.status).toBe(308);
    expect(second.headers.location).toBe('https://example.com:8443/moved');
    expect(mesh.upstreams.get('articles-0')!.hits).toBe(0);
  });

  test('directResponse answers from the proxy with the configured status and body', async () => {
    await gatewayMesh([{ match: [{ uri: { exact: '/teapot' } }], directResponse: { status: 418, body: { string: 'short and stout' } } }]);
    const res = await mesh.get('/teapot');
    expect(res.status).toBe(418);
    expect(res.text).toBe('short and stout');
  });

  test('header operations: request and response set/add/remove at route and destination level', async () => {
    await gatewayMesh([
      {
        route: [
          {
            destination: { host: 'articles' },
            headers: { request: { set: { 'x-dest': 'd', 'x-level': 'destination' } }, response: { add: { 'x-dest-resp': 'yes' } } },
          },
        ],
        headers: {
          request: { set: { 'x-level': 'route' }, add: { 'x-added': 'a' }, remove: ['x-secret'] },
          response: { set: { 'x-upstream': 'hidden' }, remove: ['content-type'] },
        },
      },
    ]);
    const res = await mesh.get('/', { headers: { 'x-secret': 's', 'x-keep': 'k' } });
    const seen = res.json().headers;
    // One destination: Istio appends its operations after the route's (order: routing-fidelity.test.ts).
    expect(seen).toMatchObject({ 'x-dest': 'd', 'x-level': 'destination', 'x-added': 'a', 'x-keep': 'k' });
    expect(seen['x-secret']).toBeUndefined();
    expect(res.headers['x-upstream']).toBe('hidden');
    expect(res.headers['x-dest-resp']).toBe('yes');
    expect(res.headers['content-type']).toBeUndefined();
  });

  test('CORS: the proxy answers an allowed preflight itself and decorates allowed simple requests', async () => {
    await gatewayMesh([
      {
        route: [to('articles')],
        corsPolicy: {
          allowOrigins: [{ exact: 'http://app.example.com' }, { regex: 'http://.*\\.trusted\\.io' }],
          allowMethods: ['GET', 'POST'],
          allowHeaders: ['x-token'],
          exposeHeaders: ['x-upstream'],
          maxAge: '24h',
          allowCredentials: true,
        },
      },
    ]);
    const preflight = await mesh.get('/api', {
      method: 'OPTIONS',
      headers: { origin: 'http://app.example.com', 'access-control-request-method': 'POST' },
    });
    expect(preflight.status).toBe(200);
    expect(preflight.headers).toMatchObject({
      'access-control-allow-origin': 'http://app.example.com',
      'access-control-allow-methods': 'GET,POST',
      'access-control-allow-headers': 'x-token',
      'access-control-max-age': '86400',
      'access-control-allow-credentials': 'true',
    });
    expect(mesh.upstream('articles-0').hits).toBe(0);
    const simple = await mesh.get('/api', { headers: { origin: 'http://a.trusted.io' } });
    expect(simple.headers['access-control-allow-origin']).toBe('http://a.trusted.io');
    expect(simple.headers['access-control-expose-headers']).toBe('x-upstream');
    const stranger = await mesh.get('/api', { headers: { origin: 'http://evil.example' } });
    expect(stranger.headers['access-control-allow-origin']).toBeUndefined();
  });
});

describe('sidecar traffic (absolute-form requests from a workload)', () => {
  async function sidecarMesh(vsList: ReturnType<typeof virtualService>[], from = v1) {
    mesh = await startMesh({
      replicas,
      source: { kind: 'sidecar', workload: from },
      random: seededRandom(5),
      state: { services, istio: { gateways: [gateway('web-gateway')], virtualServices: vsList, destinationRules: [subsets] } },
    });
  }

  test('every in-cluster spelling of a host reaches the Service; no VirtualService = default route', async () => {
    await sidecarMesh([]);
    for (const target of [
      'http://authors:3000/api/v1/getauthor?name=x',
      'http://authors.default:3000/api/v1/getauthor?name=x',
      'http://authors.default.svc.cluster.local:3000/api/v1/getauthor?name=x',
    ]) {
      const res = await send(mesh.port, target);
      expect(res.json()).toMatchObject({ id: 'authors-0', url: '/api/v1/getauthor?name=x' });
    }
    expect(mesh.records.at(-1)).toMatchObject({
      reporter: 'source',
      sourceWorkload: 'web-api-v1',
      sourceApp: 'web-api',
      sourceVersion: 'v1',
      destinationWorkload: 'authors',
      destinationService: 'authors.default.svc.cluster.local',
      destinationServiceName: 'authors',
      responseCode: 200,
      responseFlags: '-',
      requestProtocol: 'http',
    });
  });

  test('an unknown host gets 502 with a clear text and no outside connection', async () => {
    await sidecarMesh([]);
    const res = await send(mesh.port, 'http://example.com/');
    expect(res.status).toBe(502);
    expect(res.text).toMatch(/unknown mesh host 'example.com'/);
  });

  test('mesh VirtualServices apply; sourceLabels select the calling workload; gateway-bound ones do not', async () => {
    const vsList = [
      virtualService('authors', {
        hosts: ['authors'],
        http: [{ match: [{ sourceLabels: { version: 'v2' } }], directResponse: { status: 299, body: { string: 'from v2' } } }, { route: [to('authors')] }],
      }),
      virtualService('articles-edge', { hosts: ['articles'], gateways: ['web-gateway'], http: [{ directResponse: { status: 418 } }] }),
    ];
    await sidecarMesh(vsList, v1);
    expect((await send(mesh.port, 'http://authors:3000/')).status).toBe(200);
    expect((await send(mesh.port, 'http://articles:8080/')).status).toBe(200);
    await mesh.close();
    await sidecarMesh(vsList, v2);
    const res = await send(mesh.port, 'http://authors:3000/');
    expect(res.status).toBe(299);
    expect(res.text).toBe('from v2');
  });

  test('a mesh VirtualService whose rules all miss gives 404 NR', async () => {
    await sidecarMesh([virtualService('authors', { hosts: ['authors'], http: [{ match: [{ uri: { prefix: '/api' } }], route: [to('authors')] }] })]);
    expect((await send(mesh.port, 'http://authors:3000/api/x')).status).toBe(200);
    expect((await send(mesh.port, 'http://authors:3000/other')).status).toBe(404);
  });
});

describe('kubernetes mode (--no-istio)', () => {
  test('ignores subsets, weights and faults: the gateway path rules reach every pod of the Service, round robin', async () => {
    mesh = await startMesh({
      replicas,
      state: {
        mode: 'kubernetes',
        services,
        istio: {
          gateways: [gateway('web-gateway')],
          virtualServices: [
            gatewayVs([
              {
                match: [{ uri: { prefix: '/web-api/' } }],
                rewrite: { uri: '/api/' },
                fault: { abort: { httpStatus: 500, percentage: { value: 100 } } },
                route: [to('web-api', 'v1', 100), to('web-api', 'v2', 0)],
              },
            ]),
          ],
          destinationRules: [subsets],
        },
      },
    });
    const ids: string[] = [];
    for (let i = 0; i < 20; i++) ids.push(await idOf('/web-api/v1/getmultiple'));
    expect(tally(ids)).toEqual({ 'web-api-v1-0': 10, 'web-api-v2-0': 10 });
    expect(mesh.upstream('web-api-v1-0').received[0].url).toBe('/api/v1/getmultiple');
  });

  test('sidecar calls spread over all pods the Service selects', async () => {
    mesh = await startMesh({
      replicas,
      source: { kind: 'sidecar', workload: articles },
      state: {
        mode: 'kubernetes',
        services,
        istio: {
          gateways: [],
          virtualServices: [virtualService('web-api', { hosts: ['web-api'], http: [{ route: [to('web-api', 'v1')] }] })],
          destinationRules: [subsets],
        },
      },
    });
    const ids: string[] = [];
    for (let i = 0; i < 10; i++) ids.push((await send(mesh.port, 'http://web-api:3000/')).json().id);
    expect(tally(ids)).toEqual({ 'web-api-v1-0': 5, 'web-api-v2-0': 5 });
  });
});
