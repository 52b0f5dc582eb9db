/**
 * The Kiali-like graph built from RequestRecords: edges and their figures, version shares, the window, and the
 * service badges from the active Istio objects.
 */
import type { IstioConfig } from '../model';
import { histogramQuantile, MeshTelemetry, serviceBadges, shortServiceName } from '.';
import { inputs, noIstio, record, telemetryWith, workload } from './test-records';

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
