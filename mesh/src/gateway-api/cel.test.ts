/**
 * Every CEL rule of the Gateway API v1.1.0 standard HTTPRoute and Gateway CRDs (README.md's table): an object that
 * breaks it is refused with the rule's message at the rule's field, and the nearest object that keeps it is not.
 */
import type { K8sObject } from '../model';
import { validateGatewayApiObject } from './schema';

const messages = (object: object) =>
  validateGatewayApiObject({ object: object as K8sObject, source: { file: 'x.yaml', line: 1 } }).map((f) => `${f.code} ${f.message}`);

const route = (rules: object[], spec: object = {}) => ({
  apiVersion: 'gateway.networking.k8s.io/v1',
  kind: 'HTTPRoute',
  metadata: { name: 'shop' },
  spec: { parentRefs: [{ name: 'web-gateway' }], rules, ...spec },
});
const backend = { name: 'web-app', port: 80 };
const prefix = (value: string) => ({ path: { type: 'PathPrefix', value } });
/** The API server prints the rule's field and its schema type. */
const cel = (field: string, message: string) =>
  `CNS0302 ${field}: Invalid value: "${/(parentRefs|filters|addresses|listeners)$/.test(field) ? 'array' : 'object'}": ${message}`;

describe('HTTPRoute spec.rules[].matches[].path (HTTPPathMatch)', () => {
  const at = 'spec.rules[0].matches[0].path';
  it.each([
    ['shop', "value must be an absolute path and start with '/' when type one of ['Exact', 'PathPrefix']"],
    ['/a//b', "must not contain '//' when type one of ['Exact', 'PathPrefix']"],
    ['/a/./b', "must not contain '/./' when type one of ['Exact', 'PathPrefix']"],
    ['/a/../b', "must not contain '/../' when type one of ['Exact', 'PathPrefix']"],
    ['/a%2fb', "must not contain '%2f' when type one of ['Exact', 'PathPrefix']"],
    ['/a%2Fb', "must not contain '%2F' when type one of ['Exact', 'PathPrefix']"],
    ['/a#b', "must not contain '#' when type one of ['Exact', 'PathPrefix']"],
    ['/a/..', "must not end with '/..' when type one of ['Exact', 'PathPrefix']"],
    ['/a/.', "must not end with '/.' when type one of ['Exact', 'PathPrefix']"],
    ['/a b', "must only contain valid characters (matching ^(?:[-A-Za-z0-9/._~!$&'()*+,;=:@]|[%][0-9a-fA-F]{2})+$) for types ['Exact', 'PathPrefix']"],
  ])('%s: %s', (value, message) => {
    // '#' is also not a valid character: both rules fire.
    const characters = cel(
      at,
      "must only contain valid characters (matching ^(?:[-A-Za-z0-9/._~!$&'()*+,;=:@]|[%][0-9a-fA-F]{2})+$) for types ['Exact', 'PathPrefix']",
    );
    for (const type of ['Exact', 'PathPrefix']) {
      expect(messages(route([{ matches: [{ path: { type, value } }], backendRefs: [backend] }]))).toEqual(
        value.includes('#') ? [cel(at, message), characters] : [cel(at, message)],
      );
    }
    expect(messages(route([{ matches: [{ path: { type: 'RegularExpression', value } }], backendRefs: [backend] }]))).toEqual([]);
  });

  it('type must be one of [...]: the enum refuses it first and the CEL rules are skipped', () => {
    expect(messages(route([{ matches: [{ path: { type: 'Prefix', value: '/' } }], backendRefs: [backend] }]))).toEqual([
      'CNS0301 spec.rules[0].matches[0].path.type: Unsupported value: "Prefix": supported values: "Exact", "PathPrefix", "RegularExpression"',
      'CNS0301 some validation rules were not checked because the object was invalid; correct the existing errors to complete validation',
    ]);
  });

  it('keeps a valid path with percent-encoding and sub-delimiters', () => {
    expect(messages(route([{ matches: [{ path: { type: 'Exact', value: "/a%20b/~c!$&'()*+,;=:@" } }], backendRefs: [backend] }]))).toEqual([]);
  });
});

