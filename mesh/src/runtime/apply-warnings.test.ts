/**
 * Apply semantics like a cluster's API server (issue #11 part 1): a change is refused only for what Istio's
 * validation refuses; the analysis' other findings are applied and shown as warnings (admin answer, Kubernetes
 * `Warning` headers that kubectl prints, the mesh log), and the data plane then routes what was applied.
 *
 * Runs the repository's k8s/ + istio/base/ through the real config store, admin server and gateway data plane on
 * port 0, with one echo server per Deployment standing in for its pod.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import type net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { describeWithTool } from '@cns/service-kit/testing';
import { compileMeshConfig, createDataPlane, type CompiledMeshConfig, type DataPlane } from '../dataplane';
import { send, Upstream } from '../dataplane/test-harness';
import { analyzeManifests, loadManifestFiles } from '../manifests';
import type { DestinationRule, Endpoint, Gateway, LoadedObject, RequestRecord, VirtualService } from '../model';
import { listenAdmin, testAdminBackend, type ListeningAdmin } from './admin-test-server';
import { ConfigStore, isIstioObject } from './config-store';
import { buildTopology } from './topology';

const repoRoot = path.resolve(__dirname, '../../..');
jest.setTimeout(60_000); // the first analysis compiles the Istio schemas

let admin: ListeningAdmin;
let adminUrl: string;
let gateway: http.Server;
let gatewayPort: number;
let dataPlane: DataPlane;
const upstreams: Upstream[] = [];
const records: RequestRecord[] = [];
const meshLog: string[] = [];

function istioConfig(objects: readonly LoadedObject[]) {
  const kind = <T>(k: string) => objects.filter((o) => o.object.kind === k && o.object.apiVersion.startsWith('networking.istio.io/')) as T[];
  return {
    gateways: kind<LoadedObject<Gateway>>('Gateway'),
    virtualServices: kind<LoadedObject<VirtualService>>('VirtualService'),
    destinationRules: kind<LoadedObject<DestinationRule>>('DestinationRule'),
  };
}

beforeAll(async () => {
  const kubernetesObjects = loadManifestFiles(['k8s'], { root: repoRoot }).objects.filter((o) => !isIstioObject(o.object));
  const topology = buildTopology(kubernetesObjects);
  const workloads = topology.workloads.map((w) => w.workload);
  const endpoints: Endpoint[] = [];
  for (const workload of workloads) {
    const upstream = await Upstream.start(`${workload.name}-0`);
    upstreams.push(upstream);
    endpoints.push({ id: upstream.id, workload, host: '127.0.0.1', port: upstream.port, ready: true });
  }
  const store = new ConfigStore<CompiledMeshConfig>({
    kubernetesObjects,
    analyze: analyzeManifests,
    compile: (objects) => compileMeshConfig({ istio: istioConfig(objects), services: topology.services, workloads, mode: 'istio' }),
    log: (line) => meshLog.push(line),
  });
  store.initialize(loadManifestFiles(['istio/base'], { root: repoRoot }).objects);
  dataPlane = createDataPlane({
    source: { kind: 'gateway', gatewayName: 'web-gateway' },
    config: () => store.compiled(),
    endpoints: { endpoints: () => endpoints },
    telemetry: { record: (r) => records.push(r) },
  });
  gateway = http.createServer((req, res) => dataPlane.handle(req, res));
  await new Promise<void>((resolve) => gateway.listen(0, '127.0.0.1', resolve));
  gatewayPort = (gateway.address() as net.AddressInfo).port;

  admin = await listenAdmin(testAdminBackend(store as ConfigStore<unknown>, kubernetesObjects, { gatewayUrl: () => `http://127.0.0.1:${gatewayPort}` }));
  adminUrl = admin.url;
});

afterAll(async () => {
  await admin?.close();
  gateway?.closeAllConnections();
  await new Promise((resolve) => gateway?.close(resolve));
  await dataPlane?.close();
  await Promise.all(upstreams.map((u) => u.close()));
});

/** web-ingress with a rule shadowed by an earlier one (IST0131) and a route to a subset nobody defines (KIA1107). */
const shadowedAndUnknownSubset = (getmultipleSubset = 'v2') => `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: web-ingress
spec:
  hosts: ["*"]
  gateways: [web-gateway]
  http:
    - match:
        - uri: {prefix: /web-api/v1/}
      route:
        - destination: {host: web-api, subset: v1, port: {number: 9080}}
    - match:
        - uri: {prefix: /web-api/v1/getmultiple}
      route:
        - destination: {host: web-api, subset: ${getmultipleSubset}, port: {number: 9080}}
    - match:
        - uri: {prefix: /canary}
      route:
        - destination: {host: web-api, subset: v9, port: {number: 9080}}
    - route:
        - destination: {host: web-app, port: {number: 80}}
`;

