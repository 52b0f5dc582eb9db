/**
 * Route semantics checked against what Istio's translation (pilot/pkg/networking/core/route/route.go) makes Envoy do
 * (issue #11 part 3), through the real data plane on real sockets: prefix rewrite, regex rewrite, the order of
 * route- and destination-level header operations, response headers on direct responses, RE2 regexes, header-match
 * edge cases, and the reply for a subset no DestinationRule defines.
 */
import http from 'node:http';
import type { HTTPRoute } from '../model';
import { seededRandom } from './random';
import { destinationRule, gateway, send, service, startMesh, virtualService, workload, type MeshFixture } from './test-harness';

const v1 = workload('web-api-v1', 'web-api', 'v1');
const v2 = workload('web-api-v2', 'web-api', 'v2');
const articles = workload('articles', 'articles', 'v1');
const replicas = [
  { id: 'web-api-v1-0', workload: v1 },
  { id: 'web-api-v2-0', workload: v2 },
  { id: 'articles-0', workload: articles },
];
const services = [service('web-api', 3000), service('articles', 8080)];
const subsets = destinationRule('web-api', {
  host: 'web-api',
  subsets: [
    { name: 'v1', labels: { version: 'v1' } },
    { name: 'v2', labels: { version: 'v2' } },
  ],
});

let mesh: MeshFixture;
afterEach(async () => {
  await mesh?.close();
});

async function gatewayMesh(http: HTTPRoute[]): Promise<MeshFixture> {
  mesh = await startMesh({
    replicas,
    random: seededRandom(7),
    state: {
      services,
      istio: {
        gateways: [gateway('web-gateway')],
        virtualServices: [virtualService('web-ingress', { hosts: ['*'], gateways: ['web-gateway'], http })],
        destinationRules: [subsets],
      },
    },
  });
  return mesh;
}

const toArticles = [{ destination: { host: 'articles' } }];

describe('rewrite.uri replaces the matched prefix (Envoy prefix_rewrite)', () => {
  test.each([
    // [rule match, rewrite, request, upstream path]
    ['prefix /old/', '/new/', '/old/a/b?q=1', '/new/a/b?q=1'],
    ['prefix /old', '/', '/old', '/'],
    ['exact /exact', '/replaced', '/exact?x=2', '/replaced?x=2'],
    ['regex /re/[0-9]+', '/whole', '/re/42', '/whole'],
    // No uri match: Istio's route match defaults to prefix "/", so only the leading "/" is replaced.
    ['headers only', '/api/', '/v1/items', '/api/v1/items'],
    ['no match', '/prefix', '/items', '/prefixitems'],
  ])('%s with rewrite %s: %s is sent as %s', async (kind, uri, request, upstream) => {
    const match =
      kind === 'prefix /old/'
        ? [{ uri: { prefix: '/old/' } }]
        : kind === 'prefix /old'
          ? [{ uri: { prefix: '/old' } }]
          : kind === 'exact /exact'
            ? [{ uri: { exact: '/exact' } }]
            : kind === 'regex /re/[0-9]+'
              ? [{ uri: { regex: '/re/[0-9]+' } }]
              : kind === 'headers only'
                ? [{ headers: { 'x-any': {} } }]
                : undefined;
    await gatewayMesh([{ match, rewrite: { uri }, route: toArticles }]);
    const res = await mesh.get(request, { headers: { 'x-any': '1' } });
    expect(res.json()).toMatchObject({ id: 'articles-0', url: upstream });
  });

  test('uriRegexRewrite rewrites every match in the path with \\N groups, keeping the query (Envoy regex_rewrite)', async () => {
    await gatewayMesh([
      { match: [{ uri: { prefix: '/v1/' } }], rewrite: { uriRegexRewrite: { match: '^/v1/([^/]+)/(.*)$', rewrite: '/api/\\2/\\1' } }, route: toArticles },
      { rewrite: { uriRegexRewrite: { match: 'o', rewrite: '0' } }, route: toArticles },
    ]);
    expect((await mesh.get('/v1/users/42/profile?full=1')).json().url).toBe('/api/42/profile/users?full=1');
    expect((await mesh.get('/foo/boo')).json().url).toBe('/f00/b00');
  });
});

