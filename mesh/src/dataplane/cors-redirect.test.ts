/**
 * CORS and redirects as Istio translates them (pilot/pkg/networking/core/route/route.go: TranslateCORSPolicy,
 * ApplyRedirect) and Envoy runs them (source/extensions/filters/http/cors/cors_filter.cc; source/common/http/
 * utility.cc Utility::newUri), through the real data plane on real sockets (issue 23).
 */
import type { HTTPRoute, TrafficSource } from '../model';
import { seededRandom } from './random';
import { gateway, send, service, startMesh, virtualService, workload, type MeshFixture } from './test-harness';

const articles = workload('articles', 'articles', 'v1');
const webApi = workload('web-api-v1', 'web-api', 'v1');
const replicas = [
  { id: 'articles-0', workload: articles },
  { id: 'web-api-v1-0', workload: webApi },
];

let mesh: MeshFixture;
afterEach(async () => {
  await mesh?.close();
});

async function gatewayMesh(http: HTTPRoute[]): Promise<MeshFixture> {
  mesh = await startMesh({
    replicas,
    random: seededRandom(3),
    state: {
      services: [service('articles', 8080)],
      istio: {
        gateways: [gateway('web-gateway')],
        virtualServices: [virtualService('ingress', { hosts: ['*'], gateways: ['web-gateway'], http })],
        destinationRules: [],
      },
    },
  });
  return mesh;
}

async function sidecarMesh(http: HTTPRoute[]): Promise<MeshFixture> {
  const source: TrafficSource = { kind: 'sidecar', workload: webApi };
  mesh = await startMesh({
    replicas,
    source,
    random: seededRandom(3),
    state: {
      services: [service('articles', 8080)],
      istio: { gateways: [], virtualServices: [virtualService('articles', { hosts: ['articles'], http })], destinationRules: [] },
    },
  });
  return mesh;
}

const toArticles = [{ destination: { host: 'articles' } }];
const preflight = (origin: string, extra: Record<string, string> = {}) => ({
  method: 'OPTIONS',
  headers: { origin, 'access-control-request-method': 'PUT', ...extra },
});

