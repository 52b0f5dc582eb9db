/**
 * The watch on the admin's Kubernetes REST, as a client of the API server reads it: ADDED for what exists, MODIFIED
 * after a patch (the status's observedGeneration with it), DELETED after a delete, the end at timeoutSeconds, a field
 * selector, and no listener left on the store once a watch is over.
 */
import http from 'node:http';
import path from 'node:path';
import { gatewayApiStatusReader } from '../gateway-api/status';
import { analyzeManifests, loadManifestFiles } from '../manifests';
import type { LoadedObject, Service } from '../model';
import { listenAdmin, testAdminBackend, type ListeningAdmin } from './admin-test-server';
import { ConfigStore, isMeshConfigObject } from './config-store';

const repoRoot = path.resolve(__dirname, '../../..');
const routes = '/apis/gateway.networking.k8s.io/v1/namespaces/default/httproutes';
let admin: ListeningAdmin;
let store: ConfigStore<number>;

beforeEach(async () => {
  const loaded = loadManifestFiles(['k8s', 'gateway-api/base'], { root: repoRoot }).objects;
  const kubernetesObjects = loaded.filter((o) => !isMeshConfigObject(o.object));
  const services = kubernetesObjects.filter((o) => o.object.kind === 'Service') as LoadedObject<Service>[];
  store = new ConfigStore<number>({ kubernetesObjects, analyze: analyzeManifests, compile: () => 1 });
  store.initialize(loaded.filter((o) => isMeshConfigObject(o.object)));
  const statusOf = gatewayApiStatusReader(
    () => store.stored(),
    () => store.resourceVersion(),
    services,
    'default',
  );
  admin = await listenAdmin(testAdminBackend(store as ConfigStore<unknown>, kubernetesObjects, { statusOf }));
});

afterEach(() => admin.close());

interface WatchEvent {
  type: string;
  object: Record<string, any>;
}

/** An open watch: its response headers, the events so far, and a promise per awaited event count or the end. */
interface OpenWatch {
  status: number;
  headers: http.IncomingHttpHeaders;
  events: WatchEvent[];
  next(count: number): Promise<WatchEvent[]>;
  ended: Promise<WatchEvent[]>;
  leave(): void;
}

function openWatch(query: string): Promise<OpenWatch> {
  return new Promise((resolve, reject) => {
    const req = http.get(`${admin.url}${routes}?${query}`, (res) => {
      const events: WatchEvent[] = [];
      const waiting: Array<{ count: number; resolve: (e: WatchEvent[]) => void }> = [];
      let buffered = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        buffered += chunk;
        const lines = buffered.split('\n');
        buffered = lines.pop() ?? '';
        for (const line of lines) if (line.trim()) events.push(JSON.parse(line) as WatchEvent);
        for (const w of waiting.filter((w) => events.length >= w.count)) w.resolve(events.slice());
      });
      const ended = new Promise<WatchEvent[]>((done) => res.on('end', () => done(events)));
      resolve({
        status: res.statusCode ?? 0,
        headers: res.headers,
        events,
        next: (count) => (events.length >= count ? Promise.resolve(events.slice()) : new Promise((r) => waiting.push({ count, resolve: r }))),
        ended,
        leave: () => req.destroy(),
      });
    });
    req.on('error', reject);
  });
}

const patchRoute = (name: string, ops: unknown[]) =>
  fetch(`${admin.url}${routes}/${name}`, { method: 'PATCH', headers: { 'content-type': 'application/json-patch+json' }, body: JSON.stringify(ops) });