// The same filter rules hold on a rule's filters and on a backendRef's filters.
describe.each([
  ['spec.rules[0].filters', (filters: object[]) => ({ filters })],
  ['spec.rules[0].backendRefs[0].filters', (filters: object[]) => ({ backendRefs: [{ ...backend, filters }] })],
])('%s', (at, rule) => {
  const mirror = { type: 'RequestMirror', requestMirror: { backendRef: backend } };
  const modifier = { set: [{ name: 'x', value: '1' }] };

  it.each([
    ['requestHeaderModifier', 'RequestHeaderModifier', modifier],
    ['responseHeaderModifier', 'ResponseHeaderModifier', modifier],
    ['requestMirror', 'RequestMirror', { backendRef: backend }],
    ['requestRedirect', 'RequestRedirect', { statusCode: 301 }],
    ['urlRewrite', 'URLRewrite', { hostname: 'a.example' }],
    ['extensionRef', 'ExtensionRef', { group: 'example.com', kind: 'Filter', name: 'f' }],
  ])('filter.%s must be nil / must be specified', (field, type, value) => {
    const other = type === 'RequestMirror' ? 'URLRewrite' : 'RequestMirror';
    const otherField = other === 'URLRewrite' ? 'urlRewrite' : 'requestMirror';
    expect(messages(route([rule([{ type: other, [field]: value }])])).sort()).toEqual(
      [
        cel(`${at}[0]`, `filter.${field} must be nil if the filter.type is not ${type}`),
        cel(`${at}[0]`, `filter.${otherField} must be specified for ${other} filter.type`),
      ].sort(),
    );
    expect(messages(route([rule([{ type, [field]: value }])]))).toEqual([]);
  });

  it.each(['RequestHeaderModifier', 'ResponseHeaderModifier', 'RequestRedirect', 'URLRewrite'])('%s filter cannot be repeated', (type) => {
    const field = type === 'URLRewrite' ? 'urlRewrite' : type[0].toLowerCase() + type.slice(1);
    const filter = { type, [field]: type.endsWith('Modifier') ? modifier : { hostname: 'a.example' } };
    expect(messages(route([rule([filter, filter])]))).toContain(cel(at, `${type} filter cannot be repeated`));
  });

  it('may specify either httpRouteFilterRequestRedirect or httpRouteFilterRequestRewrite, but not both', () => {
    const both = [
      { type: 'RequestRedirect', requestRedirect: { hostname: 'a.example' } },
      { type: 'URLRewrite', urlRewrite: { hostname: 'b.example' } },
    ];
    expect(messages(route([rule(both)]))).toContain(
      cel(at, 'May specify either httpRouteFilterRequestRedirect or httpRouteFilterRequestRewrite, but not both'),
    );
  });

  it('requestMirror.backendRef: Must have port for Service reference (not for another kind)', () => {
    expect(messages(route([rule([{ type: 'RequestMirror', requestMirror: { backendRef: { name: 'web-app' } } }])]))).toEqual([
      cel(`${at}[0].requestMirror.backendRef`, 'Must have port for Service reference'),
    ]);
    expect(messages(route([rule([{ type: 'RequestMirror', requestMirror: { backendRef: { group: 'example.com', kind: 'Backend', name: 'b' } } }])]))).toEqual(
      [],
    );
    expect(messages(route([rule([mirror, mirror])]))).toEqual([]);
  });

  it.each(['requestRedirect', 'urlRewrite'])('%s.path: the four HTTPPathModifier rules', (field) => {
    const type = field === 'urlRewrite' ? 'URLRewrite' : 'RequestRedirect';
    const withPath = (path: object) =>
      messages(route([{ matches: [prefix('/a')], ...rule([{ type, [field]: { path } }]) }])).filter((m) => m.includes('.path:'));
    const pathAt = `${at}[0].${field}.path`;
    expect(withPath({ type: 'ReplaceFullPath' })).toEqual([cel(pathAt, "replaceFullPath must be specified when type is set to 'ReplaceFullPath'")]);
    expect(withPath({ type: 'ReplacePrefixMatch', replaceFullPath: '/b' })).toEqual([
      cel(pathAt, "type must be 'ReplaceFullPath' when replaceFullPath is set"),
      cel(pathAt, "replacePrefixMatch must be specified when type is set to 'ReplacePrefixMatch'"),
    ]);
    expect(withPath({ type: 'ReplaceFullPath', replaceFullPath: '/b', replacePrefixMatch: '/c' })).toEqual([
      cel(pathAt, "type must be 'ReplacePrefixMatch' when replacePrefixMatch is set"),
    ]);
    expect(withPath({ type: 'ReplacePrefixMatch', replacePrefixMatch: '/c' })).toEqual([]);
  });
});

