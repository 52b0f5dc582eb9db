/**
 * Conformance table, part 1 (continued): VirtualService route actions, sidecar traffic (absolute-form requests from
 * a workload) and the Kubernetes mode (--no-istio), through real HTTP with upstream servers on port 0.
 */
import type { HTTPRoute } from '../model';
import { seededRandom } from './random';
import { articles, gatewayMeshOptions, gatewayVs, idOf as idOfReplica, replicas, services, subsets, to, v1, v2 } from './routing-fixture';
import { gateway, send, startMesh, tally, virtualService, type MeshFixture } from './test-harness';

let mesh: MeshFixture;
afterEach(async () => {
  await mesh?.close();
});

async function gatewayMesh(http: HTTPRoute[], random = seededRandom(1)) {
  mesh = await startMesh(gatewayMeshOptions(http, random));
  return mesh;
}

const idOf = (path: string, headers?: Record<string, string>, method?: string): Promise<string> => idOfReplica(mesh, path, headers, method);

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
