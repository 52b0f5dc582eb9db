/**
 * The Gateway API objects on the admin's Kubernetes REST, as on a cluster: discovery under
 * gateway.networking.k8s.io, the status istiod writes (route parents Accepted/ResolvedRefs with
 * controllerName istio.io/gateway-controller, Gateway Programmed with attachedRoutes), observedGeneration following
 * metadata.generation after a change, a JSON patch guarded by `test`, and kubectl reading it all.
 */
import { execFile, spawn } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describeWithTool } from '@cns/service-kit/testing';
import { gatewayApiStatusReader } from '../gateway-api/status';
import { analyzeManifests, loadManifestFiles } from '../manifests';
import type { LoadedObject, Service } from '../model';
import { listenAdmin, testAdminBackend, type ListeningAdmin } from './admin-test-server';
import { ConfigStore, isMeshConfigObject } from './config-store';
import { serviceBadges } from '../telemetry/graph';
import { toIstioConfig } from './config-sync';

const repoRoot = path.resolve(__dirname, '../../..');
const routes = '/apis/gateway.networking.k8s.io/v1/namespaces/default/httproutes';
let admin: ListeningAdmin;
let url: string;
let store: ConfigStore<number>;

beforeAll(async () => {
  const loaded = loadManifestFiles(['k8s', 'gateway-api/base'], { root: repoRoot }).objects;
  const kubernetesObjects = loaded.filter((o) => !isMeshConfigObject(o.object));
  const services = kubernetesObjects.filter((o) => o.object.kind === 'Service') as LoadedObject<Service>[];
  store = new ConfigStore<number>({ kubernetesObjects, analyze: analyzeManifests, compile: () => 1 });
  store.initialize(loaded.filter((o) => isMeshConfigObject(o.object)));
  admin = await listenAdmin(
    testAdminBackend(store as ConfigStore<unknown>, kubernetesObjects, {
      statusOf: gatewayApiStatusReader(
        () => store.stored(),
        () => store.resourceVersion(),
        services,
        'default',
      ),
    }),
  );
  url = admin.url;
});

afterAll(() => admin.close());

const get = async (p: string) => (await fetch(`${url}${p}`)).json() as Promise<Record<string, any>>;

