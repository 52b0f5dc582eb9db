/**
 * Telemetry aggregation: Istio-labelled Prometheus series and the Kiali-like graph built from RequestRecords.
 */
import type { IstioConfig, RequestRecord, Workload } from '../model';
import { canonicalRevision, canonicalService, histogramQuantile, ISTIO_DEFAULT_BUCKETS, MeshTelemetry, serviceBadges, shortServiceName } from '.';

const workload = (name: string, app: string, version: string): Workload => ({
  name,
  namespace: 'default',
  labels: { app, version },
  app,
  version,
  serviceAccount: app,
  replicas: 1,
});
const workloads = [workload('web-api-v1', 'web-api', 'v1'), workload('web-api-v2', 'web-api', 'v2'), workload('articles', 'articles', 'v1')];

const record = (overrides: Partial<RequestRecord>): RequestRecord => ({
  reporter: 'source',
  sourceWorkload: 'istio-ingressgateway',
  sourceApp: 'istio-ingressgateway',
  sourceVersion: 'unknown',
  destinationWorkload: 'web-api-v1',
  destinationApp: 'web-api',
  destinationVersion: 'v1',
  destinationService: 'web-api.default.svc.cluster.local',
  destinationServiceName: 'web-api',
  responseCode: 200,
  responseFlags: '-',
  requestProtocol: 'http',
  durationMs: 10,
  ...overrides,
});

const noIstio: IstioConfig = { gateways: [], virtualServices: [], destinationRules: [] };
const inputs = (istio = noIstio) => ({ workloads, serviceNames: ['web-api', 'articles'], istio, readyCount: () => ({ ready: 1, total: 1 }) });

/** A telemetry on a fixed clock, fed `records` at that instant. */
function telemetryWith(records: readonly RequestRecord[], at = 1_000_000): MeshTelemetry {
  const telemetry = new MeshTelemetry('default', () => at);
  for (const r of records) telemetry.record(r);
  return telemetry;
}

