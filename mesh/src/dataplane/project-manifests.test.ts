/**
 * The data plane against the project's own YAML: k8s/ Services and Deployments plus istio/ files, exactly as
 * cluster users apply them (parsed here with `yaml`; validation is the manifests module's job).
 */
import fs from 'node:fs';
import path from 'node:path';
import { parseAllDocuments } from 'yaml';
import type { DestinationRule, Deployment, Gateway, K8sObject, LoadedObject, Service, VirtualService, Workload } from '../model';
import type { MeshState } from './config';
import { seededRandom } from './random';
import { send, startMesh, tally, type MeshFixture } from './test-harness';

const root = path.resolve(__dirname, '../../..');

function load(relative: string): LoadedObject[] {
  const file = path.join(root, relative);
  return parseAllDocuments(fs.readFileSync(file, 'utf8'))
    .map((doc) => doc.toJS() as K8sObject | null)
    .filter((object): object is K8sObject => !!object?.kind)
    .map((object) => ({ object, source: { file: relative } }));
}

function of<T extends K8sObject>(objects: LoadedObject[], kind: string): LoadedObject<T>[] {
  return objects.filter((o) => o.object.kind === kind) as LoadedObject<T>[];
}

const k8sObjects = fs
  .readdirSync(path.join(root, 'k8s'))
  .filter((f) => f.endsWith('.yaml') && f !== 'kustomization.yaml')
  .flatMap((f) => load(`k8s/${f}`));
const workloads: Workload[] = of<Deployment>(k8sObjects, 'Deployment').map(({ object }) => {
  const labels = object.spec!.template.metadata.labels ?? {};
  return {
    name: object.metadata.name,
    namespace: 'default',
    labels,
    app: labels.app ?? object.metadata.name,
    version: labels.version ?? 'unknown',
    serviceAccount: object.spec!.template.spec.serviceAccountName ?? 'default',
    replicas: object.spec!.replicas ?? 1,
  };
});
const byName = (name: string) => {
  const found = workloads.find((w) => w.name === name);
  if (!found) throw new Error(`k8s/ has no Deployment ${name}`);
  return found;
};

function istio(files: string[]): MeshState['istio'] {
  const objects = files.flatMap(load);
  // A later file replaces an object of the same kind and name, as `kubectl apply` does.
  const latest = new Map<string, LoadedObject>();
  for (const o of objects) latest.set(`${o.object.kind}/${o.object.metadata.name}`, o);
  const all = [...latest.values()];
  return {
    gateways: of<Gateway>(all, 'Gateway'),
    virtualServices: of<VirtualService>(all, 'VirtualService'),
    destinationRules: of<DestinationRule>(all, 'DestinationRule'),
  };
}

const BASE = ['istio/base/gateway.yaml', 'istio/base/virtualservice-web-ingress.yaml', 'istio/base/destinationrules.yaml'];

let mesh: MeshFixture;
afterEach(async () => {
  await mesh?.close();
});

async function projectMesh(files: string[], options: { mode?: 'istio' | 'kubernetes'; sidecarOf?: string } = {}) {
  mesh = await startMesh({
    replicas: workloads.map((w) => ({ id: `${w.name}-0`, workload: w })),
    random: seededRandom(2026),
    source: options.sidecarOf ? { kind: 'sidecar', workload: byName(options.sidecarOf) } : { kind: 'gateway', gatewayName: 'web-gateway' },
    state: { services: of<Service>(k8sObjects, 'Service'), workloads, istio: istio(files), mode: options.mode ?? 'istio' },
  });
}

async function served(pathname: string, n: number): Promise<Record<string, number>> {
  const ids = await Promise.all(Array.from({ length: n }, () => mesh.get(pathname).then((r) => (r.status === 200 ? r.json().id : String(r.status)))));
  return tally(ids);
}

test('base config: getmultiple reaches web-api v1 only, / reaches web-app', async () => {
  await projectMesh(BASE);
  expect(await served('/web-api/v1/getmultiple', 50)).toEqual({ 'web-api-v1-0': 50 });
  expect(await served('/', 5)).toEqual({ 'web-app-0': 5 });
  expect(mesh.upstream('web-api-v1-0').received[0].url).toBe('/web-api/v1/getmultiple');
});

test('the 80/20 file sends about a fifth of getmultiple to v2', async () => {
  await projectMesh([...BASE, 'istio/traffic/web-ingress-80-20.yaml']);
  const counts = await served('/web-api/v1/getmultiple', 1000);
  expect(Math.abs(counts['web-api-v2-0'] / 1000 - 0.2)).toBeLessThan(0.035);
  expect(counts['web-api-v1-0'] + counts['web-api-v2-0']).toBe(1000);
});

test('--no-istio: getmultiple spreads evenly over both web-api versions', async () => {
  await projectMesh(BASE, { mode: 'kubernetes' });
  expect(await served('/web-api/v1/getmultiple', 40)).toEqual({ 'web-api-v1-0': 20, 'web-api-v2-0': 20 });
});

test('authors-abort-100 aborts web-api → authors calls with the file’s status; articles still answers', async () => {
  await projectMesh([...BASE, 'istio/faults/authors-abort-100.yaml'], { sidecarOf: 'web-api-v1' });
  const aborted = await send(mesh.port, 'http://authors:3000/api/v1/getauthor?name=x');
  expect(aborted.status).toBe(500);
  expect(aborted.text).toBe('fault filter abort');
  const articles = await send(mesh.port, 'http://articles:8080/api/v1/getall');
  expect(articles.json().id).toBe('articles-0');
  expect(mesh.records.map((r) => [r.destinationServiceName, r.responseCode, r.responseFlags])).toEqual([
    ['authors', 500, 'FI'],
    ['articles', 200, '-'],
  ]);
});
