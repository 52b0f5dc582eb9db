/**
 * The mesh's Istio telemetry as Kiali and Istio's Grafana dashboards read it: a real Prometheus (Debian's 2.42)
 * scrapes the admin's /metrics every second while a known load runs through the gateway (getmultiple split 80/20
 * between web-api v1 and v2, half of web-api's authors calls aborted with 500), and the answers of their own PromQL
 * are checked against that load:
 * - Kiali's versioned-app graph: the namespace queries of kiali/kiali graph/telemetry/istio/istio.go
 *   (buildNamespaceTrafficMap: reporter="source", grouped by canonical service/revision, service, code, flags);
 * - the main panels of istio/istio manifests/addons/dashboards: istio-mesh-dashboard (Traffic Volume, Success Rate,
 *   HTTP/gRPC Workloads with p50/p90/p99), istio-service-dashboard (Client/Server Request Volume, Success Rate,
 *   Request Duration, request/response sizes) and istio-workload-dashboard (Incoming Request Volume, Success Rate,
 *   Requests By Source And Response Code with connection_security_policy="mutual_tls").
 * The dashboards' `irate(...[$__rate_interval])` is evaluated as `rate(...[W])` over exactly the load's scrapes
 * (irate would only see the last two samples); every ratio, quantile and sum is the panel's own expression.
 * Statistical checks use bounds of 3.5 sigma around the value the configuration implies.
 * Needs `npm run build` (the services) and prometheus (`apt-get install -y prometheus`); it starts the whole stack, so run it alone.
 */
import http from 'node:http';
import net from 'node:net';
import fs from 'node:fs';
import { describeWithTool } from '@cns/service-kit/testing';
import { startMesh, type MeshHandle } from '../src';
import type { RequestRecord } from '../src/model';
import { canonicalRevision, canonicalService, ISTIO_DEFAULT_BUCKETS, MeshTelemetry } from '../src/telemetry';
import { eventually, get, makeMeshRoot, many, requestCount, requireBuild } from './helpers';
import { startPrometheus, type PrometheusServer } from './prometheus';

const LOAD = 300;
const CONCURRENCY = 3;
const V1_SHARE = 0.8; // istio/traffic/web-ingress-80-20.yaml
const AUTHORS_ABORT = 0.5; // istio/faults/authors-abort-50.yaml

/** |observed - expected| within 3.5 sigma of a binomial share over n trials. */
function expectShare(observed: number, expected: number, n: number): void {
  const sigma = Math.sqrt((expected * (1 - expected)) / n);
  expect(n).toBeGreaterThan(0);
  expect(Math.abs(observed - expected)).toBeLessThanOrEqual(3.5 * sigma);
}

/** The Istio bucket [lower, upper] that holds `value`. */
function bucketOf(value: number): [number, number] {
  let lower = 0;
  for (const upper of ISTIO_DEFAULT_BUCKETS) {
    if (value <= upper) return [lower, upper];
    lower = upper;
  }
  return [lower, Infinity];
}

/** The empirical q-quantile (rank ceil(q·n)), the sample histogram_quantile interpolates towards. */
function quantile(values: number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.max(0, Math.ceil(q * sorted.length) - 1)];
}

/** histogram_quantile lands in the bucket of the exact quantile of the values the histogram observed. */
function expectQuantileInBucket(promValue: number, values: number[], q: number): void {
  const [lower, upper] = bucketOf(quantile(values, q));
  // Prometheus interpolates in float64: a quantile on a bucket bound comes back as e.g. 50.00000000000009.
  const slack = 1e-9 * Math.max(1, upper === Infinity ? lower : upper);
  expect(promValue).toBeGreaterThanOrEqual(lower - slack);
  expect(promValue).toBeLessThanOrEqual(upper + slack);
}

let root: string;
let mesh: MeshHandle;
let prometheus: PrometheusServer;
/** Every record the data plane produced during the measured load (the ground truth the series must agree with). */
const loadRecords: RequestRecord[] = [];
let recording = false;
/** Bytes on the client's sockets during the load: what the gateway received and sent, on the wire. */
const clientBytes = { written: 0, read: 0 };
let t0 = 0;
let t1 = 0;
let windowSpec = '';
let statuses: number[] = [];