describe('CORS (Envoy cors_filter.cc)', () => {
  test.each([
    ['exact "*"', { exact: '*' }],
    ['prefix "*"', { prefix: '*' }],
    ['regex "\\\\*"', { regex: '\\*' }],
    ['regex ".*"', { regex: '.*' }],
  ])('an allowOrigins matcher that accepts the literal * (%s) allows every origin (isOriginAllowed)', async (_label, match) => {
    await gatewayMesh([{ route: toArticles, corsPolicy: { allowOrigins: [match], allowMethods: ['GET'] } }]);
    const simple = await mesh.get('/api', { headers: { origin: 'https://anywhere.example' } });
    expect(simple.headers['access-control-allow-origin']).toBe('https://anywhere.example');
    const answered = await mesh.get('/api', preflight('https://anywhere.example'));
    expect(answered.status).toBe(200);
    expect(answered.headers['access-control-allow-origin']).toBe('https://anywhere.example');
    expect(mesh.upstream('articles-0').hits).toBe(1); // only the simple request reached the service
  });

  test.each([
    // Envoy's safe_regex is an RE2 full match: no implicit anchors needed, no partial hits.
    [{ regex: 'https://app\\.example' }, 'https://app.example', true],
    [{ regex: 'https://app\\.example' }, 'https://app.example.evil', false],
    [{ regex: 'https://[a-z]+\\.example' }, 'https://APP.example', false],
    // Istio sets no ignore_case on origin matchers: exact and prefix are case-sensitive.
    [{ exact: 'https://App.example' }, 'https://app.example', false],
    [{ prefix: 'https://app.' }, 'https://app.example', true],
  ])('allowOrigins %j and Origin %s: allowed = %s', async (match, origin, allowed) => {
    await gatewayMesh([{ route: toArticles, corsPolicy: { allowOrigins: [match] } }]);
    const res = await mesh.get('/api', { headers: { origin } });
    expect(res.headers['access-control-allow-origin']).toBe(allowed ? origin : undefined);
  });

  test('a preflight from an origin no matcher allows is forwarded to the service (Istio sets forward_not_matching_preflights)', async () => {
    await gatewayMesh([{ route: toArticles, corsPolicy: { allowOrigins: [{ exact: 'https://app.example' }], allowMethods: ['GET'] } }]);
    const res = await mesh.get('/api', preflight('https://evil.example'));
    expect(res.json()).toMatchObject({ id: 'articles-0', method: 'OPTIONS' });
    expect(res.headers['access-control-allow-origin']).toBeUndefined();
  });

  test('unmatchedPreflights: IGNORE answers that preflight at the proxy, without allow-origin', async () => {
    await gatewayMesh([
      {
        route: toArticles,
        corsPolicy: {
          allowOrigins: [{ exact: 'https://app.example' }],
          allowMethods: ['GET'],
          maxAge: '10m',
          allowCredentials: true,
          unmatchedPreflights: 'IGNORE',
        },
      },
    ]);
    const res = await mesh.get('/api', preflight('https://evil.example'));
    expect(res.status).toBe(200);
    expect(res.headers['access-control-allow-origin']).toBeUndefined();
    expect(res.headers).toMatchObject({ 'access-control-allow-methods': 'GET', 'access-control-max-age': '600', 'access-control-allow-credentials': 'true' });
    expect(mesh.upstream('articles-0').hits).toBe(0);
  });

  test('allowMethods/allowHeaders "*" echo what the preflight asks for; expose-headers only on actual responses', async () => {
    await gatewayMesh([
      { route: toArticles, corsPolicy: { allowOrigins: [{ prefix: 'https://' }], allowMethods: ['*'], allowHeaders: ['*'], exposeHeaders: ['x-upstream'] } },
    ]);
    const res = await mesh.get('/api', preflight('https://app.example', { 'access-control-request-headers': 'x-token,content-type' }));
    expect(res.headers).toMatchObject({ 'access-control-allow-methods': 'PUT', 'access-control-allow-headers': 'x-token,content-type' });
    expect(res.headers['access-control-expose-headers']).toBeUndefined();
  });

  test('an OPTIONS request without Access-Control-Request-Method, or with an empty Origin, is no preflight', async () => {
    await gatewayMesh([{ route: toArticles, corsPolicy: { allowOrigins: [{ regex: '.*' }] } }]);
    const options = await mesh.get('/api', { method: 'OPTIONS', headers: { origin: 'https://app.example' } });
    expect(options.json()).toMatchObject({ method: 'OPTIONS' });
    expect(options.headers['access-control-allow-origin']).toBe('https://app.example');
    const empty = await mesh.get('/api', { method: 'OPTIONS', headers: { origin: '', 'access-control-request-method': 'GET' } });
    expect(empty.json()).toMatchObject({ method: 'OPTIONS' });
    expect(empty.headers['access-control-allow-origin']).toBeUndefined();
    expect(mesh.upstream('articles-0').hits).toBe(2);
  });

  test("the proxy's CORS headers replace the service's own (Envoy sets them, it does not append)", async () => {
    await gatewayMesh([{ route: toArticles, corsPolicy: { allowOrigins: [{ exact: 'https://app.example' }], allowCredentials: true } }]);
    mesh.upstream('articles-0').behaviour = (req, res) => {
      req.resume();
      res.writeHead(200, { 'access-control-allow-origin': '*', 'access-control-allow-credentials': 'false' }).end('ok');
    };
    const res = await mesh.get('/api', { headers: { origin: 'https://app.example' } });
    expect(res.headers['access-control-allow-origin']).toBe('https://app.example');
    expect(res.headers['access-control-allow-credentials']).toBe('true');
  });

  test('the deprecated allowOrigin list is used as exact origins when allowOrigins is unset', async () => {
    await gatewayMesh([{ route: toArticles, corsPolicy: { allowOrigin: ['https://old.example'] } }]);
    const allowed = await mesh.get('/api', { headers: { origin: 'https://old.example' } });
    expect(allowed.headers['access-control-allow-origin']).toBe('https://old.example');
    const other = await mesh.get('/api', { headers: { origin: 'https://old.example.evil' } });
    expect(other.headers['access-control-allow-origin']).toBeUndefined();
  });
});

