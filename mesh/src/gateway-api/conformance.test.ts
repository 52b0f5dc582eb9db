/**
 * Behaviour table for the Gateway API front end, through the translator, the route model and the real data plane
 * on sockets. Each row is our own test, written in our words, of the behaviour one Gateway API conformance test
 * checks (kubernetes-sigs/gateway-api, conformance/tests, tag v1.1.0); the row names its ShortName. No conformance
 * YAML is copied. `infra-backend-v1..v3` of the suite are the upstreams backend-v1..v3 here.
 */
import type { LoadedObject } from '../model';
import { compileMeshConfig } from '../dataplane';
import { seededRandom } from '../dataplane/random';
import { echo, service, startMesh, tally, workload, type MeshFixture } from '../dataplane/test-harness';
import { withGatewayApi, gatewayApiWorkload, generatedGatewayName, translateGatewayApi } from '.';
import type { HTTPRouteRule } from './kinds';

const backends = ['v1', 'v2', 'v3'].map((v) => workload(`infra-backend-${v}`, `infra-backend-${v}`, 'v1'));
const replicas = backends.map((w) => ({ id: `${w.name}-0`, workload: w }));
const services = backends.map((w) => service(w.name, 8080));
const at = (file: string) => ({ file, line: 1 });

const gatewayObject = (listeners: unknown[] = [{ name: 'http', port: 80, protocol: 'HTTP' }]): LoadedObject => ({
  object: { apiVersion: 'gateway.networking.k8s.io/v1', kind: 'Gateway', metadata: { name: 'same-namespace' }, spec: { gatewayClassName: 'istio', listeners } },
  source: at('gw.yaml'),
});
const route = (name: string, rules: HTTPRouteRule[], extra: Record<string, unknown> = {}): LoadedObject => ({
  object: {
    apiVersion: 'gateway.networking.k8s.io/v1',
    kind: 'HTTPRoute',
    metadata: { name },
    spec: { parentRefs: [{ name: 'same-namespace' }], rules, ...extra },
  },
  source: at(`${name}.yaml`),
});
const to = (name: string, extra: Record<string, unknown> = {}) => ({ name, port: 8080, ...extra });

let mesh: MeshFixture;
afterEach(async () => {
  await mesh?.close();
});

async function meshWith(objects: LoadedObject[], listeners?: unknown[]): Promise<MeshFixture> {
  const all = [gatewayObject(listeners), ...objects];
  const istio = withGatewayApi({ gateways: [], virtualServices: [], destinationRules: [] }, all, services, 'default');
  mesh = await startMesh({
    replicas,
    random: seededRandom(11),
    source: { kind: 'gateway', gatewayName: generatedGatewayName('same-namespace'), workload: gatewayApiWorkload('same-namespace', 'default') },
    state: { services, istio },
  });
  return mesh;
}

const served = async (path: string, headers?: Record<string, string>) => {
  const res = await mesh.get(path, { headers });
  return res.status === 200 ? res.json().id.replace(/-0$/, '') : `HTTP ${res.status}`;
};

