/**
 * Mesh routes (HTTPRoutes attached to a Service, the GAMMA initiative) with the real processes: `npm start --
 * --gateway-api`'s mesh, where web-api's sidecar calls to authors and articles obey HTTPRoutes applied through the
 * admin's Kubernetes REST and gateway-api/traffic/upstreams-v1.yaml. Needs `npm run build`.
 */
import fs from 'node:fs';
import path from 'node:path';
import { startMesh, type MeshHandle } from '../src';
import { eventually, get, makeMeshRoot, many, repoRoot, requestCount, requireBuild } from './helpers';

let root: string;
let mesh: MeshHandle;
const meshLog: string[] = [];

const httpRoutes = () => `${mesh.adminUrl}/apis/gateway.networking.k8s.io/v1/namespaces/default/httproutes`;
const getmultiple = () => `${mesh.gatewayUrl}/web-api/v1/getmultiple`;
const complete = (answer: { status: number; body: unknown }) =>
  answer.status === 200 && Array.isArray(answer.body) && (answer.body as Array<{ authorBlog: string }>).every((a) => a.authorBlog !== '');

beforeAll(async () => {
  requireBuild();
  root = makeMeshRoot();
  fs.cpSync(path.join(repoRoot, 'gateway-api'), path.join(root, 'gateway-api'), { recursive: true });
  mesh = await startMesh({
    root,
    gatewayApi: true,
    gatewayPort: 0,
    adminPort: 0,
    watch: false,
    log: (message) => meshLog.push(message),
    output: () => undefined,
    probe: { startupTimeoutMs: 90_000 },
  });
  await eventually(async () => (complete(await get(getmultiple())) ? true : undefined), 60_000, 'a first complete getmultiple answer');
}, 240_000);

afterAll(async () => {
  await mesh?.stop();
  if (process.env.MESH_TEST_LOG) console.log(meshLog.join('\n'));
  if (root) fs.rmSync(root, { recursive: true, force: true });
}, 60_000);

/** web-api v1's calls to a destination Service during `count` getmultiple answers. */
async function callsDuring(count: number, services: string[]): Promise<Record<string, number>> {
  const before = String((await get(`${mesh.adminUrl}/metrics`)).body);
  const answers = await many(getmultiple(), count, 2);
  expect(answers.filter(complete).length).toBeGreaterThanOrEqual(count / 2);
  const after = String((await get(`${mesh.adminUrl}/metrics`)).body);
  const labels = (service: string) => ({ reporter: 'source', source_workload: 'web-api-v1', destination_service: `${service}.default.svc.cluster.local` });
  return Object.fromEntries(services.map((s) => [s, requestCount(after, labels(s)) - requestCount(before, labels(s))]));
}

describe('HTTPRoutes attached to a Service route web-api sidecar calls', () => {
  it('50/50 over Services authors and authors-v1: web-api v1 calls each within binomial bounds; status and graph as on a cluster', async () => {
    const route = {
      apiVersion: 'gateway.networking.k8s.io/v1',
      kind: 'HTTPRoute',
      metadata: { name: 'authors-split' },
      spec: {
        parentRefs: [{ group: '', kind: 'Service', name: 'authors' }],
        rules: [
          {
            backendRefs: [
              { name: 'authors', port: 3000, weight: 50 },
              { name: 'authors-v1', port: 3000, weight: 50 },
            ],
          },
        ],
      },
    };
    const created = await fetch(httpRoutes(), { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(route) });
    expect(created.status).toBe(201);

    const calls = await callsDuring(30, ['authors', 'authors-v1']);
    const n = calls.authors + calls['authors-v1'];
    expect(n).toBeGreaterThanOrEqual(30); // v1 looks up each distinct author of its 5 articles
    const sd = Math.sqrt(n * 0.25);
    expect(Math.abs(calls['authors-v1'] - n / 2)).toBeLessThan(4 * sd);

    const status = (await get(`${httpRoutes()}/authors-split`)).body as {
      status: { parents: Array<{ parentRef: { kind: string; name: string }; controllerName: string; conditions: Array<{ type: string; status: string }> }> };
    };
    expect(status.status.parents).toEqual([
      expect.objectContaining({
        parentRef: expect.objectContaining({ kind: 'Service', name: 'authors' }),
        controllerName: 'istio.io/gateway-controller',
        conditions: [expect.objectContaining({ type: 'Accepted', status: 'True' }), expect.objectContaining({ type: 'ResolvedRefs', status: 'True' })],
      }),
    ]);
    const graph = (await get(`${mesh.adminUrl}/graph.json?window=60`)).body as { nodes: Array<{ id: string; badges: string[] }> };
    expect(graph.nodes.find((node) => node.id === 'service:authors-v1')?.badges).toContain('trafficShifting');

    expect((await fetch(`${httpRoutes()}/authors-split`, { method: 'DELETE' })).status).toBe(200);
  }, 120_000);

  it('gateway-api/traffic/upstreams-v1.yaml sends every authors and articles call to authors-v1 and articles-v1; removing it restores authors', async () => {
    const applied = await fetch(`${mesh.adminUrl}/config/apply?file=gateway-api/traffic/upstreams-v1.yaml`, { method: 'POST' });
    expect(applied.status).toBe(200);
    const routed = await callsDuring(10, ['authors', 'authors-v1', 'articles', 'articles-v1']);
    expect(routed).toMatchObject({ authors: 0, articles: 0 });
    expect(routed['authors-v1']).toBeGreaterThanOrEqual(10);
    expect(routed['articles-v1']).toBeGreaterThanOrEqual(5);

    for (const name of ['authors', 'articles']) expect((await fetch(`${httpRoutes()}/${name}`, { method: 'DELETE' })).status).toBe(200);
    const restored = await callsDuring(10, ['authors', 'authors-v1']);
    expect(restored['authors-v1']).toBe(0);
    expect(restored.authors).toBeGreaterThanOrEqual(10);
  }, 120_000);
});
