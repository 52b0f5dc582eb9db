/**
 * Behaviour table for HTTPRoutes attached to a Service (mesh, the GAMMA initiative): a client workload's sidecar
 * calls Services `echo`, `echo-v1`, `echo-v2` as the Gateway API mesh conformance suite does. Each row is our own
 * test of what one conformance test checks, named by its ShortName: the Mesh* tests of tag v1.1.0 (the pinned
 * CRDs) and the MeshHTTPRoute* tests of the mesh suite (conformance/tests/mesh/, first in tag v1.4.0), which run
 * the gateway rows' behaviours from a sidecar. No conformance YAML is copied.
 */
import type { LoadedObject, Service, VirtualService } from '../model';
import { seededRandom } from '../dataplane/random';
import { send, startMesh, tally, virtualService, workload, type MeshFixture } from '../dataplane/test-harness';
import { translateGatewayApi, withGatewayApi } from '.';
import type { HTTPRouteRule, ParentReference } from './kinds';

const client = workload('client', 'client', 'v1');
const echoV1 = workload('echo-v1', 'echo', 'v1');
const echoV2 = workload('echo-v2', 'echo', 'v2');
const replicas = [client, echoV1, echoV2].map((w) => ({ id: `${w.name}-0`, workload: w }));

/** Services with the ports of the suite's echo Services: 80 and 8080. */
const svc = (name: string, selector: Record<string, string>): LoadedObject<Service> => ({
  object: {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name },
    spec: {
      selector,
      ports: [
        { name: 'http', port: 80, targetPort: 8080 },
        { name: 'http-alt', port: 8080, targetPort: 8080 },
      ],
    },
  },
  source: { file: 'k8s/echo.yaml', line: 1 },
});
const services = [svc('echo', { app: 'echo' }), svc('echo-v1', { app: 'echo', version: 'v1' }), svc('echo-v2', { app: 'echo', version: 'v2' })];

const serviceParent = (name: string, extra: Partial<ParentReference> = {}): ParentReference => ({ group: '', kind: 'Service', name, ...extra });
const route = (name: string, parentRefs: ParentReference[], rules: HTTPRouteRule[]): LoadedObject => ({
  object: { apiVersion: 'gateway.networking.k8s.io/v1', kind: 'HTTPRoute', metadata: { name }, spec: { parentRefs, rules } },
  source: { file: `${name}.yaml`, line: 1 },
});
const to = (name: string, extra: Record<string, unknown> = {}) => ({ name, port: 8080, ...extra });
const setHeader = (value: string) => ({ type: 'ResponseHeaderModifier', responseHeaderModifier: { set: [{ name: 'X-Header-Set', value }] } });

let mesh: MeshFixture;
afterEach(async () => {
  await mesh?.close();
});

async function meshWith(objects: LoadedObject[], virtualServices: LoadedObject<VirtualService>[] = []): Promise<void> {
  const istio = withGatewayApi({ gateways: [], virtualServices, destinationRules: [] }, objects, services, 'default');
  mesh = await startMesh({ replicas, random: seededRandom(7), source: { kind: 'sidecar', workload: client }, state: { services, istio } });
}

/** A sidecar call (absolute form, as a workload behind HTTP_PROXY sends it). */
const call = (url: string, headers?: Record<string, string>) => send(mesh.port, url, { headers });
const backendOf = async (url: string, headers?: Record<string, string>) => {
  const res = await call(url, headers);
  return res.status === 200 ? res.json().id.replace(/-0$/, '') : `HTTP ${res.status}`;
};