const meshTotal = async (): Promise<number> => requestCount(String((await get(`${mesh.adminUrl}/metrics`)).body), {});

/** Waits until Prometheus' latest scrape holds every request the mesh has counted; returns that scrape's time. */
async function scrapedUpTo(expected: number): Promise<number> {
  return eventually(
    async () => {
      const [sum] = await prometheus.query('sum(istio_requests_total)');
      if (!sum || sum.value !== expected) return undefined;
      const [at] = await prometheus.query('max(timestamp(istio_requests_total))');
      return at.value;
    },
    60_000,
    `prometheus scraping ${expected} requests`,
    200,
  );
}

/** `query` evaluated at the end of the load (t1). */
const at1 = (promql: string) => prometheus.query(promql, t1);
const scalar = async (promql: string): Promise<number> => {
  const result = await at1(promql);
  expect(result).toHaveLength(1);
  return result[0].value;
};
/** A panel's `irate(X[$__rate_interval])` as `rate(X[W])` over the load's scrapes. */
const panel = (expr: string): string => expr.replace(/irate\(/g, 'rate(').replace(/\$__rate_interval/g, windowSpec);

async function sendLoad(url: string, count: number, concurrency: number): Promise<number[]> {
  const sockets = new Set<net.Socket>();
  class CountingAgent extends http.Agent {
    createConnection(options: object): net.Socket {
      const socket = net.createConnection(options as net.NetConnectOpts);
      sockets.add(socket);
      return socket;
    }
  }
  const agent = new CountingAgent({ keepAlive: true, maxSockets: concurrency });
  const codes: number[] = [];
  let next = 0;
  const one = (): Promise<number> =>
    new Promise((resolve, reject) => {
      http
        .get(url, { agent }, (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode ?? 0));
          res.on('error', reject);
        })
        .on('error', reject);
    });
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < count) {
        next += 1;
        codes.push(await one());
      }
    }),
  );
  agent.destroy();
  for (const socket of sockets) {
    clientBytes.written += socket.bytesWritten;
    clientBytes.read += socket.bytesRead;
  }
  return codes;
}

