/**
 * The trace store and Jaeger's query API over it: bounds in count and bytes, Jaeger's JSON shape (references,
 * processes, typed tags, µs times), search by service/operation/tags/lookback, and 4xx answers for bad input.
 */
import http from 'node:http';
import type net from 'node:net';
import type { SpanData } from '../model';
import { handleJaegerApi, parseDurationUs } from './jaeger-api';
import { TraceStore } from './trace-store';

const T1 = '4bf92f3577b34da6a3ce929d0e0e4736';
let next = 1;
function span(overrides: Partial<SpanData> = {}): SpanData {
  const id = (next++).toString(16).padStart(16, '0');
  return {
    traceId: T1,
    spanId: id,
    name: 'web-api.default.svc.cluster.local:9080/web-api/v1/getmultiple*',
    kind: 'server',
    service: 'istio-ingressgateway.istio-system',
    startUs: Date.now() * 1000,
    durationUs: 1500,
    tags: { 'http.status_code': '200', response_flags: '-', component: 'proxy' },
    error: false,
    ...overrides,
  };
}
const traceId = (n: number) => n.toString(16).padStart(32, '0');

describe('TraceStore bounds', () => {
  test('keeps the last maxTraces traces; a trace that gets a new span counts as recent', () => {
    const store = new TraceStore({ maxTraces: 3 });
    for (let n = 1; n <= 3; n++) store.onSpan(span({ traceId: traceId(n) }));
    store.onSpan(span({ traceId: traceId(1) })); // trace 1 is recent again
    store.onSpan(span({ traceId: traceId(4) }));
    expect(store.all().map((t) => t.traceId)).toEqual([traceId(4), traceId(1), traceId(3)]);
    expect(store.stats()).toMatchObject({ traces: 3, spans: 4 });
  });

  test('stays under maxBytes by dropping whole old traces, and trims a single trace that alone is too big', () => {
    const store = new TraceStore({ maxTraces: 1000, maxBytes: 20_000 });
    for (let n = 1; n <= 200; n++) store.onSpan(span({ traceId: traceId(n), tags: { big: 'x'.repeat(500) } }));
    const stats = store.stats();
    expect(stats.bytes).toBeLessThanOrEqual(20_000);
    expect(stats.traces).toBeGreaterThan(10);
    expect(stats.traces).toBeLessThan(200);
    expect(store.all()[0].traceId).toBe(traceId(200));
    for (let i = 0; i < 100; i++) store.onSpan(span({ traceId: traceId(999), tags: { big: 'y'.repeat(500) } }));
    expect(store.stats().bytes).toBeLessThanOrEqual(20_000);
    expect(store.get(traceId(999))!.dropped).toBeGreaterThan(0);
  });

  test('bad bound settings fail with the variable name', () => {
    process.env.MESH_TRACE_MAX_TRACES = 'lots';
    try {
      expect(() => new TraceStore()).toThrow('MESH_TRACE_MAX_TRACES=lots is not a positive whole number');
    } finally {
      delete process.env.MESH_TRACE_MAX_TRACES;
    }
  });
});