describe('header operations in the order Envoy applies them', () => {
  const headers = (level: string) => ({
    request: { set: { 'x-level': level, [`x-${level}`]: 'yes' }, add: { 'x-trail': level }, remove: ['x-drop'] },
    response: { set: { 'x-answer-level': level } },
  });

  test("one destination: Istio appends its operations after the route's, so the destination's set wins", async () => {
    await gatewayMesh([{ headers: headers('route'), route: [{ destination: { host: 'articles' }, headers: headers('destination') }] }]);
    const res = await mesh.get('/', { headers: { 'x-drop': 'secret' } });
    const seen = res.json().headers;
    expect(seen).toMatchObject({ 'x-level': 'destination', 'x-route': 'yes', 'x-destination': 'yes', 'x-trail': 'route, destination' });
    expect(seen['x-drop']).toBeUndefined();
    expect(res.headers['x-answer-level']).toBe('destination');
  });

  test("weighted destinations: Envoy evaluates the weighted cluster's operations first, then the route's, so the route's set wins", async () => {
    await gatewayMesh([
      {
        headers: headers('route'),
        route: [
          { destination: { host: 'web-api', subset: 'v1' }, weight: 1, headers: headers('destination') },
          { destination: { host: 'web-api', subset: 'v2' }, weight: 1, headers: headers('destination') },
        ],
      },
    ]);
    const res = await mesh.get('/');
    expect(res.json().headers).toMatchObject({ 'x-level': 'route', 'x-route': 'yes', 'x-destination': 'yes', 'x-trail': 'destination, route' });
    expect(res.headers['x-answer-level']).toBe('route');
  });

  test('route response headers are added to a direct response and a redirect too', async () => {
    await gatewayMesh([
      {
        match: [{ uri: { exact: '/teapot' } }],
        directResponse: { status: 418, body: { string: 'short and stout' } },
        headers: { response: { set: { 'x-served-by': 'mesh' } } },
      },
      { match: [{ uri: { exact: '/old' } }], redirect: { uri: '/new' }, headers: { response: { add: { 'x-moved': 'yes' } } } },
    ]);
    const direct = await mesh.get('/teapot');
    expect(direct.status).toBe(418);
    expect(direct.text).toBe('short and stout');
    expect(direct.headers['x-served-by']).toBe('mesh');
    const moved = await mesh.get('/old');
    expect(moved.status).toBe(301);
    expect(moved.headers['x-moved']).toBe('yes');
  });

  test("the proxy's own replies after routing carry the route's response headers; a request no route matched does not", async () => {
    const routeHeaders = { response: { set: { 'x-route-answer': 'set' }, add: { 'x-route-added': 'added' } } };
    await gatewayMesh([
      { match: [{ uri: { prefix: '/abort' } }], fault: { abort: { httpStatus: 503, percentage: { value: 100 } } }, route: toArticles, headers: routeHeaders },
      { match: [{ uri: { prefix: '/none-ready' } }], route: toArticles, headers: routeHeaders },
    ]);
    const aborted = await mesh.get('/abort');
    expect([aborted.status, aborted.text]).toEqual([503, 'fault filter abort']);
    expect([aborted.headers['x-route-answer'], aborted.headers['x-route-added']]).toEqual(['set', 'added']);
    mesh.endpoints.find((e) => e.id === 'articles-0')!.ready = false;
    const unhealthy = await mesh.get('/none-ready');
    expect([unhealthy.status, unhealthy.text]).toEqual([503, 'no healthy upstream']);
    expect([unhealthy.headers['x-route-answer'], unhealthy.headers['x-route-added']]).toEqual(['set', 'added']);
    // No route: Envoy's 404 has no route whose headers could apply.
    const unrouted = await mesh.get('/elsewhere');
    expect(unrouted.status).toBe(404);
    expect(unrouted.headers['x-route-answer']).toBeUndefined();
  });
});

