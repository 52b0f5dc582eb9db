import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { lineOf, loadManifestFiles, parseManifestText } from './load';

const serviceAccount = (name: string): string => `apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: ${name}\n`;

describe('parseManifestText', () => {
  it('reads every document of a multi-document YAML text with its starting line', () => {
    const text = `${serviceAccount('a')}---\n${serviceAccount('b')}---\n`;
    const { objects, findings } = parseManifestText(text, 'sa.yaml');
    expect(findings).toEqual([]);
    expect(objects.map((o) => [o.object.metadata.name, o.source])).toEqual([
      ['a', { file: 'sa.yaml', line: 1 }],
      ['b', { file: 'sa.yaml', line: 6 }],
    ]);
  });

  it('reads JSON objects, JSON arrays and kind: List', () => {
    const single = { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'json' } };
    expect(parseManifestText(JSON.stringify(single), 'api').objects[0]?.object).toEqual(single);
    const array = parseManifestText(JSON.stringify([single, { ...single, metadata: { name: 'two' } }]), 'api');
    expect(array.objects.map((o) => o.object.metadata.name)).toEqual(['json', 'two']);
    const list = parseManifestText(JSON.stringify({ apiVersion: 'v1', kind: 'List', items: [single] }), 'api');
    expect(list.objects.map((o) => o.object.metadata.name)).toEqual(['json']);
  });

  it('turns a syntax error into a finding with its line instead of throwing', () => {
    const text = `${serviceAccount('fine')}---\napiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: [unclosed\n`;
    const { objects, findings } = parseManifestText(text, 'broken.yaml');
    expect(objects.map((o) => o.object.metadata.name)).toEqual(['fine']); // the good document still loads
    expect(findings).toHaveLength(1);
    expect(findings[0]).toMatchObject({ code: 'CNS0001', severity: 'error', file: 'broken.yaml' });
    expect(findings[0]!.line).toBeGreaterThanOrEqual(9);
    expect(findings[0]!.message).toMatch(/^YAML syntax error: /);
  });

  it('reports duplicate keys, which would silently drop a value', () => {
    const { findings } = parseManifestText('apiVersion: v1\nkind: Service\nkind: ServiceAccount\nmetadata: {name: x}\n', 'dup.yaml');
    expect(findings.map((f) => [f.code, f.line])).toEqual([['CNS0001', 3]]);
  });

  it('reports documents that are not Kubernetes objects and skips empty ones', () => {
    const { objects, findings } = parseManifestText('---\n# only a comment\n---\nkind: Service\nmetadata: {name: x}\n---\n42\n', 'odd.yaml');
    expect(objects).toEqual([]);
    expect(findings.map((f) => [f.code, f.line, f.message])).toEqual([
      ['CNS0002', 4, 'object has no apiVersion'],
      ['CNS0002', 7, 'document is not an object (got number)'],
    ]);
  });

  it('refuses alias bombs instead of expanding them', () => {
    const bomb = [
      'a: &a [x, x, x, x, x, x, x, x, x, x]',
      ...'bcdefgh'.split('').map((c, i) => `${c}: &${c} [${Array(10).fill(`*${'abcdefgh'[i]}`).join(', ')}]`),
    ].join('\n');
    const { objects, findings } = parseManifestText(bomb, 'bomb.yaml');
    expect(objects).toEqual([]);
    expect(findings[0]).toMatchObject({ code: 'CNS0001' });
  });

  it('locates a field inside an object, falling back to its nearest parent', () => {
    const text = `${serviceAccount('first')}---\napiVersion: v1\nkind: Service\nmetadata:\n  name: svc\nspec:\n  ports:\n    - name: http\n      port: 80\n`;
    const service = parseManifestText(text, 's.yaml').objects[1]!.object;
    expect(lineOf(service, ['spec', 'ports', 0, 'port'])).toBe(13);
    expect(lineOf(service, ['spec', 'ports', 0, 'targetPort'])).toBe(12); // missing: the port entry
    expect(lineOf(service, [])).toBe(6);
  });
});

describe('loadManifestFiles', () => {
  it('walks directories recursively, skips kustomization.yaml and names files relative to root', () => {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'manifests-'));
    fs.mkdirSync(path.join(root, 'k8s', 'nested'), { recursive: true });
    fs.writeFileSync(path.join(root, 'k8s', 'a.yaml'), serviceAccount('a'));
    fs.writeFileSync(path.join(root, 'k8s', 'nested', 'b.yml'), serviceAccount('b'));
    fs.writeFileSync(path.join(root, 'k8s', 'kustomization.yaml'), 'resources: [a.yaml]\n');
    fs.writeFileSync(path.join(root, 'k8s', 'notes.txt'), 'not a manifest');
    const { objects, findings } = loadManifestFiles(['k8s', 'missing.yaml'], { root });
    expect(objects.map((o) => `${o.source.file}:${o.object.metadata.name}`)).toEqual([
      path.join('k8s', 'a.yaml') + ':a',
      path.join('k8s', 'nested', 'b.yml') + ':b',
    ]);
    expect(findings).toEqual([expect.objectContaining({ code: 'CNS0002', file: 'missing.yaml', message: 'file or directory not found' })]);
    fs.rmSync(root, { recursive: true, force: true });
  });
});
