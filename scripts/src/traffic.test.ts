import type { HTTPRoute, VirtualService } from '@cns/mesh/model';
import { UserError } from './errors';
import { activeSplit, buildSplitPatch, formatSplit, parseSplit, splitDestinations, findGetMultipleRoute } from './traffic';

/** The shape of istio/base/virtualservice-web-ingress.yaml: getmultiple is the second route. */
function ingress(getMultipleRoute?: HTTPRoute): VirtualService {
  return {
    apiVersion: 'networking.istio.io/v1',
    kind: 'VirtualService',
    metadata: { name: 'web-ingress' },
    spec: {
      hosts: ['*'],
      gateways: ['web-gateway'],
      http: [
        { name: 'openapi', match: [{ uri: { prefix: '/openapi/ui' } }], route: [{ destination: { host: 'web-api', port: { number: 9080 } } }] },
        getMultipleRoute ?? {
          name: 'web-api-getmultiple',
          match: [{ uri: { prefix: '/web-api/v1/getmultiple' } }],
          route: [{ destination: { host: 'web-api', subset: 'v1', port: { number: 9080 } } }],
        },
        { name: 'web-app', match: [{ uri: { prefix: '/' } }], route: [{ destination: { host: 'web-app', port: { number: 80 } } }] },
      ],
    },
  };
}

describe('parseSplit', () => {
  it.each([
    ['80', '20', { v1: 80, v2: 20 }],
    ['100', '0', { v1: 100, v2: 0 }],
    ['0', '100', { v1: 0, v2: 100 }],
    ['50', '50', { v1: 50, v2: 50 }],
  ])('accepts %s %s', (a, b, expected) => {
    expect(parseSplit(a, b)).toEqual(expected);
  });

  it('names both bad weights of `traffic 120 -20` in one line', () => {
    expect(() => parseSplit('120', '-20')).toThrow(UserError);
    expect(() => parseSplit('120', '-20')).toThrow(
      'invalid split: v1 weight "120" is not an integer from 0 to 100; v2 weight "-20" is not an integer from 0 to 100',
    );
  });

  it.each([
    ['8.5', '20'],
    ['abc', '20'],
    ['80', ''],
    ['1e2', '0'],
    ['0x10', '5'],
  ])('rejects %s %s', (a, b) => {
    expect(() => parseSplit(a, b)).toThrow(/is not an integer from 0 to 100/);
  });

  it('rejects 0 0: no destination would get traffic', () => {
    expect(() => parseSplit('0', '0')).toThrow(/add up to 0/);
  });
});

describe('buildSplitPatch', () => {
  it('replaces only the getmultiple route, guarded by a test of its name', () => {
    expect(buildSplitPatch(ingress(), { v1: 80, v2: 20 })).toEqual([
      { op: 'test', path: '/spec/http/1/name', value: 'web-api-getmultiple' },
      {
        op: 'replace',
        path: '/spec/http/1/route',
        value: [
          { destination: { host: 'web-api', subset: 'v1', port: { number: 9080 } }, weight: 80 },
          { destination: { host: 'web-api', subset: 'v2', port: { number: 9080 } }, weight: 20 },
        ],
      },
    ]);
  });

  it('100 0 goes back to a single unweighted v1 destination, like the base manifest', () => {
    const [, replace] = buildSplitPatch(ingress(), { v1: 100, v2: 0 });
    expect(replace).toEqual({
      op: 'replace',
      path: '/spec/http/1/route',
      value: [{ destination: { host: 'web-api', subset: 'v1', port: { number: 9080 } } }],
    });
  });

  it('keeps per-destination headers of an existing subset entry', () => {
    const route = {
      name: 'web-api-getmultiple',
      match: [{ uri: { prefix: '/web-api/v1/getmultiple' } }],
      route: [
        { destination: { host: 'web-api', subset: 'v1' }, weight: 50 },
        { destination: { host: 'web-api', subset: 'v2' }, weight: 50, headers: { response: { set: { 'x-canary': 'yes' } } } },
      ],
    };
    expect(splitDestinations(route, { v1: 10, v2: 90 })).toEqual([
      { destination: { host: 'web-api', subset: 'v1' }, weight: 10 },
      { destination: { host: 'web-api', subset: 'v2' }, weight: 90, headers: { response: { set: { 'x-canary': 'yes' } } } },
    ]);
  });

  it('finds an unnamed route by its URI match and then sends no name test', () => {
    const vs = ingress({ match: [{ uri: { prefix: '/web-api/v1/getmultiple' } }], route: [{ destination: { host: 'web-api', subset: 'v1' } }] });
    const ops = buildSplitPatch(vs, { v1: 50, v2: 50 });
    expect(ops).toHaveLength(1);
    expect(ops[0]).toMatchObject({ op: 'replace', path: '/spec/http/1/route' });
  });

  it('fails clearly when the VirtualService has no getmultiple route', () => {
    const vs = ingress();
    vs.spec!.http = vs.spec!.http!.filter((r) => r.name !== 'web-api-getmultiple');
    expect(() => findGetMultipleRoute(vs)).toThrow('VirtualService web-ingress has no getmultiple route');
  });
});

describe('activeSplit', () => {
  it('a lone destination gets 100 % and the other subset is shown at 0 %', () => {
    expect(formatSplit(activeSplit(ingress()))).toBe('getmultiple: v1 100 %, v2 0 %');
  });

  it('weights are relative', () => {
    const route = {
      name: 'web-api-getmultiple',
      route: [
        { destination: { host: 'web-api', subset: 'v1' }, weight: 30 },
        { destination: { host: 'web-api', subset: 'v2' }, weight: 10 },
      ],
    };
    expect(activeSplit(ingress(route))).toEqual([
      { subset: 'v1', weight: 30, percent: 75 },
      { subset: 'v2', weight: 10, percent: 25 },
    ]);
  });
});