describe('watching HTTPRoutes on the Kubernetes REST', () => {
  it('streams the current routes as ADDED, a patch as MODIFIED with its observedGeneration, a delete as DELETED', async () => {
    const watch = await openWatch('watch=true');
    expect(watch.status).toBe(200);
    expect(watch.headers['content-type']).toBe('application/json');
    expect(watch.headers['transfer-encoding']).toBe('chunked');
    const initial = await watch.next(1);
    expect(initial.map((e) => `${e.type} ${e.object.kind}/${e.object.metadata.name}`)).toEqual(['ADDED HTTPRoute/web-ingress']);
    const generation = initial[0].object.metadata.generation as number;

    const patched = await patchRoute('web-ingress', [{ op: 'add', path: '/metadata/labels', value: { watched: 'yes' } }]);
    expect(patched.status).toBe(200);
    const [, modified] = await watch.next(2);
    expect(modified.type).toBe('MODIFIED');
    expect(modified.object.metadata).toMatchObject({ name: 'web-ingress', labels: { watched: 'yes' }, generation: generation + 1 });
    expect(modified.object.status.parents[0].conditions[0].observedGeneration).toBe(generation + 1);
    // The object in the event is the one GET returns.
    const got = (await (await fetch(`${admin.url}${routes}/web-ingress`)).json()) as Record<string, any>;
    expect(modified.object.metadata.resourceVersion).toBe(got.metadata.resourceVersion);

    expect((await fetch(`${admin.url}${routes}/web-ingress`, { method: 'DELETE' })).status).toBe(200);
    const [, , deleted] = await watch.next(3);
    expect(deleted).toMatchObject({ type: 'DELETED', object: { kind: 'HTTPRoute', metadata: { name: 'web-ingress' } } });
    watch.leave();
  });

  it('ends at timeoutSeconds and leaves no listener on the store; a client that leaves early leaves none either', async () => {
    const before = store.listenerCount('change');
    const short = await openWatch('watch=1&timeoutSeconds=1');
    const started = Date.now();
    const events = await short.ended;
    expect(Date.now() - started).toBeGreaterThanOrEqual(900);
    expect(events.map((e) => e.type)).toEqual(['ADDED']);
    expect(store.listenerCount('change')).toBe(before);

    const left = await openWatch('watch=true');
    await left.next(1);
    expect(store.listenerCount('change')).toBe(before + 1);
    left.leave();
    await waitFor(() => store.listenerCount('change') === before);
  });

  it('a dozen watches at once are no listener leak to Node: no MaxListenersExceededWarning; all leave with their clients', async () => {
    const before = store.listenerCount('change');
    const watches = await Promise.all(Array.from({ length: 12 }, () => openWatch('watch=true')));
    await Promise.all(watches.map((w) => w.next(1)));
    // Node warns once an emitter has more listeners for an event than its limit.
    expect(store.listenerCount('change')).toBe(before + 12);
    expect(store.getMaxListeners()).toBeGreaterThanOrEqual(store.listenerCount('change'));
    expect((await patchRoute('web-ingress', [{ op: 'add', path: '/metadata/labels', value: { many: 'yes' } }])).status).toBe(200);
    await Promise.all(watches.map((w) => w.next(2)));
    for (const w of watches) w.leave();
    await waitFor(() => store.listenerCount('change') === before);
    expect(store.getMaxListeners()).toBe(10);
  });

  it('a field selector filters the stream: another route applied later is not sent, the watched one is', async () => {
    const watch = await openWatch('watch=true&fieldSelector=metadata.name%3Dlate-route');
    const route = {
      apiVersion: 'gateway.networking.k8s.io/v1',
      kind: 'HTTPRoute',
      metadata: { name: 'other-route' },
      spec: { parentRefs: [{ name: 'web-gateway' }], hostnames: ['other.example'], rules: [{ backendRefs: [{ name: 'web-api', port: 9080 }] }] },
    };
    const post = (body: object) =>
      fetch(`${admin.url}${routes}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    expect((await post(route)).status).toBe(201);
    expect((await post({ ...route, metadata: { name: 'late-route' }, spec: { ...route.spec, hostnames: ['late.example'] } })).status).toBe(201);
    const [added] = await watch.next(1);
    expect(added).toMatchObject({ type: 'ADDED', object: { metadata: { name: 'late-route' } } });
    expect(watch.events.map((e) => e.object.metadata.name)).toEqual(['late-route']);
    watch.leave();

    const list = (await (await fetch(`${admin.url}${routes}?fieldSelector=metadata.name%3Dlate-route`)).json()) as Record<string, any>;
    expect(list.items.map((i: { metadata: { name: string } }) => i.metadata.name)).toEqual(['late-route']);
    const unsupported = await fetch(`${admin.url}${routes}?watch=true&fieldSelector=spec.hostnames%3Dx`);
    expect(unsupported.status).toBe(400);
    expect(await unsupported.json()).toMatchObject({ kind: 'Status', message: 'field label not supported: spec.hostnames' });
  });

  it('a watch from the list resourceVersion sends only later changes; a bad timeoutSeconds is a 400 Status', async () => {
    const list = (await (await fetch(`${admin.url}${routes}`)).json()) as Record<string, any>;
    const watch = await openWatch(`watch=true&resourceVersion=${list.metadata.resourceVersion}&allowWatchBookmarks=true`);
    expect((await patchRoute('web-ingress', [{ op: 'add', path: '/metadata/labels', value: { later: 'yes' } }])).status).toBe(200);
    const events = await watch.next(1);
    expect(events.map((e) => e.type)).toEqual(['MODIFIED']);
    watch.leave();
    const bad = await fetch(`${admin.url}${routes}?watch=true&timeoutSeconds=soon`);
    expect(bad.status).toBe(400);
    expect(await bad.json()).toMatchObject({ kind: 'Status', reason: 'BadRequest' });
  });
});

/** Resolves once `condition` holds, checked on each turn of the event loop (no fixed sleep). */
async function waitFor(condition: () => boolean): Promise<void> {
  while (!condition()) await new Promise((resolve) => setImmediate(resolve));
}
