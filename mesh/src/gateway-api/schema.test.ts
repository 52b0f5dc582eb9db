/**
 * The API server's schema step for Gateway API objects against the pinned v1.1.0 standard CRDs (schema-v1_1.ts):
 * each difference from the bundled package's schemas, strict field validation, list-type invariants, defaults,
 * and the order (an unknown field first; CEL only after a schema without blocking errors).
 */
import { parseManifestText } from '../manifests/load';
import type { K8sObject } from '../model';
import type { HTTPRoute, KubeGateway } from './kinds';
import { validateGatewayApiObject, withDefaults } from './schema';

function check(object: object, file = 'x.yaml') {
  return validateGatewayApiObject({ object: object as K8sObject, source: { file, line: 1 } });
}
const messages = (object: object) => check(object).map((f) => `${f.code} ${f.message}`);

const route = (rule: object = {}, spec: object = {}) => ({
  apiVersion: 'gateway.networking.k8s.io/v1',
  kind: 'HTTPRoute',
  metadata: { name: 'shop' },
  spec: { parentRefs: [{ name: 'web-gateway' }], rules: [{ backendRefs: [{ name: 'web-app', port: 80 }], ...rule }], ...spec },
});
const gateway = (spec: object = {}, apiVersion = 'gateway.networking.k8s.io/v1') => ({
  apiVersion,
  kind: 'Gateway',
  metadata: { name: 'web-gateway' },
  spec: { gatewayClassName: 'istio', listeners: [{ name: 'http', port: 80, protocol: 'HTTP' }], ...spec },
});