describe('Gateway API objects on the Kubernetes REST', () => {
  it('discovery lists the versions and, per version, the resources a v1.1.0 standard install serves', async () => {
    const group = await get('/apis/gateway.networking.k8s.io');
    expect(group.versions.map((v: { version: string }) => v.version)).toEqual(['v1', 'v1beta1']);
    expect(group.preferredVersion.groupVersion).toBe('gateway.networking.k8s.io/v1');
    const names = async (version: string) =>
      (await get(`/apis/gateway.networking.k8s.io/${version}`)).resources.map(
        (r: { name: string; namespaced: boolean }) => `${r.name}${r.namespaced ? '' : ' (cluster)'}`,
      );
    const v1 = ['gatewayclasses (cluster)', 'gatewayclasses/status (cluster)', 'gateways', 'gateways/status', 'httproutes', 'httproutes/status'];
    expect(await names('v1')).toEqual(v1);
    expect(await names('v1beta1')).toEqual([...v1, 'referencegrants']);
    expect((await fetch(`${url}/apis/gateway.networking.k8s.io/v1alpha2`)).status).toBe(404);
  });

  it('ReferenceGrant is served as v1beta1 only: v1 is not found, as on a v1.1.0 cluster', async () => {
    const grant = {
      apiVersion: 'gateway.networking.k8s.io/v1beta1',
      kind: 'ReferenceGrant',
      metadata: { name: 'from-routes' },
      spec: { from: [{ group: 'gateway.networking.k8s.io', kind: 'HTTPRoute', namespace: 'default' }], to: [{ group: '', kind: 'Service' }] },
    };
    const post = (version: string, body: object) =>
      fetch(`${url}/apis/gateway.networking.k8s.io/${version}/namespaces/default/referencegrants`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
    const v1 = await post('v1', { ...grant, apiVersion: 'gateway.networking.k8s.io/v1' });
    expect(v1.status).toBe(404);
    const v1Body = await post('v1beta1', { ...grant, apiVersion: 'gateway.networking.k8s.io/v1' });
    expect([v1Body.status, ((await v1Body.json()) as { message: string }).message]).toEqual([
      400,
      'the API version in the data (gateway.networking.k8s.io/v1) does not match the expected API version (gateway.networking.k8s.io/v1beta1)',
    ]);
    expect((await fetch(`${url}/apis/gateway.networking.k8s.io/v1/namespaces/default/referencegrants`)).status).toBe(404);
    expect((await post('v1beta1', grant)).status).toBe(201);
    const listed = await get('/apis/gateway.networking.k8s.io/v1beta1/namespaces/default/referencegrants');
    expect(listed.items.map((g: { metadata: { name: string } }) => g.metadata.name)).toEqual(['from-routes']);
  });

  it('GatewayClass istio is served cluster-scoped, Accepted, with the controller and description istiod gives it', async () => {
    const gatewayClass = await get('/apis/gateway.networking.k8s.io/v1/gatewayclasses/istio');
    expect(gatewayClass).toMatchObject({
      apiVersion: 'gateway.networking.k8s.io/v1',
      kind: 'GatewayClass',
      spec: { controllerName: 'istio.io/gateway-controller', description: 'The default Istio GatewayClass' },
      status: { conditions: [{ type: 'Accepted', status: 'True', reason: 'Accepted', message: 'Handled by Istio controller', observedGeneration: 1 }] },
    });
    expect(gatewayClass.metadata.namespace).toBeUndefined();
    const list = await get('/apis/gateway.networking.k8s.io/v1beta1/gatewayclasses');
    expect(list).toMatchObject({ kind: 'GatewayClassList', apiVersion: 'gateway.networking.k8s.io/v1beta1', items: [{ metadata: { name: 'istio' } }] });
    expect((await fetch(`${url}/apis/gateway.networking.k8s.io/v1/gatewayclasses/istio-remote`)).status).toBe(404);
    expect((await fetch(`${url}/apis/gateway.networking.k8s.io/v1/namespaces/default/gatewayclasses`)).status).toBe(404);
    const write = await fetch(`${url}/apis/gateway.networking.k8s.io/v1/gatewayclasses`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        apiVersion: 'gateway.networking.k8s.io/v1',
        kind: 'GatewayClass',
        metadata: { name: 'mine' },
        spec: { controllerName: 'x.io/y' },
      }),
    });
    expect(write.status).toBe(405);
  });

  it('the status subresource reads the object with its status; it is not writable, and ReferenceGrant has none', async () => {
    const status = await get('/apis/gateway.networking.k8s.io/v1/namespaces/default/gateways/web-gateway/status');
    expect(status).toMatchObject({ kind: 'Gateway', metadata: { name: 'web-gateway' }, status: { conditions: expect.any(Array) } });
    expect((await get('/apis/gateway.networking.k8s.io/v1/gatewayclasses/istio/status')).status.conditions[0].type).toBe('Accepted');
    const patch = await fetch(`${url}/apis/gateway.networking.k8s.io/v1/namespaces/default/gateways/web-gateway/status`, {
      method: 'PATCH',
      headers: { 'content-type': 'application/merge-patch+json' },
      body: JSON.stringify({ status: {} }),
    });
    expect(patch.status).toBe(405);
    expect((await fetch(`${url}/apis/gateway.networking.k8s.io/v1beta1/namespaces/default/referencegrants/x/status`)).status).toBe(404);
  });

  it('the route and the Gateway carry the status istiod writes', async () => {
    const route = await get(`${routes}/web-ingress`);
    expect(route.status.parents).toEqual([
      {
        parentRef: { group: 'gateway.networking.k8s.io', kind: 'Gateway', name: 'web-gateway' },
        controllerName: 'istio.io/gateway-controller',
        conditions: [
          expect.objectContaining({ type: 'Accepted', status: 'True', reason: 'Accepted', observedGeneration: route.metadata.generation }),
          expect.objectContaining({ type: 'ResolvedRefs', status: 'True', reason: 'ResolvedRefs', observedGeneration: route.metadata.generation }),
        ],
      },
    ]);
    const gateway = await get('/apis/gateway.networking.k8s.io/v1/namespaces/default/gateways/web-gateway');
    expect(gateway.status.conditions.map((c: { type: string; status: string }) => `${c.type}=${c.status}`)).toEqual(['Accepted=True', 'Programmed=True']);
    expect(gateway.status.listeners[0]).toMatchObject({ name: 'http', attachedRoutes: 1 });
  });

  it('a JSON patch guarded by `test` changes the weights; observedGeneration follows; a stale `test` is refused', async () => {
    const before = await get(`${routes}/web-ingress`);
    const patch = (ops: unknown[]) =>
      fetch(`${url}${routes}/web-ingress`, { method: 'PATCH', headers: { 'content-type': 'application/json-patch+json' }, body: JSON.stringify(ops) });
    const path1 = '/spec/rules/1/backendRefs';
    const ok = await patch([
      { op: 'test', path: `${path1}/0/name`, value: 'web-api-v1' },
      {
        op: 'replace',
        path: path1,
        value: [
          { name: 'web-api-v1', port: 9080, weight: 80 },
          { name: 'web-api-v2', port: 9080, weight: 20 },
        ],
      },
    ]);
    expect(ok.status).toBe(200);
    const after = await get(`${routes}/web-ingress`);
    expect(after.metadata.generation).toBeGreaterThan(before.metadata.generation);
    expect(after.status.parents[0].conditions[0].observedGeneration).toBe(after.metadata.generation);
    const stale = await patch([
      { op: 'test', path: `${path1}/0/name`, value: 'web-api-v9' },
      { op: 'remove', path: path1 },
    ]);
    expect(stale.status).toBeGreaterThanOrEqual(400);
    expect(stale.status).toBeLessThan(500);
  });

  it('a route to a Service that does not exist is accepted with ResolvedRefs False / BackendNotFound', async () => {
    const response = await fetch(`${url}${routes}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        apiVersion: 'gateway.networking.k8s.io/v1',
        kind: 'HTTPRoute',
        metadata: { name: 'missing' },
        spec: { parentRefs: [{ name: 'web-gateway' }], hostnames: ['missing.example.com'], rules: [{ backendRefs: [{ name: 'nope', port: 80 }] }] },
      }),
    });
    expect(response.status).toBe(201);
    const route = await get(`${routes}/missing`);
    expect(route.status.parents[0].conditions[1]).toMatchObject({ type: 'ResolvedRefs', status: 'False', reason: 'BackendNotFound' });
  });

  const postRoute = async (name: string, rule: object) => {
    const response = await fetch(`${url}${routes}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        apiVersion: 'gateway.networking.k8s.io/v1',
        kind: 'HTTPRoute',
        metadata: { name },
        spec: { parentRefs: [{ name: 'web-gateway' }], rules: [rule] },
      }),
    });
    return { status: response.status, body: (await response.json()) as Record<string, any> };
  };
  const backendRefs = [{ name: 'web-app', port: 80 }];

  it('a route a CEL rule refuses: 422 Invalid, the field and rule in the message and in details.causes, as the API server answers', async () => {
    const refused = await postRoute('bad', { matches: [{ path: { type: 'PathPrefix', value: 'no-slash' } }], backendRefs });
    expect(refused.status).toBe(422);
    const field = 'spec.rules[0].matches[0].path';
    const detail = `Invalid value: "object": value must be an absolute path and start with '/' when type one of ['Exact', 'PathPrefix']`;
    expect(refused.body).toMatchObject({
      kind: 'Status',
      status: 'Failure',
      reason: 'Invalid',
      code: 422,
      message: `HTTPRoute.gateway.networking.k8s.io "bad" is invalid: ${field}: ${detail}`,
      details: { name: 'bad', group: 'gateway.networking.k8s.io', kind: 'HTTPRoute', causes: [{ reason: 'FieldValueInvalid', message: detail, field }] },
    });
  });

  it('a schema error: 422 with a cause per field error, and the <nil> cause for the CEL rules left unchecked', async () => {
    const refused = await postRoute('enum', { matches: [{ path: { type: 'Prefix', value: '/' } }], backendRefs });
    expect(refused.status).toBe(422);
    expect(refused.body.details.causes).toEqual([
      expect.objectContaining({
        reason: 'FieldValueNotSupported',
        field: 'spec.rules[0].matches[0].path.type',
        message: expect.stringMatching(/^Unsupported value: "Prefix": supported values: /),
      }),
      {
        reason: 'FieldValueInvalid',
        field: '<nil>',
        message:
          'Invalid value: null: some validation rules were not checked because the object was invalid; correct the existing errors to complete validation',
      },
    ]);
    expect(refused.body.message).toMatch(
      /^HTTPRoute\.gateway\.networking\.k8s\.io "enum" is invalid: \[spec\.rules\[0\]\.matches\[0\]\.path\.type: Unsupported value: .*, <nil>: Invalid value: null: some validation rules/,
    );
  });

  it('an unknown field: 400 BadRequest with the strict decoding error, as strict field validation answers', async () => {
    const refused = await postRoute('timeouts', { backendRefs, timeouts: { request: '1s' }, retry: {} });
    expect(refused.status).toBe(400);
    expect(refused.body).toEqual({
      kind: 'Status',
      apiVersion: 'v1',
      metadata: {},
      status: 'Failure',
      reason: 'BadRequest',
      code: 400,
      message:
        'HTTPRoute in version "v1" cannot be handled as a HTTPRoute: strict decoding error: unknown field "spec.rules[0].retry", unknown field "spec.rules[0].timeouts"',
    });
  });
});

