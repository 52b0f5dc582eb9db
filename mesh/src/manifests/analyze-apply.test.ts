/**
 * What the analysis makes of applying manifests: the schema a kind is validated against, a file replacing the base
 * object with the same kind and name, and which findings an API server refuses on apply.
 */
import type { LoadedObject } from '../model';
import { analyzeManifests, refusedOnApply } from './analyze';
import { analyzeFixture, base, root } from './analyze-fixture';
import { loadManifestFiles, parseManifestText } from './load';
import { mergeObjects } from './merge';

// The first analysis in a process compiles the Istio schemas (seconds on a busy 2-core machine).
jest.setTimeout(60_000);

describe('manifest analysis: each check fires on its broken fixture', () => {
  it('validates Istio v1 kinds against the older schema with the same spec', () => {
    const telemetry = parseManifestText(
      'apiVersion: telemetry.istio.io/v1\nkind: Telemetry\nmetadata: {name: mesh-default}\nspec:\n  tracing: {}\n',
      'telemetry.yaml',
    );
    expect(analyzeManifests(telemetry.objects)).toEqual([
      expect.objectContaining({ code: 'IST0106', object: 'Telemetry/mesh-default', message: 'spec.tracing: must be array' }),
    ]);
  });

  it('warns about kinds it has no schema for instead of passing them silently', () => {
    const { objects } = parseManifestText('apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w}\n', 'widget.yaml');
    expect(analyzeManifests(objects)).toEqual([
      expect.objectContaining({ code: 'CNS0003', severity: 'warning', object: 'Widget/w', message: expect.stringContaining('example.com/v1 Widget') }),
    ]);
  });
});

describe('VirtualServices for one host', () => {
  it('does not count a gateway-bound and a mesh VirtualService for the same host as a clash', () => {
    expect(analyzeFixture('vs-gateway-and-mesh-same-host.yaml')).toEqual([]);
  });

  it('models applying a file as replacing the base object with the same kind and name', () => {
    const canary = loadManifestFiles(['istio/traffic/web-ingress-80-20.yaml'], { root });
    const merged = mergeObjects(base.objects, canary.objects);
    const ingress = merged.filter((o) => o.object.kind === 'VirtualService' && o.object.metadata.name === 'web-ingress');
    expect(ingress.map((o) => o.source.file)).toEqual(['istio/traffic/web-ingress-80-20.yaml']);
    expect(merged).toHaveLength(base.objects.length);
    expect(analyzeManifests(merged)).toEqual([]);
    // Side by side instead of replacing, the two objects would clash:
    const both: LoadedObject[] = [
      ...base.objects,
      ...canary.objects.map((o) => ({
        ...o,
        object: { ...o.object, metadata: { ...o.object.metadata, name: 'web-ingress-canary' } },
      })),
    ];
    expect(analyzeManifests(both).filter((f) => f.code === 'KIA1106')).toHaveLength(2);
  });
});

describe('what an API server refuses vs what the analysis reports (apply semantics)', () => {
  it('refuses only schema/validation findings; a shadowed match and an unknown subset are accepted as warnings', () => {
    const findings = analyzeFixture('vs-accepted-with-warnings.yaml');
    expect(findings.map((f) => f.code).sort()).toEqual(['IST0131', 'KIA1107']);
    expect(findings.filter(refusedOnApply)).toEqual([]);
    // The lint keeps them as errors: the repository's own files must have none.
    expect(findings.every((f) => f.severity === 'error')).toBe(true);
    expect(analyzeFixture('vs-route-and-redirect.yaml').filter(refusedOnApply)).toEqual([
      expect.objectContaining({ code: 'IST0106', message: expect.stringMatching(/route cannot contain both route and redirect/) }),
    ]);
  });

  it('takes regex "*" in withoutHeaders as Istio\'s presence match, and RE2 syntax such as (?i)', () => {
    const { objects } = parseManifestText(
      [
        'apiVersion: networking.istio.io/v1',
        'kind: VirtualService',
        'metadata: {name: authors}',
        'spec:',
        '  hosts: [authors]',
        '  http:',
        '  - match: [{uri: {regex: "(?i)/API/.*"}, withoutHeaders: {x-debug: {regex: "*"}}}]',
        '    route: [{destination: {host: authors}}]',
      ].join('\n'),
      'inline.yaml',
    );
    expect(analyzeManifests(mergeObjects(base.objects, objects)).filter((f) => f.file === 'inline.yaml')).toEqual([]);
  });

  it('accepts a root VirtualService delegating to one without hosts; a root rule with its own route is refused', () => {
    const text = (rootExtra: string) =>
      [
        'apiVersion: networking.istio.io/v1',
        'kind: VirtualService',
        'metadata: {name: web-ingress}',
        'spec:',
        '  hosts: ["*"]',
        '  gateways: [web-gateway]',
        '  http:',
        '  - match: [{uri: {prefix: /web-api/}}]',
        '    delegate: {name: web-api-routes}',
        rootExtra,
        '  - route: [{destination: {host: web-app, port: {number: 80}}}]',
        '---',
        'apiVersion: networking.istio.io/v1',
        'kind: VirtualService',
        'metadata: {name: web-api-routes}',
        'spec:',
        '  http:',
        '  - route: [{destination: {host: web-api, subset: v2, port: {number: 9080}}}]',
      ]
        .filter(Boolean)
        .join('\n');
    const findings = (extra: string) =>
      analyzeManifests(mergeObjects(base.objects, parseManifestText(text(extra), 'delegate.yaml').objects)).filter((f) => f.file === 'delegate.yaml');
    expect(findings('')).toEqual([]);
    expect(findings('    route: [{destination: {host: web-api}}]').filter(refusedOnApply)).toEqual([
      expect.objectContaining({ code: 'IST0106', message: expect.stringMatching(/root HTTP route must not specify route/) }),
    ]);
  });
});
