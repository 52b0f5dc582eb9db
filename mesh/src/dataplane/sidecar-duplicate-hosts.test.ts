/**
 * Two VirtualServices bound to `mesh` on one host, through the real data plane: a sidecar keeps only the first in
 * istiod's order (oldest, then `name.namespace`) that has routes for it on the port, and drops the other as a
 * duplicate domain (config/virtual-hosts.ts VirtualHostOptions.firstClaimOnly); a gateway merges them
 * (routing-merge.test.ts).
 */
import type { VirtualService } from '../model';
import { destinationRule, send, service, startMesh, virtualService, workload, type MeshFixture } from './test-harness';

const v1 = workload('web-api-v1', 'web-api', 'v1');
const v2 = workload('web-api-v2', 'web-api', 'v2');
const articles = workload('articles', 'articles', 'v1');
const replicas = [
  { id: 'web-api-v1-0', workload: v1 },
  { id: 'web-api-v2-0', workload: v2 },
  { id: 'articles-0', workload: articles },
];
const subsets = destinationRule('web-api', {
  host: 'web-api',
  subsets: [
    { name: 'v1', labels: { version: 'v1' } },
    { name: 'v2', labels: { version: 'v2' } },
  ],
});
const to = (subset: string) => [{ destination: { host: 'web-api', subset } }];

/** A mesh VirtualService on host web-api, created at `created` when given. */
function onWebApi(name: string, http: NonNullable<VirtualService['spec']>['http'], created?: string) {
  const loaded = virtualService(name, { hosts: ['web-api'], http });
  if (created) (loaded.object.metadata as { creationTimestamp?: string }).creationTimestamp = created;
  return loaded;
}

let mesh: MeshFixture;
afterEach(async () => {
  await mesh?.close();
});

async function fromArticles(virtualServices: ReturnType<typeof onWebApi>[], path: string): Promise<string> {
  mesh = await startMesh({
    replicas,
    source: { kind: 'sidecar', workload: articles },
    state: { services: [service('web-api', 3000)], istio: { gateways: [], virtualServices, destinationRules: [subsets] } },
  });
  const res = await send(mesh.port, `http://web-api:3000${path}`);
  return res.status === 200 ? res.json().id : `${res.status}`;
}

const canary = (created?: string) => onWebApi('web-api-canary', [{ match: [{ uri: { prefix: '/v2' } }], route: to('v2') }], created);
const main = (created?: string) => onWebApi('web-api-main', [{ route: to('v1') }], created);

describe('two VirtualServices on one mesh host: the sidecar keeps one', () => {
  test("the older applies, wherever it is loaded; the younger's rules do not", async () => {
    const older = '2026-01-01T00:00:00Z';
    const younger = '2026-02-01T00:00:00Z';
    expect(await fromArticles([canary(younger), main(older)], '/v2/x')).toBe('web-api-v1-0');
    await mesh.close();
    // The older one matches /v2 only: a path it does not match gets no route, not the younger's catch-all.
    expect(await fromArticles([main(younger), canary(older)], '/v1/x')).toBe('404');
  });

  test('equal (or no) creation times: by name', async () => {
    expect(await fromArticles([main(), canary()], '/v1/x')).toBe('404'); // web-api-canary < web-api-main
  });

  test('an older one with no rule for this sidecar claims nothing: the younger applies', async () => {
    const forOthers = onWebApi('web-api-canary', [{ match: [{ sourceLabels: { app: 'web-app' } }], route: to('v2') }], '2026-01-01T00:00:00Z');
    expect(await fromArticles([forOthers, main('2026-02-01T00:00:00Z')], '/v2/x')).toBe('web-api-v1-0');
  });
});