describe('regexes are RE2, in linear time', () => {
  test('RE2 syntax such as (?i) and \\pL works; the match is on the whole value', async () => {
    await gatewayMesh([
      { match: [{ uri: { regex: '(?i)/api/v[0-9]+' } }], route: [{ destination: { host: 'web-api', subset: 'v1' } }] },
      { match: [{ headers: { 'x-name': { regex: '\\pL+' } } }], route: [{ destination: { host: 'web-api', subset: 'v2' } }] },
      { route: toArticles },
    ]);
    expect((await mesh.get('/API/V2')).json().id).toBe('web-api-v1-0');
    expect((await mesh.get('/api/v2/more')).json().id).toBe('articles-0');
    expect((await mesh.get('/', { headers: { 'x-name': 'Zoë' } })).json().id).toBe('web-api-v2-0');
    expect((await mesh.get('/', { headers: { 'x-name': 'Zoë1' } })).json().id).toBe('articles-0');
  });

  test('a pattern that makes a backtracking engine run for hours answers at once', async () => {
    await gatewayMesh([
      { match: [{ headers: { 'x-evil': { regex: '(a+)+$' } } }], route: [{ destination: { host: 'web-api', subset: 'v1' } }] },
      { route: toArticles },
    ]);
    // 2^40 backtracking steps for JavaScript's RegExp; RE2 reads the value once. The test timeout is the bound.
    const res = await mesh.get('/', { headers: { 'x-evil': `${'a'.repeat(40)}!` } });
    expect(res.json().id).toBe('articles-0');
  });
});

describe("header matches as Envoy evaluates Istio's translation", () => {
  // headers {} and regex "*" become present_match; exact "" is a string match on the value; withoutHeaders inverts
  // the matcher and tests a missing header as "" (treat_missing_header_as_empty) unless it is a presence match.
  const rules: HTTPRoute[] = [
    { match: [{ uri: { exact: '/present' }, headers: { 'x-h': {} } }], route: [{ destination: { host: 'web-api', subset: 'v1' } }] },
    { match: [{ uri: { exact: '/empty' }, headers: { 'x-h': { exact: '' } } }], route: [{ destination: { host: 'web-api', subset: 'v1' } }] },
    { match: [{ uri: { exact: '/star' }, withoutHeaders: { 'x-h': { regex: '*' } } }], route: [{ destination: { host: 'web-api', subset: 'v1' } }] },
    { match: [{ uri: { exact: '/without-exact' }, withoutHeaders: { 'x-h': { exact: 'bad' } } }], route: [{ destination: { host: 'web-api', subset: 'v1' } }] },
    { match: [{ uri: { exact: '/without-empty' }, withoutHeaders: { 'x-h': { exact: '' } } }], route: [{ destination: { host: 'web-api', subset: 'v1' } }] },
    { match: [{ uri: { exact: '/without-any' }, withoutHeaders: { 'x-h': { regex: '.*' } } }], route: [{ destination: { host: 'web-api', subset: 'v1' } }] },
    { route: toArticles },
  ];
  test.each([
    ['/present', undefined, 'articles-0'],
    ['/present', '', 'web-api-v1-0'],
    ['/present', 'x', 'web-api-v1-0'],
    ['/empty', undefined, 'articles-0'],
    ['/empty', '', 'web-api-v1-0'],
    ['/empty', 'x', 'articles-0'],
    ['/star', undefined, 'web-api-v1-0'],
    ['/star', 'x', 'articles-0'],
    ['/without-exact', undefined, 'web-api-v1-0'],
    ['/without-exact', 'bad', 'articles-0'],
    ['/without-exact', 'good', 'web-api-v1-0'],
    ['/without-empty', undefined, 'articles-0'],
    ['/without-empty', '', 'articles-0'],
    ['/without-empty', 'x', 'web-api-v1-0'],
    ['/without-any', undefined, 'articles-0'],
    ['/without-any', 'x', 'articles-0'],
  ])('%s with x-h %p -> %s', async (path, value, expected) => {
    await gatewayMesh(rules);
    const res = await mesh.get(path, { headers: value === undefined ? {} : { 'x-h': value } });
    expect(res.json().id).toBe(expected);
  });
});