describe('Gateway API mesh conformance behaviours (our rows, named by ShortName)', () => {
  it('MeshBasic + MeshHTTPRouteSimpleSameNamespace: no route reaches the Service; a route on Service echo sends echo to echo-v1', async () => {
    await meshWith([]);
    expect((await call('http://echo/')).status).toBe(200);
    await mesh.close();
    await meshWith([route('simple', [serviceParent('echo', { port: 80 })], [{ backendRefs: [to('echo-v1')] }])]);
    for (let i = 0; i < 10; i++) expect(await backendOf('http://echo/')).toBe('echo-v1');
  });

  it('MeshTrafficSplit: exact paths on Service echo select echo-v1 and echo-v2', async () => {
    await meshWith([
      route(
        'mesh-split',
        [serviceParent('echo')],
        [
          { matches: [{ path: { type: 'Exact', value: '/v1' } }], backendRefs: [to('echo-v1')] },
          { matches: [{ path: { type: 'Exact', value: '/v2' } }], backendRefs: [to('echo-v2')] },
        ],
      ),
    ]);
    expect(await backendOf('http://echo/v1')).toBe('echo-v1');
    expect(await backendOf('http://echo/v2')).toBe('echo-v2');
    expect(await backendOf('http://echo/v3')).toBe('HTTP 404'); // the Service has a route now: no default route behind it
  });

  it('MeshHTTPRouteWeight: 70/30 over echo-v1 and echo-v2 within binomial bounds; the records name the backend Service', async () => {
    await meshWith([
      route('weighted', [serviceParent('echo', { port: 80 })], [{ backendRefs: [to('echo-v1', { weight: 70 }), to('echo-v2', { weight: 30 })] }]),
    ]);
    const counts = tally(await Promise.all(Array.from({ length: 400 }, () => backendOf('http://echo/'))));
    // 400 draws at p = 0.3: mean 120, sd 9.2; ±4 sd.
    expect(counts['echo-v2']).toBeGreaterThan(83);
    expect(counts['echo-v2']).toBeLessThan(157);
    expect(counts['echo-v1'] + counts['echo-v2']).toBe(400);
    const services = new Set(mesh.records.map((r) => `${r.sourceWorkload} -> ${r.destinationService}`));
    expect([...services].sort()).toEqual(['client -> echo-v1.default.svc.cluster.local', 'client -> echo-v2.default.svc.cluster.local']);
  });

  it('MeshPorts: a parentRef port limits the route to that port; without one it applies on every port', async () => {
    await meshWith([
      route('mesh-split-v1', [serviceParent('echo-v1', { port: 80 })], [{ filters: [setHeader('v1')], backendRefs: [to('echo-v1')] }]),
      route('mesh-split-v2', [serviceParent('echo-v2')], [{ filters: [setHeader('v2')], backendRefs: [to('echo-v2')] }]),
    ]);
    const v1 = await call('http://echo-v1/');
    expect([v1.status, v1.headers['x-header-set']]).toEqual([200, 'v1']);
    const v1Alt = await call('http://echo-v1:8080/');
    expect([v1Alt.status, v1Alt.headers['x-header-set'], v1Alt.json().id]).toEqual([200, undefined, 'echo-v1-0']); // default route
    expect((await call('http://echo-v2/')).headers['x-header-set']).toBe('v2');
    expect((await call('http://echo-v2:8080/')).headers['x-header-set']).toBe('v2');
  });

  it('MeshFrontend: the route applies to calls to its Service only, not to another Service selecting the same pods', async () => {
    await meshWith([route('mesh-frontend', [serviceParent('echo-v2')], [{ filters: [setHeader('set')], backendRefs: [to('echo-v2')] }])]);
    const viaService = await call('http://echo-v2/');
    expect([viaService.headers['x-header-set'], viaService.json().id]).toEqual(['set', 'echo-v2-0']);
    // The suite calls the pod IP; the local mesh has no pod IPs, so the other frontend is Service echo (same pod).
    for (let i = 0; i < 6; i++) expect((await call('http://echo/')).headers['x-header-set']).toBeUndefined();
  });

  it('MeshConsumerRoute: a route in another namespace than its Service applies to the sidecars of its own namespace only', async () => {
    const consumerRoute: LoadedObject = {
      object: {
        apiVersion: 'gateway.networking.k8s.io/v1',
        kind: 'HTTPRoute',
        metadata: { name: 'mesh-consumer', namespace: 'consumer' },
        spec: {
          parentRefs: [serviceParent('echo-v1', { namespace: 'default' })],
          rules: [{ filters: [setHeader('set')], backendRefs: [to('echo-v1', { namespace: 'default' })] }],
        },
      },
      source: { file: 'consumer.yaml', line: 1 },
    };
    const istio = withGatewayApi({ gateways: [], virtualServices: [], destinationRules: [] }, [consumerRoute], services, 'default');
    const from = async (namespace: string) => {
      mesh = await startMesh({ replicas, source: { kind: 'sidecar', workload: { ...client, namespace } }, state: { services, istio } });
      const res = await call('http://echo-v1.default/');
      await mesh.close();
      return [res.status, res.headers['x-header-set']];
    };
    expect(await from('consumer')).toEqual([200, 'set']);
    expect(await from('default')).toEqual([200, undefined]); // the producer's namespace: the Service's default route
  });

  it('MeshHTTPRouteMatching + MeshHTTPRouteQueryParamMatching: path, header and query matches from a sidecar; PathPrefix on segments', async () => {
    await meshWith([
      route(
        'mesh-matching',
        [serviceParent('echo', { port: 80 })],
        [
          { matches: [{ path: { type: 'PathPrefix', value: '/' } }], backendRefs: [to('echo-v1')] },
          { matches: [{ path: { type: 'PathPrefix', value: '/v2' } }, { headers: [{ name: 'version', value: 'two' }] }], backendRefs: [to('echo-v2')] },
          { matches: [{ queryParams: [{ name: 'animal', value: 'whale' }] }], backendRefs: [to('echo-v2')] },
        ],
      ),
    ]);
    expect(await backendOf('http://echo/example')).toBe('echo-v1');
    expect(await backendOf('http://echo/v2/example')).toBe('echo-v2');
    expect(await backendOf('http://echo/v2example')).toBe('echo-v1');
    expect(await backendOf('http://echo/', { version: 'two' })).toBe('echo-v2');
    expect(await backendOf('http://echo/?animal=whale')).toBe('echo-v2');
  });

  it('MeshHTTPRouteRequestHeaderModifier + MeshHTTPRouteBackendRequestHeaderModifier: set, add, remove on the request, at rule and backend level', async () => {
    await meshWith([
      route(
        'mesh-request-header-modifier',
        [serviceParent('echo', { port: 80 })],
        [
          {
            filters: [
              {
                type: 'RequestHeaderModifier',
                requestHeaderModifier: {
                  set: [{ name: 'X-Header-Set', value: 'set-overwrites-values' }],
                  add: [{ name: 'X-Header-Add', value: 'add' }],
                  remove: ['X-Header-Remove'],
                },
              },
            ],
            backendRefs: [
              to('echo-v1', { filters: [{ type: 'RequestHeaderModifier', requestHeaderModifier: { set: [{ name: 'X-Backend', value: 'v1' }] } }] }),
            ],
          },
        ],
      ),
    ]);
    const echoed = (await call('http://echo/', { 'x-header-set': 'other', 'x-header-add': 'first', 'x-header-remove': 'gone' })).json().headers;
    expect(echoed['x-header-set']).toBe('set-overwrites-values');
    expect(echoed['x-header-add']).toBe('first, add');
    expect(echoed['x-header-remove']).toBeUndefined();
    expect(echoed['x-backend']).toBe('v1');
  });

  it('MeshHTTPRouteRedirectHostAndStatus + MeshHTTPRouteRedirectPath + MeshHTTPRouteSchemeRedirect: redirects from a sidecar', async () => {
    await meshWith([
      route(
        'mesh-redirect',
        [serviceParent('echo', { port: 80 })],
        [
          {
            matches: [{ path: { value: '/hostname' } }],
            filters: [{ type: 'RequestRedirect', requestRedirect: { hostname: 'example.org', statusCode: 301 } }],
          },
          {
            matches: [{ path: { value: '/prefix' } }],
            filters: [{ type: 'RequestRedirect', requestRedirect: { path: { type: 'ReplacePrefixMatch', replacePrefixMatch: '/one' } } }],
          },
          { matches: [{ path: { value: '/scheme' } }], filters: [{ type: 'RequestRedirect', requestRedirect: { scheme: 'https' } }] },
        ],
      ),
    ]);
    const hostname = await call('http://echo/hostname/x');
    expect([hostname.status, hostname.headers.location]).toEqual([301, 'http://example.org/hostname/x']);
    const prefix = await call('http://echo/prefix/two');
    expect([prefix.status, prefix.headers.location]).toEqual([302, 'http://echo/one/two']); // the CRD's default 302
    expect((await call('http://echo/scheme')).headers.location).toBe('https://echo/scheme');
  });

  it('a timeout on a mesh route (HTTPRouteTimeoutRequest from a sidecar): 504 after timeouts.request', async () => {
    await meshWith([route('mesh-timeout', [serviceParent('echo')], [{ timeouts: { request: '200ms' }, backendRefs: [to('echo-v1')] }])]);
    mesh.upstream('echo-v1-0').behaviour = (req) => req.resume(); // never answers
    expect((await call('http://echo/')).status).toBe(504);
  });

  it('a backendRef in another namespace needs no ReferenceGrant on a mesh parent; a missing Service is 500 and BackendNotFound', async () => {
    const routes = [
      route('cross', [serviceParent('echo')], [{ backendRefs: [to('echo-v1', { namespace: 'other' })] }]),
      route('missing', [serviceParent('echo-v2')], [{ backendRefs: [to('nowhere')] }]),
    ];
    const t = translateGatewayApi(routes, services, 'default');
    const conditions = (name: string) => t.routeStatus.get(`HTTPRoute/default/${name}`)!.parents[0].conditions.map((c) => `${c.type}=${c.status}/${c.reason}`);
    expect(conditions('cross')).toEqual(['Accepted=True/Accepted', 'ResolvedRefs=False/BackendNotFound']); // not RefNotPermitted
    expect(conditions('missing')).toEqual(['Accepted=True/Accepted', 'ResolvedRefs=False/BackendNotFound']);
    await meshWith(routes);
    expect(await backendOf('http://echo-v2/')).toBe('HTTP 500');
  });

  it('status: a Service parent is Accepted with controllerName istio.io/gateway-controller; the VirtualService is bound to mesh', () => {
    const t = translateGatewayApi([route('simple', [serviceParent('echo', { port: 80 })], [{ backendRefs: [to('echo-v1')] }])], services, 'default');
    const parent = t.routeStatus.get('HTTPRoute/default/simple')!.parents[0];
    expect(parent).toMatchObject({ parentRef: { group: '', kind: 'Service', name: 'echo', port: 80 }, controllerName: 'istio.io/gateway-controller' });
    expect(parent.conditions.map((c) => `${c.type}=${c.status}`)).toEqual(['Accepted=True', 'ResolvedRefs=True']);
    const [vs] = t.virtualServices.map((v) => v.object);
    expect(vs.metadata.name).toBe('simple-0-istio-autogenerated-k8s-gateway');
    expect(vs.spec).toMatchObject({ hosts: ['echo.default.svc.cluster.local'], gateways: ['mesh'], http: [{ match: [{ port: 80 }] }] });
  });

  it('a parent of a kind istiod does not handle gets no status from istio.io/gateway-controller; the Service parent beside it does', () => {
    const parents = [{ group: 'example.com', kind: 'Mesh', name: 'other' }, serviceParent('echo')];
    const t = translateGatewayApi([route('two-parents', parents, [{ backendRefs: [to('echo-v1')] }])], services, 'default');
    expect(t.routeStatus.get('HTTPRoute/default/two-parents')!.parents.map((p) => p.parentRef.kind)).toEqual(['Service']);
  });

  it('a route attached to a Gateway and a Service: both parents in status, ordered as istiod orders them (parentRefString, descending)', () => {
    const gateway: LoadedObject = {
      object: {
        apiVersion: 'gateway.networking.k8s.io/v1',
        kind: 'Gateway',
        metadata: { name: 'edge' },
        spec: { gatewayClassName: 'istio', listeners: [{ name: 'http', port: 80, protocol: 'HTTP' }] },
      },
      source: { file: 'gw.yaml', line: 1 },
    };
    const both = route('both', [serviceParent('echo'), { name: 'edge' }], [{ backendRefs: [to('echo-v1')] }]);
    const t = translateGatewayApi([gateway, both], services, 'default');
    expect(t.routeStatus.get('HTTPRoute/default/both')!.parents.map((p) => `${p.parentRef.kind}/${p.parentRef.name}`)).toEqual([
      'Gateway/edge',
      'Service/echo',
    ]);
    expect(t.virtualServices.map((v) => v.object.spec?.gateways?.join()).sort()).toEqual(['default/edge-istio-autogenerated-k8s-gateway', 'mesh']);
  });

  it('a VirtualService and an HTTPRoute on one mesh host: a sidecar of the route namespace keeps the route, others the older (creation time, then name)', async () => {
    const vs = virtualService('echo', { hosts: ['echo'], http: [{ route: [{ destination: { host: 'echo-v2' } }] }] });
    const httpRoute = route('echo-to-v1', [serviceParent('echo')], [{ backendRefs: [to('echo-v1')] }]);
    const stamped = <T extends LoadedObject>(o: T, creationTimestamp: string): T => ({
      ...o,
      object: { ...o.object, metadata: { ...o.object.metadata, creationTimestamp } },
    });
    const from = async (namespace: string, objects: LoadedObject[], virtualServices: LoadedObject<VirtualService>[]) => {
      const istio = withGatewayApi({ gateways: [], virtualServices, destinationRules: [] }, objects, services, 'default');
      mesh = await startMesh({ replicas, source: { kind: 'sidecar', workload: { ...client, namespace } }, state: { services, istio } });
      const backends = await Promise.all(Array.from({ length: 4 }, () => backendOf('http://echo.default/')));
      await mesh.close();
      return tally(backends);
    };
    const routeYounger: [LoadedObject[], LoadedObject<VirtualService>[]] = [
      [stamped(httpRoute, '2026-02-01T00:00:00Z')],
      [stamped(vs, '2026-01-01T00:00:00Z')],
    ];
    // The sidecars of the route's namespace get its VirtualService first (consumer override), however old.
    expect(await from('default', [httpRoute], [vs])).toEqual({ 'echo-v1': 4 });
    expect(await from('default', ...routeYounger)).toEqual({ 'echo-v1': 4 });
    // Elsewhere: no creation times, by `name.namespace` (`echo-to-v1-0-istio-autogenerated-k8s-gateway.default` < `echo.default`); else the older.
    expect(await from('other', [httpRoute], [vs])).toEqual({ 'echo-v1': 4 });
    expect(await from('other', ...routeYounger)).toEqual({ 'echo-v2': 4 });
  });
});
