/**
 * Spans per proxied hop, through real HTTP: the gateway's server + router spans, a sidecar's client span, the
 * callee's server span, the headers the application receives (W3C and B3), sampling and the incoming decision,
 * faults and retries marked as errors.
 */
import type { HTTPRoute } from '../model';
import { seededRandom } from './random';
import {
  destinationRule,
  gateway,
  send,
  service,
  startMesh,
  status,
  virtualService,
  workload,
  type MeshFixture,
  type UpstreamBehaviour,
  echo,
} from './test-harness';
import { readTraceContext } from './trace-context';
import { createTracing, type SpanData } from './tracing';

const authors = workload('authors', 'authors', 'v1', { 'app.kubernetes.io/name': 'authors', 'app.kubernetes.io/version': '1' });
const webApi = workload('web-api-v1', 'web-api', 'v1', { 'app.kubernetes.io/name': 'web-api' });
const services = [service('authors', 3000), service('web-api', 9080)];
const TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';
const PARENT = '00f067aa0ba902b7';

let mesh: MeshFixture;
let spans: SpanData[];
afterEach(async () => {
  await mesh?.close();
});

async function setup(options: { http?: HTTPRoute[]; sidecar?: boolean; sampling?: number; behaviour?: UpstreamBehaviour; vs?: boolean } = {}) {
  spans = [];
  const source = options.sidecar ? ({ kind: 'sidecar', workload: webApi } as const) : ({ kind: 'gateway', gatewayName: 'web-gateway' } as const);
  const rules = options.http ?? [{ name: 'authors-route', route: [{ destination: { host: 'authors', subset: 'v1', port: { number: 3000 } } }] }];
  mesh = await startMesh({
    replicas: [{ id: 'authors-0', workload: authors }],
    source,
    random: seededRandom(3),
    tracing: createTracing(source, { samplingPercent: options.sampling ?? 100, sink: { onSpan: (span) => spans.push(span) } }),
    state: {
      services,
      istio: {
        gateways: [gateway('web-gateway')],
        virtualServices:
          options.vs === false
            ? []
            : [virtualService('authors', options.sidecar ? { hosts: ['authors'], http: rules } : { hosts: ['*'], gateways: ['web-gateway'], http: rules })],
        destinationRules: [destinationRule('authors', { host: 'authors', subsets: [{ name: 'v1', labels: { version: 'v1' } }] })],
      },
    },
  });
  if (options.behaviour) mesh.upstream('authors-0').behaviour = options.behaviour;
}

