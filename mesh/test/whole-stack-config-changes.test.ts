/**
 * The whole app through the real ingress gateway port of one local mesh (real service processes) while its
 * config changes at runtime: a fault applied with @kubernetes/client-node, per-proxy sourceLabels rules, an
 * AuthorizationPolicy, an object Istio validation refuses, and an edited istio/base file reloaded on its own.
 * Needs `npm run build` (the root `pretest` does it).
 */
import fs from 'node:fs';
import path from 'node:path';
import * as k8s from '@kubernetes/client-node';
import type { MeshHandle } from '../src';
import { loadManifestFiles } from '../src/manifests';
import { eventually, get, many, requestCount } from './helpers';
import { startWholeStack, stopWholeStack, type Article } from './whole-stack-fixture';

let root: string;
let mesh: MeshHandle;
const meshLog: string[] = [];

beforeAll(async () => {
  ({ root, mesh } = await startWholeStack(meshLog));
}, 240_000);

afterAll(() => stopWholeStack(mesh, root, meshLog), 60_000);

const getmultiple = (): string => `${mesh.gatewayUrl}/web-api/v1/getmultiple`;

function customObjects(): k8s.CustomObjectsApi {
  const kc = new k8s.KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'mesh', server: mesh.adminUrl, skipTLSVerify: true }],
    users: [{ name: 'local' }],
    contexts: [{ name: 'mesh', cluster: 'mesh', user: 'local' }],
    currentContext: 'mesh',
  });
  return kc.makeApiClient(k8s.CustomObjectsApi);
}

const virtualServices = { group: 'networking.istio.io', version: 'v1', namespace: 'default', plural: 'virtualservices' };