describe('graph aggregation', () => {
  const records = [
    ...Array.from({ length: 8 }, (_, i) => record({ durationMs: i + 1 })),
    record({ destinationWorkload: 'web-api-v2', destinationVersion: 'v2', durationMs: 100 }),
    record({ destinationWorkload: 'web-api-v2', destinationVersion: 'v2', responseCode: 503, responseFlags: 'UH', durationMs: 200 }),
    record({
      sourceWorkload: 'web-api-v1',
      sourceApp: 'web-api',
      sourceVersion: 'v1',
      destinationWorkload: 'articles',
      destinationApp: 'articles',
      destinationService: 'articles.default.svc.cluster.local',
      destinationServiceName: 'articles',
    }),
  ];
  // On a whole second the 10 s window spans exactly 10 s.
  const graph = telemetryWith(records).graph(inputs(), 10_000);
  const edge = (id: string) => graph.edges.find((e) => e.id === id)!;

  it('draws caller → service → workload edges with rate, share, errors, mTLS share and percentiles', () => {
    // Percentiles as Kiali gets them from Prometheus: histogram_quantile over Istio's buckets. The gateway's 10
    // durations 1..8, 100, 200 ms fill le=1: 1, (1,5]: 4, (5,10]: 3, (50,100]: 1, (100,250]: 1.
    // p50: rank 5 ends (1,5] → 5. p99: rank 9.9 lies in (100,250], 0.9 of its one request → 100 + 150 × 0.9 = 235.
    // The UH request never left the gateway: the 9 that reached a workload all went over mTLS.
    expect(edge('workload:istio-ingressgateway->service:web-api')).toMatchObject({
      requests: 10,
      rate: 1,
      httpPercentReq: 100,
      errorPercent: 10,
      mtlsPercent: 100,
      p50: 5,
      p99: 235,
    });
    // v1's 8 durations 1..8: p50 rank 4 → 1 + 4 × 3/4 = 4; p95 rank 7.6 → 5 + 5 × 2.6/3 = 9.33.
    expect(edge('service:web-api->workload:web-api-v1')).toMatchObject({
      requests: 8,
      httpPercentReq: 80,
      errorPercent: 0,
      mtlsPercent: 100,
      p50: 4,
      p95: 9.33,
    });
    expect(edge('service:web-api->workload:web-api-v2')).toMatchObject({
      requests: 2,
      httpPercentReq: 20,
      errorPercent: 50,
      mtlsPercent: 100,
      responseCodes: { 200: 1, 503: 1 },
      responseFlags: { '-': 1, UH: 1 },
    });
    expect(edge('workload:web-api-v1->service:articles').requests).toBe(1);
  });

  it('gives the version share per service', () => {
    expect(graph.versionShares).toEqual([
      { service: 'web-api', requests: 10, versions: { v1: 80, v2: 20 } },
      { service: 'articles', requests: 1, versions: { v1: 100 } },
    ]);
  });

  it('lists the version shares in version order, whichever version was called first', () => {
    const v2First = [record({ destinationWorkload: 'web-api-v2', destinationVersion: 'v2' }), record({})];
    const shares = telemetryWith(v2First)
      .graph(inputs(), 10_000)
      .versionShares.find((s) => s.service === 'web-api')!;
    expect(Object.keys(shares.versions)).toEqual(['v1', 'v2']);
  });

  it('shows every workload and service as a node even without traffic', () => {
    expect(graph.nodes.map((n) => n.id)).toEqual(
      expect.arrayContaining(['workload:web-api-v2', 'workload:articles', 'service:articles', 'workload:istio-ingressgateway']),
    );
  });

  it('does not draw a workload edge for requests that reached no workload (no route, no healthy upstream)', () => {
    const g = telemetryWith([record({ destinationWorkload: 'unknown', responseCode: 503, responseFlags: 'UH' })]).graph(inputs(), 10_000);
    expect(g.edges.map((e) => e.id)).toEqual(['workload:istio-ingressgateway->service:web-api']);
    expect(g.edges[0]).toMatchObject({ requests: 1, errorPercent: 100, mtlsPercent: 0 });
  });

  it('interpolates percentiles inside a bucket: a load spread evenly over (10, 25] ms gives its own quantiles back', () => {
    // 1000 requests at 10.015, 10.030, ... 25 ms: uniform in one Istio bucket, so the linear interpolation
    // histogram_quantile assumes is exact up to the 15 µs spacing.
    const spread = Array.from({ length: 1000 }, (_, i) => record({ durationMs: 10 + (15 * (i + 1)) / 1000 }));
    const e = telemetryWith(spread)
      .graph(inputs(), 10_000)
      .edges.find((x) => x.id === 'service:web-api->workload:web-api-v1')!;
    expect(e).toMatchObject({ requests: 1000, p50: 17.5, p95: 24.25, p99: 24.85 });
  });

  it('answers in the lowest bucket from 0, and with the highest finite bound for the +Inf bucket', () => {
    expect(histogramQuantile(0.5, [4, ...Array(19).fill(0)])).toBe(0.25);
    const counts = Array(20).fill(0);
    counts[19] = 1; // one request over 3,600,000 ms
    expect(histogramQuantile(0.99, counts)).toBe(3_600_000);
    expect(histogramQuantile(0.5, Array(20).fill(0))).toBeNaN();
  });

  it('counts the current second and the whole seconds of the window before it; rates per the time they span', () => {
    let now = 1_000_000;
    const telemetry = new MeshTelemetry('default', () => now);
    for (let second = 0; second < 12; second++) {
      now = 1_000_000 + second * 1000 + 200;
      telemetry.record(record({}));
    }
    now = 1_011_500; // half-way through the 12th second: the 10 s window holds seconds 2..11
    const g = telemetry.graph(inputs(), 10_000);
    expect(g.windowSeconds).toBe(10);
    expect(g.edges.find((e) => e.id === 'workload:istio-ingressgateway->service:web-api')).toMatchObject({
      requests: 11,
      rate: Math.round((11 / 10.5) * 100) / 100,
    });
  });

  it('keeps the last 60 s only, reusing the oldest second for the newest', () => {
    let now = 1_000_000;
    const telemetry = new MeshTelemetry('default', () => now);
    telemetry.record(record({ responseCode: 503, responseFlags: 'URX', durationMs: 200 }));
    now += 61_000; // 61 slots: this second takes the first one's place
    telemetry.record(record({ destinationWorkload: 'web-api-v2', destinationVersion: 'v2' }));
    telemetry.record(record({ durationMs: 3 }));
    const g = telemetry.graph(inputs(), 60_000);
    expect(g.edges.find((e) => e.id === 'service:web-api->workload:web-api-v2')?.requests).toBe(1);
    expect(g.edges.find((e) => e.id === 'service:web-api->workload:web-api-v1')).toMatchObject({
      requests: 1,
      responseCodes: { 200: 1 },
      responseFlags: { '-': 1 },
      p99: 4.96,
    });
  });

  it('counts the mTLS share over requests a destination sidecar reported, as Kiali does: a fault abort is not a plaintext request', () => {
    // Kiali's security appender divides reporter="destination" requests by connection_security_policy; an abort
    // made by web-api's sidecar never reached authors' sidecar, so it is in neither count (istio/faults/authors-abort-50.yaml).
    const fromWebApi = {
      sourceWorkload: 'web-api-v1',
      sourceApp: 'web-api',
      sourceVersion: 'v1',
      destinationService: 'authors.default.svc.cluster.local',
      destinationServiceName: 'authors',
    };
    const reached = record({ ...fromWebApi, destinationWorkload: 'authors', destinationApp: 'authors' });
    const aborted = record({
      ...fromWebApi,
      destinationWorkload: 'unknown',
      destinationApp: 'unknown',
      destinationVersion: 'unknown',
      responseCode: 500,
      responseFlags: 'FI',
    });
    const g = telemetryWith([reached, aborted, reached, aborted]).graph(inputs(), 10_000);
    expect(g.edges.find((e) => e.id === 'workload:web-api-v1->service:authors')).toMatchObject({ requests: 4, errorPercent: 50, mtlsPercent: 100 });
    expect(g.edges.find((e) => e.id === 'service:authors->workload:authors')).toMatchObject({ requests: 2, mtlsPercent: 100 });
  });

  it('counts each retried try a destination sidecar reported in the mTLS share, as the destination reporter does', () => {
    // Two tries, the first to a workload that disables mTLS (plaintext), the retry to one in the default mode.
    const plaintext = workload('web-api-v2', 'web-api', 'v2');
    const telemetry = new MeshTelemetry('default', () => 1_000_000);
    telemetry.setMtlsModes((w) => (w === plaintext ? 'DISABLE' : 'PERMISSIVE'));
    telemetry.record(record({ retriedTries: [{ destination: plaintext, responseCode: 503, durationMs: 1 }] }));
    telemetry.record(record({ destinationWorkload: 'web-api-v2', destinationVersion: 'v2', destination: plaintext }));
    expect(telemetry.graph(inputs(), 10_000).edges.find((e) => e.id === 'workload:istio-ingressgateway->service:web-api')).toMatchObject({
      requests: 2,
      mtlsPercent: 33.3,
    });
  });

  it('keeps the window across a config change (label sets re-bound): a DISABLE peer authentication shows in the mTLS share', () => {
    const telemetry = telemetryWith([record({})]);
    telemetry.setMtlsModes(() => 'DISABLE');
    telemetry.record(record({}));
    expect(telemetry.graph(inputs(), 10_000).edges.find((e) => e.id === 'service:web-api->workload:web-api-v1')).toMatchObject({
      requests: 2,
      mtlsPercent: 50,
    });
  });
});

