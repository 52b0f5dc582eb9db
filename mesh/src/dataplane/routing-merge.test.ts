/**
 * Merging like istiod (issue #11 part 2), through the real data plane on real sockets: several VirtualServices for
 * one gateway host with catch-all routes last, short hosts as FQDNs on gateways, several DestinationRules for one
 * host, and portLevelSettings.
 */
import type { DestinationRule, LoadedObject, Service, VirtualService } from '../model';
import { compileMeshConfig } from './config';
import { seededRandom } from './random';
import { destinationRule, gateway, send, service, startMesh, tally, virtualService, workload, type MeshFixture } from './test-harness';

const v1 = workload('web-api-v1', 'web-api', 'v1');
const v2 = workload('web-api-v2', 'web-api', 'v2');
const articles = workload('articles', 'articles', 'v1');
const replicas = [
  { id: 'web-api-v1-0', workload: v1 },
  { id: 'web-api-v1-1', workload: v1 },
  { id: 'web-api-v2-0', workload: v2 },
  { id: 'articles-0', workload: articles },
];
const services = [service('web-api', 3000), service('articles', 8080)];
const to = (host: string, subset?: string) => [{ destination: { host, subset } }];
/** A VirtualService bound to the fixture's gateway for every host. */
const onGateway = (name: string, http: Parameters<typeof virtualService>[1]['http']) => virtualService(name, { hosts: ['*'], gateways: ['web-gateway'], http });

let mesh: MeshFixture;
afterEach(async () => {
  await mesh?.close();
});

/** The fixture with one gateway and the given Istio routing (the replicas and Services above). */
function gatewayMesh(istio: {
  virtualServices: LoadedObject<VirtualService>[];
  destinationRules: LoadedObject<DestinationRule>[];
  random?: () => number;
}): Promise<MeshFixture> {
  const { random, ...routing } = istio;
  return startMesh({ replicas, random, state: { services, istio: { gateways: [gateway('web-gateway')], ...routing } } });
}

async function idOf(path: string, headers?: Record<string, string>): Promise<string> {
  const res = await mesh.get(path, { headers });
  return res.status === 200 ? res.json().id : `${res.status}`;
}

describe('several VirtualServices for one host on one gateway (istiod merges them, catch-all routes last)', () => {
  test("a catch-all in the first VirtualService does not hide the second one's routes", async () => {
    mesh = await gatewayMesh({
      virtualServices: [
        onGateway('web-app', [{ match: [{ uri: { prefix: '/' } }], route: to('articles') }]),
        onGateway('api', [{ match: [{ uri: { prefix: '/api' } }], route: to('web-api') }]),
      ],
      destinationRules: [],
    });
    expect(await idOf('/api/x')).toMatch(/^web-api-v/);
    expect(await idOf('/index.html')).toBe('articles-0');
  });

  // istiod emits nothing of a VirtualService after its first catch-all route (route.go BuildHTTPRoutesForVirtualService),
  // so sorting cannot bring a later rule of the same VirtualService in front of it.
  test('within one VirtualService: nothing after a catch-all block is used; a header match is not catch-all', async () => {
    mesh = await gatewayMesh({
      virtualServices: [
        onGateway('web-ingress', [
          { match: [{ headers: { 'x-canary': { exact: 'yes' } } }], route: to('web-api', 'v2') },
          { match: [{ uri: { prefix: '/' } }, { uri: { exact: '/exact' } }], route: to('articles') },
          { match: [{ uri: { prefix: '/v1' } }], route: to('web-api', 'v1') },
        ]),
      ],
      destinationRules: [
        destinationRule('web-api', {
          host: 'web-api',
          subsets: [
            { name: 'v1', labels: { version: 'v1' } },
            { name: 'v2', labels: { version: 'v2' } },
          ],
        }),
      ],
    });
    expect(await idOf('/v1/x', { 'x-canary': 'yes' })).toBe('web-api-v2-0'); // not catch-all: stays first
    expect(await idOf('/v1/x')).toBe('articles-0'); // the /v1 rule comes after the catch-all: never emitted
    expect(await idOf('/exact')).toBe('articles-0');
    expect(await idOf('/other')).toBe('articles-0');
  });

  // istiod merges them in VirtualServicesForGateway order: older first, equal times by name, not the order they were loaded in.
  test("merged oldest first: of two same matches the older VirtualService's applies", async () => {
    const created = (vs: ReturnType<typeof onGateway>, creationTimestamp: string) => {
      (vs.object.metadata as { creationTimestamp?: string }).creationTimestamp = creationTimestamp;
      return vs;
    };
    mesh = await gatewayMesh({
      virtualServices: [
        created(onGateway('api-articles', [{ match: [{ uri: { prefix: '/api' } }], route: to('articles') }]), '2026-02-01T00:00:00Z'),
        created(onGateway('api-web', [{ match: [{ uri: { prefix: '/api' } }], route: to('web-api') }]), '2026-01-01T00:00:00Z'),
      ],
      destinationRules: [],
    });
    expect(await idOf('/api/x')).toMatch(/^web-api-v/);
  });

  test('the mesh (sidecar) keeps the rules in order: SortVHostRoutes is a gateway step', async () => {
    mesh = await startMesh({
      replicas,
      source: { kind: 'sidecar', workload: articles },
      state: {
        services,
        istio: {
          gateways: [],
          virtualServices: [
            virtualService('web-api', {
              hosts: ['web-api'],
              http: [{ route: to('web-api', 'v1') }, { match: [{ uri: { prefix: '/v2' } }], route: to('web-api', 'v2') }],
            }),
          ],
          destinationRules: [
            destinationRule('web-api', {
              host: 'web-api',
              subsets: [
                { name: 'v1', labels: { version: 'v1' } },
                { name: 'v2', labels: { version: 'v2' } },
              ],
            }),
          ],
        },
      },
    });
    expect((await send(mesh.port, 'http://web-api:3000/v2/x')).json().id).toMatch(/^web-api-v1-/);
  });
});