describe('gateway hop', () => {
  test('a known traceparent: gateway server span → router client span → callee server span, ids in the headers sent on', async () => {
    await setup();
    const res = await mesh.get('/api/v1/getauthor?name=x', {
      headers: { traceparent: `00-${TRACE}-${PARENT}-01`, tracestate: 'vendor=1', 'x-request-id': 'req-1' },
    });
    expect(res.status).toBe(200);
    expect(spans).toHaveLength(3);
    const [router, inbound, edge] = [
      spans.find((s) => s.name.startsWith('router ')),
      spans.find((s) => s.service === 'authors.default'),
      spans.find((s) => s.kind === 'server' && s.service === 'istio-ingressgateway.istio-system'),
    ];
    expect(edge).toMatchObject({ traceId: TRACE, parentSpanId: PARENT, name: 'authors.default.svc.cluster.local:3000/*', error: false });
    expect(router).toMatchObject({
      traceId: TRACE,
      parentSpanId: edge!.spanId,
      kind: 'client',
      service: 'istio-ingressgateway.istio-system',
      name: 'router outbound|3000|v1|authors.default.svc.cluster.local egress',
    });
    expect(inbound).toMatchObject({ traceId: TRACE, parentSpanId: router!.spanId, kind: 'server', name: 'authors.default.svc.cluster.local:3000/*' });
    expect(edge!.tags).toMatchObject({
      // The gateway replaces an external client's x-request-id (see dataplane README, Headers).
      'guid:x-request-id': expect.stringMatching(/^[0-9a-f-]{36}$/),
      'http.url': 'http://127.0.0.1:' + mesh.port + '/api/v1/getauthor?name=x',
      'http.method': 'GET',
      'http.status_code': '200',
      response_flags: '-',
      upstream_cluster: 'outbound|3000|v1|authors.default.svc.cluster.local',
      route_name: 'authors-route',
      component: 'proxy',
      'istio.canonical_service': 'istio-ingressgateway',
      node_id: expect.stringMatching(/^router~/),
    });
    expect(inbound!.tags).toMatchObject({
      'istio.canonical_service': 'authors',
      'istio.canonical_revision': '1',
      node_id: expect.stringContaining('authors-0.default'),
      'http.status_code': '200',
    });
    // The application sees the callee's server span as its parent, in W3C and B3 form, and the tracestate.
    const seen = mesh.upstream('authors-0').received[0].headers;
    expect(seen.traceparent).toBe(`00-${TRACE}-${inbound!.spanId}-01`);
    expect(seen.tracestate).toBe('vendor=1');
    expect(seen).toMatchObject({ 'x-b3-traceid': TRACE, 'x-b3-spanid': inbound!.spanId, 'x-b3-parentspanid': router!.spanId, 'x-b3-sampled': '1' });
    expect(edge!.startUs).toBeLessThanOrEqual(router!.startUs);
    expect(edge!.durationUs).toBeGreaterThanOrEqual(router!.durationUs);
  });

  test('the operation name follows the matched uri (prefix*, exact path) as Istio decorates routes', async () => {
    await setup({
      http: [
        {
          match: [{ uri: { prefix: '/web-api/v1/getmultiple' } }, { uri: { exact: '/one' } }],
          route: [{ destination: { host: 'authors', port: { number: 3000 } } }],
        },
        {
          route: [
            { destination: { host: 'authors', subset: 'v1' }, weight: 50 },
            { destination: { host: 'authors' }, weight: 50 },
          ],
        },
      ],
    });
    await mesh.get('/web-api/v1/getmultiple');
    await mesh.get('/one');
    await mesh.get('/else');
    const edges = spans.filter((s) => s.kind === 'server' && s.service === 'istio-ingressgateway.istio-system').map((s) => s.name);
    // Several destinations: the VirtualService name and the listener port stand in for the host.
    expect(edges).toEqual(['authors.default.svc.cluster.local:3000/web-api/v1/getmultiple*', 'authors.default.svc.cluster.local:3000/one', 'authors:80/*']);
  });

  test('retries: one router span per try, the failed one marked as error, retry.count on the second', async () => {
    await setup({
      http: [{ retries: { attempts: 2, retryOn: '5xx' }, route: [{ destination: { host: 'authors' } }] }],
      behaviour: (req, res, upstream) => (upstream.hits <= 1 ? status(503)(req, res, upstream) : echo(req, res, upstream)),
    });
    const res = await mesh.get('/x', { headers: { traceparent: `00-${TRACE}-${PARENT}-01` } });
    expect(res.status).toBe(200);
    const routers = spans.filter((s) => s.name.startsWith('router '));
    expect(routers.map((s) => [s.tags['http.status_code'], s.error, s.tags['retry.count']])).toEqual([
      ['503', true, undefined],
      ['200', false, 1],
    ]);
    const inbound = spans.filter((s) => s.service === 'authors.default');
    expect(inbound.map((s) => s.parentSpanId)).toEqual(routers.map((s) => s.spanId));
    // The second try carried its own ids.
    const received = mesh.upstream('authors-0').received;
    expect(received.at(-1)!.headers.traceparent).toBe(`00-${TRACE}-${inbound[1].spanId}-01`);
  });

  test('a fault abort: the proxy span is an error with flag FI; no try, so no router or callee span', async () => {
    await setup({ http: [{ fault: { abort: { httpStatus: 500, percentage: { value: 100 } } }, route: [{ destination: { host: 'authors' } }] }] });
    const res = await mesh.get('/x');
    expect(res.status).toBe(500);
    expect(spans).toHaveLength(1);
    expect(spans[0]).toMatchObject({ error: true, tags: { 'http.status_code': '500', response_flags: 'FI', error: true } });
    expect(mesh.upstream('authors-0').hits).toBe(0);
  });

  test('a callee that refuses connections: router spans with flag UF and no callee span', async () => {
    await setup({ http: [{ retries: { attempts: 1, retryOn: 'connect-failure' }, route: [{ destination: { host: 'authors' } }] }] });
    await mesh.upstream('authors-0').close();
    const res = await mesh.get('/x');
    expect(res.status).toBe(503);
    expect(spans.filter((s) => s.name.startsWith('router ')).map((s) => s.tags.response_flags)).toEqual(['UF', 'UF']);
    expect(spans.filter((s) => s.service === 'authors.default')).toHaveLength(0);
    expect(spans.find((s) => s.kind === 'server')).toMatchObject({ error: true, tags: { 'http.status_code': '503', response_flags: 'UF,URX' } });
  });
});

