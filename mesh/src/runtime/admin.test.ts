/**
 * The admin server without child processes: the Kubernetes REST paths (driven by fetch and by
 * @kubernetes/client-node, as the scripts do), config changes with rejection, and who may use it: loopback
 * clients only (from a real non-loopback address in a network namespace), loopback Host names only (DNS
 * rebinding), and no changes from a browser page of another origin (raw requests and real Chromium).
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import type net from 'node:net';
import path from 'node:path';
import * as k8s from '@kubernetes/client-node';
import { chromiumLaunchOptions, describeWithTool, eventually, networkNamespaceUnavailable, withNetworkNamespace } from '@cns/service-kit/testing';
import { analyzeManifests, loadManifestFiles } from '../manifests';
import type { LoadedObject } from '../model';
import YAML from 'yaml';
import { objectKey } from '../manifests/merge';
import { createAdminServer, isLoopbackHost, type AdminBackend } from './admin';
import { ConfigStore, isIstioObject } from './config-store';
import { mergePatch } from './kube-api';
import { MeshTelemetry } from '../telemetry';
import { TraceStore } from '../telemetry/traces';

const repoRoot = path.resolve(__dirname, '../../..');
const base = '/apis/networking.istio.io/v1/namespaces/default/virtualservices';

let server: http.Server;
let url: string;
let store: ConfigStore<number>;
let compiledCount = 0;
let backend: AdminBackend;
/** Files the admin was asked to load (`POST /config/apply?file=`) and workloads it was asked to restart. */
const appliedFiles: string[] = [];
const restarted: string[] = [];
/** Every request the server answered, with its status: what a browser's opaque requests really got. */
const answered: Array<{ method: string; url: string; status: number }> = [];