describe('Jaeger query API', () => {
  let server: http.Server;
  let base: string;
  const store = new TraceStore();
  const root = span({ spanId: 'aaaaaaaaaaaaaaa1' });
  const router = span({
    spanId: 'aaaaaaaaaaaaaaa2',
    parentSpanId: root.spanId,
    kind: 'client',
    name: 'router outbound|9080|v1|web-api.default.svc.cluster.local egress',
    startUs: root.startUs + 10,
    durationUs: 1000,
  });
  const webApi = span({
    spanId: 'aaaaaaaaaaaaaaa3',
    parentSpanId: router.spanId,
    service: 'web-api.default',
    name: 'web-api.default.svc.cluster.local:9080/*',
    startUs: root.startUs + 20,
    durationUs: 900,
  });
  const failed = span({
    traceId: traceId(77),
    spanId: 'bbbbbbbbbbbbbbb1',
    service: 'web-api.default',
    kind: 'client',
    name: 'authors.default.svc.cluster.local:3000/*',
    tags: { 'http.status_code': '500', response_flags: 'FI', error: true, 'retry.count': 2 },
    error: true,
  });

  beforeAll(async () => {
    for (const s of [root, router, webApi, failed]) store.onSpan(s);
    server = http.createServer((req, res) => {
      if (!handleJaegerApi(store, req, res, new URL(req.url ?? '/', 'http://x'))) res.writeHead(404).end();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });
  const get = async (p: string) => {
    const res = await fetch(base + p);
    return { status: res.status, type: res.headers.get('content-type'), body: (await res.json()) as any };
  };

  test('GET /api/services and the operations of a service', async () => {
    expect((await get('/api/services')).body).toEqual({
      data: ['istio-ingressgateway.istio-system', 'web-api.default'],
      total: 2,
      limit: 0,
      offset: 0,
      errors: null,
    });
    expect((await get('/api/services/web-api.default/operations')).body.data).toEqual([
      'authors.default.svc.cluster.local:3000/*',
      'web-api.default.svc.cluster.local:9080/*',
    ]);
    expect((await get('/api/operations?service=istio-ingressgateway.istio-system&spanKind=client')).body.data).toEqual([
      { name: router.name, spanKind: 'client' },
    ]);
  });

  test('GET /api/traces/{id}: Jaeger UI model (references, processes, typed tags, µs)', async () => {
    const { status, type, body } = await get(`/api/traces/${T1}`);
    expect(status).toBe(200);
    expect(type).toBe('application/json');
    expect(body).toMatchObject({ total: 1, limit: 0, offset: 0, errors: null });
    const [trace] = body.data;
    expect(trace.traceID).toBe(T1);
    expect(trace.warnings).toBeNull();
    expect(trace.processes).toEqual({ p1: { serviceName: 'istio-ingressgateway.istio-system', tags: [] }, p2: { serviceName: 'web-api.default', tags: [] } });
    expect(trace.spans.map((s: any) => s.spanID)).toEqual([root.spanId, router.spanId, webApi.spanId]);
    const [first, second, third] = trace.spans;
    expect(first).toEqual({
      traceID: T1,
      spanID: root.spanId,
      operationName: root.name,
      references: [],
      startTime: root.startUs,
      duration: 1500,
      tags: [
        { key: 'http.status_code', type: 'string', value: '200' },
        { key: 'response_flags', type: 'string', value: '-' },
        { key: 'component', type: 'string', value: 'proxy' },
        { key: 'span.kind', type: 'string', value: 'server' },
      ],
      logs: [],
      processID: 'p1',
      warnings: null,
    });
    expect(second.references).toEqual([{ refType: 'CHILD_OF', traceID: T1, spanID: root.spanId }]);
    expect(third).toMatchObject({ processID: 'p2', references: [{ refType: 'CHILD_OF', spanID: router.spanId }] });
    // Typed values: booleans and integers keep their Jaeger types.
    const failedTrace = (await get(`/api/traces/${traceId(77)}`)).body.data[0];
    expect(failedTrace.spans[0].tags).toEqual(
      expect.arrayContaining([
        { key: 'error', type: 'bool', value: true },
        { key: 'retry.count', type: 'int64', value: 2 },
      ]),
    );
  });

  test('a 64-bit id finds the padded trace; unknown and malformed ids answer 404 and 400 in Jaeger error form', async () => {
    expect((await get(`/api/traces/${traceId(77).slice(16)}`)).body.data[0].traceID).toBe(traceId(77));
    expect(await get(`/api/traces/${traceId(12345)}`)).toMatchObject({ status: 404, body: { data: null, errors: [{ code: 404, msg: 'trace not found' }] } });
    expect(await get('/api/traces/not-an-id')).toMatchObject({
      status: 400,
      body: { errors: [{ code: 400, msg: expect.stringContaining('not a trace id') }] },
    });
  });

  test('GET /api/traces searches by service, operation, tags and lookback', async () => {
    const ids = async (q: string) => ((await get(`/api/traces?${q}`)).body.data as any[]).map((t) => t.traceID);
    expect(await ids('service=web-api.default&limit=20&lookback=1h')).toEqual([traceId(77), T1]);
    expect(await ids('service=istio-ingressgateway.istio-system')).toEqual([T1]);
    expect(await ids(`service=web-api.default&operation=${encodeURIComponent('web-api.default.svc.cluster.local:9080/*')}`)).toEqual([T1]);
    expect(await ids(`service=web-api.default&tags=${encodeURIComponent('{"error":"true"}')}`)).toEqual([traceId(77)]);
    expect(await ids('service=web-api.default&tag=response_flags:FI')).toEqual([traceId(77)]);
    expect(await ids('service=web-api.default&limit=1')).toEqual([traceId(77)]);
    expect(await ids('service=web-api.default&minDuration=1.2ms')).toEqual([traceId(77)]);
    expect(await ids(`service=web-api.default&end=${root.startUs - 10_000_000}&lookback=1h`)).toEqual([]);
    const search = (await get('/api/traces?service=web-api.default&limit=5')).body;
    expect(search).toMatchObject({ total: 2, limit: 5, offset: 0, errors: null });
  });

  test('bad search input: 400 with a message', async () => {
    expect(await get('/api/traces')).toMatchObject({ status: 400, body: { errors: [{ msg: "parameter 'service' is required" }] } });
    expect(await get('/api/traces?service=x&lookback=forever')).toMatchObject({
      status: 400,
      body: { errors: [{ msg: expect.stringContaining("'lookback'") }] },
    });
    expect(await get('/api/traces?service=x&tags=%7Bnope')).toMatchObject({ status: 400 });
    expect(await get('/api/traces?service=x&limit=-3')).toMatchObject({ status: 400 });
    const post = await fetch(`${base}/api/traces`, { method: 'POST' });
    expect(post.status).toBe(405);
  });

  test('GET /api/traces/summary: recent traces without spans, errors only, store bounds', async () => {
    const all = (await get('/api/traces/summary')).body;
    expect(all.data.map((r: any) => r.traceID)).toEqual([traceId(77), T1]);
    expect(all.data[1]).toMatchObject({
      rootService: 'istio-ingressgateway.istio-system',
      rootOperation: root.name,
      spans: 3,
      errors: 0,
      duration: 1500,
      services: ['istio-ingressgateway.istio-system', 'web-api.default'],
    });
    expect(all.store).toMatchObject({ traces: 2, spans: 4, maxTraces: 1000 });
    expect((await get('/api/traces/summary?errors=true')).body.data.map((r: any) => r.traceID)).toEqual([traceId(77)]);
    expect((await get('/api/traces/summary?service=istio-ingressgateway.istio-system')).body.data.map((r: any) => r.traceID)).toEqual([T1]);
    // One edge of the graph: a span of `to` whose parent belongs to `from`.
    expect((await get('/api/traces/summary?from=istio-ingressgateway.istio-system&to=web-api.default')).body.data.map((r: any) => r.traceID)).toEqual([T1]);
    // The graph names apps: `istio-ingressgateway` and `web-api` stand for their `<app>.<namespace>` services.
    expect((await get('/api/traces/summary?from=istio-ingressgateway&to=web-api')).body.data.map((r: any) => r.traceID)).toEqual([T1]);
    expect((await get('/api/traces/summary?to=web')).body.data).toEqual([]);
    expect((await get('/api/traces/summary?to=web-api')).body.data.map((r: any) => r.traceID)).toEqual([T1]);
    expect((await get('/api/traces/summary?from=web-api&to=istio-ingressgateway')).body.data).toEqual([]);
    // Jaeger's search fields: spans per service, an operation, a minimum duration (Go syntax; 400 otherwise).
    expect(all.data[1].serviceSpans).toEqual({ 'istio-ingressgateway.istio-system': 2, 'web-api.default': 1 });
    expect((await get(`/api/traces/summary?operation=${encodeURIComponent(root.name)}`)).body.data.map((r: any) => r.traceID)).toEqual([T1]);
    expect((await get(`/api/traces/summary?service=web-api&operation=${encodeURIComponent(root.name)}`)).body.data).toEqual([]);
    expect((await get('/api/traces/summary?minDuration=1.4ms')).body.data.map((r: any) => r.traceID)).toContain(T1);
    expect((await get('/api/traces/summary?minDuration=1.6ms')).body.data.map((r: any) => r.traceID)).not.toContain(T1);
    expect(await get('/api/traces/summary?minDuration=soon')).toMatchObject({ status: 400 });
  });

  test('durations in Go syntax', () => {
    expect(parseDurationUs('1h', 'x')).toBe(3600e6);
    expect(parseDurationUs('1h30m', 'x')).toBe(5400e6);
    expect(parseDurationUs('2d', 'x')).toBe(172800e6);
    expect(parseDurationUs('1.5ms', 'x')).toBe(1500);
    expect(() => parseDurationUs('1 h', 'x')).toThrow();
  });
});