describe('sidecar hop', () => {
  test('the caller sidecar client span and the callee server span; B3 single read and written back', async () => {
    await setup({ sidecar: true, vs: false });
    const b3Trace = 'a3ce929d0e0e4736';
    await send(mesh.port, 'http://authors:3000/api/v1/getauthor?name=x', { headers: { b3: `${b3Trace}-${PARENT}-1` } });
    expect(spans).toHaveLength(2);
    const client = spans.find((s) => s.kind === 'client')!;
    const server = spans.find((s) => s.kind === 'server')!;
    const traceId = `0000000000000000${b3Trace}`;
    expect(client).toMatchObject({ traceId, parentSpanId: PARENT, service: 'web-api.default', name: 'authors.default.svc.cluster.local:3000/*' });
    expect(client.tags).toMatchObject({ 'istio.canonical_service': 'web-api', upstream_cluster: 'outbound|3000||authors.default.svc.cluster.local' });
    expect(server).toMatchObject({ traceId, parentSpanId: client.spanId, service: 'authors.default' });
    const seen = mesh.upstream('authors-0').received[0].headers;
    expect(seen.b3).toBe(`${traceId}-${server.spanId}-1-${client.spanId}`);
    expect(seen.traceparent).toBe(`00-${traceId}-${server.spanId}-01`);
  });
});

describe('sampling', () => {
  test('an incoming unsampled decision is honoured: no spans, headers passed on untouched', async () => {
    await setup();
    await mesh.get('/x', { headers: { traceparent: `00-${TRACE}-${PARENT}-00` } });
    expect(spans).toHaveLength(0);
    expect(mesh.upstream('authors-0').received[0].headers.traceparent).toBe(`00-${TRACE}-${PARENT}-00`);
  });

  test('an incoming sampled flag wins over 0 % sampling', async () => {
    await setup({ sampling: 0 });
    await mesh.get('/x', { headers: { 'x-b3-traceid': TRACE, 'x-b3-spanid': PARENT, 'x-b3-sampled': '1' } });
    expect(spans.length).toBe(3);
  });

  test('0 % and no context: nothing recorded, the "not sampled" decision travels to the next hops', async () => {
    await setup({ sampling: 0 });
    await mesh.get('/x');
    expect(spans).toHaveLength(0);
    const seen = mesh.upstream('authors-0').received[0].headers;
    expect(seen.traceparent).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-00$/);
    expect(seen['x-b3-sampled']).toBe('0');
  });

  test('100 % and no context: a new trace id per request', async () => {
    await setup();
    await mesh.get('/x');
    await mesh.get('/x');
    const ids = new Set(spans.map((s) => s.traceId));
    expect(ids.size).toBe(2);
    for (const id of ids) expect(id).toMatch(/^[0-9a-f]{32}$/);
  });
});

describe('readTraceContext', () => {
  test('W3C first, then B3 single, then B3 multi; malformed values are ignored', () => {
    expect(readTraceContext({ traceparent: `00-${TRACE}-${PARENT}-01`, b3: '0' })).toMatchObject({ traceId: TRACE, parentId: PARENT, sampled: true });
    expect(readTraceContext({ traceparent: `ff-${TRACE}-${PARENT}-01`, 'x-b3-traceid': TRACE, 'x-b3-spanid': PARENT })).toMatchObject({
      traceId: TRACE,
      sampled: undefined,
    });
    expect(readTraceContext({ traceparent: `00-${'0'.repeat(32)}-${PARENT}-01` })).toBeUndefined();
    expect(readTraceContext({ traceparent: 'garbage', b3: `${TRACE}-${PARENT}-0` })).toMatchObject({ traceId: TRACE, sampled: false, b3Single: true });
    expect(readTraceContext({ b3: 'd' })).toEqual({ sampled: true });
    expect(readTraceContext({ 'x-b3-sampled': '0' })).toEqual({ sampled: false });
    expect(readTraceContext({ 'x-b3-traceid': 'xyz' })).toBeUndefined();
    // A future version may append fields; version 00 may not.
    expect(readTraceContext({ traceparent: `01-${TRACE}-${PARENT}-01-extra` })).toMatchObject({ traceId: TRACE });
    expect(readTraceContext({ traceparent: `00-${TRACE}-${PARENT}-01-extra` })).toBeUndefined();
  });
});