test('a short host on a gateway-bound VirtualService is the FQDN in its namespace', async () => {
  mesh = await gatewayMesh({
    virtualServices: [virtualService('articles-edge', { hosts: ['articles'], gateways: ['web-gateway'], http: [{ route: to('articles') }] })],
    destinationRules: [],
  });
  expect(await idOf('/', { host: 'articles.default.svc.cluster.local' })).toBe('articles-0');
  expect(await idOf('/', { host: 'articles' })).toBe('404');
});

describe('several DestinationRules for one host (istiod merges them)', () => {
  const first = destinationRule('web-api-v1', {
    host: 'web-api',
    trafficPolicy: { loadBalancer: { simple: 'ROUND_ROBIN' } },
    subsets: [{ name: 'v1', labels: { version: 'v1' } }],
  });
  const second = destinationRule('web-api-v2', {
    host: 'web-api.default.svc.cluster.local',
    trafficPolicy: { loadBalancer: { simple: 'RANDOM' } },
    subsets: [
      { name: 'v2', labels: { version: 'v2' } },
      { name: 'v1', labels: { version: 'v2' } },
    ],
  });

  test('subsets of the later rule are appended (a taken name is not), and the first top-level policy wins', async () => {
    mesh = await gatewayMesh({
      random: seededRandom(11),
      virtualServices: [onGateway('web-ingress', [{ match: [{ uri: { prefix: '/v2' } }], route: to('web-api', 'v2') }, { route: to('web-api', 'v1') }])],
      destinationRules: [first, second],
    });
    expect(await idOf('/v2')).toBe('web-api-v2-0');
    // v1 keeps the first rule's labels (version v1) and its ROUND_ROBIN: the two v1 pods strictly alternate.
    const ids: string[] = [];
    for (let i = 0; i < 10; i++) ids.push(await idOf('/'));
    expect(ids.every((id, i) => i === 0 || id !== ids[i - 1])).toBe(true);
    expect(tally(ids)).toEqual({ 'web-api-v1-0': 5, 'web-api-v1-1': 5 });
  });
});