describeWithTool('kubectl', 'kubectl reads Gateway API objects from the mesh admin port', () => {
  const kubectl = (...args: string[]): Promise<{ code: number; out: string; err: string }> =>
    new Promise((resolve) => {
      execFile(
        'kubectl',
        ['--server', url, ...args],
        { encoding: 'utf8', env: { ...process.env, KUBECONFIG: '/dev/null', HOME: os.tmpdir() }, timeout: 20_000 },
        (error, stdout, stderr) => {
          resolve({ code: error ? Number((error as { code?: number }).code ?? 1) : 0, out: `${stdout}${stderr}`, err: stderr });
        },
      );
    });

  it('kubectl get httproute -o yaml shows the status; kubectl wait --for=condition=Programmed returns with nothing on stderr', async () => {
    const yaml = await kubectl('get', 'httproute', 'web-ingress', '-o', 'yaml');
    expect(yaml.code).toBe(0);
    expect(yaml.out).toContain('controllerName: istio.io/gateway-controller');
    expect(yaml.out).toMatch(/type: Accepted/);
    const wait = await kubectl('wait', '--for=condition=Programmed', 'gateway.gateway.networking.k8s.io/web-gateway', '--timeout=10s');
    // Its informer watches too: a watch answered with a plain List made client-go warn "unable to decode an event".
    expect(wait).toMatchObject({ code: 0, out: expect.stringContaining('condition met'), err: '' });
  });

  it('kubectl get shows the CRDs printer columns; kubectl wait --for=condition=Accepted gatewayclass/istio returns', async () => {
    const columns = (out: string) =>
      out
        .trim()
        .split('\n')
        .map((line) => line.trim().split(/\s{2,}/));
    const classes = await kubectl('get', 'gatewayclass');
    expect(classes.code).toBe(0);
    expect(columns(classes.out)).toEqual([
      ['NAME', 'CONTROLLER', 'ACCEPTED', 'AGE'],
      ['istio', 'istio.io/gateway-controller', 'True', expect.stringMatching(/^\d+[smhdy]/)],
    ]);
    const wide = await kubectl('get', 'gc', '-o', 'wide');
    expect(columns(wide.out)[1][4]).toBe('The default Istio GatewayClass');
    const gateways = await kubectl('get', 'gateway.gateway.networking.k8s.io', 'web-gateway');
    expect(columns(gateways.out)[0]).toEqual(['NAME', 'CLASS', 'ADDRESS', 'PROGRAMMED', 'AGE']);
    expect(columns(gateways.out)[1].slice(0, 2)).toEqual(['web-gateway', 'istio']);
    const routes = await kubectl('get', 'httproute', 'web-ingress');
    expect(columns(routes.out)[0]).toEqual(['NAME', 'HOSTNAMES', 'AGE']);
    const status = await kubectl('get', 'httproute', 'web-ingress', '--subresource=status', '-o', 'jsonpath={.status.parents[0].controllerName}');
    expect(status).toEqual({ code: 0, out: 'istio.io/gateway-controller', err: '' });
    const wait = await kubectl('wait', '--for=condition=Accepted', 'gatewayclass/istio', '--timeout=10s');
    expect(wait).toMatchObject({ code: 0, out: expect.stringContaining('condition met') });
  });

  const applyFile = async (name: string, text: string) => {
    const file = path.join(os.tmpdir(), `${name}-${process.pid}.yaml`);
    await fs.writeFile(file, text);
    const applied = await kubectl('apply', '-f', file);
    await fs.rm(file, { force: true });
    return { ...applied, file };
  };
  const routeYaml = (name: string, rule: string) =>
    `apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata:\n  name: ${name}\nspec:\n  parentRefs: [{name: web-gateway}]\n  rules:\n  - ${rule}\n`;

  it('kubectl wait returns when a later apply makes the condition true: a route Accepted once its Gateway exists', async () => {
    const route = await applyFile('late-route', routeYaml('late-route', 'backendRefs: [{name: web-app, port: 80}]').replace('web-gateway', 'late-gateway'));
    expect(route.code).toBe(0);
    const accepted = '{.status.parents[0].conditions[?(@.type=="Accepted")].status}';
    expect(await kubectl('get', 'httproute', 'late-route', '-o', `jsonpath=${accepted}`)).toMatchObject({ out: 'False' });
    const watchers = store.listenerCount('change');
    const wait = kubectl('wait', `--for=jsonpath=${accepted}=True`, 'httproute/late-route', '--timeout=15s');
    // Apply once kubectl watches, so the watch (not its first list) has to deliver the change.
    while (store.listenerCount('change') === watchers) await new Promise((resolve) => setImmediate(resolve));
    const gateway = await applyFile(
      'late-gateway',
      'apiVersion: gateway.networking.k8s.io/v1\nkind: Gateway\nmetadata:\n  name: late-gateway\nspec:\n  gatewayClassName: istio\n  listeners: [{name: http, port: 8080, protocol: HTTP}]\n',
    );
    expect(gateway.code).toBe(0);
    expect(await wait).toMatchObject({ code: 0, out: expect.stringContaining('httproute.gateway.networking.k8s.io/late-route condition met'), err: '' });
    expect((await kubectl('delete', 'httproute/late-route', 'gateway.gateway.networking.k8s.io/late-gateway')).code).toBe(0);
  });

  it('kubectl get httproute -w prints the route, then a row per change', async () => {
    const child = spawn('kubectl', ['--server', url, 'get', 'httproute', '-w', '--output-watch-events'], {
      env: { ...process.env, KUBECONFIG: '/dev/null', HOME: os.tmpdir() },
    });
    let out = '';
    let err = '';
    const seen = (pattern: RegExp) =>
      new Promise<void>((resolve, reject) => {
        const check = () => pattern.test(out) && resolve();
        child.stdout.on('data', (chunk: Buffer) => {
          out += chunk.toString();
          check();
        });
        child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
        child.on('exit', () => reject(new Error(`kubectl exited: ${out}${err}`)));
        check();
      });
    try {
      await seen(/ADDED\s+web-ingress/);
      const patched = await fetch(`${url}${routes}/web-ingress`, {
        method: 'PATCH',
        headers: { 'content-type': 'application/merge-patch+json' },
        body: JSON.stringify({ metadata: { labels: { watched: 'yes' } } }),
      });
      expect(patched.status).toBe(200);
      await seen(/MODIFIED\s+web-ingress/);
      expect(err).toBe('');
    } finally {
      child.kill();
    }
  });

  it('kubectl apply prints a CEL refusal and an unknown field as it does against a cluster', async () => {
    const cel = await applyFile(
      'cel',
      routeYaml('cel', `matches: [{path: {type: PathPrefix, value: no-slash}}]\n    backendRefs: [{name: web-app, port: 80}]`),
    );
    expect(cel.code).not.toBe(0);
    expect(cel.out).toContain(
      `The HTTPRoute "cel" is invalid: spec.rules[0].matches[0].path: Invalid value: "object": value must be an absolute path and start with '/'`,
    );
    const unknown = await applyFile('unknown', routeYaml('unknown', `backendRefs: [{name: web-app, port: 80}]\n    timeouts: {request: 1s}`));
    expect(unknown.code).not.toBe(0);
    expect(unknown.out).toContain(
      `Error from server (BadRequest): error when creating "${unknown.file}": HTTPRoute in version "v1" cannot be handled as a HTTPRoute: strict decoding error: unknown field "spec.rules[0].timeouts"`,
    );
  });

  it('kubectl refuses a ReferenceGrant in version v1 before sending it, as against a v1.1.0 cluster', async () => {
    const applied = await applyFile(
      'refgrant-v1',
      'apiVersion: gateway.networking.k8s.io/v1\nkind: ReferenceGrant\nmetadata:\n  name: g\nspec:\n  from: [{group: gateway.networking.k8s.io, kind: HTTPRoute, namespace: default}]\n  to: [{group: "", kind: Service}]\n',
    );
    expect(applied.code).not.toBe(0);
    expect(applied.out).toContain('no matches for kind "ReferenceGrant" in version "gateway.networking.k8s.io/v1"');
  });
});

describe('the graph reads HTTPRoute weights', () => {
  it('gateway-api/traffic/web-ingress-80-20.yaml puts the traffic-shifting badge on web-api-v1 and web-api-v2', () => {
    const loaded = loadManifestFiles(['k8s', 'gateway-api/base', 'gateway-api/traffic/web-ingress-80-20.yaml'], { root: repoRoot }).objects;
    const services = loaded.filter((o) => o.object.kind === 'Service') as LoadedObject<Service>[];
    // The 80/20 file replaces the base route (same name), as applying it does.
    const active = loaded.filter((o) => isMeshConfigObject(o.object) && !(o.object.kind === 'HTTPRoute' && o.source.file.startsWith('gateway-api/base')));
    const badges = serviceBadges(toIstioConfig(active, services, 'default'));
    expect([...(badges.get('web-api-v1')?.badges ?? [])]).toContain('trafficShifting');
    expect([...(badges.get('web-api-v2')?.badges ?? [])]).toContain('trafficShifting');
    expect([...(badges.get('web-app')?.badges ?? [])]).not.toContain('trafficShifting');
  });
});