async function applyYaml(yaml: string, source: string): Promise<{ status: number; body: any }> {
  const response = await fetch(`${adminUrl}/config/apply?source=${encodeURIComponent(source)}`, {
    method: 'POST',
    headers: { 'content-type': 'application/yaml' },
    body: yaml,
  });
  return { status: response.status, body: await response.json() };
}

describe('apply like a cluster: refuse what Istio refuses, warn about the rest', () => {
  it('applies a VirtualService with a shadowed rule and an unknown subset, answering with the warnings', async () => {
    const applied = await applyYaml(shadowedAndUnknownSubset(), 'istio/traffic/mine.yaml');
    expect(applied.status).toBe(200);
    expect(applied.body.applied).toEqual([{ ref: 'VirtualService/web-ingress', file: 'istio/traffic/mine.yaml' }]);
    expect(applied.body.warnings).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ file: 'istio/traffic/mine.yaml', object: 'VirtualService/web-ingress', code: 'IST0131', line: 14 }),
        expect.objectContaining({
          file: 'istio/traffic/mine.yaml',
          object: 'VirtualService/web-ingress',
          code: 'KIA1107',
          message: expect.stringMatching(/v9/),
        }),
      ]),
    );
    expect(meshLog).toEqual(expect.arrayContaining([expect.stringMatching(/^warning: istio\/traffic\/mine\.yaml:14 VirtualService\/web-ingress IST0131 /)]));
  });

  it('routes what was applied: first match wins over the shadowed rule; the unknown subset is 503 NC with an empty body', async () => {
    const first = await send(gatewayPort, '/web-api/v1/getmultiple');
    expect(first.status).toBe(200);
    expect(first.json().id).toBe('web-api-v1-0');
    const canary = await send(gatewayPort, '/canary');
    expect(canary.status).toBe(503);
    expect(canary.text).toBe('');
    expect(records.at(-1)).toMatchObject({ responseCode: 503, responseFlags: 'NC', destinationServiceName: 'web-api' });
  });

  it('refuses what Istio validation refuses (422 with the findings) and keeps routing with the last good config', async () => {
    const broken = shadowedAndUnknownSubset().replace('subset: v1, port: {number: 9080}}', 'subset: v1, port: {number: 9080}}\n          weight: -5');
    const refused = await applyYaml(broken, 'istio/traffic/broken.yaml');
    expect(refused.status).toBe(422);
    expect(refused.body.findings).toEqual([
      expect.objectContaining({ file: 'istio/traffic/broken.yaml', object: 'VirtualService/web-ingress', code: 'IST0106', message: 'weight -5 < 0' }),
    ]);
    expect((await send(gatewayPort, '/web-api/v1/getmultiple')).json().id).toBe('web-api-v1-0');
  });

  it('sends the warnings as Kubernetes Warning headers on the REST paths', async () => {
    const vs = `${adminUrl}/apis/networking.istio.io/v1/namespaces/default/virtualservices/web-ingress`;
    const response = await fetch(vs, { method: 'PATCH', headers: { 'content-type': 'application/apply-patch+yaml' }, body: shadowedAndUnknownSubset('v1') });
    expect(response.status).toBe(200);
    const warning = response.headers.get('warning') ?? '';
    expect(warning).toMatch(/^299 - "kubernetes-api VirtualService\/web-ingress IST0131 /);
    expect(warning).toMatch(/KIA1107 Subset not found: v9/);
  });
});

describeWithTool('kubectl', 'kubectl apply prints the mesh warnings', () => {
  it('shows each finding as "Warning: ..." and applies the object', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mesh-warnings-'));
    try {
      const file = path.join(dir, 'web-ingress.yaml');
      fs.writeFileSync(file, shadowedAndUnknownSubset('v2'));
      const result = await new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
        execFile(
          'kubectl',
          ['--server', adminUrl, 'apply', '-f', file],
          { encoding: 'utf8', env: { ...process.env, KUBECONFIG: '/dev/null' }, timeout: 20_000 },
          (error, stdout, stderr) => {
            resolve({ code: error ? Number((error as { code?: number }).code ?? 1) : 0, stdout, stderr });
          },
        );
      });
      expect(result.code).toBe(0);
      expect(result.stdout).toContain('virtualservice.networking.istio.io/web-ingress');
      expect(result.stderr).toMatch(/^Warning: .*VirtualService\/web-ingress IST0131 /m);
      expect(result.stderr).toMatch(/^Warning: .*KIA1107 .*v9/m);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