describe('portLevelSettings', () => {
  const twoPorts: LoadedObject<Service> = {
    object: {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'web-api' },
      spec: {
        selector: { app: 'web-api' },
        ports: [
          { name: 'http', port: 3000 },
          { name: 'http-admin', port: 9000 },
        ],
      },
    },
    source: { file: 'k8s/web-api.yaml' },
  };
  const rule = destinationRule('web-api', {
    host: 'web-api',
    trafficPolicy: {
      loadBalancer: { simple: 'RANDOM' },
      connectionPool: { tcp: { maxConnections: 50 } },
      portLevelSettings: [{ port: { number: 9000 }, loadBalancer: { simple: 'ROUND_ROBIN' } }],
    },
    subsets: [
      {
        name: 'v1',
        labels: { version: 'v1' },
        trafficPolicy: { portLevelSettings: [{ port: { number: 3000 }, connectionPool: { http: { http1MaxPendingRequests: 3 } } }] },
      },
    ],
  });

  const ingress = onGateway('web-ingress', [
    { match: [{ uri: { prefix: '/admin' } }], route: [{ destination: { host: 'web-api', subset: 'v1', port: { number: 9000 } } }] },
    { route: [{ destination: { host: 'web-api', subset: 'v1', port: { number: 3000 } } }] },
  ]);

  test("a port's settings replace the top-level ones for that port (no inheritance); a subset's port-level ones replace all four fields", () => {
    const config = compileMeshConfig({
      istio: { gateways: [gateway('web-gateway')], virtualServices: [ingress], destinationRules: [rule] },
      services: [twoPorts],
      workloads: [v1, v2],
      mode: 'istio',
    });
    const service = config.resolveService('web-api')!;
    const on = (port: number) => config.defaultRoute(service, port).destinations[0]!.cluster.policy;
    expect(on(3000)).toMatchObject({ lb: 'RANDOM', maxConnections: 50 });
    expect(on(9000)).toMatchObject({ lb: 'ROUND_ROBIN', limited: false }); // maxConnections not inherited
    const [admin, main] = config.gateway('web-gateway').virtualHosts.routesFor('any.host')!;
    expect(admin!.destinations[0]!.cluster.policy).toMatchObject({ lb: 'ROUND_ROBIN', limited: false });
    // v1's port-3000 setting replaces loadBalancer and connectionPool: default LEAST_REQUEST, only its pending limit.
    expect(main!.destinations[0]!.cluster.policy).toMatchObject({ lb: 'LEAST_REQUEST', maxPending: 3, limited: true });
    expect(main!.destinations[0]!.cluster.policy.maxConnections).toBe(Number.MAX_SAFE_INTEGER);
  });

  test('through the gateway: the route to port 9000 balances round robin over the v1 pods', async () => {
    mesh = await startMesh({
      replicas,
      random: seededRandom(3),
      state: { services: [twoPorts], istio: { gateways: [gateway('web-gateway')], virtualServices: [ingress], destinationRules: [rule] } },
    });
    const ids: string[] = [];
    for (let i = 0; i < 8; i++) ids.push(await idOf('/admin'));
    expect(ids.every((id, i) => i === 0 || id !== ids[i - 1])).toBe(true);
    expect(tally(ids)).toEqual({ 'web-api-v1-0': 4, 'web-api-v1-1': 4 });
  });
});

describe('delegate VirtualServices (istiod MergeHTTPRoutes)', () => {
  test("a root rule hands its traffic to the delegate's rules: matches ANDed with the root's, conflicting ones dropped, fields inherited", async () => {
    mesh = await gatewayMesh({
      virtualServices: [
        onGateway('web-ingress', [
          { name: 'api', match: [{ uri: { prefix: '/api/' } }], headers: { response: { set: { 'x-root': 'api' } } }, delegate: { name: 'api-routes' } },
          { route: to('articles') },
        ]),
        virtualService('api-routes', {
          hosts: [],
          http: [
            { match: [{ uri: { prefix: '/api/v2' } }], route: to('web-api', 'v2') },
            { match: [{ uri: { prefix: '/elsewhere' } }], route: to('web-api', 'v2') }, // outside /api/: dropped
            { route: to('web-api', 'v1') }, // no match: takes the root's
          ],
        }),
      ],
      destinationRules: [
        destinationRule('web-api', {
          host: 'web-api',
          subsets: [
            { name: 'v1', labels: { version: 'v1' } },
            { name: 'v2', labels: { version: 'v2' } },
          ],
        }),
      ],
    });
    const v2Answer = await mesh.get('/api/v2/items');
    expect(v2Answer.json().id).toBe('web-api-v2-0');
    expect(v2Answer.headers['x-root']).toBe('api'); // inherited from the root rule
    expect(await idOf('/api/other')).toMatch(/^web-api-v1-/);
    expect(await idOf('/elsewhere')).toBe('articles-0');
  });
});

describe('host and gateway names as istiod reads them (istio/hosts.ts)', () => {
  const web = workload('web-api-v1', 'web-api', 'v1');

  test('a Service answers to name, name.ns, name.ns.svc and its FQDN, with or without a port', () => {
    const config = compileMeshConfig({
      istio: { gateways: [], virtualServices: [], destinationRules: [] },
      services: [service('web-api', 3000)],
      workloads: [web],
      mode: 'istio',
    });
    for (const host of ['web-api', 'web-api.default', 'web-api.default.svc:3000', 'web-api.default.svc.cluster.local']) {
      expect(config.resolveService(host)?.fqdn).toBe('web-api.default.svc.cluster.local');
    }
    expect(config.resolveService('web-api.other')).toBeUndefined();
  });

  test.each(['./web-gateway', 'web-gateway.default.svc.cluster.local', 'default/web-gateway'])(
    'a VirtualService bound to gateway %s is served by it',
    (reference) => {
      const vs = virtualService('web-ingress', { hosts: ['*'], gateways: [reference], http: [{ route: [{ destination: { host: 'web-api' } }] }] });
      const config = compileMeshConfig({
        istio: { gateways: [gateway('web-gateway')], virtualServices: [vs], destinationRules: [] },
        services: [service('web-api', 3000)],
        workloads: [web],
        mode: 'istio',
      });
      expect(config.gateway('web-gateway').virtualHosts.routesFor('any.host')).toHaveLength(1);
    },
  );
});
