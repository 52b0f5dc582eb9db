/**
 * Telemetry aggregation: Istio-labelled Prometheus series built from RequestRecords (the graph: ./graph.test.ts).
 */
import type { RequestRecord, Workload } from '../model';
import { canonicalRevision, canonicalService, histogramQuantile, ISTIO_DEFAULT_BUCKETS, MeshTelemetry } from '.';
import { inputs, record } from './test-records';

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