describe('HTTPRoute spec.rules[] and spec.rules[].backendRefs[]', () => {
  const redirect = (path?: object) => ({ type: 'RequestRedirect', requestRedirect: { hostname: 'a.example', ...(path && { path }) } });
  const rewrite = (path?: object) => ({ type: 'URLRewrite', urlRewrite: { hostname: 'a.example', ...(path && { path }) } });
  const replacePrefix = { type: 'ReplacePrefixMatch', replacePrefixMatch: '/b' };

  it('RequestRedirect filter must not be used together with backendRefs', () => {
    expect(messages(route([{ filters: [redirect()], backendRefs: [backend] }]))).toEqual([
      cel('spec.rules[0]', 'RequestRedirect filter must not be used together with backendRefs'),
    ]);
    expect(messages(route([{ filters: [redirect()] }]))).toEqual([]);
  });

  it.each([
    ['RequestRedirect', redirect],
    ['URLRewrite', rewrite],
  ])('When using %s filter with path.replacePrefixMatch, exactly one PathPrefix match must be specified', (name, filter) => {
    const message = `When using ${name} filter with path.replacePrefixMatch, exactly one PathPrefix match must be specified`;
    const backends = name === 'URLRewrite' ? { backendRefs: [backend] } : {};
    expect(messages(route([{ matches: [{ path: { type: 'Exact', value: '/a' } }], filters: [filter(replacePrefix)], ...backends }]))).toEqual([
      cel('spec.rules[0]', message),
    ]);
    expect(messages(route([{ matches: [prefix('/a'), prefix('/b')], filters: [filter(replacePrefix)], ...backends }]))).toEqual([
      cel('spec.rules[0]', message),
    ]);
    // A rule without matches is defaulted to one PathPrefix "/" match first.
    expect(messages(route([{ filters: [filter(replacePrefix)], ...backends }]))).toEqual([]);
    expect(messages(route([{ matches: [prefix('/a')], filters: [filter(replacePrefix)], ...backends }]))).toEqual([]);
  });

  it.each([
    ['RequestRedirect', redirect, 'Within backendRefs, when using RequestRedirect'],
    ['URLRewrite', rewrite, 'Within backendRefs, When using URLRewrite'],
  ])('Within backendRefs, %s with path.replacePrefixMatch needs exactly one PathPrefix match (CEL exists_one over backendRefs)', (_name, filter, start) => {
    const message = `${start} filter with path.replacePrefixMatch, exactly one PathPrefix match must be specified`;
    const exact = [{ path: { type: 'Exact', value: '/a' } }];
    const one = { ...backend, filters: [filter(replacePrefix)] };
    expect(messages(route([{ matches: exact, backendRefs: [one, backend] }]))).toEqual([cel('spec.rules[0]', message)]);
    expect(messages(route([{ matches: [prefix('/a')], backendRefs: [one, backend] }]))).toEqual([]);
    // exists_one: two backendRefs with such a filter do not trigger the rule (as on a cluster).
    expect(messages(route([{ matches: exact, backendRefs: [one, one] }]))).toEqual([]);
  });

  it('backendRefs[]: Must have port for Service reference (not for another group/kind)', () => {
    expect(messages(route([{ backendRefs: [{ name: 'web-app' }] }]))).toEqual([cel('spec.rules[0].backendRefs[0]', 'Must have port for Service reference')]);
    expect(messages(route([{ backendRefs: [{ group: 'example.com', kind: 'Backend', name: 'b' }] }]))).toEqual([]);
  });
});

describe('HTTPRoute spec.parentRefs', () => {
  const refs = (...parentRefs: object[]) => messages(route([{ backendRefs: [backend] }], { parentRefs }));
  const specified = cel('spec.parentRefs', 'sectionName must be specified when parentRefs includes 2 or more references to the same parent');
  const unique = cel('spec.parentRefs', 'sectionName must be unique when parentRefs includes 2 or more references to the same parent');

  it('sectionName must be specified when parentRefs includes 2 or more references to the same parent', () => {
    expect(refs({ name: 'web-gateway' }, { name: 'web-gateway', sectionName: 'http' })).toEqual([specified]);
    expect(refs({ name: 'web-gateway', sectionName: 'http' }, { name: 'web-gateway', namespace: 'default' }, { name: 'web-gateway' })).toEqual([specified]);
  });

  it('sectionName must be unique when parentRefs includes 2 or more references to the same parent (also: both without one)', () => {
    expect(refs({ name: 'web-gateway', sectionName: 'http' }, { name: 'web-gateway', sectionName: 'http' })).toEqual([unique]);
    expect(refs({ name: 'web-gateway' }, { name: 'web-gateway' })).toEqual([unique]);
  });

  it('different parents, or the same with different sections, are fine', () => {
    expect(refs({ name: 'web-gateway', sectionName: 'http' }, { name: 'web-gateway', sectionName: 'https' })).toEqual([]);
    expect(refs({ name: 'web-gateway' }, { name: 'web-gateway', namespace: 'other' })).toEqual([]);
    expect(refs({ name: 'web-gateway' }, { name: 'web-gateway', kind: 'Service', group: '' })).toEqual([]);
  });

  it('has no rule on rule count or timeouts in v1.1.0 standard (16 rules × 8 matches is the schema’s limit)', () => {
    const rules = Array.from({ length: 16 }, (_, i) => ({ matches: Array.from({ length: 8 }, (_, j) => prefix(`/r${i}/m${j}`)), backendRefs: [backend] }));
    expect(messages(route(rules))).toEqual([]);
  });
});