describe('redirects (Istio ApplyRedirect, Envoy Utility::newUri)', () => {
  test.each([
    ['port 443 with scheme https drops the port', { scheme: 'https', port: 443 }, 'localhost', 'https://localhost/r'],
    ['port 80 without scheme (http) drops the port', { port: 80 }, 'localhost', 'http://localhost/r'],
    // Istio drops it by leaving port_redirect unset, so Envoy keeps the request's own port.
    ['a dropped port leaves the request port', { port: 80 }, 'localhost:8080', 'http://localhost:8080/r'],
    ['port 80 with scheme https keeps it', { scheme: 'https', port: 80 }, 'localhost', 'https://localhost:80/r'],
    ['port replaces the request port', { port: 9090 }, 'localhost:8080', 'http://localhost:9090/r'],
    ['derivePort FROM_REQUEST_PORT on the gateway is its port 80: dropped', { derivePort: 'FROM_REQUEST_PORT' as const }, 'localhost', 'http://localhost/r'],
    [
      'derivePort FROM_PROTOCOL_DEFAULT sets no port',
      { scheme: 'https', derivePort: 'FROM_PROTOCOL_DEFAULT' as const },
      'localhost:8443',
      'https://localhost:8443/r',
    ],
    ['a scheme change drops the default port of the old scheme', { scheme: 'https' }, 'localhost:80', 'https://localhost/r'],
    ['a scheme change keeps another port', { scheme: 'https' }, 'localhost:8080', 'https://localhost:8080/r'],
    ['authority is used as given, the port appended', { authority: 'example.com', port: 8443 }, 'localhost:8080', 'http://example.com:8443/r'],
    ['authority with https and 443', { authority: 'example.com', scheme: 'https', port: 443 }, 'localhost:8080', 'https://example.com/r'],
  ])('%s', async (_label, redirect, host, location) => {
    await gatewayMesh([{ match: [{ uri: { exact: '/r' } }], redirect }]);
    const res = await mesh.get('/r', { headers: { host } });
    expect(res.status).toBe(301);
    expect(res.headers.location).toBe(location);
  });

  test('a client x-forwarded-proto does not reach the gateway: it overwrites it with http', async () => {
    await gatewayMesh([{ match: [{ uri: { exact: '/r' } }], redirect: { scheme: 'http' } }, { route: toArticles }]);
    // Envoy compares the new scheme with x-forwarded-proto: https:443 → http drops the port only if the client's
    // https were believed; the gateway believes no client (xff_num_trusted_hops 0), so :443 stays.
    const res = await mesh.get('/r', { headers: { host: 'localhost:443', 'x-forwarded-proto': 'https' } });
    expect(res.headers.location).toBe('http://localhost:443/r');
    const forwarded = await mesh.get('/x', { headers: { 'x-forwarded-proto': 'https' } });
    expect(forwarded.json().headers['x-forwarded-proto']).toBe('http');
  });

  test('derivePort FROM_REQUEST_PORT on a sidecar is the Service port the call was made to', async () => {
    await sidecarMesh([{ redirect: { derivePort: 'FROM_REQUEST_PORT', authority: 'articles.example' } }]);
    const res = await send(mesh.port, 'http://articles:8080/list');
    expect(res.headers.location).toBe('http://articles.example:8080/list');
  });

  test('redirectCode 0 is 301; prefixRewrite replaces the matched prefix and keeps the query', async () => {
    await gatewayMesh([{ match: [{ uri: { prefix: '/old/' } }], redirect: { prefixRewrite: '/new/', redirectCode: 0 } }]);
    const res = await mesh.get('/old/a/b?q=1', { headers: { host: 'localhost' } });
    expect(res.status).toBe(301);
    expect(res.headers.location).toBe('http://localhost/new/a/b?q=1');
  });
});