describe('service badges from the active Istio objects', () => {
  const istio: IstioConfig = {
    gateways: [],
    virtualServices: [
      {
        source: { file: 'a.yaml' },
        object: {
          apiVersion: 'networking.istio.io/v1',
          kind: 'VirtualService',
          metadata: { name: 'web-ingress' },
          spec: {
            hosts: ['*'],
            http: [
              {
                route: [
                  { destination: { host: 'web-api', subset: 'v1' }, weight: 80 },
                  { destination: { host: 'web-api', subset: 'v2' }, weight: 20 },
                ],
              },
            ],
          },
        },
      },
      {
        source: { file: 'b.yaml' },
        object: {
          apiVersion: 'networking.istio.io/v1',
          kind: 'VirtualService',
          metadata: { name: 'authors' },
          spec: {
            hosts: ['authors'],
            http: [
              {
                fault: { abort: { httpStatus: 500, percentage: { value: 100 } } },
                timeout: '1s',
                retries: { attempts: 2 },
                route: [{ destination: { host: 'authors.default.svc.cluster.local' } }],
              },
            ],
          },
        },
      },
    ],
    destinationRules: [
      {
        source: { file: 'c.yaml' },
        object: {
          apiVersion: 'networking.istio.io/v1',
          kind: 'DestinationRule',
          metadata: { name: 'web-api' },
          spec: { host: 'web-api', trafficPolicy: { connectionPool: { tcp: { maxConnections: 1 } } } },
        },
      },
    ],
  };

  it('marks traffic shifting, faults, timeouts, retries and circuit breakers on the services they affect', () => {
    const badges = serviceBadges(istio);
    expect([...badges.get('web-api')!.badges].sort()).toEqual(['circuitBreaker', 'trafficShifting', 'virtualService']);
    expect([...badges.get('authors')!.badges].sort()).toEqual(['faultInjection', 'retry', 'timeout', 'virtualService']);
    expect([...badges.get('authors')!.virtualServices]).toEqual(['authors']);
  });

  it('does not call a single weighted destination traffic shifting', () => {
    const single: IstioConfig = {
      ...noIstio,
      virtualServices: [
        {
          ...istio.virtualServices[0],
          object: {
            ...istio.virtualServices[0].object,
            spec: {
              hosts: ['*'],
              http: [
                {
                  route: [
                    { destination: { host: 'web-api', subset: 'v1' }, weight: 100 },
                    { destination: { host: 'web-api', subset: 'v2' }, weight: 0 },
                  ],
                },
              ],
            },
          },
        },
      ],
    };
    expect(serviceBadges(single).get('web-api')!.badges.has('trafficShifting')).toBe(false);
  });

  it('shortens cluster-local host names', () => {
    expect(['authors', 'authors.default', 'authors.default.svc', 'authors.default.svc.cluster.local'].map(shortServiceName)).toEqual(Array(4).fill('authors'));
  });
});