beforeAll(async () => {
  const k8sObjects = loadManifestFiles(['k8s'], { root: repoRoot }).objects;
  const istio = loadManifestFiles(['istio/base'], { root: repoRoot }).objects;
  store = new ConfigStore<number>({
    kubernetesObjects: k8sObjects,
    analyze: analyzeManifests,
    // The compiled form does not matter here: count compilations to see that rejected changes never compile.
    compile: () => (compiledCount += 1),
  });
  store.initialize(istio);
  const telemetry = new MeshTelemetry();
  backend = {
    root: repoRoot,
    namespace: 'default',
    mode: 'istio',
    gatewayUrl: () => 'http://127.0.0.1:1',
    store: store as ConfigStore<unknown>,
    telemetry,
    traces: new TraceStore(),
    kubernetesObjects: k8sObjects.filter((o) => !isIstioObject(o.object)),
    endpoints: () => [
      {
        id: 'web-api-v1-0',
        workload: 'web-api-v1',
        app: 'web-api',
        version: 'v1',
        host: '127.0.0.1',
        port: 1,
        pid: undefined,
        ready: true,
        restarts: 0,
        state: 'running',
      },
    ],
    graph: () =>
      telemetry.graph({
        workloads: [],
        serviceNames: [],
        istio: { gateways: [], virtualServices: [], destinationRules: [] },
        readyCount: () => ({ ready: 0, total: 0 }),
      }),
    apply: (objects: LoadedObject[], options) => store.apply(objects, options),
    remove: (keys: string[], options) => store.remove(keys, options),
    applyFile: (file) => {
      appliedFiles.push(file);
      return [];
    },
    restartWorkload: async (name) => {
      restarted.push(name);
    },
  };
  server = createAdminServer(backend);
  server.on('request', (req: http.IncomingMessage, res: http.ServerResponse) => {
    res.on('finish', () => answered.push({ method: req.method ?? '', url: req.url ?? '', status: res.statusCode }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

const send = async (method: string, p: string, body?: unknown, contentType = 'application/json') => {
  const response = await fetch(`${url}${p}`, {
    method,
    headers: body === undefined ? {} : { 'content-type': contentType },
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
  });
  return { status: response.status, body: (await response.json()) as Record<string, any> };
};

const authorsVs = (subset = 'v1', weight?: number) => ({
  apiVersion: 'networking.istio.io/v1',
  kind: 'VirtualService',
  metadata: { name: 'authors' },
  spec: { hosts: ['authors'], http: [{ route: [{ destination: { host: 'authors', subset }, weight }] }] },
});
/** What Istio's validation refuses (a subset nobody defines is only a warning: apply-warnings.test.ts). */
const invalidAuthorsVs = () => authorsVs('v1', -7);

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
    const before = compiledCount;
    const version = store.resourceVersion();
    const rejected = await send('POST', base, invalidAuthorsVs());
    expect(rejected.status).toBe(422);
    expect(rejected.body).toMatchObject({ kind: 'Status', reason: 'Invalid', code: 422 });
    expect(rejected.body.message).toMatch(/VirtualService\.networking\.istio\.io "authors" is invalid: .*weight -7 < 0/);
    expect(rejected.body.details.causes[0]).toMatchObject({ reason: 'IST0106', field: 'kubernetes-api' });
    expect(compiledCount).toBe(before);
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

/** One request with exactly the given headers (fetch would add its own and cannot set Host). */
const raw = (method: string, p: string, headers: Record<string, string> = {}, body?: string, options: { setHost?: boolean } = {}) =>
  new Promise<{ status: number; body: Record<string, any> }>((resolve, reject) => {
    const { port } = server.address() as net.AddressInfo;
    const request = http.request({ host: '127.0.0.1', port, method, path: p, headers, setHost: options.setHost ?? true, agent: false }, (response) => {
      let text = '';
      response.on('data', (chunk: Buffer) => (text += chunk.toString()));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, body: JSON.parse(text || '{}') as Record<string, any> }));
    });
    request.on('error', reject);
    request.end(body);
  });

/** A change of every kind the admin accepts: the mesh's own routes and the Kubernetes paths. */
const changes: Array<{ method: string; path: string; type: string | undefined; body: string | undefined }> = [
  { method: 'POST', path: '/config/apply?file=istio/traffic/web-ingress-80-20.yaml', type: 'application/yaml', body: '' },
  { method: 'POST', path: '/config/apply', type: 'application/yaml', body: YAML.stringify(authorsVs('v2')) },
  { method: 'POST', path: '/workloads/web-api-v1/restart', type: undefined, body: undefined },
  { method: 'DELETE', path: '/config/objects/VirtualService/web-ingress', type: undefined, body: undefined },
  { method: 'POST', path: base, type: 'application/json', body: JSON.stringify(authorsVs()) },
  { method: 'PUT', path: `${base}/web-ingress`, type: 'application/json', body: '{}' },
  { method: 'PATCH', path: `${base}/web-ingress`, type: 'application/merge-patch+json', body: '{"spec":{}}' },
  { method: 'DELETE', path: `${base}/web-ingress`, type: undefined, body: undefined },
];

describe('admin API: only requests for a loopback Host (the DNS-rebinding defence)', () => {
  it('answers Host localhost, 127.0.0.0/8 and [::1], with or without a port', async () => {
    const { port } = server.address() as net.AddressInfo;
    for (const host of [
      'localhost',
      `localhost:${port}`,
      'LOCALHOST',
      '127.0.0.1',
      `127.0.0.1:${port}`,
      '127.8.9.10:1',
      '[::1]',
      `[::1]:${port}`,
      '[0:0:0:0:0:0:0:1]',
    ]) {
      expect({ host, status: (await raw('GET', '/healthz', { host })).status }).toEqual({ host, status: 200 });
    }
  });

  it('answers 403 JSON to any other Host or none, on every route; Kubernetes paths get a Forbidden Status', async () => {
    const { port } = server.address() as net.AddressInfo;
    const foreign = [
      'rebind.example',
      `rebind.example:${port}`,
      '127.0.0.1.nip.io',
      'localhost.rebind.example',
      `localhost@rebind.example:${port}`,
      '10.0.0.7',
      '[::2]',
      '[::ffff:10.0.0.7]',
      '128.0.0.1',
      '127.0.0.1:80:80',
    ];
    for (const host of foreign) {
      for (const p of ['/healthz', '/graph.json', '/metrics', '/config', '/api/services', '/api/traces?service=web-api', '/no-such-route']) {
        const answer = await raw('GET', p, { host });
        expect({ host, p, status: answer.status }).toEqual({ host, p, status: 403 });
        expect(answer.body.error).toMatch(/loopback host/);
      }
    }
    expect(await raw('GET', '/healthz', {}, undefined, { setHost: false })).toMatchObject({ status: 403 }); // no Host at all
    expect(await raw('GET', base, { host: 'rebind.example' })).toMatchObject({
      status: 403,
      body: { kind: 'Status', reason: 'Forbidden', code: 403, message: expect.stringMatching(/loopback host/) },
    });
    const version = store.resourceVersion();
    for (const change of changes) {
      const answer = await raw(
        change.method,
        change.path,
        { host: `rebind.example:${port}`, ...(change.type ? { 'content-type': change.type } : {}) },
        change.body,
      );
      expect({ change: `${change.method} ${change.path}`, status: answer.status }).toEqual({ change: `${change.method} ${change.path}`, status: 403 });
    }
    expect(store.resourceVersion()).toBe(version);
    expect(appliedFiles).toEqual([]);
    expect(restarted).toEqual([]);
  });

  it('isLoopbackHost takes a Host header value, not a URL', () => {
    expect(['localhost:15000', '127.0.0.1', '[::1]:1'].every(isLoopbackHost)).toBe(true);
    expect([undefined, 'http://localhost', 'localhost/x', '127.0.0.1:', '127.0.0.1:123456', '::1', '[::1'].some(isLoopbackHost)).toBe(false);
  });
});

describe('admin API: no changes from a browser page of another origin', () => {
  const own = () => `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`;
  const headersOf = (change: (typeof changes)[number], extra: Record<string, string>) => ({
    host: own().slice('http://'.length),
    ...(change.type ? { 'content-type': change.type } : {}),
    ...extra,
  });

  it('answers 403 to every change with a foreign Origin or Sec-Fetch-Site cross-site/same-site; nothing changes', async () => {
    const version = store.resourceVersion();
    const browserHeaders: Array<Record<string, string>> = [
      { origin: 'http://evil.example' },
      { origin: 'null' },
      { origin: 'http://localhost:8080' }, // the web app's own page: same site, another origin
      { origin: own().replace('127.0.0.1', 'localhost') }, // another origin: the admin answers under another name
      { origin: own().replace('http:', 'https:') },
      { 'sec-fetch-site': 'cross-site' },
      { 'sec-fetch-site': 'same-site' },
    ];
    for (const change of changes) {
      for (const extra of browserHeaders) {
        const answer = await raw(change.method, change.path, headersOf(change, extra), change.body);
        expect({ change: `${change.method} ${change.path}`, extra, status: answer.status }).toEqual({
          change: `${change.method} ${change.path}`,
          extra,
          status: 403,
        });
        expect(answer.body.error).toMatch(/another origin/);
      }
    }
    expect(store.resourceVersion()).toBe(version);
    expect(appliedFiles).toEqual([]);
    expect(restarted).toEqual([]);
  });

  it('answers 403 to a change whose body type a cross-site form can send (form, multipart, text/plain), even without Origin', async () => {
    const version = store.resourceVersion();
    for (const change of changes) {
      for (const type of ['application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'text/plain', 'Text/Plain; charset=UTF-8']) {
        const answer = await raw(change.method, change.path, headersOf({ ...change, type }, {}), change.body ?? '');
        expect({ change: `${change.method} ${change.path}`, type, status: answer.status }).toEqual({
          change: `${change.method} ${change.path}`,
          type,
          status: 403,
        });
        expect(answer.body.error).toMatch(/content type/);
      }
    }
    expect(store.resourceVersion()).toBe(version);
    expect(appliedFiles).toEqual([]);
    expect(restarted).toEqual([]);
  });

  it('accepts the same changes from its own origin and from clients that send no browser headers', async () => {
    const allowed: Array<Record<string, string>> = [
      {},
      { origin: own() },
      { origin: own(), 'sec-fetch-site': 'same-origin' },
      { 'sec-fetch-site': 'none' },
      { 'sec-fetch-mode': 'cors' },
    ];
    try {
      for (const extra of allowed) {
        for (const change of changes) {
          const answer = await raw(change.method, change.path, headersOf(change, extra), change.body);
          expect({ change: `${change.method} ${change.path}`, extra, status: answer.status }).toEqual({
            change: `${change.method} ${change.path}`,
            extra,
            status: expect.any(Number),
          });
          expect(answer.status).not.toBe(403);
          expect(answer.status).toBeLessThan(500);
        }
        // Back to the base state for the next round: authors gone, web-ingress back.
        store.remove(
          store
            .active()
            .filter((o) => o.object.kind === 'VirtualService' && o.object.metadata.name === 'authors')
            .map((o) => objectKey(o.object)),
        );
        if (!store.active().some((o) => o.object.metadata.name === 'web-ingress')) {
          store.apply(loadManifestFiles(['istio/base/virtualservice-web-ingress.yaml'], { root: repoRoot }).objects);
        }
      }
      expect(appliedFiles).toEqual(allowed.map(() => 'istio/traffic/web-ingress-80-20.yaml'));
      expect(restarted).toEqual(allowed.map(() => 'web-api-v1'));
    } finally {
      appliedFiles.length = 0;
      restarted.length = 0;
    }
  });

  it('lets a page of another origin read: GET /graph and /graph.json with a foreign Origin (the web app probes the graph page)', async () => {
    const pages: Array<Record<string, string>> = [
      { origin: 'http://localhost:8080', 'sec-fetch-site': 'same-site', 'sec-fetch-mode': 'no-cors' },
      { origin: 'http://evil.example', 'sec-fetch-site': 'cross-site' },
    ];
    for (const extra of pages) {
      expect((await raw('GET', '/graph.json', { host: own().slice(7), ...extra })).status).toBe(200);
      const { port } = server.address() as net.AddressInfo;
      const page = await new Promise<number>((resolve, reject) =>
        http
          .get({ host: '127.0.0.1', port, path: '/graph', headers: { host: `localhost:${port}`, ...extra } }, (r) => resolve(r.resume().statusCode ?? 0))
          .on('error', reject),
      );
      expect(page).toBe(200);
    }
  });
});

describeWithTool('chromium', 'admin API in Chromium: the graph page works, another origin cannot change anything', () => {
  let browser: import('playwright-core').Browser;
  let otherOrigin: http.Server;
  let otherUrl: string;
  const adminPort = () => (server.address() as net.AddressInfo).port;

  beforeAll(async () => {
    const { chromium } = await import('playwright-core');
    const options = chromiumLaunchOptions();
    // rebind.test resolves to loopback, as an attacker's DNS name does after rebinding.
    browser = await chromium.launch({ ...options, args: [...options.args, '--host-resolver-rules=MAP rebind.test 127.0.0.1'] });
    // A page of another origin (another port on loopback: what any local dev server or the web app is).
    otherOrigin = http.createServer((_req, res) =>
      res.writeHead(200, { 'content-type': 'text/html' }).end('<!doctype html><title>other origin</title><iframe name="sink"></iframe>'),
    );
    await new Promise<void>((resolve) => otherOrigin.listen(0, '127.0.0.1', resolve));
    otherUrl = `http://127.0.0.1:${(otherOrigin.address() as net.AddressInfo).port}/`;
  }, 30_000);

  afterAll(async () => {
    await browser?.close();
    otherOrigin?.closeAllConnections();
    await new Promise((resolve) => otherOrigin?.close(resolve));
  });

  it('draws the graph page on localhost and 127.0.0.1: its /graph.json requests get 200', async () => {
    const page = await browser.newPage();
    try {
      for (const host of ['localhost', '127.0.0.1']) {
        const graphJson = page.waitForResponse((r) => new URL(r.url()).pathname === '/graph.json');
        const response = await page.goto(`http://${host}:${adminPort()}/graph`);
        expect(response?.status()).toBe(200);
        expect((await graphJson).status()).toBe(200);
        await expect(page.locator('#status').textContent()).resolves.toMatch(/^last 30s/);
      }
    } finally {
      await page.close();
    }
  });

  it('a page of another origin can probe the graph page (no-cors GET), but its form POST and fetches change nothing: 403 or blocked', async () => {
    const page = await browser.newPage();
    const version = store.resourceVersion();
    const before = answered.length;
    try {
      await page.goto(otherUrl);
      const admin = `http://localhost:${adminPort()}`;
      // The web app's probe (web-app/src/meshGraph.ts): resolves when the graph page answers.
      expect(await page.evaluate(async (u) => (await fetch(`${u}/graph`, { mode: 'no-cors', cache: 'no-store' })).type, admin)).toBe('opaque');
      await page.evaluate(async (u) => {
        // Each a request a browser sends cross-site without asking the server first.
        await fetch(`${u}/config/apply?file=istio/traffic/web-ingress-80-20.yaml`, { method: 'POST', mode: 'no-cors' });
        await fetch(`${u}/config/apply`, {
          method: 'POST',
          mode: 'no-cors',
          body: 'apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: authors}\nspec: {hosts: [authors], http: [{route: [{destination: {host: authors}}]}]}\n',
        });
        await fetch(`${u}/workloads/web-api-v1/restart`, { method: 'POST', mode: 'no-cors', body: new Blob(['x']) });
        // Needs a preflight, which the admin does not grant.
        await fetch(`${u}/config/objects/VirtualService/web-ingress`, { method: 'DELETE' }).catch(() => undefined);
        const form = Object.assign(document.createElement('form'), { method: 'POST', action: `${u}/workloads/web-api-v1/restart`, target: 'sink' });
        document.body.append(form);
        form.submit();
      }, admin);
      // The opaque answers say nothing to the page: read the statuses the server sent.
      const seen = await eventually(
        () => {
          const changesSeen = answered.slice(before).filter((a) => a.method !== 'GET');
          return changesSeen.filter((a) => a.method === 'POST').length >= 4 ? changesSeen : undefined;
        },
        10_000,
        'the four POSTs answered',
      );
      expect(seen.filter((a) => a.method === 'POST')).toEqual([
        { method: 'POST', url: '/config/apply?file=istio/traffic/web-ingress-80-20.yaml', status: 403 },
        { method: 'POST', url: '/config/apply', status: 403 },
        { method: 'POST', url: '/workloads/web-api-v1/restart', status: 403 },
        { method: 'POST', url: '/workloads/web-api-v1/restart', status: 403 },
      ]);
      // The DELETE never left the browser: its preflight found no CORS grant.
      expect(seen.filter((a) => a.method === 'DELETE')).toEqual([]);
      expect(seen.filter((a) => a.method === 'OPTIONS').length).toBeGreaterThan(0);
      expect(store.resourceVersion()).toBe(version);
      expect(appliedFiles).toEqual([]);
      expect(restarted).toEqual([]);
    } finally {
      await page.close();
    }
  });

  it('a page reached through a name that resolves to loopback (DNS rebinding) gets 403', async () => {
    const page = await browser.newPage();
    try {
      const response = await page.goto(`http://rebind.test:${adminPort()}/graph.json`);
      expect(response?.status()).toBe(403);
      expect(await response?.json()).toMatchObject({ error: expect.stringMatching(/loopback host/) });
    } finally {
      await page.close();
    }
  });
});

// A real client on a non-loopback address: a network namespace joined by a veth pair (root and iproute2;
// CI has both, so there it always runs).
const netnsMissing = process.env.CI === 'true' ? undefined : networkNamespaceUnavailable();
(netnsMissing ? it.skip : it)(`answers 403 to a client on a non-loopback address, even when bound to it${netnsMissing ? ` [${netnsMissing}]` : ''}`, () =>
  withNetworkNamespace(async (ns) => {
    const exposed = createAdminServer(backend);
    await new Promise<void>((resolve) => exposed.listen(0, ns.hostAddress, resolve));
    const target = `http://${ns.hostAddress}:${(exposed.address() as net.AddressInfo).port}`;
    const seenFrom: string[] = [];
    exposed.on('request', (req: http.IncomingMessage) => seenFrom.push(req.socket.remoteAddress ?? ''));
    try {
      // Host 127.0.0.1 so that only the client address can be the reason for the refusal.
      const script = `require('node:http').get(process.argv[1] + '/healthz', { headers: { host: '127.0.0.1' } }, (r) => { let t = ''; r.on('data', (c) => (t += c)); r.on('end', () => console.log(r.statusCode, t)); }).on('error', (e) => { console.error(e); process.exit(2); })`;
      const answer = await ns.exec(process.execPath, ['-e', script, target]);
      expect(answer).toMatchObject({ code: 0, stdout: expect.stringMatching(/^403 .*loopback clients only/s) });
      expect(seenFrom).toEqual([ns.clientAddress]);
    } finally {
      exposed.closeAllConnections();
      await new Promise((resolve) => exposed.close(resolve));
    }
  }),
);

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