describe('fields the v1.1.0 standard CRDs do not declare: refused as strict field validation refuses them', () => {
  it('HTTPRoute spec.rules[].timeouts (experimental channel only in v1.1.0), in v1 and v1beta1', () => {
    for (const apiVersion of ['gateway.networking.k8s.io/v1', 'gateway.networking.k8s.io/v1beta1']) {
      expect(messages({ ...route({ timeouts: { request: '10s' } }), apiVersion })).toEqual([
        'CNS0301 spec.rules[0].timeouts: strict decoding error: unknown field "spec.rules[0].timeouts" (in Gateway API v1.1.0 only the experimental channel declares it; the pinned CRDs are the standard channel)',
      ]);
    }
  });

  it('Gateway spec.infrastructure (experimental channel only in v1.1.0)', () => {
    expect(messages(gateway({ infrastructure: { labels: { team: 'a' } } }))).toEqual([
      expect.stringMatching(
        /^CNS0301 spec\.infrastructure: strict decoding error: unknown field "spec\.infrastructure" \(in Gateway API v1\.1\.0 only the experimental/,
      ),
    ]);
  });

  it('a field no channel of the package declares (v1.1 experimental sessionPersistence) and a typo, each named by its path', () => {
    expect(messages(route({ sessionPersistence: { sessionName: 'x' }, backendRef: [] }))).toEqual([
      'CNS0301 spec.rules[0].sessionPersistence: strict decoding error: unknown field "spec.rules[0].sessionPersistence"',
      'CNS0301 spec.rules[0].backendRef: strict decoding error: unknown field "spec.rules[0].backendRef"',
    ]);
    expect(messages(route({}, { hostname: 'a.example' }))).toEqual(['CNS0301 spec.hostname: strict decoding error: unknown field "spec.hostname"']);
    expect(messages({ ...route(), specs: {} })).toEqual(['CNS0301 specs: strict decoding error: unknown field "specs"']);
  });

  it('metadata: an unknown ObjectMeta field too (its values are the API machinery’s)', () => {
    expect(messages({ ...route(), metadata: { name: 'shop', lables: { app: 'shop' } } })).toEqual([
      'CNS0301 metadata.lables: strict decoding error: unknown field "metadata.lables"',
    ]);
  });

  it('a field set to null is pruned before defaulting, as for every non-nullable CRD field', () => {
    expect(check(route({ matches: null, filters: null }, { hostnames: null }))).toEqual([]);
    expect(withDefaults(route({ matches: null }) as HTTPRoute).spec?.rules?.[0].matches).toEqual([{ path: { type: 'PathPrefix', value: '/' } }]);
  });

  it('points the finding at the unknown field’s line', () => {
    const text = [
      'apiVersion: gateway.networking.k8s.io/v1',
      'kind: HTTPRoute',
      'metadata: {name: shop}',
      'spec:',
      '  rules:',
      '  - backendRefs: [{name: web-app, port: 80}]',
      '    timeouts: {request: 1s}',
    ].join('\n');
    const [loaded] = parseManifestText(text, 'r.yaml').objects;
    expect(validateGatewayApiObject(loaded)).toEqual([expect.objectContaining({ file: 'r.yaml', line: 7, object: 'HTTPRoute/shop' })]);
  });

  it('keeps maps open (selector matchLabels, tls options), status and metadata', () => {
    const spec = {
      listeners: [
        { name: 'http', port: 80, protocol: 'HTTP', allowedRoutes: { namespaces: { from: 'Selector', selector: { matchLabels: { 'any/key': 'v' } } } } },
        { name: 'https', port: 443, protocol: 'HTTPS', tls: { options: { 'example.com/any': 'v' } } },
      ],
    };
    expect(check({ ...gateway(spec), status: { conditions: [] }, metadata: { name: 'web-gateway', labels: { a: 'b' }, annotations: { c: 'd' } } })).toEqual([]);
  });
});

it('builds on @kubernetes-models/gateway-api 0.5.1: the differences in schema-v1_1.ts were listed against that version (another needs the comparison again)', () => {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  expect((require('@kubernetes-models/gateway-api/package.json') as { version: string }).version).toBe('0.5.1');
});

describe('kinds and fields the v1.1.0 standard CRDs declare: accepted', () => {
  it('GatewayClass v1 and v1beta1, with the v1.1.0 field spec.description (at most 64 characters)', () => {
    for (const apiVersion of ['gateway.networking.k8s.io/v1', 'gateway.networking.k8s.io/v1beta1']) {
      const gatewayClass = {
        apiVersion,
        kind: 'GatewayClass',
        metadata: { name: 'istio' },
        spec: { controllerName: 'istio.io/gateway-controller', description: 'Istio' },
      };
      expect(check(gatewayClass)).toEqual([]);
      expect(messages({ ...gatewayClass, spec: { ...gatewayClass.spec, description: 'x'.repeat(65) } })).toEqual([
        'CNS0301 spec.description: Too long: may not be longer than 64',
        'CNS0301 some validation rules were not checked because the object was invalid; correct the existing errors to complete validation',
      ]);
    }
  });

  it('every standard field this project’s HTTPRoute uses, and the Gateway in v1beta1', () => {
    const rule = {
      matches: [{ path: { type: 'Exact', value: '/a' }, headers: [{ name: 'x-a', value: '1' }], queryParams: [{ name: 'q', value: '1' }], method: 'GET' }],
      filters: [
        { type: 'RequestHeaderModifier', requestHeaderModifier: { set: [{ name: 'x-b', value: '2' }], add: [{ name: 'x-c', value: '3' }], remove: ['x-d'] } },
        { type: 'RequestMirror', requestMirror: { backendRef: { name: 'web-app', port: 80 } } },
        { type: 'URLRewrite', urlRewrite: { hostname: 'b.example', path: { type: 'ReplaceFullPath', replaceFullPath: '/b' } } },
      ],
      backendRefs: [{ name: 'web-api-v1', port: 9080, weight: 80 }],
    };
    expect(check(route(rule, { hostnames: ['shop.example', '*.example'] }))).toEqual([]);
    expect(check(gateway({}, 'gateway.networking.k8s.io/v1beta1'))).toEqual([]);
  });

  it('Gateway addresses: an IPAddress (the default type) must be an IPv4 or IPv6 address', () => {
    expect(check(gateway({ addresses: [{ value: '10.0.0.1' }, { type: 'IPAddress', value: 'fd00::1' }, { type: 'Hostname', value: 'gw.example' }] }))).toEqual(
      [],
    );
    expect(messages(gateway({ addresses: [{ value: 'gw.example' }] }))).toEqual([expect.stringMatching(/^CNS0301 spec\.addresses\[0\]: /)]);
  });

  it('the forms Istio 1.22 documents: a mesh (GAMMA) route on a Service port, an HTTPS listener, a waypoint, a ReferenceGrant', () => {
    const mesh = route(
      {
        backendRefs: [
          { name: 'reviews-v1', port: 9080, weight: 90 },
          { name: 'reviews-v2', port: 9080, weight: 10 },
        ],
      },
      {
        parentRefs: [{ group: '', kind: 'Service', name: 'reviews', port: 9080 }],
      },
    );
    expect(check(mesh)).toEqual([]);
    const https = {
      name: 'https',
      port: 443,
      protocol: 'HTTPS',
      hostname: 'shop.example',
      tls: { mode: 'Terminate', certificateRefs: [{ kind: 'Secret', name: 'cert' }] },
    };
    expect(check(gateway({ listeners: [https], addresses: [{ type: 'Hostname', value: 'istio-ingressgateway.istio-system.svc.cluster.local' }] }))).toEqual([]);
    expect(check(gateway({ gatewayClassName: 'istio-waypoint', listeners: [{ name: 'mesh', port: 15008, protocol: 'HBONE' }] }))).toEqual([]);
    const grant = {
      apiVersion: 'gateway.networking.k8s.io/v1beta1',
      kind: 'ReferenceGrant',
      metadata: { name: 'allow' },
      spec: { from: [{ group: 'gateway.networking.k8s.io', kind: 'HTTPRoute', namespace: 'default' }], to: [{ group: '', kind: 'Service' }] },
    };
    expect(check(grant)).toEqual([]);
  });

  it('refuses a version the pinned CRDs do not serve, as the API machinery does (ReferenceGrant is v1beta1 only in v1.1.0)', () => {
    expect(messages({ ...route(), apiVersion: 'gateway.networking.k8s.io/v1alpha2' })).toEqual([
      'CNS0301 no matches for kind "HTTPRoute" in version "gateway.networking.k8s.io/v1alpha2" (Gateway API v1.1.0 standard CRDs)',
    ]);
    const grant = {
      apiVersion: 'gateway.networking.k8s.io/v1',
      kind: 'ReferenceGrant',
      metadata: { name: 'allow' },
      spec: { from: [{ group: 'gateway.networking.k8s.io', kind: 'HTTPRoute', namespace: 'default' }], to: [{ group: '', kind: 'Service' }] },
    };
    expect(check(grant, 'grants.yaml')).toEqual([
      expect.objectContaining({
        file: 'grants.yaml',
        object: 'ReferenceGrant/allow',
        message: 'no matches for kind "ReferenceGrant" in version "gateway.networking.k8s.io/v1" (Gateway API v1.1.0 standard CRDs)',
      }),
    ]);
  });
});

describe('x-kubernetes-list-type invariants (refused as Duplicate value)', () => {
  it.each([
    [
      'header match names',
      {
        matches: [
          {
            headers: [
              { name: 'x-a', value: '1' },
              { name: 'x-a', value: '2' },
            ],
          },
        ],
      },
      'spec.rules[0].matches[0].headers[1]: Duplicate value: map[string]interface {}{"name":"x-a"}',
    ],
    [
      'query param names',
      {
        matches: [
          {
            queryParams: [
              { name: 'q', value: '1' },
              { name: 'q', value: '2' },
            ],
          },
        ],
      },
      'spec.rules[0].matches[0].queryParams[1]: Duplicate value: map[string]interface {}{"name":"q"}',
    ],
    [
      'header modifier set names',
      {
        filters: [
          {
            type: 'RequestHeaderModifier',
            requestHeaderModifier: {
              set: [
                { name: 'x', value: '1' },
                { name: 'x', value: '2' },
              ],
            },
          },
        ],
      },
      'spec.rules[0].filters[0].requestHeaderModifier.set[1]: Duplicate value: map[string]interface {}{"name":"x"}',
    ],
    [
      'header modifier remove values (a set)',
      { backendRefs: [{ name: 'web-app', port: 80, filters: [{ type: 'ResponseHeaderModifier', responseHeaderModifier: { remove: ['x', 'x'] } }] }] },
      'spec.rules[0].backendRefs[0].filters[0].responseHeaderModifier.remove[1]: Duplicate value: "x"',
    ],
  ])('%s', (_name, rule, message) => {
    expect(messages(route(rule))).toEqual([`CNS0301 ${message}`]);
  });

  it('listener names (and the CEL rule on the same list)', () => {
    const listeners = [
      { name: 'http', port: 80, protocol: 'HTTP' },
      { name: 'http', port: 8080, protocol: 'HTTP' },
    ];
    expect(messages(gateway({ listeners }))).toEqual([
      'CNS0301 spec.listeners[1]: Duplicate value: map[string]interface {}{"name":"http"}',
      'CNS0302 spec.listeners: Invalid value: "array": Listener name must be unique within the Gateway',
    ]);
  });
});

describe('schema errors as the API server words them, and when the CEL rules run', () => {
  it('an enum value: Unsupported value, and the CEL rules are skipped (a blocking error)', () => {
    expect(messages(route({ matches: [{ path: { type: 'Prefix', value: 'shop' } }] }))).toEqual([
      'CNS0301 spec.rules[0].matches[0].path.type: Unsupported value: "Prefix": supported values: "Exact", "PathPrefix", "RegularExpression"',
      'CNS0301 some validation rules were not checked because the object was invalid; correct the existing errors to complete validation',
    ]);
  });

  it('a missing required field: Required value', () => {
    expect(messages(route({ backendRefs: [{ port: 80 }] }))).toEqual([
      'CNS0301 spec.rules[0].backendRefs[0].name: Required value',
      'CNS0301 some validation rules were not checked because the object was invalid; correct the existing errors to complete validation',
    ]);
  });

  it('a pattern or a minimum is not blocking: the CEL rules still run', () => {
    expect(
      messages(
        route(
          { matches: [{ path: { type: 'PathPrefix', value: 'shop' } }], backendRefs: [{ name: 'web-app', port: 80, weight: -1 }] },
          { hostnames: ['Shop'] },
        ),
      ),
    ).toEqual([
      expect.stringMatching(/^CNS0301 spec\.hostnames\[0\]: Invalid value: "Shop": spec\.hostnames\[0\] in body should match '/),
      'CNS0301 spec.rules[0].backendRefs[0].weight: Invalid value: -1: spec.rules[0].backendRefs[0].weight in body should be greater than or equal to 0',
      "CNS0302 spec.rules[0].matches[0].path: Invalid value: \"object\": value must be an absolute path and start with '/' when type one of ['Exact', 'PathPrefix']",
    ]);
  });
});

describe('defaults: the v1.1.0 CRDs’ (the same as the package’s)', () => {
  it('fills what the API server fills before istiod reads the route and the gateway', () => {
    const defaulted = withDefaults(route({ backendRefs: [{ name: 'web-app', port: 80 }], filters: [{ type: 'RequestRedirect', requestRedirect: {} }] }));
    expect(defaulted.spec.parentRefs[0]).toEqual({ name: 'web-gateway', group: 'gateway.networking.k8s.io', kind: 'Gateway' });
    expect(defaulted.spec.rules[0]).toMatchObject({
      matches: [{ path: { type: 'PathPrefix', value: '/' } }],
      backendRefs: [{ name: 'web-app', port: 80, group: '', kind: 'Service', weight: 1 }],
      filters: [{ requestRedirect: { statusCode: 302 } }],
    });
    const headers = withDefaults(route({ matches: [{ headers: [{ name: 'x', value: '1' }], queryParams: [{ name: 'q', value: '1' }] }] }) as HTTPRoute);
    expect(headers.spec?.rules?.[0].matches).toEqual([
      {
        path: { type: 'PathPrefix', value: '/' },
        headers: [{ name: 'x', value: '1', type: 'Exact' }],
        queryParams: [{ name: 'q', value: '1', type: 'Exact' }],
      },
    ]);
    expect((withDefaults(gateway()) as KubeGateway).spec?.listeners[0].allowedRoutes).toEqual({ namespaces: { from: 'Same' } });
  });
});