describe('MeshTelemetry', () => {
  it('exports istio_requests_total and istio_request_duration_milliseconds with Istio labels', async () => {
    const telemetry = new MeshTelemetry();
    telemetry.record(record({ durationMs: 3 }));
    telemetry.record(record({ durationMs: 7 }));
    const text = await telemetry.metrics();
    expect(text).toMatch(
      /^istio_requests_total\{reporter="source",source_workload="istio-ingressgateway",source_workload_namespace="istio-system",.*destination_workload="web-api-v1".*destination_version="v1",destination_service="web-api.default.svc.cluster.local",destination_service_name="web-api".*response_code="200",response_flags="-",request_protocol="http"\} 2$/m,
    );
    expect(text).toMatch(/^istio_request_duration_milliseconds_bucket\{le="5",.*destination_workload="web-api-v1".*\} 1$/m);
    expect(text).toMatch(/^istio_request_duration_milliseconds_sum\{.*\} 10$/m);
    expect(text).toMatch(/^mesh_process_resident_memory_bytes /m);
    // The destination side reports the same requests, as a destination sidecar does.
    expect(text).toMatch(/^istio_requests_total\{reporter="destination",source_workload="istio-ingressgateway",.*destination_workload="web-api-v1".*\} 2$/m);
  });

  it('has no destination-side series for requests answered by the proxy itself (fault abort, no healthy upstream)', async () => {
    const telemetry = new MeshTelemetry();
    telemetry.record(record({ responseCode: 500, responseFlags: 'FI' }));
    telemetry.record(record({ destinationWorkload: 'unknown', responseCode: 503, responseFlags: 'UH' }));
    const text = await telemetry.metrics();
    expect(text).toMatch(/^istio_requests_total\{reporter="source",.*response_flags="FI".*\} 1$/m);
    expect(text).not.toMatch(/^istio_requests_total\{reporter="destination"/m);
  });
});

describe('Istio standard labels', () => {
  const labelled = (labels: Record<string, string>, name = 'w'): Workload => ({
    name,
    namespace: 'default',
    labels,
    app: labels.app ?? name,
    version: labels.version ?? 'unknown',
    serviceAccount: 'sa',
    replicas: 1,
  });
  // A metric line's labels as an object.
  const seriesOf = (text: string, metric: string, match: Record<string, string>): Array<{ labels: Record<string, string>; value: number }> =>
    text
      .split('\n')
      .filter((line) => line.startsWith(`${metric}{`))
      .map((line) => {
        const close = line.lastIndexOf('}');
        const labels = Object.fromEntries([...line.slice(metric.length + 1, close).matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((m) => [m[1], m[2]]));
        return { labels, value: Number(line.slice(close + 2)) };
      })
      .filter((s) => Object.entries(match).every(([k, v]) => s.labels[k] === v));

  it('derives canonical service and revision in Istio order of precedence', () => {
    expect(canonicalService(labelled({ 'service.istio.io/canonical-name': 'c', 'app.kubernetes.io/name': 'k', app: 'a' }))).toBe('c');
    expect(canonicalService(labelled({ 'app.kubernetes.io/name': 'k', app: 'a' }))).toBe('k');
    expect(canonicalService(labelled({ app: 'a' }))).toBe('a');
    expect(canonicalService(labelled({}, 'deploy'))).toBe('deploy');
    expect(canonicalRevision(labelled({ 'service.istio.io/canonical-revision': 'r', 'app.kubernetes.io/version': '2', version: 'v1' }))).toBe('r');
    expect(canonicalRevision(labelled({ 'app.kubernetes.io/version': '2', version: 'v1' }))).toBe('2');
    expect(canonicalRevision(labelled({ version: 'v1' }))).toBe('v1');
    expect(canonicalRevision(labelled({}))).toBe('latest');
  });

  const webApi = {
    ...labelled({ app: 'web-api', version: 'v1', 'app.kubernetes.io/name': 'web-api', 'app.kubernetes.io/version': 'v1' }, 'web-api-v1'),
    serviceAccount: 'web-api',
  };
  const authors = { ...labelled({ app: 'authors', version: 'v1' }, 'authors'), serviceAccount: 'authors' };
  const call = (overrides: Partial<RequestRecord> = {}): RequestRecord =>
    record({
      source: webApi,
      sourceWorkload: 'web-api-v1',
      sourceApp: 'web-api',
      sourceVersion: 'v1',
      destination: authors,
      destinationWorkload: 'authors',
      destinationApp: 'authors',
      destinationVersion: 'v1',
      destinationService: 'authors.default.svc.cluster.local',
      destinationServiceName: 'authors',
      requestBytes: 120,
      responseBytes: 700,
      ...overrides,
    });

  it('labels both reporters as Istio does under STRICT mTLS', async () => {
    const telemetry = new MeshTelemetry();
    telemetry.setMtlsModes(() => 'STRICT');
    telemetry.record(call());
    const text = await telemetry.metrics();
    const common = {
      source_workload: 'web-api-v1',
      source_workload_namespace: 'default',
      source_principal: 'spiffe://cluster.local/ns/default/sa/web-api',
      source_app: 'web-api',
      source_version: 'v1',
      source_canonical_service: 'web-api',
      source_canonical_revision: 'v1',
      source_cluster: 'Kubernetes',
      destination_workload: 'authors',
      destination_workload_namespace: 'default',
      destination_principal: 'spiffe://cluster.local/ns/default/sa/authors',
      destination_app: 'authors',
      destination_version: 'v1',
      destination_service: 'authors.default.svc.cluster.local',
      destination_service_name: 'authors',
      destination_service_namespace: 'default',
      destination_canonical_service: 'authors',
      destination_canonical_revision: 'v1',
      destination_cluster: 'Kubernetes',
      request_protocol: 'http',
      response_code: '200',
      response_flags: '-',
      grpc_response_status: '',
    };
    expect(seriesOf(text, 'istio_requests_total', {})).toEqual([
      { labels: { reporter: 'source', ...common, connection_security_policy: 'unknown' }, value: 1 },
      { labels: { reporter: 'destination', ...common, connection_security_policy: 'mutual_tls' }, value: 1 },
    ]);
    expect(seriesOf(text, 'istio_request_bytes_sum', { reporter: 'source' })[0].value).toBe(120);
    expect(seriesOf(text, 'istio_response_bytes_bucket', { reporter: 'destination', le: '500' })[0].value).toBe(0);
    expect(seriesOf(text, 'istio_response_bytes_bucket', { reporter: 'destination', le: '1000' })[0].value).toBe(1);
    expect(seriesOf(text, 'istio_request_duration_milliseconds_bucket', { reporter: 'source' }).map((s) => s.labels.le)).toEqual([
      '0.5',
      '1',
      '5',
      '10',
      '25',
      '50',
      '100',
      '250',
      '500',
      '1000',
      '2500',
      '5000',
      '10000',
      '30000',
      '60000',
      '300000',
      '600000',
      '1800000',
      '3600000',
      '+Inf',
    ]);
  });

  it('reports plaintext (none, unknown principals) where the destination disables mTLS, and unknown peers for local replies', async () => {
    const telemetry = new MeshTelemetry();
    telemetry.setMtlsModes((workload) => (workload.name === 'authors' ? 'DISABLE' : 'STRICT'));
    telemetry.record(call());
    telemetry.record(call({ destination: undefined, destinationWorkload: 'unknown', responseCode: 500, responseFlags: 'FI' }));
    const text = await telemetry.metrics();
    expect(
      seriesOf(text, 'istio_requests_total', { reporter: 'destination' }).map((s) => [
        s.labels.connection_security_policy,
        s.labels.source_principal,
        s.labels.destination_principal,
      ]),
    ).toEqual([['none', 'unknown', 'unknown']]);
    expect(seriesOf(text, 'istio_requests_total', { reporter: 'source', response_flags: 'FI' })[0].labels).toMatchObject({
      destination_workload: 'unknown',
      destination_canonical_service: 'unknown',
      destination_canonical_revision: 'latest',
      destination_service: 'authors.default.svc.cluster.local',
      destination_service_name: 'authors',
      destination_service_namespace: 'unknown',
      destination_cluster: 'unknown',
    });
  });

  it('counts retried tries for the destination reporter only', async () => {
    const telemetry = new MeshTelemetry();
    telemetry.record(call({ retriedTries: [{ destination: authors, responseCode: 503, durationMs: 2 }] }));
    const text = await telemetry.metrics();
    expect(seriesOf(text, 'istio_requests_total', { reporter: 'source' }).map((s) => [s.labels.response_code, s.value])).toEqual([['200', 1]]);
    expect(seriesOf(text, 'istio_requests_total', { reporter: 'destination' }).map((s) => [s.labels.response_code, s.value])).toEqual([
      ['200', 1],
      ['503', 1],
    ]);
  });

  it("shows on the graph what Kiali's histogram_quantile gives over the exported source-reporter buckets", async () => {
    const telemetry = new MeshTelemetry('default', () => 1_000_000);
    // Durations over several buckets: 0.3–60 ms, a few slow ones.
    for (let i = 0; i < 500; i++) telemetry.record(call({ durationMs: 0.3 + (i % 50) * 1.2 + (i % 97 === 0 ? 400 : 0) }));
    const text = await telemetry.metrics();
    const cumulative = seriesOf(text, 'istio_request_duration_milliseconds_bucket', { reporter: 'source', destination_workload: 'authors' });
    expect(cumulative.map((b) => b.labels.le)).toEqual([...ISTIO_DEFAULT_BUCKETS.map(String), '+Inf']);
    const perBucket = cumulative.map((b, i) => b.value - (i > 0 ? cumulative[i - 1].value : 0));
    const edge = telemetry.graph({ ...inputs(), serviceNames: ['authors'] }, 10_000).edges.find((e) => e.id === 'service:authors->workload:authors')!;
    expect(edge.requests).toBe(500);
    for (const [q, p] of [
      [0.5, edge.p50],
      [0.95, edge.p95],
      [0.99, edge.p99],
    ] as const) {
      expect(p).toBeCloseTo(histogramQuantile(q, perBucket), 2);
    }
    // p99 lies in (250, 500]: 6 of the 500 took 400 ms more.
    expect(edge.p99).toBeGreaterThan(250);
    expect(edge.p99).toBeLessThanOrEqual(500);
  });

  it('reports TCP connections from both reporters and draws a TCP edge', async () => {
    let now = 1_000_000;
    const telemetry = new MeshTelemetry('default', () => now);
    const postgres = { ...labelled({ app: 'postgres', version: 'v1' }, 'postgres'), serviceAccount: 'postgres' };
    const info = { source: authors, destination: postgres, destinationService: 'postgres.default.svc.cluster.local', destinationServiceName: 'postgres' };
    const conn = telemetry.tcpConnection(info);
    conn.received(100);
    conn.sent(4000);
    now += 1000;
    conn.sent(1000);
    conn.close();
    conn.close();
    telemetry.tcpConnection({ ...info, destination: undefined }).close('UF');
    const text = await telemetry.metrics();
    for (const reporter of ['source', 'destination']) {
      expect(seriesOf(text, 'istio_tcp_sent_bytes_total', { reporter, destination_workload: 'postgres' })[0].value).toBe(5000);
      expect(seriesOf(text, 'istio_tcp_received_bytes_total', { reporter, destination_workload: 'postgres' })[0].value).toBe(100);
      expect(seriesOf(text, 'istio_tcp_connections_opened_total', { reporter, destination_workload: 'postgres' })[0].value).toBe(1);
      expect(seriesOf(text, 'istio_tcp_connections_closed_total', { reporter, destination_workload: 'postgres' })[0].labels).toMatchObject({
        request_protocol: 'tcp',
        response_flags: '-',
      });
    }
    expect(seriesOf(text, 'istio_tcp_connections_opened_total', { response_flags: 'UF' }).map((s) => s.labels.reporter)).toEqual(['source']);
    const graph = telemetry.graph({ ...inputs(), serviceNames: ['postgres'] }, 10_000);
    expect(graph.edges.find((e) => e.id === 'service:postgres->workload:postgres/tcp')?.tcp).toMatchObject({
      sentBytesPerSecond: 500,
      receivedBytesPerSecond: 10,
      bytesPerSecond: 510,
      opened: 1,
      closed: 1,
    });
  });
});