describe('Gateway', () => {
  const gateway = (spec: object) =>
    messages({
      apiVersion: 'gateway.networking.k8s.io/v1',
      kind: 'Gateway',
      metadata: { name: 'web-gateway' },
      spec: { gatewayClassName: 'istio', listeners: [{ name: 'http', port: 80, protocol: 'HTTP' }], ...spec },
    });
  const cert = { certificateRefs: [{ name: 'cert' }] };

  it.each([
    [[{ value: '10.0.0.1' }, { type: 'IPAddress', value: '10.0.0.1' }], 'spec.addresses', 'IPAddress values must be unique'],
    [
      [
        { type: 'Hostname', value: 'a.example' },
        { type: 'Hostname', value: 'a.example' },
      ],
      'spec.addresses',
      'Hostname values must be unique',
    ],
    [
      [{ type: 'Hostname', value: 'A_b' }],
      'spec.addresses[0]',
      'Hostname value must only contain valid characters (matching ^(\\*\\.)?[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$)',
    ],
  ])('addresses %j: %s %s', (addresses, at, message) => {
    expect(gateway({ addresses })).toEqual([cel(at, message)]);
  });

  it('addresses: distinct values, and the same value as different types, are fine', () => {
    expect(gateway({ addresses: [{ value: '10.0.0.1' }, { value: '10.0.0.2' }, { type: 'Hostname', value: 'a.example' }] })).toEqual([]);
  });

  it.each([
    [[{ name: 'http', port: 80, protocol: 'HTTP', tls: cert }], "tls must not be specified for protocols ['HTTP', 'TCP', 'UDP']"],
    [[{ name: 'tcp', port: 90, protocol: 'TCP', tls: cert }], "tls must not be specified for protocols ['HTTP', 'TCP', 'UDP']"],
    [[{ name: 'https', port: 443, protocol: 'HTTPS', tls: { mode: 'Passthrough' } }], 'tls mode must be Terminate for protocol HTTPS'],
    [[{ name: 'tcp', port: 90, protocol: 'TCP', hostname: 'a.example' }], "hostname must not be specified for protocols ['TCP', 'UDP']"],
    [
      [
        { name: 'a', port: 80, protocol: 'HTTP', hostname: 'a.example' },
        { name: 'b', port: 80, protocol: 'HTTP', hostname: 'a.example' },
      ],
      'Combination of port, protocol and hostname must be unique for each listener',
    ],
    [
      [
        { name: 'a', port: 80, protocol: 'HTTP' },
        { name: 'b', port: 80, protocol: 'HTTP' },
      ],
      'Combination of port, protocol and hostname must be unique for each listener',
    ],
  ])('listeners %j: %s', (listeners, message) => {
    expect(gateway({ listeners })).toEqual([cel('spec.listeners', message)]);
  });

  it('Listener name must be unique within the Gateway (with the list-map Duplicate value)', () => {
    const listeners = [
      { name: 'a', port: 80, protocol: 'HTTP' },
      { name: 'a', port: 81, protocol: 'HTTP' },
    ];
    expect(gateway({ listeners })).toContain(cel('spec.listeners', 'Listener name must be unique within the Gateway'));
  });

  it('tls: certificateRefs or options must be specified when mode is Terminate (the default mode)', () => {
    expect(gateway({ listeners: [{ name: 'https', port: 443, protocol: 'HTTPS', tls: {} }] })).toEqual([
      cel('spec.listeners[0].tls', 'certificateRefs or options must be specified when mode is Terminate'),
    ]);
    expect(gateway({ listeners: [{ name: 'https', port: 443, protocol: 'HTTPS', tls: { options: { 'example.com/key': 'v' } } }] })).toEqual([]);
    expect(gateway({ listeners: [{ name: 'tls', port: 443, protocol: 'TLS', tls: { mode: 'Passthrough' } }] })).toEqual([]);
  });

  it('accepts an HTTPS listener without tls and different hostnames on one port (v1.1.0 has no rule against them; istiod reports status)', () => {
    expect(
      gateway({
        listeners: [
          { name: 'https', port: 443, protocol: 'HTTPS' },
          { name: 'a', port: 80, protocol: 'HTTP', hostname: 'a.example' },
          { name: 'b', port: 80, protocol: 'HTTP', hostname: 'b.example' },
          { name: 'any', port: 80, protocol: 'HTTP' },
        ],
      }),
    ).toEqual([]);
  });
});
