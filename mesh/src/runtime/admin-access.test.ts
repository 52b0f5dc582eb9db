/**
 * Who may use the admin server: loopback clients only (from a real non-loopback address in a network namespace),
 * loopback Host names only (DNS rebinding), and no changes from a browser page of another origin (raw requests and
 * real Chromium).
 */
import http from 'node:http';
import type net from 'node:net';
import { chromiumLaunchOptions, describeWithTool, eventually, networkNamespaceUnavailable, withNetworkNamespace } from '@cns/service-kit/testing';
import YAML from 'yaml';
import { loadManifestFiles } from '../manifests';
import { objectKey } from '../manifests/merge';
import { isLoopbackHost, createAdminServer, type AdminBackend } from './admin';
import { authorsVs, startIstioAdmin, VIRTUAL_SERVICES as base, repoRoot, type IstioAdmin } from './admin-test-server';
import type { ConfigStore } from './config-store';

let admin: IstioAdmin;
let server: http.Server;
let store: ConfigStore<number>;
let backend: AdminBackend;
let appliedFiles: string[];
let restarted: string[];
let answered: IstioAdmin['answered'];

beforeAll(async () => {
  admin = await startIstioAdmin();
  ({ server, store, backend, appliedFiles, restarted, answered } = admin);
});

afterAll(() => admin.close());

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