describeWithTool('prometheus', 'Istio telemetry through a real Prometheus: Kiali graph and Istio dashboard queries', () => {
  beforeAll(async () => {
    requireBuild();
    root = makeMeshRoot();
    mesh = await startMesh({
      root,
      gatewayPort: 0,
      adminPort: 0,
      watch: false,
      log: () => undefined,
      output: () => undefined,
      probe: { startupTimeoutMs: 90_000 },
    });
    mesh.applyFile('istio/traffic/web-ingress-80-20.yaml');
    mesh.applyFile('istio/faults/authors-abort-50.yaml');
    // Tap the data plane's records (the values the histograms observed) without changing what telemetry does.
    const record = mesh.telemetry.record.bind(mesh.telemetry);
    mesh.telemetry.record = (r: RequestRecord) => {
      if (recording) loadRecords.push(r);
      record(r);
    };
    const getmultiple = `${mesh.gatewayUrl}/web-api/v1/getmultiple`;
    // Warm up until every series of the load exists (v2 drawn at least once, aborts and successes on authors), so
    // that the load's rates come from counters present in the first scrape of the window.
    await eventually(
      async () => {
        await many(getmultiple, 10, 2);
        const text = String((await get(`${mesh.adminUrl}/metrics`)).body);
        const seen = (labels: Record<string, string>) => requestCount(text, labels) > 0;
        return seen({ reporter: 'source', source_workload: 'istio-ingressgateway', destination_workload: 'web-api-v2' }) &&
          seen({ reporter: 'source', source_workload: 'web-api-v2', destination_service_name: 'authors', response_flags: 'FI' }) &&
          seen({ reporter: 'source', source_workload: 'web-api-v1', destination_service_name: 'authors', response_flags: 'FI' }) &&
          seen({ reporter: 'source', source_workload: 'web-api-v1', destination_workload: 'authors', response_code: '200' })
          ? true
          : undefined;
      },
      120_000,
      'every load series',
    );

    prometheus = await startPrometheus(new URL(mesh.adminUrl).host, 1);
    t0 = await scrapedUpTo(await meshTotal());
    recording = true;
    statuses = await sendLoad(getmultiple, LOAD, CONCURRENCY);
    recording = false;
    t1 = await scrapedUpTo(await meshTotal());
    // [t1 - W, t1] starts exactly at the baseline scrape (Prometheus 2.x ranges include both ends): with no gap to
    // either end, rate() does not extrapolate and is exactly Δ / (t1 - t0).
    windowSpec = `${Math.round((t1 - t0) * 1000)}ms`;
  }, 420_000);

  afterAll(async () => {
    await prometheus?.stop();
    await mesh?.stop();
    if (root) fs.rmSync(root, { recursive: true, force: true });
  }, 60_000);

  const seconds = () => t1 - t0;
  const increase = async (selector: string): Promise<number> => {
    const [after] = await prometheus.query(`sum(${selector})`, t1);
    const [before] = await prometheus.query(`sum(${selector})`, t0);
    return (after?.value ?? 0) - (before?.value ?? 0);
  };

  it('sent the load: every getmultiple answered 200 through the gateway', () => {
    expect(statuses).toEqual(Array(LOAD).fill(200));
  });

  it("draws Kiali's versioned-app graph from its namespace queries: edges, the 80/20 share and the authors error rate", async () => {
    const groupBy =
      'source_workload_namespace,source_workload,source_canonical_service,source_canonical_revision,destination_service_namespace,destination_service,destination_service_name,destination_workload_namespace,destination_workload,destination_canonical_service,destination_canonical_revision,request_protocol,response_code,grpc_response_status,response_flags';
    const external = await at1(
      `sum(rate(istio_requests_total{reporter="source",source_workload_namespace!="default",source_workload!="unknown",destination_service_namespace="default"} [${windowSpec}])) by (${groupBy})`,
    );
    const internal = await at1(`sum(rate(istio_requests_total{reporter="source",source_workload_namespace="default"} [${windowSpec}])) by (${groupBy})`);
    // Versioned-app graph with injected service nodes: app:version → service → app:version, per response code.
    const edges = new Map<string, Record<string, number>>();
    const add = (from: string, to: string, code: string, requests: number) => {
      const key = `${from} -> ${to}`;
      const codes = edges.get(key) ?? {};
      codes[code] = (codes[code] ?? 0) + requests;
      edges.set(key, codes);
    };
    for (const { metric: m, value } of [...external, ...internal]) {
      const requests = value * seconds();
      const source = `${m.source_canonical_service}:${m.source_canonical_revision}`;
      add(source, `svc:${m.destination_service_name}`, m.response_code, requests);
      if (m.destination_workload !== 'unknown')
        add(`svc:${m.destination_service_name}`, `${m.destination_canonical_service}:${m.destination_canonical_revision}`, m.response_code, requests);
    }
    const workload = (name: string) => mesh.topology.workloads.find((w) => w.workload.name === name)!.workload;
    const node = (name: string) => `${canonicalService(workload(name))}:${canonicalRevision(workload(name))}`;
    const [v1, v2, authors, articles] = [node('web-api-v1'), node('web-api-v2'), node('authors'), node('articles')];
    expect(v1).toBe('web-api:v1'); // k8s/web-api.yaml: app.kubernetes.io/name web-api, app.kubernetes.io/version v1
    expect(v2).toBe('web-api:v2');
    const total = (key: string) => Object.values(edges.get(key) ?? {}).reduce((a, b) => a + b, 0);
    expect([...edges.keys()]).toEqual(
      expect.arrayContaining([
        'istio-ingressgateway:latest -> svc:web-api',
        `svc:web-api -> ${v1}`,
        `svc:web-api -> ${v2}`,
        `${v1} -> svc:articles`,
        `${v2} -> svc:articles`,
        `svc:articles -> ${articles}`,
        `${v1} -> svc:authors`,
        `${v2} -> svc:authors`,
        `svc:authors -> ${authors}`,
      ]),
    );
    // Rates over exactly the load's scrapes: rate × seconds is the load itself.
    expect(total('istio-ingressgateway:latest -> svc:web-api')).toBeCloseTo(LOAD, 3);
    expectShare(total(`svc:web-api -> ${v1}`) / LOAD, V1_SHARE, LOAD);
    expect(total(`svc:web-api -> ${v1}`) + total(`svc:web-api -> ${v2}`)).toBeCloseTo(LOAD, 3);
    // Errors on web-api → authors: the aborted half (500, FI at web-api's sidecar) never reaches authors.
    const toAuthors = total(`${v1} -> svc:authors`) + total(`${v2} -> svc:authors`);
    const aborted = (edges.get(`${v1} -> svc:authors`)?.['500'] ?? 0) + (edges.get(`${v2} -> svc:authors`)?.['500'] ?? 0);
    expectShare(aborted / toAuthors, AUTHORS_ABORT, Math.round(toAuthors));
    expect(edges.get(`svc:authors -> ${authors}`)).toEqual({ '200': expect.closeTo(toAuthors - aborted, 3) });
    const flags = internal
      .filter((s) => s.metric.destination_service_name === 'authors' && s.metric.response_code === '500')
      .map((s) => s.metric.response_flags);
    expect(new Set(flags)).toEqual(new Set(['FI']));
  });

  it("gives each edge the mTLS share Kiali's security appender computes: 100 % on web-api → authors, whose aborts never reached authors", async () => {
    // kiali/kiali graph/telemetry/istio/appender/security_policy.go: reporter="destination" by connection_security_policy,
    // then mutual_tls ÷ all. The local graph over the load's own records must give the same share per edge.
    const series = await at1(
      `sum(rate(istio_requests_total{reporter="destination"}[${windowSpec}])) by (source_workload,destination_service_name,connection_security_policy) > 0`,
    );
    const kiali = new Map<string, { mtls: number; all: number }>();
    for (const { metric: m, value } of series) {
      const key = `workload:${m.source_workload}->service:${m.destination_service_name}`;
      const edge = kiali.get(key) ?? { mtls: 0, all: 0 };
      edge.all += value;
      if (m.connection_security_policy === 'mutual_tls') edge.mtls += value;
      kiali.set(key, edge);
    }
    const replay = new MeshTelemetry('default', () => 1_000_000);
    for (const record of loadRecords) replay.record(record);
    const graph = replay.graph(
      { workloads: [], serviceNames: [], istio: { gateways: [], virtualServices: [], destinationRules: [] }, readyCount: () => ({ ready: 0, total: 0 }) },
      10_000,
    );
    const ours = new Map(graph.edges.map((e) => [e.id, e.mtlsPercent]));
    expect(kiali.get('workload:web-api-v1->service:authors')).toBeDefined();
    for (const [id, { mtls, all }] of kiali) expect({ id, mtlsPercent: ours.get(id) }).toEqual({ id, mtlsPercent: Math.round((mtls / all) * 1000) / 10 });
    expect(ours.get('workload:web-api-v1->service:authors')).toBe(100);
  });

  it("answers the mesh dashboard's Traffic Volume, Success Rate and HTTP workloads panel (rate, p50/p90/p99, success)", async () => {
    const volume = await scalar(panel('round(sum (rate(istio_requests_total{reporter=~"source|waypoint"}[$__rate_interval])), 0.01)'));
    const sourceRecords = loadRecords.length;
    expect(volume * seconds()).toBeGreaterThanOrEqual(sourceRecords - 0.01 * seconds() - 1e-6);
    expect(volume * seconds()).toBeLessThanOrEqual(sourceRecords + 0.01 * seconds() + 1e-6);
    const success = await scalar(
      panel(
        'sum (rate(istio_requests_total{reporter=~"source|waypoint",response_code!~"5.."}[$__rate_interval])) / sum (rate(istio_requests_total{reporter=~"source|waypoint"}[$__rate_interval]))',
      ),
    );
    // Only the authors aborts fail: success = 1 - 0.5 × authorsCalls / allCalls.
    const authorsCalls = loadRecords.filter((r) => r.destinationServiceName === 'authors').length;
    const expected = 1 - (AUTHORS_ABORT * authorsCalls) / sourceRecords;
    const sigma = Math.sqrt(authorsCalls * AUTHORS_ABORT * (1 - AUTHORS_ABORT)) / sourceRecords;
    expect(Math.abs(success - expected)).toBeLessThanOrEqual(3.5 * sigma);
    const perWorkload = (q: string) =>
      at1(
        panel(
          `label_join(histogram_quantile(${q}, sum by (le,destination_workload,destination_workload_namespace) (rate(istio_request_duration_milliseconds_bucket{reporter=~"source|waypoint"}[$__rate_interval]))), "destination_workload_var", ".", "destination_workload", "destination_workload_namespace")`,
        ),
      );
    for (const q of ['0.5', '0.9', '0.99']) {
      const rows = await perWorkload(q);
      for (const name of ['web-api-v1', 'web-api-v2', 'articles', 'authors']) {
        const row = rows.find((r) => r.metric.destination_workload_var === `${name}.default`);
        expect(row).toBeDefined();
        expectQuantileInBucket(
          row!.value,
          loadRecords.filter((r) => r.destinationWorkload === name).map((r) => r.durationMs),
          Number(q),
        );
      }
    }
    const workloadSuccess = await at1(
      panel(
        'label_join(sum by (destination_workload,destination_workload_namespace) (rate(istio_requests_total{reporter=~"source|waypoint",response_code!~"5.."}[$__rate_interval]))/sum by (destination_workload,destination_workload_namespace) (rate(istio_requests_total{reporter=~"source|waypoint"}[$__rate_interval])), "destination_workload_var", ".", "destination_workload", "destination_workload_namespace")',
      ),
    );
    for (const name of ['web-api-v1', 'web-api-v2', 'articles', 'authors']) {
      expect(workloadSuccess.find((r) => r.metric.destination_workload_var === `${name}.default`)?.value).toBe(1);
    }
  });

  it('answers the service dashboard for web-api (server side) and authors (client side)', async () => {
    const service = (expr: string, name: string, qrep: string) =>
      panel(expr.replace(/\$service/g, `${name}.default.svc.cluster.local`).replace(/\$qrep/g, qrep));
    const webApiVolume = await scalar(
      service(
        'round(sum(irate(istio_requests_total{reporter="destination",destination_service="$service"}[$__rate_interval])), 0.001)',
        'web-api',
        'destination',
      ),
    );
    expect(Math.abs(webApiVolume * seconds() - LOAD)).toBeLessThanOrEqual(0.001 * seconds() + 1e-6);
    expect(
      await scalar(
        service(
          'sum(irate(istio_requests_total{reporter="destination",destination_service="$service",response_code!~"5.*"}[$__rate_interval])) / (sum(irate(istio_requests_total{reporter="destination",destination_service="$service"}[$__rate_interval])) or on () vector(1))',
          'web-api',
          'destination',
        ),
      ),
    ).toBe(1);
    const gatewayRecords = loadRecords.filter((r) => r.sourceWorkload === 'istio-ingressgateway');
    expect(gatewayRecords).toHaveLength(LOAD);
    for (const q of ['0.50', '0.90', '0.99']) {
      // Client Request Duration (ms ÷ 1000: the panel is in seconds), reporter=source = the gateway's view.
      const seconds = await scalar(
        service(
          `(histogram_quantile(${q}, sum(irate(istio_request_duration_milliseconds_bucket{reporter=~"$qrep",destination_service="$service"}[$__rate_interval])) by (le)) / 1000) or histogram_quantile(${q}, sum(irate(istio_request_duration_seconds_bucket{reporter=~"$qrep",destination_service="$service"}[$__rate_interval])) by (le))`,
          'web-api',
          'source',
        ),
      );
      expectQuantileInBucket(
        seconds * 1000,
        gatewayRecords.map((r) => r.durationMs),
        Number(q),
      );
      const responseSize = await scalar(
        service(
          `histogram_quantile(${q}, sum(irate(istio_response_bytes_bucket{reporter=~"$qrep", connection_security_policy="mutual_tls", destination_service="$service"}[$__rate_interval])) by (le))`,
          'web-api',
          'destination',
        ),
      );
      expectQuantileInBucket(
        responseSize,
        gatewayRecords.map((r) => r.responseBytes ?? 0),
        Number(q),
      );
    }
    // authors seen by its callers: half the calls aborted by web-api's sidecar; its own sidecar saw only the rest.
    const authorsCalls = loadRecords.filter((r) => r.destinationServiceName === 'authors').length;
    const clientSuccess = await scalar(
      service(
        'sum(irate(istio_requests_total{reporter=~"$qrep",destination_service="$service",response_code!~"5.*"}[$__rate_interval])) / (sum(irate(istio_requests_total{reporter=~"$qrep",destination_service="$service"}[$__rate_interval])) or on () vector(1))',
        'authors',
        'source',
      ),
    );
    expectShare(clientSuccess, 1 - AUTHORS_ABORT, authorsCalls);
    expect(
      await scalar(
        service(
          'sum(irate(istio_requests_total{reporter="destination",destination_service="$service",response_code!~"5.*"}[$__rate_interval])) / (sum(irate(istio_requests_total{reporter="destination",destination_service="$service"}[$__rate_interval])) or on () vector(1))',
          'authors',
          'destination',
        ),
      ),
    ).toBe(1);
  });

  it('answers the workload dashboard for web-api-v1: inbound volume by source over mTLS, success rate', async () => {
    const workload = (expr: string) =>
      panel(
        expr
          .replace(/\$qrep/g, 'destination')
          .replace(/\$namespace/g, 'default')
          .replace(/\$workload/g, 'web-api-v1')
          .replace(/\$srcwl/g, '.*')
          .replace(/\$srcns/g, '.*'),
      );
    const v1Load = loadRecords.filter((r) => r.sourceWorkload === 'istio-ingressgateway' && r.destinationWorkload === 'web-api-v1').length;
    const volume = await scalar(
      workload(
        'round(sum(irate(istio_requests_total{reporter=~"$qrep",destination_workload_namespace=~"$namespace",destination_workload=~"$workload"}[$__rate_interval])), 0.001)',
      ),
    );
    expect(Math.abs(volume * seconds() - v1Load)).toBeLessThanOrEqual(0.001 * seconds() + 1e-6);
    const bySource = await at1(
      workload(
        'round(sum(irate(istio_requests_total{connection_security_policy="mutual_tls", destination_workload_namespace=~"$namespace", destination_workload=~"$workload", reporter=~"$qrep", source_workload=~"$srcwl", source_workload_namespace=~"$srcns"}[$__rate_interval])) by (source_workload, source_workload_namespace, response_code), 0.001)',
      ),
    );
    expect(bySource.map((r) => r.metric)).toEqual([
      { source_workload: 'istio-ingressgateway', source_workload_namespace: 'istio-system', response_code: '200' },
    ]);
    expect(
      await at1(
        workload(
          'sum(irate(istio_requests_total{connection_security_policy!="mutual_tls", destination_workload=~"$workload", reporter=~"$qrep"}[$__rate_interval]))',
        ),
      ),
    ).toEqual([]);
    expect(
      await scalar(
        workload(
          'sum(irate(istio_requests_total{reporter=~"$qrep",destination_workload_namespace=~"$namespace",destination_workload=~"$workload",response_code!~"5.*"}[$__rate_interval])) / sum(irate(istio_requests_total{reporter=~"$qrep",destination_workload_namespace=~"$namespace",destination_workload=~"$workload"}[$__rate_interval]))',
        ),
      ),
    ).toBe(1);
    const [principal] = await at1(
      `count by (source_principal, destination_principal) (istio_requests_total{reporter="destination",destination_workload="web-api-v1"})`,
    );
    expect(principal.metric).toEqual({
      source_principal: 'spiffe://cluster.local/ns/istio-system/sa/istio-ingressgateway-service-account',
      destination_principal: 'spiffe://cluster.local/ns/default/sa/web-api',
    });
  });

  it("counts the gateway's request and response bytes exactly as they crossed the client's sockets", async () => {
    const gateway = 'reporter="source",source_workload="istio-ingressgateway"';
    expect(await increase(`istio_request_bytes_sum{${gateway}}`)).toBe(clientBytes.written);
    expect(await increase(`istio_response_bytes_sum{${gateway}}`)).toBe(clientBytes.read);
    expect(await increase(`istio_request_bytes_count{${gateway}}`)).toBe(LOAD);
  });
});
