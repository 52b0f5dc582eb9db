/**
 * Rules trimmed per proxy at translation time, as istiod does (route.go BuildHTTPRoutesForVirtualService,
 * TranslateRoute, sourceMatchHTTP): a proxy that no rule of a VirtualService reaches keeps the host's default
 * route instead of answering 404 NR. Through the real data plane on real sockets.
 */
import { send, destinationRule, gateway, service, startMesh, virtualService, workload, type MeshFixture } from './test-harness';
import { seededRandom } from './random';
import type { HTTPRoute, Workload } from '../model';

const v1 = workload('web-api-v1', 'web-api', 'v1');
const v2 = workload('web-api-v2', 'web-api', 'v2');
const authorsV1 = workload('authors-v1', 'authors', 'v1');
const authorsV2 = workload('authors-v2', 'authors', 'v2');
const replicas = [
  { id: 'web-api-v1-0', workload: v1 },
  { id: 'web-api-v2-0', workload: v2 },
  { id: 'authors-v1-0', workload: authorsV1 },
  { id: 'authors-v2-0', workload: authorsV2 },
];
const services = [service('web-api', 3000), service('authors', 3000)];
const authorSubsets = destinationRule('authors', {
  host: 'authors',
  subsets: [
    { name: 'v1', labels: { version: 'v1' } },
    { name: 'v2', labels: { version: 'v2' } },
  ],
});
const toAuthors = (subset: string) => [{ destination: { host: 'authors', subset } }];

let mesh: MeshFixture;
afterEach(async () => {
  await mesh?.close();
});

async function sidecar(from: Workload, http: HTTPRoute[], gateways?: string[]): Promise<void> {
  mesh = await startMesh({
    replicas,
    source: { kind: 'sidecar', workload: from },
    random: seededRandom(3),
    state: {
      services,
      istio: {
        gateways: [gateway('web-gateway')],
        virtualServices: [virtualService('authors', { hosts: ['authors'], gateways, http })],
        destinationRules: [authorSubsets],
      },
    },
  });
}

/** Which authors replica answered each of `n` calls (the default route spreads over both). */
async function answers(n: number): Promise<Set<string>> {
  const ids = new Set<string>();
  for (let i = 0; i < n; i++) {
    const res = await send(mesh.port, 'http://authors:3000/api/v1/getauthor?name=x');
    ids.add(res.status === 200 ? res.json().id : String(res.status));
  }
  return ids;
}

test('a VirtualService whose only rule matches sourceLabels {version: v2}: v2 gets it, v1 keeps the default route', async () => {
  const canary: HTTPRoute[] = [{ match: [{ sourceLabels: { version: 'v2' } }], route: toAuthors('v2') }];
  await sidecar(v2, canary);
  expect(await answers(6)).toEqual(new Set(['authors-v2-0']));
  await mesh.close();
  await sidecar(v1, canary);
  expect(await answers(6)).toEqual(new Set(['authors-v1-0', 'authors-v2-0'])); // was 404 NR before trimming
});

test('gateways [mesh, web-gateway] with a rule that names only the gateway: sidecars keep the default route', async () => {
  await sidecar(v1, [{ match: [{ gateways: ['web-gateway'], uri: { prefix: '/' } }], route: toAuthors('v2') }], ['mesh', 'web-gateway']);
  expect(await answers(6)).toEqual(new Set(['authors-v1-0', 'authors-v2-0']));
});

test('sourceNamespace and port decide too: a rule for another namespace or port is not there', async () => {
  await sidecar(v1, [
    { match: [{ sourceNamespace: 'other' }], route: toAuthors('v2') },
    { match: [{ port: 9000 }], route: toAuthors('v2') },
  ]);
  expect(await answers(6)).toEqual(new Set(['authors-v1-0', 'authors-v2-0']));
  await mesh.close();
  await sidecar(v1, [{ match: [{ sourceNamespace: 'default', port: 3000 }], route: toAuthors('v1') }]);
  expect(await answers(4)).toEqual(new Set(['authors-v1-0']));
});

test('a rule left for the proxy still routes, and the ones trimmed away do not shadow it', async () => {
  await sidecar(v1, [{ match: [{ sourceLabels: { version: 'v2' } }], route: toAuthors('v2') }, { route: toAuthors('v1') }]);
  expect(await answers(4)).toEqual(new Set(['authors-v1-0']));
});

test('delegates are trimmed after the merge: the root rule delegating to a v2-only rule leaves v1 on the default route', async () => {
  const root = virtualService('authors', { hosts: ['authors'], http: [{ delegate: { name: 'authors-canary' } }] });
  const delegate = virtualService('authors-canary', { hosts: [], http: [{ match: [{ sourceLabels: { version: 'v2' } }], route: toAuthors('v2') }] });
  mesh = await startMesh({
    replicas,
    source: { kind: 'sidecar', workload: v1 },
    random: seededRandom(3),
    state: { services, istio: { gateways: [], virtualServices: [root, delegate], destinationRules: [authorSubsets] } },
  });
  expect(await answers(6)).toEqual(new Set(['authors-v1-0', 'authors-v2-0']));
});

test('the gateway gets only the rules for its labels and names', async () => {
  mesh = await startMesh({
    replicas,
    random: seededRandom(3),
    state: {
      services,
      istio: {
        gateways: [gateway('web-gateway')],
        virtualServices: [
          virtualService('web-ingress', {
            hosts: ['*'],
            gateways: ['web-gateway'],
            http: [
              { match: [{ sourceLabels: { app: 'web-api' } }], route: toAuthors('v2') },
              { match: [{ gateways: ['other-gateway'] }], route: toAuthors('v2') },
              { match: [{ sourceLabels: { istio: 'ingressgateway' }, uri: { prefix: '/' } }], route: toAuthors('v1') },
            ],
          }),
        ],
        destinationRules: [authorSubsets],
      },
    },
  });
  for (let i = 0; i < 4; i++) expect((await mesh.get('/')).json().id).toBe('authors-v1-0');
});
