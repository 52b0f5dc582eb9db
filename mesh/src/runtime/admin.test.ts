/**
 * The admin server without child processes: the Kubernetes REST paths (driven by fetch, by
 * @kubernetes/client-node as the scripts do, and by kubectl) and config changes with rejection. Who may use it:
 * admin-access.test.ts.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as k8s from '@kubernetes/client-node';
import { describeWithTool } from '@cns/service-kit/testing';
import { authorsVs, invalidAuthorsVs, startIstioAdmin, VIRTUAL_SERVICES as base, type IstioAdmin } from './admin-test-server';
import type { ConfigStore } from './config-store';
import { mergePatch } from './kube-api';

let admin: IstioAdmin;
let url: string;
let store: ConfigStore<number>;

beforeAll(async () => {
  admin = await startIstioAdmin();
  ({ url, store } = admin);
});

afterAll(() => admin.close());

const send = async (method: string, p: string, body?: unknown, contentType = 'application/json') => {
  const response = await fetch(`${url}${p}`, {
    method,
    headers: body === undefined ? {} : { 'content-type': contentType },
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
  });
  return { status: response.status, body: (await response.json()) as Record<string, any> };
};

describe('Kubernetes REST paths for Istio objects', () => {
  it('answers discovery like an API server', async () => {
    expect((await send('GET', '/version')).body).toMatchObject({ major: '1', gitVersion: expect.any(String) });
    const groups = (await send('GET', '/apis')).body;
    expect(groups.groups.map((g: { name: string }) => g.name)).toEqual(expect.arrayContaining(['networking.istio.io', 'apps', 'security.istio.io']));
    const resources = (await send('GET', '/apis/networking.istio.io/v1beta1')).body;
    // The kinds of mesh/src/istio/kinds.ts, the table the scripts send from too.
    expect(resources.resources.map((r: { name: string }) => r.name)).toEqual(['virtualservices', 'destinationrules', 'gateways', 'serviceentries']);
  });

  it('takes a ServiceEntry (a kind the scripts can send): its host becomes a known destination for the analysis', async () => {
    const entries = '/apis/networking.istio.io/v1/namespaces/default/serviceentries';
    const external = {
      apiVersion: 'networking.istio.io/v1',
      kind: 'VirtualService',
      metadata: { name: 'blog' },
      spec: { hosts: ['blog.example.com'], http: [{ route: [{ destination: { host: 'blog.example.com' } }] }] },
    };
    // KIA1101 (host not found) is an analysis finding: accepted, with a Warning header, as a cluster would.
    const warningsFor = async () => {
      const response = await fetch(`${url}${base}?dryRun=All`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(external),
      });
      expect(response.status).toBe(201);
      return response.headers.get('warning') ?? '';
    };
    expect(await warningsFor()).toMatch(/KIA1101 .*blog\.example\.com/);
    const entry = {
      apiVersion: 'networking.istio.io/v1',
      kind: 'ServiceEntry',
      metadata: { name: 'blog' },
      spec: { hosts: ['blog.example.com'], location: 'MESH_EXTERNAL', resolution: 'DNS', ports: [{ number: 80, name: 'http', protocol: 'HTTP' }] },
    };
    expect((await send('POST', entries, entry)).status).toBe(201);
    expect((await send('GET', entries)).body.items.map((i: { metadata: { name: string } }) => i.metadata.name)).toEqual(['blog']);
    expect(await warningsFor()).not.toMatch(/KIA1101/);
    expect((await send('DELETE', `${entries}/blog`)).status).toBe(200);
  });

  it('lists the active objects and the read-only Services and Deployments from k8s/', async () => {
    const list = (await send('GET', base)).body;
    expect(list.kind).toBe('VirtualServiceList');
    expect(list.items.map((i: any) => i.metadata.name)).toEqual(['web-ingress']);
    const deployments = (await send('GET', '/apis/apps/v1/namespaces/default/deployments')).body;
    expect(deployments.items.map((i: any) => i.metadata.name).sort()).toEqual(['articles', 'authors', 'web-api-v1', 'web-api-v2', 'web-app']);
    const services = (await send('GET', '/api/v1/namespaces/default/services')).body;
    expect(services.items.map((i: any) => i.metadata.name).sort()).toEqual(['articles', 'authors', 'postgres', 'web-api', 'web-app']);
    expect((await send('DELETE', '/apis/apps/v1/namespaces/default/deployments/articles')).status).toBe(405);
  });

  it('creates, conflicts, patches (merge and JSON patch), replaces and deletes, with Status errors', async () => {
    const created = await send('POST', base, authorsVs());
    expect(created.status).toBe(201);
    expect(created.body.metadata).toMatchObject({ name: 'authors', namespace: 'default', resourceVersion: expect.any(String) });
    expect(await send('POST', base, authorsVs())).toMatchObject({ status: 409, body: { kind: 'Status', reason: 'AlreadyExists', code: 409 } });

    const merged = await send(
      'PATCH',
      `${base}/authors`,
      { spec: { http: [{ timeout: '2s', route: [{ destination: { host: 'authors' } }] }] } },
      'application/merge-patch+json',
    );
    expect(merged.status).toBe(200);
    expect(merged.body.spec.http[0].timeout).toBe('2s');

    const patched = await send('PATCH', `${base}/authors`, [{ op: 'replace', path: '/spec/http/0/timeout', value: '3s' }], 'application/json-patch+json');
    expect(patched.body.spec.http[0].timeout).toBe('3s');
    expect((await send('GET', `/apis/networking.istio.io/v1alpha3/namespaces/default/virtualservices/authors`)).body).toMatchObject({
      apiVersion: 'networking.istio.io/v1alpha3',
      spec: { http: [{ timeout: '3s' }] },
    });

    const stale = { ...authorsVs(), metadata: { name: 'authors', resourceVersion: '1' } };
    expect(await send('PUT', `${base}/authors`, stale)).toMatchObject({ status: 409, body: { reason: 'Conflict' } });
    expect((await send('PUT', `${base}/authors`, authorsVs())).status).toBe(200);

    expect(await send('DELETE', `${base}/authors`)).toMatchObject({ status: 200, body: { kind: 'Status', status: 'Success' } });
    expect(await send('GET', `${base}/authors`)).toMatchObject({ status: 404, body: { kind: 'Status', reason: 'NotFound', code: 404 } });
    expect(await send('GET', '/apis/networking.istio.io/v1/namespaces/other/virtualservices/x')).toMatchObject({ status: 404, body: { reason: 'NotFound' } });
  });

  it('rejects an object Istio validation refuses with 422 Invalid and its findings; nothing changes', async () => {
    const before = admin.compiled();
    const version = store.resourceVersion();
    const rejected = await send('POST', base, invalidAuthorsVs());
    expect(rejected.status).toBe(422);
    expect(rejected.body).toMatchObject({ kind: 'Status', reason: 'Invalid', code: 422 });
    expect(rejected.body.message).toMatch(/VirtualService\.networking\.istio\.io "authors" is invalid: .*weight -7 < 0/);
    expect(rejected.body.details.causes[0]).toMatchObject({ reason: 'IST0106', field: 'kubernetes-api' });
    expect(admin.compiled()).toBe(before);
    expect(store.resourceVersion()).toBe(version);
    expect((await send('GET', `${base}/authors`)).status).toBe(404);
  });

  it('validates without changing anything on ?dryRun=All', async () => {
    const version = store.resourceVersion();
    expect((await send('POST', `${base}?dryRun=All`, authorsVs())).status).toBe(201);
    expect((await send('POST', `${base}?dryRun=All`, invalidAuthorsVs())).status).toBe(422);
    expect(store.resourceVersion()).toBe(version);
    expect((await send('GET', `${base}/authors`)).status).toBe(404);
  });

  it('answers bad requests with 4xx Status bodies, never 500', async () => {
    expect((await send('POST', base, '{not json', 'application/json')).status).toBe(400);
    expect((await send('POST', base, { ...authorsVs(), kind: 'DestinationRule' })).status).toBe(400);
    expect((await send('PATCH', `${base}/web-ingress`, { a: 1 }, 'application/xml')).status).toBe(415);
    expect((await send('PATCH', `${base}/web-ingress`, { op: 'replace' }, 'application/json-patch+json')).status).toBe(400);
    expect((await send('PATCH', `${base}/web-ingress`, [{ op: 'replace', path: '/nope/deep', value: 1 }], 'application/json-patch+json')).status).toBe(422);
    expect((await send('GET', '/apis/networking.istio.io/v1/namespaces/default/widgets')).status).toBe(404);
  });

  it('can be driven by @kubernetes/client-node: server-side apply creates, list shows it, delete removes it', async () => {
    const kc = new k8s.KubeConfig();
    kc.loadFromOptions({
      clusters: [{ name: 'mesh', server: url, skipTLSVerify: true }],
      users: [{ name: 'local' }],
      contexts: [{ name: 'mesh', cluster: 'mesh', user: 'local' }],
      currentContext: 'mesh',
    });
    const api = kc.makeApiClient(k8s.CustomObjectsApi);
    const coordinates = { group: 'networking.istio.io', version: 'v1', namespace: 'default', plural: 'virtualservices' };
    await api.patchNamespacedCustomObject(
      { ...coordinates, name: 'authors', body: authorsVs(), fieldManager: 'test', force: true },
      k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.ServerSideApply),
    );
    const list = (await api.listNamespacedCustomObject(coordinates)) as { items: Array<{ metadata: { name: string } }> };
    expect(list.items.map((i) => i.metadata.name).sort()).toEqual(['authors', 'web-ingress']);
    await expect(api.createNamespacedCustomObject({ ...coordinates, body: authorsVs() })).rejects.toMatchObject({ code: 409 });
    await api.deleteNamespacedCustomObject({ ...coordinates, name: 'authors' });
    await expect(api.getNamespacedCustomObject({ ...coordinates, name: 'authors' })).rejects.toMatchObject({ code: 404 });
  });
});

describe('mesh admin endpoints', () => {
  const yaml = { 'content-type': 'application/yaml' };

  it('POST /config/apply answers 422 with file, object, code and message for an invalid object', async () => {
    const response = await fetch(`${url}/config/apply?source=istio/faults/mine.yaml`, {
      method: 'POST',
      headers: yaml,
      body: 'apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: authors}\nspec:\n  hosts: [authors]\n  http:\n  - timeout: soon\n    route:\n    - destination: {host: authors}\n',
    });
    expect(response.status).toBe(422);
    const body = (await response.json()) as { findings: Array<Record<string, unknown>> };
    expect(body.findings[0]).toMatchObject({
      file: 'istio/faults/mine.yaml',
      object: 'VirtualService/authors',
      code: 'IST0106',
      message: expect.stringMatching(/invalid duration "soon"/),
    });
  });

  it('refuses a Kubernetes workload object at run time with its own code (k8s/ changes need a restart)', async () => {
    const response = await fetch(`${url}/config/apply?source=k8s/extra.yaml`, {
      method: 'POST',
      headers: yaml,
      body: 'apiVersion: v1\nkind: Service\nmetadata: {name: extra}\nspec:\n  ports: [{name: http, port: 80}]\n',
    });
    expect(response.status).toBe(422);
    const body = (await response.json()) as { findings: Array<Record<string, unknown>> };
    expect(body.findings[0]).toMatchObject({
      file: 'k8s/extra.yaml',
      object: 'Service/extra',
      code: 'CNS0006',
      message: expect.stringMatching(/only Istio objects/),
    });
  });

  it('rejects a YAML syntax error with its line, and an empty body with 400', async () => {
    const broken = await fetch(`${url}/config/apply`, { method: 'POST', headers: yaml, body: 'kind: VirtualService\n  bad: [\n' });
    expect(broken.status).toBe(422);
    expect(((await broken.json()) as { findings: Array<{ line?: number }> }).findings[0].line).toBeGreaterThan(0);
    expect((await fetch(`${url}/config/apply`, { method: 'POST', headers: yaml, body: '' })).status).toBe(400);
  });

  it('serves the pages, their own scripts and the two browser libraries from node_modules, and nothing else under /static', async () => {
    for (const p of ['/graph', '/traces']) expect((await fetch(`${url}${p}`)).headers.get('content-type')).toMatch(/^text\/html/);
    for (const p of ['/static/graph.js', '/static/traces.js', '/static/palette.js', '/static/cytoscape.min.js', '/static/cytoscape-dagre.min.js']) {
      const response = await fetch(`${url}${p}`);
      expect([p, response.status, response.headers.get('content-type')]).toEqual([p, 200, 'text/javascript; charset=utf-8']);
    }
    expect((await (await fetch(`${url}/static/cytoscape-dagre.min.js`)).text()).length).toBeGreaterThan(20_000);
    for (const p of ['/static/nope.js', '/static/..%2Fpackage.json', '/static/graph.html', '/static/Graph.js'])
      expect([p, (await fetch(`${url}${p}`)).status]).toEqual([p, 404]);
  });

  it('GET /config lists each active object with its source file', async () => {
    const config = (await send('GET', '/config')).body;
    expect(config.objects.find((o: { ref: string }) => o.ref === 'VirtualService/web-ingress')).toMatchObject({
      file: 'istio/base/virtualservice-web-ingress.yaml',
    });
  });

  it('merge patch follows RFC 7386: null deletes, objects merge, arrays replace', () => {
    expect(mergePatch({ a: 1, b: { c: 2, d: 3 }, e: [1, 2] }, { a: null, b: { c: 9 }, e: [3] })).toEqual({ b: { c: 9, d: 3 }, e: [3] });
  });
});

describeWithTool('kubectl', 'kubectl against the mesh admin port', () => {
  // Asynchronous: the admin server answering kubectl runs in this process.
  const kubectl = (...args: string[]): Promise<{ code: number; out: string }> =>
    new Promise((resolve) => {
      execFile(
        'kubectl',
        ['--server', url, ...args],
        { encoding: 'utf8', env: { ...process.env, KUBECONFIG: '/dev/null' }, timeout: 20_000 },
        (error, stdout, stderr) => {
          resolve({ code: error ? Number((error as { code?: number }).code ?? 1) : 0, out: `${stdout}${stderr}` });
        },
      );
    });

  it('applies (client-side and server-side), lists and deletes Istio objects; an invalid one is refused with the reason', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mesh-kubectl-'));
    try {
      const good = path.join(dir, 'authors.json');
      fs.writeFileSync(good, JSON.stringify(authorsVs()));
      expect(await kubectl('apply', '-f', good)).toMatchObject({ code: 0, out: expect.stringContaining('virtualservice.networking.istio.io/authors created') });
      expect(await kubectl('apply', '--server-side', '-f', good)).toMatchObject({ code: 0, out: expect.stringContaining('serverside-applied') });
      expect((await kubectl('get', 'virtualservices', '-o', 'name')).out.split('\n').filter(Boolean).sort()).toEqual([
        'virtualservice.networking.istio.io/authors',
        'virtualservice.networking.istio.io/web-ingress',
      ]);
      const bad = path.join(dir, 'bad.json');
      fs.writeFileSync(bad, JSON.stringify(invalidAuthorsVs()));
      expect(await kubectl('apply', '-f', bad)).toMatchObject({ code: 1, out: expect.stringMatching(/"authors" is invalid: .*weight -7 < 0/) });
      expect(await kubectl('delete', '-f', good)).toMatchObject({ code: 0, out: expect.stringContaining('deleted') });
      expect((await kubectl('get', 'deployments', '-o', 'name')).out).toContain('deployment.apps/web-api-v2');
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