describe('local mesh, whole stack through the gateway', () => {
  it('a 100 % abort fault on authors (applied with @kubernetes/client-node) gives 200 with empty author fields; deleting it restores them', async () => {
    const api = customObjects();
    const file = 'istio/faults/authors-abort-100.yaml';
    const faultObject = loadManifestFiles([file], { root }).objects[0].object;
    await api.patchNamespacedCustomObject(
      { ...virtualServices, name: 'authors', body: faultObject, fieldManager: 'mesh-test', force: true },
      k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.ServerSideApply, k8s.setHeaderOptions('x-mesh-source-file', file)),
    );
    const faulted = await many(getmultiple(), 5, 1);
    for (const answer of faulted) {
      expect(answer.status).toBe(200);
      const articles = answer.body as Article[];
      expect(articles).toHaveLength(5);
      expect(articles.every((a) => a.authorBlog === '' && a.authorTwitter === '')).toBe(true);
    }
    const metrics = String((await get(`${mesh.adminUrl}/metrics`)).body);
    expect(requestCount(metrics, { reporter: 'source', source_workload: 'web-api-v1', response_code: '500', response_flags: 'FI' })).toBeGreaterThan(0);
    const config = (await get(`${mesh.adminUrl}/config`)).body as { objects: Array<{ ref: string; file: string }> };
    expect(config.objects.find((o) => o.ref === 'VirtualService/authors')?.file).toBe(file);

    await api.deleteNamespacedCustomObject({ ...virtualServices, name: 'authors' });
    await eventually(
      async () => {
        const restored = (await get(getmultiple())).body as Article[];
        return restored.every((a) => a.authorBlog !== '' && a.authorTwitter !== '') ? true : undefined;
      },
      20_000,
      'author details back',
    );
    expect(mesh.activeObjects().some((o) => o.object.kind === 'VirtualService' && o.object.metadata.name === 'authors')).toBe(false);
  });

  it("a VirtualService on authors whose only rule is for sourceLabels {version: v2} leaves web-api v1's author lookups intact (rules trimmed per proxy)", async () => {
    // The canary pattern: only v2's calls get the rule (here a 100 % abort). istiod leaves the rule out of v1's
    // sidecar, which keeps the authors default route (route.go sourceMatchHTTP); evaluated per request it was a 404 NR.
    const before = String((await get(`${mesh.adminUrl}/metrics`)).body);
    mesh.applyObjects([
      {
        apiVersion: 'networking.istio.io/v1',
        kind: 'VirtualService',
        metadata: { name: 'authors-v2-only', namespace: 'default' },
        spec: {
          hosts: ['authors'],
          http: [
            {
              match: [{ sourceLabels: { version: 'v2' } }],
              fault: { abort: { httpStatus: 503, percentage: { value: 100 } } },
              route: [{ destination: { host: 'authors' } }],
            },
          ],
        },
      },
    ]);
    try {
      const answers = await many(getmultiple(), 5, 1);
      for (const answer of answers) {
        expect(answer.status).toBe(200);
        expect(answer.headers.get('x-web-api-version')).toBe('v1');
        expect((answer.body as Article[]).every((a) => a.authorName !== '' && a.authorBlog !== '')).toBe(true);
      }
      const after = String((await get(`${mesh.adminUrl}/metrics`)).body);
      const fromV1 = (code: string): number =>
        requestCount(after, { reporter: 'source', source_workload: 'web-api-v1', destination_service_name: 'authors', response_code: code }) -
        requestCount(before, { reporter: 'source', source_workload: 'web-api-v1', destination_service_name: 'authors', response_code: code });
      expect(fromV1('200')).toBeGreaterThan(0);
      expect(fromV1('404')).toBe(0);
    } finally {
      mesh.deleteObject('VirtualService', 'authors-v2-only');
    }
  });

  it('enforces AuthorizationPolicy at the callee: a DENY on authors for web-api empties the author fields; removing it restores them', async () => {
    const file = 'istio/security/authors-deny-web-api.yaml';
    mesh.applyFile(file);
    const denied = await many(getmultiple(), 5, 1);
    for (const answer of denied) {
      expect(answer.status).toBe(200);
      const articles = answer.body as Article[];
      expect(articles).toHaveLength(5);
      expect(articles.every((a) => a.title !== '' && a.authorBlog === '' && a.authorTwitter === '')).toBe(true);
    }
    // Envoy's RBAC filter answers 403 and sets no response flag; both reporters count it.
    const metrics = String((await get(`${mesh.adminUrl}/metrics`)).body);
    for (const reporter of ['source', 'destination']) {
      expect(
        requestCount(metrics, { reporter, source_workload: 'web-api-v1', destination_workload: 'authors', response_code: '403', response_flags: '-' }),
      ).toBeGreaterThan(0);
    }
    const graph = (await get(`${mesh.adminUrl}/graph.json?window=60`)).body as { edges: Array<{ id: string; responseCodes: Record<string, number> }> };
    expect(graph.edges.find((e) => e.id === 'service:authors->workload:authors')?.responseCodes['403']).toBeGreaterThan(0);

    expect(mesh.deleteObject('AuthorizationPolicy', 'authors-deny-web-api')).toBe(true);
    await eventually(
      async () => {
        const restored = (await get(getmultiple())).body as Article[];
        return restored.every((a) => a.authorBlog !== '' && a.authorTwitter !== '') ? true : undefined;
      },
      20_000,
      'author details back',
    );
  });

  it('rejects an object Istio validation refuses with 422 and its findings, and keeps routing with the last good config', async () => {
    const invalid = [
      'apiVersion: networking.istio.io/v1',
      'kind: VirtualService',
      'metadata:',
      '  name: web-ingress',
      'spec:',
      '  hosts: ["*"]',
      '  gateways: [web-gateway]',
      '  http:',
      '    - route:',
      '        - destination: {host: web-api, subset: v1}',
      '          weight: -1',
      '',
    ].join('\n');
    const response = await fetch(`${mesh.adminUrl}/config/apply`, { method: 'POST', headers: { 'content-type': 'application/yaml' }, body: invalid });
    expect(response.status).toBe(422);
    const body = (await response.json()) as { error: string; findings: Array<{ file: string; object: string; code: string; message: string }> };
    expect(body.error).toMatch(/last good configuration stays active/);
    expect(body.findings).toEqual(
      expect.arrayContaining([expect.objectContaining({ file: 'admin-api', object: 'VirtualService/web-ingress', code: 'IST0106', message: 'weight -1 < 0' })]),
    );

    const k8sStatus = await fetch(`${mesh.adminUrl}/apis/networking.istio.io/v1/namespaces/default/virtualservices/web-ingress`, {
      method: 'PUT',
      headers: { 'content-type': 'application/yaml' },
      body: invalid,
    });
    expect(k8sStatus.status).toBe(422);
    expect(await k8sStatus.json()).toMatchObject({ kind: 'Status', reason: 'Invalid', code: 422 });

    const still = await many(getmultiple(), 10, 2);
    expect(still.every((a) => a.status === 200 && a.headers.get('x-web-api-version') === 'v1')).toBe(true);
  });

  it('reloads an edited istio/base file on its own, and keeps the last good config when the edit is invalid', async () => {
    const file = path.join(root, 'istio/base/virtualservice-web-ingress.yaml');
    const original = fs.readFileSync(file, 'utf8');
    try {
      // Send getmultiple to v2 instead of v1 (the second `subset: v1` in the file is the getmultiple rule).
      let seen = 0;
      const toV2 = original.replace(/subset: v1/g, (match) => (++seen === 1 ? 'subset: v2' : match));
      expect(toV2).not.toBe(original);
      fs.writeFileSync(file, toV2);
      await eventually(async () => ((await get(getmultiple())).headers.get('x-web-api-version') === 'v2' ? true : undefined), 10_000, 'reload to v2');

      // A duration Istio's validation refuses (a subset nobody defines would be applied, with a warning).
      fs.writeFileSync(file, original.replace('- name: web-api-getmultiple', '- name: web-api-getmultiple\n      timeout: soon'));
      await eventually(
        () => (meshLog.some((line) => line.includes('virtualservice-web-ingress.yaml rejected')) ? true : undefined),
        10_000,
        'rejection logged',
      );
      expect(meshLog.join('\n')).toMatch(/invalid duration "soon"/);
      expect((await get(getmultiple())).headers.get('x-web-api-version')).toBe('v2');
    } finally {
      fs.writeFileSync(file, original);
    }
    await eventually(async () => ((await get(getmultiple())).headers.get('x-web-api-version') === 'v1' ? true : undefined), 10_000, 'reload back to v1');
  });
});