describe('Gateway API conformance behaviours (our rows, named by ShortName)', () => {
  it('HTTPRouteWeight: 70/30/0 weights split traffic within binomial bounds, weight 0 never served', async () => {
    await meshWith([
      route('weighted', [
        { backendRefs: [to('infra-backend-v1', { weight: 70 }), to('infra-backend-v2', { weight: 30 }), to('infra-backend-v3', { weight: 0 })] },
      ]),
    ]);
    const counts = tally(await Promise.all(Array.from({ length: 400 }, () => served('/'))));
    // 400 draws at p = 0.3: mean 120, sd 9.2; ±4 sd.
    expect(counts['infra-backend-v2']).toBeGreaterThan(83);
    expect(counts['infra-backend-v2']).toBeLessThan(157);
    expect(counts['infra-backend-v3']).toBeUndefined();
  });

  it('HTTPRouteMatching + HTTPRouteExactPathMatching: exact path beats prefix, longest prefix wins, PathPrefix on segments', async () => {
    await meshWith([
      route('matching', [
        { matches: [{ path: { type: 'PathPrefix', value: '/' } }], backendRefs: [to('infra-backend-v1')] },
        { matches: [{ path: { type: 'PathPrefix', value: '/v2' } }], backendRefs: [to('infra-backend-v2')] },
        { matches: [{ path: { type: 'Exact', value: '/v2/exact' } }], backendRefs: [to('infra-backend-v3')] },
      ]),
    ]);
    expect(await served('/v2/exact')).toBe('infra-backend-v3');
    expect(await served('/v2/exact/more')).toBe('infra-backend-v2');
    expect(await served('/v2')).toBe('infra-backend-v2');
    expect(await served('/v2/')).toBe('infra-backend-v2');
    expect(await served('/v2example')).toBe('infra-backend-v1'); // not a whole segment
  });

  it('HTTPRouteHeaderMatching + HTTPRouteQueryParamMatching + HTTPRouteMethodMatching: header, query and method matches', async () => {
    await meshWith([
      route('conditions', [
        { matches: [{ headers: [{ name: 'Version', value: 'two' }] }], backendRefs: [to('infra-backend-v2')] },
        { matches: [{ queryParams: [{ name: 'animal', value: 'whale' }] }], backendRefs: [to('infra-backend-v3')] },
        { matches: [{ method: 'POST' }], backendRefs: [to('infra-backend-v1')] },
      ]),
    ]);
    expect(await served('/', { version: 'two' })).toBe('infra-backend-v2');
    expect(await served('/?animal=whale')).toBe('infra-backend-v3');
    expect(await served('/?animal=dolphin')).toBe('HTTP 404');
    expect((await mesh.get('/', { method: 'POST', body: '' })).json().id).toBe('infra-backend-v1-0');
  });

  it('HTTPRouteMatchingAcrossRoutes: precedence holds across two routes of one host (longest prefix, then most headers)', async () => {
    await meshWith([
      route('first', [{ matches: [{ path: { type: 'PathPrefix', value: '/' } }], backendRefs: [to('infra-backend-v1')] }]),
      route('second', [
        { matches: [{ path: { type: 'PathPrefix', value: '/v2' } }], backendRefs: [to('infra-backend-v2')] },
        { matches: [{ path: { type: 'PathPrefix', value: '/v2' }, headers: [{ name: 'version', value: 'three' }] }], backendRefs: [to('infra-backend-v3')] },
      ]),
    ]);
    expect(await served('/')).toBe('infra-backend-v1');
    expect(await served('/v2/x')).toBe('infra-backend-v2');
    expect(await served('/v2/x', { version: 'three' })).toBe('infra-backend-v3');
  });

  it('HTTPRouteListenerHostnameMatching + HTTPRouteHostnameIntersection: listener hostnames intersected with the route', async () => {
    await meshWith(
      [
        route('bar', [{ backendRefs: [to('infra-backend-v1')] }], { parentRefs: [{ name: 'same-namespace', sectionName: 'bar' }] }),
        route('wild', [{ backendRefs: [to('infra-backend-v2')] }], {
          parentRefs: [{ name: 'same-namespace', sectionName: 'wild' }],
          hostnames: ['very.specific.com', 'other.example.org'],
        }),
      ],
      [
        { name: 'bar', port: 80, protocol: 'HTTP', hostname: 'bar.com' },
        { name: 'wild', port: 80, protocol: 'HTTP', hostname: '*.specific.com' },
      ],
    );
    expect(await served('/', { host: 'bar.com' })).toBe('infra-backend-v1');
    expect(await served('/', { host: 'very.specific.com' })).toBe('infra-backend-v2');
    expect(await served('/', { host: 'other.example.org' })).toBe('HTTP 404'); // outside the listener's hostname
    expect(await served('/', { host: 'foo.bar.com' })).toBe('HTTP 404');
  });

  it('HTTPRouteRequestHeaderModifier + HTTPRouteResponseHeaderModifier + HTTPRouteRequestHeaderModifierBackendRef', async () => {
    await meshWith([
      route('headers', [
        {
          filters: [
            {
              type: 'RequestHeaderModifier',
              requestHeaderModifier: { set: [{ name: 'X-Set', value: 'set' }], add: [{ name: 'X-Add', value: 'added' }], remove: ['x-remove'] },
            },
            { type: 'ResponseHeaderModifier', responseHeaderModifier: { set: [{ name: 'X-Answer', value: 'yes' }] } },
          ],
          backendRefs: [
            to('infra-backend-v1', { filters: [{ type: 'RequestHeaderModifier', requestHeaderModifier: { set: [{ name: 'X-Backend', value: 'v1' }] } }] }),
          ],
        },
      ]),
    ]);
    const res = await mesh.get('/', { headers: { 'x-set': 'old', 'x-add': 'first', 'x-remove': 'gone' } });
    const echoed = res.json().headers;
    expect(echoed['x-set']).toBe('set');
    expect(echoed['x-add']).toBe('first, added'); // appended to the client's value
    expect(echoed['x-remove']).toBeUndefined();
    expect(echoed['x-backend']).toBe('v1');
    expect(res.headers['x-answer']).toBe('yes');
  });

  it('HTTPRouteRewritePath + HTTPRouteRewriteHost: prefix and full-path rewrites, hostname rewrite', async () => {
    await meshWith([
      route('rewrite', [
        {
          matches: [{ path: { type: 'PathPrefix', value: '/prefix/one' } }],
          filters: [{ type: 'URLRewrite', urlRewrite: { path: { type: 'ReplacePrefixMatch', replacePrefixMatch: '/one' } } }],
          backendRefs: [to('infra-backend-v1')],
        },
        {
          matches: [{ path: { type: 'PathPrefix', value: '/strip' } }],
          filters: [{ type: 'URLRewrite', urlRewrite: { path: { type: 'ReplacePrefixMatch', replacePrefixMatch: '/' } } }],
          backendRefs: [to('infra-backend-v1')],
        },
        {
          matches: [{ path: { type: 'PathPrefix', value: '/full' } }],
          filters: [{ type: 'URLRewrite', urlRewrite: { hostname: 'one.example.org', path: { type: 'ReplaceFullPath', replaceFullPath: '/one' } } }],
          backendRefs: [to('infra-backend-v1')],
        },
      ]),
    ]);
    expect((await mesh.get('/prefix/one/two?q=1')).json().url).toBe('/one/two?q=1');
    expect((await mesh.get('/strip/two')).json().url).toBe('/two');
    expect((await mesh.get('/strip')).json().url).toBe('/');
    const full = (await mesh.get('/full/any/thing')).json();
    expect(full.url).toBe('/one');
    expect(full.headers.host).toBe('one.example.org');
  });

  it('HTTPRouteRedirectHostAndStatus + HTTPRouteRedirectScheme + HTTPRouteRedirectPath + HTTPRouteRedirectPort', async () => {
    await meshWith([
      route('redirect', [
        {
          matches: [{ path: { type: 'PathPrefix', value: '/hostname' } }],
          filters: [{ type: 'RequestRedirect', requestRedirect: { hostname: 'example.org', statusCode: 301 } }],
        },
        { matches: [{ path: { type: 'PathPrefix', value: '/scheme' } }], filters: [{ type: 'RequestRedirect', requestRedirect: { scheme: 'https' } }] },
        {
          matches: [{ path: { type: 'PathPrefix', value: '/prefix' } }],
          filters: [{ type: 'RequestRedirect', requestRedirect: { path: { type: 'ReplacePrefixMatch', replacePrefixMatch: '/replaced' } } }],
        },
        { matches: [{ path: { type: 'PathPrefix', value: '/port' } }], filters: [{ type: 'RequestRedirect', requestRedirect: { port: 8083 } }] },
      ]),
    ]);
    const host = { host: 'example.com' };
    const hostname = await mesh.get('/hostname/x', { headers: host });
    expect([hostname.status, hostname.headers.location]).toEqual([301, 'http://example.org/hostname/x']);
    const scheme = await mesh.get('/scheme', { headers: host });
    expect([scheme.status, scheme.headers.location]).toEqual([302, 'https://example.com/scheme']); // the CRD's default 302
    expect((await mesh.get('/prefix/one', { headers: host })).headers.location).toBe('http://example.com/replaced/one');
    expect((await mesh.get('/port', { headers: host })).headers.location).toBe('http://example.com:8083/port');
  });

  it('HTTPRouteRequestMirror + HTTPRouteRequestMultipleMirrors: every mirror gets a copy, the answer comes from the backend', async () => {
    await meshWith([
      route('mirror', [
        {
          filters: [
            { type: 'RequestMirror', requestMirror: { backendRef: to('infra-backend-v2') } },
            { type: 'RequestMirror', requestMirror: { backendRef: to('infra-backend-v3') } },
          ],
          backendRefs: [to('infra-backend-v1')],
        },
      ]),
    ]);
    const copies = ['infra-backend-v2-0', 'infra-backend-v3-0'].map(
      (id) =>
        new Promise<string>((resolve) => {
          mesh.upstream(id).behaviour = (req, res, upstream) => {
            resolve(`${upstream.id} ${req.url} ${req.headers.host}`);
            echo(req, res, upstream);
          };
        }),
    );
    expect(await served('/mirrored')).toBe('infra-backend-v1');
    expect(await Promise.all(copies)).toEqual([
      expect.stringMatching(/^infra-backend-v2-0 \/mirrored .*-shadow/),
      expect.stringMatching(/^infra-backend-v3-0 \/mirrored .*-shadow/),
    ]);
    expect(mesh.upstream('infra-backend-v1-0').hits).toBe(1);
  });

  it('HTTPRouteInvalidNonExistentBackendRef: 500 and ResolvedRefs False', async () => {
    const routes = [route('missing', [{ backendRefs: [to('nonexistent')] }])];
    await meshWith(routes);
    expect(await served('/')).toBe('HTTP 500');
    const status = translateGatewayApi([gatewayObject(), ...routes], services, 'default').routeStatus.get('HTTPRoute/default/missing')!;
    expect(status.parents[0].conditions).toEqual([
      expect.objectContaining({ type: 'Accepted', status: 'True' }),
      expect.objectContaining({ type: 'ResolvedRefs', status: 'False', reason: 'BackendNotFound' }),
    ]);
  });

  it('HTTPRouteWeight (all zero): a rule whose backends all weigh 0 answers 500', async () => {
    await meshWith([route('zero', [{ backendRefs: [to('infra-backend-v1', { weight: 0 })] }])]);
    expect(await served('/')).toBe('HTTP 500');
  });

  it('HTTPRouteTimeoutRequest + HTTPRouteTimeoutBackendRequest: the rule times out with 504', async () => {
    await meshWith([
      route('timeouts', [
        { matches: [{ path: { type: 'PathPrefix', value: '/request' } }], timeouts: { request: '200ms' }, backendRefs: [to('infra-backend-v1')] },
        { matches: [{ path: { type: 'PathPrefix', value: '/backend' } }], timeouts: { backendRequest: '200ms' }, backendRefs: [to('infra-backend-v1')] },
      ]),
    ]);
    mesh.upstream('infra-backend-v1-0').behaviour = (req) => req.resume(); // never answers
    expect((await mesh.get('/request')).status).toBe(504);
    expect((await mesh.get('/backend')).status).toBe(504);
  });

  it('Gateway status: Accepted/Programmed, attachedRoutes, controllerName istio.io/gateway-controller', () => {
    const t = translateGatewayApi(
      [gatewayObject(), route('a', [{ backendRefs: [to('infra-backend-v1')] }]), route('b', [{ backendRefs: [to('infra-backend-v2')] }])],
      services,
      'default',
    );
    const gw = t.gatewayStatus.get('Gateway/default/same-namespace')!;
    expect(gw.conditions.map((c) => `${c.type}=${c.status}`)).toEqual(['Accepted=True', 'Programmed=True']);
    expect(gw.listeners[0].attachedRoutes).toBe(2);
    expect(t.routeStatus.get('HTTPRoute/default/a')!.parents[0].controllerName).toBe('istio.io/gateway-controller');
    // compiles: the generated objects are ordinary route model input
    expect(() =>
      compileMeshConfig({
        istio: withGatewayApi({ gateways: [], virtualServices: [], destinationRules: [] }, [gatewayObject()], services, 'default'),
        services,
        workloads: backends,
        mode: 'istio',
      }),
    ).not.toThrow();
  });
});
