/**
 * The running mesh's config store gives each object a creation time, as the API server does, and compiles with it:
 * of two VirtualServices on one mesh host a sidecar keeps the older, whatever their names.
 */
import type { LoadedObject, Service, VirtualService } from '../model';
import { analyzeManifests } from '../manifests';
import { compileMeshConfig, type CompiledMeshConfig } from '../dataplane/config';
import { service, virtualService, workload } from '../dataplane/test-harness';
import { ConfigStore } from './config-store';
import { toIstioConfig } from './config-sync';

const authors = service('authors', 3000) as LoadedObject<Service>;
const webApi = workload('web-api', 'web-api', 'v1');
const authorsWorkload = workload('authors', 'authors', 'v1');
const toAuthors = (name: string, prefix = '/'): LoadedObject<VirtualService> =>
  virtualService(name, { hosts: ['authors'], http: [{ match: [{ uri: { prefix } }], route: [{ destination: { host: 'authors' } }] }] });

function storeAt(clock: { ms: number }): ConfigStore<CompiledMeshConfig> {
  return new ConfigStore<CompiledMeshConfig>({
    kubernetesObjects: [authors],
    analyze: analyzeManifests,
    compile: (objects) =>
      compileMeshConfig({ istio: toIstioConfig(objects, [authors]), services: [authors], workloads: [webApi, authorsWorkload], mode: 'istio' }),
    now: () => clock.ms,
  });
}

/** The VirtualService web-api's sidecar routes authors with. */
const routingVirtualService = (store: ConfigStore<CompiledMeshConfig>) =>
  store.compiled().sidecar(webApi).routesFor('authors.default.svc.cluster.local', 3000)?.[0]?.virtualService;

describe('creation times in the running mesh', () => {
  it('a VirtualService applied later is the younger one: the sidecar keeps the older, even when the younger sorts first by name', () => {
    const clock = { ms: Date.parse('2026-12-06T09:00:00.400Z') };
    const store = storeAt(clock);
    store.initialize([toAuthors('authors-main')]);
    clock.ms += 5_000;
    store.apply([toAuthors('authors-canary')]);
    expect(routingVirtualService(store)).toBe('authors-main');
    expect(store.get('networking.istio.io/VirtualService/default/authors-canary')?.creationTimestamp).toBe('2026-12-06T09:00:05Z');
  });

  it('replacing an object keeps its creation time; deleting and creating it again does not', () => {
    const clock = { ms: Date.parse('2026-12-06T09:00:00Z') };
    const store = storeAt(clock);
    store.initialize([toAuthors('authors-main'), toAuthors('authors-canary')]); // same second: by name
    expect(routingVirtualService(store)).toBe('authors-canary');
    clock.ms += 5_000;
    store.apply([toAuthors('authors-canary', '/v2')]);
    expect(routingVirtualService(store)).toBe('authors-canary');
    store.remove(['networking.istio.io/VirtualService/default/authors-canary']);
    store.apply([toAuthors('authors-canary')]);
    expect(routingVirtualService(store)).toBe('authors-main');
  });
});
