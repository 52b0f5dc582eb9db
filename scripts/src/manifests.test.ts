import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  analyzeOverBase,
  folderFiles,
  formatWarning,
  inApplyOrder,
  inDeleteOrder,
  label,
  loadFiles,
  projectObjects,
  REPO_ROOT,
  requireIstioObjects,
  usesGatewayApi,
} from './manifests';

let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'scripts-manifests-'));
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

function write(name: string, text: string): string {
  const file = path.join(dir, name);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, text);
  return file;
}

describe('loadFiles', () => {
  it('reads every object of every file with its line', () => {
    const file = write(
      'two.yaml',
      'apiVersion: networking.istio.io/v1\nkind: Gateway\nmetadata: {name: a}\n---\napiVersion: networking.istio.io/v1\nkind: Gateway\nmetadata: {name: b}\n',
    );
    const objects = loadFiles([file]);
    expect(objects.map((o) => [o.object.metadata.name, o.source.line])).toEqual([
      ['a', 1],
      ['b', 5],
    ]);
  });

  it('a missing file fails before anything is returned, even after good files', () => {
    const good = write('good.yaml', 'apiVersion: networking.istio.io/v1\nkind: Gateway\nmetadata: {name: a}\n');
    expect(() => loadFiles([good, path.join(dir, 'missing.yaml')])).toThrow(`${path.join(dir, 'missing.yaml')}: no such file`);
  });

  it('invalid YAML names the file and line', () => {
    const bad = write('bad.yaml', 'apiVersion: v1\nkind: X\nmetadata:\n  name: a\n labels: [\n');
    expect(() => loadFiles([bad])).toThrow(new RegExp(`^${bad}:\\d+: CNS0001 YAML syntax error`));
  });

  it('a document that is no Kubernetes object, and an empty file', () => {
    expect(() => loadFiles([write('list.yaml', '- a\n- b\n')])).toThrow(/CNS0002/);
    expect(() => loadFiles([write('empty.yaml', '# nothing\n')])).toThrow('no Kubernetes object in the file');
    expect(() => loadFiles([])).toThrow('no file given: pass -f FILE');
  });
});

describe('folderFiles', () => {
  it('follows the kustomization resources in their order, into sub-folders', () => {
    write('kustomization.yaml', 'resources:\n  - z.yaml\n  - sub\n  - a.yaml\n');
    write('sub/kustomization.yaml', 'resources: [m.yaml]\n');
    expect(folderFiles(dir).map((f) => path.relative(dir, f))).toEqual(['z.yaml', path.join('sub', 'm.yaml'), 'a.yaml']);
  });

  it('without a kustomization: every YAML file, sorted', () => {
    write('b.yaml', '');
    write('a.yml', '');
    write('notes.md', '');
    expect(folderFiles(dir).map((f) => path.basename(f))).toEqual(['a.yml', 'b.yaml']);
  });
});

describe('the project manifests', () => {
  const { workloads, istio } = projectObjects(REPO_ROOT);

  it('deploy sends the workloads of k8s/ and the Istio objects of istio/base/', () => {
    expect(workloads.some((o) => o.object.kind === 'Deployment' && o.object.metadata.name === 'web-api-v2')).toBe(true);
    expect(istio.map((o) => `${o.object.kind}/${o.object.metadata.name}`)).toEqual(
      expect.arrayContaining(['Gateway/web-gateway', 'VirtualService/web-ingress', 'DestinationRule/web-api']),
    );
    expect(() => requireIstioObjects(istio)).not.toThrow();
    expect(() => requireIstioObjects(workloads)).toThrow(/is not an Istio object; apply\/remove take Istio and Gateway API files/);
  });

  it('every optional istio file passes the analysis on top of the base set', () => {
    for (const folder of ['traffic', 'faults', 'resilience']) {
      for (const file of folderFiles(path.join(REPO_ROOT, 'istio', folder))) {
        expect(() => analyzeOverBase(loadFiles([file]), [...workloads, ...istio])).not.toThrow();
      }
    }
  });

  it('a route to a subset no DestinationRule defines is a warning (a cluster accepts it); a negative weight is refused', () => {
    const text = fs.readFileSync(path.join(REPO_ROOT, 'istio/traffic/web-ingress-80-20.yaml'), 'utf8');
    const typo = write('typo.yaml', text.replace('subset: v2', 'subset: v3'));
    expect(analyzeOverBase(loadFiles([typo]), [...workloads, ...istio]).map(formatWarning)).toEqual([
      expect.stringMatching(/^Warning: .*typo\.yaml:\d+: VirtualService\/web-ingress: KIA1107 .*v3/),
    ]);
    const negative = write('negative.yaml', text.replace(/weight: \d+/, 'weight: -20'));
    expect(() => analyzeOverBase(loadFiles([negative]), [...workloads, ...istio])).toThrow(/VirtualService\/web-ingress: IST0106 weight -20 < 0/);
  });

  it('applies gateways and subsets before the VirtualServices naming them, deletes the other way round', () => {
    const kinds = inApplyOrder(istio).map((o) => o.object.kind);
    expect(kinds.indexOf('VirtualService')).toBeGreaterThan(kinds.lastIndexOf('DestinationRule'));
    expect(kinds.indexOf('VirtualService')).toBeGreaterThan(kinds.lastIndexOf('Gateway'));
    const deletion = inDeleteOrder(istio).map((o) => o.object.kind);
    expect(deletion.lastIndexOf('VirtualService')).toBeLessThan(deletion.indexOf('DestinationRule'));
  });
});

describe('Gateway API files for apply/remove', () => {
  it('are accepted and analyzed over k8s/ + gateway-api/base (whose Services join the workloads)', () => {
    const objects = loadFiles([path.join(REPO_ROOT, 'gateway-api/traffic/web-ingress-80-20.yaml')]);
    expect(() => requireIstioObjects(objects)).not.toThrow();
    expect(usesGatewayApi(objects)).toBe(true);
    const { workloads, istio } = projectObjects(REPO_ROOT, true);
    expect(workloads.map((o) => label(o.object))).toEqual(expect.arrayContaining(['Service/web-api-v1', 'Service/web-api-v2']));
    expect(istio.map((o) => label(o.object))).toContain('HTTPRoute/web-ingress');
    expect(analyzeOverBase(objects, [...workloads, ...istio])).toEqual([]);
  });

  it('a ReferenceGrant in version v1 (not served by Gateway API v1.1.0) is refused before sending, with file and object', () => {
    const grant = (version: string) =>
      write(
        `grant-${version}.yaml`,
        `apiVersion: gateway.networking.k8s.io/${version}\nkind: ReferenceGrant\nmetadata:\n  name: from-routes\nspec:\n  from: [{group: gateway.networking.k8s.io, kind: HTTPRoute, namespace: default}]\n  to: [{group: "", kind: Service}]\n`,
      );
    const { workloads, istio } = projectObjects(REPO_ROOT, true);
    expect(analyzeOverBase(loadFiles([grant('v1beta1')]), [...workloads, ...istio])).toEqual([]);
    expect(() => analyzeOverBase(loadFiles([grant('v1')]), [...workloads, ...istio])).toThrow(
      /grant-v1\.yaml:1: ReferenceGrant\/from-routes: CNS0301 no matches for kind "ReferenceGrant" in version "gateway\.networking\.k8s\.io\/v1"/,
    );
  });
});