describe('a route to a subset no DestinationRule defines', () => {
  test('answers 503 with an empty body and flag NC, as Envoy does for a cluster istiod never built', async () => {
    await gatewayMesh([{ route: [{ destination: { host: 'web-api', subset: 'nosuch' } }] }]);
    const res = await mesh.get('/');
    expect(res.status).toBe(503);
    expect(res.text).toBe('');
    expect(res.headers['content-type']).toBeUndefined();
    expect(mesh.records.at(-1)).toMatchObject({ responseCode: 503, responseFlags: 'NC', destinationWorkload: 'unknown', destinationServiceName: 'web-api' });
  });
});

describe("Envoy's control headers from callers", () => {
  const sent = {
    'x-envoy-retry-on': '5xx',
    'x-envoy-max-retries': '9',
    'x-envoy-upstream-rq-timeout-ms': '1',
    'x-envoy-internal': 'true',
    'x-envoy-force-trace': '1',
    'x-envoy-decorator-operation': 'spoofed',
    'x-envoy-downstream-service-cluster': 'spoofed',
    'x-envoy-app-defined': 'kept',
  };
  const removedEverywhere = ['x-envoy-retry-on', 'x-envoy-max-retries', 'x-envoy-upstream-rq-timeout-ms', 'x-envoy-internal', 'x-envoy-force-trace'];

  it('are removed before the request reaches the app: all of them at the gateway, the retry/timeout/trace ones at a sidecar', async () => {
    await gatewayMesh([{ route: toArticles }]);
    const atGateway = (await mesh.get('/', { headers: sent })).json().headers;
    for (const name of [...removedEverywhere, 'x-envoy-decorator-operation', 'x-envoy-downstream-service-cluster']) expect(atGateway[name]).toBeUndefined();
    expect(atGateway['x-envoy-app-defined']).toBe('kept');
    await mesh.close();

    mesh = await startMesh({
      replicas,
      source: { kind: 'sidecar', workload: v1 },
      state: { services, istio: { gateways: [], virtualServices: [], destinationRules: [subsets] } },
    });
    const atSidecar = (await send(mesh.port, 'http://articles:8080/', { headers: sent })).json().headers;
    for (const name of removedEverywhere) expect(atSidecar[name]).toBeUndefined();
    // Only an edge request loses these (cleanInternalHeaders' edge_request branch).
    expect([atSidecar['x-envoy-decorator-operation'], atSidecar['x-envoy-downstream-service-cluster'], atSidecar['x-envoy-app-defined']]).toEqual([
      'spoofed',
      'spoofed',
      'kept',
    ]);
  });
});

describe('header names', () => {
  it('are forwarded lower-case both ways, as Envoy writes them on HTTP/1 (no preserve_case)', async () => {
    await gatewayMesh([{ route: toArticles }]);
    let upstreamRaw: string[] = [];
    mesh.upstream('articles-0').behaviour = (req, res) => {
      upstreamRaw = req.rawHeaders;
      req.resume();
      res.writeHead(200, { 'Content-Type': 'application/json', 'X-Article-Count': '5' }).end('[]');
    };
    const clientRaw = await new Promise<string[]>((resolve, reject) => {
      const req = http.request(
        { host: '127.0.0.1', port: mesh.port, path: '/articles', headers: { 'X-Caller-Name': 'test', Accept: 'application/json' } },
        (res) => {
          res.resume();
          res.on('end', () => resolve(res.rawHeaders));
        },
      );
      req.on('error', reject);
      req.end();
    });
    const names = (raw: string[]) => raw.filter((_, i) => i % 2 === 0);
    expect(names(upstreamRaw)).toEqual(expect.arrayContaining(['x-caller-name', 'accept', 'host']));
    expect(names(upstreamRaw).filter((n) => n !== n.toLowerCase())).toEqual([]);
    expect(names(clientRaw)).toEqual(expect.arrayContaining(['content-type', 'x-article-count', 'server']));
    // Node's own framing headers (Date, Connection, Content-Length it adds) aside, every forwarded name is lower-case.
    expect(
      names(clientRaw).filter((n) => n !== n.toLowerCase() && !['Date', 'Connection', 'Keep-Alive', 'Content-Length', 'Transfer-Encoding'].includes(n)),
    ).toEqual([]);
  });
});
