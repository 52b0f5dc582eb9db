/**
 * The workloads, Services, subsets and gateway route the routing tests share (a test helper, left out of dist/ like
 * ./test-harness.ts): web-api v1/v2, articles and authors, one replica each.
 */
import type { HTTPRoute, VirtualServiceSpec } from '../model';
import { seededRandom } from './random';
import { destinationRule, gateway, service, virtualService, workload, type FixtureOptions, type MeshFixture } from './test-harness';

export const v1 = workload('web-api-v1', 'web-api', 'v1');
export const v2 = workload('web-api-v2', 'web-api', 'v2');
export const articles = workload('articles', 'articles', 'v1');
export const authors = workload('authors', 'authors', 'v1');

export const replicas = [
  { id: 'web-api-v1-0', workload: v1 },
  { id: 'web-api-v2-0', workload: v2 },
  { id: 'articles-0', workload: articles },
  { id: 'authors-0', workload: authors },
];
export const services = [service('web-api', 3000), service('articles', 8080), service('authors', 3000)];
export const subsets = destinationRule('web-api', {
  host: 'web-api',
  subsets: [
    { name: 'v1', labels: { version: 'v1' } },
    { name: 'v2', labels: { version: 'v2' } },
    { name: 'v3', labels: { version: 'v3' } },
  ],
});

export const to = (host: string, subset?: string, weight?: number) => ({ destination: { host, subset }, weight });

export function gatewayVs(http: HTTPRoute[], extra: Partial<VirtualServiceSpec> = {}) {
  return virtualService('web-ingress', { hosts: ['*'], gateways: ['web-gateway'], http, ...extra });
}

/** A mesh with `http` as the gateway's VirtualService over the shared workloads. */
export function gatewayMeshOptions(http: HTTPRoute[], random = seededRandom(1)): FixtureOptions {
  return {
    replicas,
    random,
    state: { services, istio: { gateways: [gateway('web-gateway')], virtualServices: [gatewayVs(http)], destinationRules: [subsets] } },
  };
}

/** The id of the replica that answered `path`, or the status when it was not 200. */
export async function idOf(mesh: MeshFixture, path: string, headers?: Record<string, string>, method?: string): Promise<string> {
  const res = await mesh.get(path, { headers, method });
  return res.status === 200 ? res.json().id : `${res.status}`;
}
