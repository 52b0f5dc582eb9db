/** The vocabulary's rules against the Istio sources they cite (see README.md). */
import {
  canonicalRevisionOf,
  canonicalServiceOf,
  expandShortHost,
  GATEWAY_PRINCIPAL,
  hasNoMatch,
  isCatchAllMatch,
  isIstioObject,
  istioKindOf,
  parseServiceHost,
  resolveGatewayRef,
  spiffeId,
  stripPort,
  workloadPrincipal,
} from '.';

test("an Istio kind is looked up by group and kind: the Gateway API Gateway is not Istio's", () => {
  expect(istioKindOf({ apiVersion: 'networking.istio.io/v1beta1', kind: 'Gateway' })?.plural).toBe('gateways');
  expect(istioKindOf({ apiVersion: 'gateway.networking.k8s.io/v1', kind: 'Gateway' })).toBeUndefined();
  expect(istioKindOf({ apiVersion: 'security.istio.io/v1', kind: 'VirtualService' })).toBeUndefined();
  expect(isIstioObject({ apiVersion: 'telemetry.istio.io/v1' })).toBe(true);
  expect(isIstioObject({ apiVersion: 'gateway.networking.k8s.io/v1' })).toBe(false);
});

test('short hosts expand in the object namespace; the names a Service answers to parse back to it', () => {
  expect(expandShortHost('Authors', 'shop')).toBe('authors.shop.svc.cluster.local');
  expect(expandShortHost('authors.shop', 'default')).toBe('authors.shop');
  expect(expandShortHost('*', 'default')).toBe('*');
  for (const host of ['authors', 'authors.shop', 'authors.shop.svc', 'authors.shop.svc.cluster.local']) {
    expect(parseServiceHost(host, 'shop')).toEqual({ name: 'authors', namespace: 'shop' });
  }
  expect(parseServiceHost('api.example.com', 'shop')).toBeUndefined();
  expect(parseServiceHost('*.shop', 'shop')).toBeUndefined();
  expect(stripPort('Web-API:8080')).toBe('web-api');
  expect(stripPort('[::1]:80')).toBe('[::1]');
});

test('the principal AuthorizationPolicy compares is the SPIFFE URI without its scheme', () => {
  expect(workloadPrincipal('default', 'web-api')).toBe('cluster.local/ns/default/sa/web-api');
  expect(spiffeId('default', 'web-api')).toBe(`spiffe://${workloadPrincipal('default', 'web-api')}`);
  expect(GATEWAY_PRINCIPAL).toBe('cluster.local/ns/istio-system/sa/istio-ingressgateway-service-account');
});

test('canonical service and revision fall back label by label', () => {
  expect(canonicalServiceOf({ app: 'web-api', 'app.kubernetes.io/name': 'api' }, 'w')).toBe('api');
  expect(canonicalServiceOf({}, 'web-api-v1')).toBe('web-api-v1');
  expect(canonicalRevisionOf({ version: 'v2' })).toBe('v2');
  expect(canonicalRevisionOf({ version: 'v2', 'service.istio.io/canonical-revision': 'r7' })).toBe('r7');
  expect(canonicalRevisionOf({})).toBe('latest');
});

test('catch-all route (IsCatchAllRoute) vs rule without matches (IST0130)', () => {
  expect(isCatchAllMatch({ uri: { prefix: '/' } })).toBe(true);
  expect(isCatchAllMatch({ uri: { regex: '.*' }, sourceLabels: { version: 'v2' }, port: 80 })).toBe(true);
  expect(isCatchAllMatch({})).toBe(true);
  expect(isCatchAllMatch({ uri: { prefix: '/' }, method: { exact: 'GET' } })).toBe(false);
  expect(isCatchAllMatch({ withoutHeaders: { x: {} } })).toBe(false);
  expect(isCatchAllMatch({ uri: { prefix: '/api' } })).toBe(false);
  expect(hasNoMatch({})).toBe(true);
  expect(hasNoMatch({ match: [] })).toBe(true);
  expect(hasNoMatch({ match: [{ uri: { prefix: '/' } }] })).toBe(false);
});

test('gateway references resolve as resolveGatewayName does', () => {
  expect(resolveGatewayRef('mesh', 'shop')).toBe('mesh');
  expect(resolveGatewayRef('web-gateway', 'shop')).toBe('shop/web-gateway');
  expect(resolveGatewayRef('./web-gateway', 'shop')).toBe('shop/web-gateway');
  expect(resolveGatewayRef('istio-system/web-gateway', 'shop')).toBe('istio-system/web-gateway');
  expect(resolveGatewayRef('web-gateway.istio-system.svc.cluster.local', 'shop')).toBe('istio-system/web-gateway');
  expect(resolveGatewayRef('web-gateway.istio-system', 'shop')).toBe('istio-system/web-gateway');
});
