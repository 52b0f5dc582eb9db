/**
 * The whole app through the real ingress gateway port of one local mesh (real service processes, real nginx
 * when installed), as deployed: Istio routing from the repo's YAML and a weighted split applied at runtime,
 * telemetry (/metrics, the graph, the TCP hop to postgres), the admin pages, a rolling restart and a clean stop.
 * Needs `npm run build` (the root `pretest` does it).
 */
import { chromiumLaunchOptions, findExecutable } from '@cns/service-kit/testing';
import type { MeshHandle } from '../src';
import { loadManifestFiles } from '../src/manifests';
import { get, isAlive, many, requestCount, withDescendants, type Answer } from './helpers';
import { startWholeStack, stopWholeStack, type Article } from './whole-stack-fixture';

let root: string;
let mesh: MeshHandle;
const meshLog: string[] = [];

beforeAll(async () => {
  ({ root, mesh } = await startWholeStack(meshLog));
}, 240_000);

afterAll(() => stopWholeStack(mesh, root, meshLog), 60_000);

const getmultiple = (): string => `${mesh.gatewayUrl}/web-api/v1/getmultiple`;

/**
 * The authors calls web-api made for these getmultiple answers, as a range: v1 calls once per distinct author
 * (names compared case-insensitively), v2 once in all (the batch). A complete answer (every author found) proves
 * its calls; one with blank authors may have missed its deadline before calling; a stale or failed one made none.
 */
function authorsCallsFor(answers: Answer[], version: 'v1' | 'v2'): { min: number; max: number } {
  let min = 0;
  let max = 0;
  for (const answer of answers) {
    if (answer.status !== 200 || answer.headers.get('x-web-api-version') !== version || answer.headers.get('x-web-api-stale')) continue;
    const articles = answer.body as Article[];
    const calls = version === 'v2' ? 1 : new Set(articles.map((a) => a.authorName.trim().toLowerCase())).size;
    if (articles.every((a) => a.authorBlog !== '')) min += calls;
    max += calls;
  }
  return { min, max };
}

/** Every authors call from a workload in a metrics delta, whatever its response code. */
const authorsCallsFrom = (delta: (labels: Record<string, string>) => number, workload: string): number =>
  delta({ reporter: 'source', source_workload: workload, destination_workload: 'authors', destination_service_name: 'authors' });

describe('local mesh, whole stack through the gateway', () => {
  it('routes getmultiple to web-api v1 only with the base VirtualService: 5 articles each', async () => {
    const answers = await many(getmultiple(), 30, 2);
    expect(answers.map((a) => a.status)).toEqual(Array(30).fill(200));
    expect(new Set(answers.map((a) => a.headers.get('x-web-api-version')))).toEqual(new Set(['v1']));
    // (Author details can be missing when web-api's 1 s upstream deadline passes on an overloaded machine:
    // that degradation is the app's design; complete answers are checked in beforeAll and after the fault.)
    for (const answer of answers) {
      const articles = answer.body as Article[];
      expect(articles).toHaveLength(5);
      expect(articles.every((a) => a.title !== '' && a.authorName !== '')).toBe(true);
    }
  });

  it('serves the web app and the OpenAPI UI through the same gateway', async () => {
    const page = await get(`${mesh.gatewayUrl}/`);
    expect(page.status).toBe(200);
    expect(String(page.body)).toContain('<div id="app"');
    const swagger = await get(`${mesh.gatewayUrl}/openapi/ui/`);
    expect(swagger.status).toBe(200);
    expect(String(swagger.body)).toMatch(/swagger/i);
  });

  it('counts every hop in /metrics and /graph.json with Istio labels', async () => {
    const before = String((await get(`${mesh.adminUrl}/metrics`)).body);
    const answers = await many(getmultiple(), 10, 2);
    const after = String((await get(`${mesh.adminUrl}/metrics`)).body);
    const delta = (labels: Record<string, string>): number => requestCount(after, labels) - requestCount(before, labels);
    expect(
      delta({
        reporter: 'source',
        source_workload: 'istio-ingressgateway',
        destination_workload: 'web-api-v1',
        destination_app: 'web-api',
        destination_version: 'v1',
        destination_service: 'web-api.default.svc.cluster.local',
        destination_service_name: 'web-api',
        response_code: '200',
        response_flags: '-',
        request_protocol: 'http',
      }),
    ).toBe(10);
    expect(
      delta({
        reporter: 'source',
        source_workload: 'web-api-v1',
        source_app: 'web-api',
        source_version: 'v1',
        destination_workload: 'articles',
        response_code: '200',
      }),
    ).toBe(10);
    expect(delta({ reporter: 'destination', source_workload: 'web-api-v1', destination_workload: 'articles', response_code: '200' })).toBe(10);
    // v1 looks up each distinct author of its 5 articles separately: exactly that many calls per answer.
    const v1Calls = authorsCallsFor(answers, 'v1');
    expect(v1Calls.max).toBeGreaterThanOrEqual(10);
    expect(v1Calls.min).toBeGreaterThanOrEqual(v1Calls.max / 2); // mostly complete answers: the count is exact for them
    expect(authorsCallsFrom(delta, 'web-api-v1')).toBeGreaterThanOrEqual(v1Calls.min);
    expect(authorsCallsFrom(delta, 'web-api-v1')).toBeLessThanOrEqual(v1Calls.max);
    expect(authorsCallsFrom(delta, 'web-api-v2')).toBe(0);
    expect(after).toMatch(/istio_request_duration_milliseconds_bucket\{[^}]*destination_workload="web-api-v1"/);

    const graph = (await get(`${mesh.adminUrl}/graph.json?window=60`)).body as {
      edges: Array<{ id: string; requests: number; httpPercentReq: number; errorPercent: number; p50: number; p99: number }>;
      versionShares: Array<{ service: string; versions: Record<string, number> }>;
    };
    const edge = (id: string) => graph.edges.find((e) => e.id === id);
    expect(edge('workload:istio-ingressgateway->service:web-api')?.requests).toBeGreaterThanOrEqual(10);
    // getmultiple goes to v1 only; the OpenAPI route (no subset) may also have reached v2.
    expect(edge('service:web-api->workload:web-api-v1')?.requests).toBeGreaterThanOrEqual(10);
    expect(edge('service:web-api->workload:web-api-v1')?.errorPercent).toBe(0);
    expect(edge('workload:web-api-v1->service:articles')?.requests).toBeGreaterThanOrEqual(10);
    expect(edge('service:authors->workload:authors')?.requests).toBeGreaterThanOrEqual(10);
    expect(edge('workload:web-api-v1->service:articles')!.p99).toBeGreaterThanOrEqual(edge('workload:web-api-v1->service:articles')!.p50);
    expect(graph.versionShares.find((s) => s.service === 'web-api')?.versions.v1).toBeGreaterThan(80);
  });

  it('after applying istio/traffic/web-ingress-80-20.yaml, 2000 requests split by its weights (± 4 σ); v1 calls authors per author, v2 once', async () => {
    const file = 'istio/traffic/web-ingress-80-20.yaml';
    // The expected v2 share, from the file's weights (relative, as Istio reads them).
    const route = (
      loadManifestFiles([file], { root }).objects[0].object.spec as {
        http: Array<{ name: string; route: Array<{ destination: { subset?: string }; weight?: number }> }>;
      }
    ).http.find((r) => r.name === 'web-api-getmultiple')!.route;
    const weightOf = (subset: string) => route.filter((d) => d.destination.subset === subset).reduce((sum, d) => sum + (d.weight ?? 0), 0);
    const p = weightOf('v2') / route.reduce((sum, d) => sum + (d.weight ?? 0), 0);
    expect(p).toBeGreaterThan(0);
    const applied = await fetch(`${mesh.adminUrl}/config/apply?file=${file}`, { method: 'POST' });
    expect(applied.status).toBe(200);
    try {
      const before = String((await get(`${mesh.adminUrl}/metrics`)).body);
      const answers = await many(getmultiple(), 2000, 8);
      const after = String((await get(`${mesh.adminUrl}/metrics`)).body);
      const statuses: Record<number, number> = {};
      for (const a of answers) statuses[a.status] = (statuses[a.status] ?? 0) + 1;
      // A heavily overloaded machine can push a few requests past web-api's upstream deadline (it then answers
      // 503); anything beyond 1 % is a real problem. The split is judged on the versions that answered.
      expect(statuses[200] ?? 0).toBeGreaterThanOrEqual(1980);
      const versioned = answers.filter((a) => a.headers.get('x-web-api-version'));
      const v2 = versioned.filter((a) => a.headers.get('x-web-api-version') === 'v2');
      // Binomial(n, p): v2's count stays within 4 standard deviations of n·p (a false alarm in about 1 of 16,000 runs).
      const n = versioned.length;
      expect(Math.abs(v2.length - n * p)).toBeLessThanOrEqual(4 * Math.sqrt(n * p * (1 - p)));
      expect((v2.find((a) => a.status === 200)!.body as Article[]).length).toBe(10);

      const delta = (labels: Record<string, string>): number => requestCount(after, labels) - requestCount(before, labels);
      const v1Calls = authorsCallsFor(answers, 'v1');
      const v2Calls = authorsCallsFor(answers, 'v2');
      expect(v1Calls.min).toBeGreaterThanOrEqual(v1Calls.max / 2);
      expect(v2Calls.min).toBeGreaterThanOrEqual(v2Calls.max / 2);
      expect(authorsCallsFrom(delta, 'web-api-v1')).toBeGreaterThanOrEqual(v1Calls.min);
      expect(authorsCallsFrom(delta, 'web-api-v1')).toBeLessThanOrEqual(v1Calls.max);
      // v2's one batch call per answer, however many authors its 10 articles have.
      expect(authorsCallsFrom(delta, 'web-api-v2')).toBeGreaterThanOrEqual(v2Calls.min);
      expect(authorsCallsFrom(delta, 'web-api-v2')).toBeLessThanOrEqual(v2Calls.max);
      expect(v2Calls.max).toBe(v2.filter((a) => a.status === 200 && !a.headers.get('x-web-api-stale')).length);

      const graph = (await get(`${mesh.adminUrl}/graph.json?window=60`)).body as {
        nodes: Array<{ id: string; badges: string[] }>;
        versionShares: Array<{ service: string; versions: Record<string, number> }>;
      };
      expect(graph.nodes.find((n) => n.id === 'service:web-api')?.badges).toEqual(expect.arrayContaining(['virtualService', 'trafficShifting']));
      expect(graph.versionShares.find((s) => s.service === 'web-api')?.versions.v2).toBeGreaterThan(10);
    } finally {
      // Back to the state a fresh deploy gives.
      await fetch(`${mesh.adminUrl}/config/apply?file=istio/base/virtualservice-web-ingress.yaml`, { method: 'POST' });
    }
    const back = await many(getmultiple(), 20, 4);
    expect(new Set(back.map((a) => a.headers.get('x-web-api-version')))).toEqual(new Set(['v1']));
  }, 180_000);

  it("serves /config, /endpoints, each workload's own /metrics and the live graph page", async () => {
    const config = (await get(`${mesh.adminUrl}/config`)).body as { mode: string; objects: Array<{ ref: string; file: string }> };
    expect(config.mode).toBe('istio');
    expect(config.objects).toEqual(
      expect.arrayContaining([{ ...config.objects.find((o) => o.ref === 'Gateway/web-gateway'), file: 'istio/base/gateway.yaml' }]),
    );

    const endpoints = ((await get(`${mesh.adminUrl}/endpoints`)).body as { endpoints: Array<{ id: string; ready: boolean; pid: number }> }).endpoints;
    expect(endpoints.map((e) => e.id).sort()).toEqual(['articles-0', 'authors-0', 'postgres-0', 'web-api-v1-0', 'web-api-v2-0', 'web-app-0']);
    expect(endpoints.every((e) => e.ready && e.pid > 0)).toBe(true);

    const articlesMetrics = await get(`${mesh.adminUrl}/workloads/articles-0/metrics`);
    expect(articlesMetrics.status).toBe(200);
    expect(String(articlesMetrics.body)).toMatch(/^# (HELP|TYPE) /m);

    const page = await get(`${mesh.adminUrl}/graph`);
    expect(String(page.body)).toContain('/static/cytoscape.min.js');
    const script = await fetch(`${mesh.adminUrl}/static/cytoscape.min.js`);
    expect(script.status).toBe(200);
    expect((await script.text()).length).toBeGreaterThan(100_000);
  });

  const chromium = findExecutable('chromium');
  (chromium ? it : it.skip)(
    `draws the live graph page in Chromium with the web-api version share${chromium ? '' : ' [needs chromium, not installed]'}`,
    async () => {
      await many(getmultiple(), 5, 1);
      const { chromium: launcher } = await import('playwright-core');
      const browser = await launcher.launch(chromiumLaunchOptions());
      try {
        const page = await browser.newPage();
        await page.goto(`${mesh.adminUrl}/graph`);
        const share = page.locator('#shares [data-service="web-api"] .share-title');
        await share.waitFor({ timeout: 15_000 });
        expect(await share.textContent()).toMatch(/^web-api: v1 \d+(\.\d)?%/);
        const drawn = await page.waitForFunction(
          () => {
            const cy = (window as unknown as { meshGraph?: { nodes(): { length: number }; edges(): Array<{ data(k: string): string }> } }).meshGraph;
            return cy && cy.edges().length > 0 ? { nodes: cy.nodes().length, labels: cy.edges().map((e) => e.data('label')) } : undefined;
          },
          undefined,
          { timeout: 15_000 },
        );
        const { nodes, labels } = (await drawn.jsonValue())!;
        expect(nodes).toBeGreaterThanOrEqual(9);
        // Two lines per HTTP edge: `8.9 rps · 100%`, then `p95 30 ms` (and the errors, when there are some).
        expect(labels.some((label) => /rps · \d+(\.\d)?%\np95 \d+(\.\d)? ms/.test(label))).toBe(true);
        expect(await page.locator('#graph canvas').count()).toBeGreaterThan(0);
      } finally {
        await browser.close();
      }
    },
    60_000,
  );

  it('rolls web-api-v1 while traffic flows: every request succeeds and a new replica takes over', async () => {
    const before = mesh.endpoints().find((e) => e.workload === 'web-api-v1')!;
    let rolling = true;
    const statuses: number[] = [];
    const traffic = (async () => {
      while (rolling) statuses.push((await get(getmultiple())).status);
    })();
    try {
      await mesh.restartWorkload('web-api-v1');
    } finally {
      rolling = false;
      await traffic;
    }
    const after = mesh.endpoints().filter((e) => e.workload === 'web-api-v1');
    expect(after.map((e) => [e.id, e.ready])).toEqual([['web-api-v1-1', true]]);
    expect(after[0].pid).not.toBe(before.pid);
    expect(isAlive(before.pid!)).toBe(false);
    expect(statuses.length).toBeGreaterThan(0);
    expect(statuses.filter((s) => s !== 200)).toEqual([]);
  }, 120_000);

  it('articles reaches postgres through a TCP hop: istio_tcp_* from both reporters and a TCP edge on the graph', async () => {
    const tcpBytes = (text: string, reporter: string): number =>
      [...text.matchAll(/^istio_tcp_received_bytes_total\{([^}]*)\} (\d+)$/gm)]
        .filter(
          (m) =>
            m[1]!.includes(`reporter="${reporter}"`) && m[1]!.includes('source_workload="articles"') && m[1]!.includes('destination_service_name="postgres"'),
        )
        .reduce((sum, m) => sum + Number(m[2]), 0);
    const before = String((await get(`${mesh.adminUrl}/metrics`)).body);
    const created = await get(`${mesh.gatewayUrl}/web-api/v1/create`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ title: 'Stored in PostgreSQL', url: 'https://example.com/tcp-hop', author: 'Ada Quill' }),
    });
    expect(created.status).toBe(201);
    const after = String((await get(`${mesh.adminUrl}/metrics`)).body);
    // The INSERT went over the hop: its bytes (at least the title) were counted from articles' side and postgres' side.
    for (const reporter of ['source', 'destination'])
      expect(tcpBytes(after, reporter) - tcpBytes(before, reporter)).toBeGreaterThan('Stored in PostgreSQL'.length);
    expect(after).toMatch(
      /istio_tcp_connections_opened_total\{[^}]*source_workload="articles"[^}]*destination_workload="postgres"[^}]*request_protocol="tcp"\} [1-9]/,
    );
    const graph = (await get(`${mesh.adminUrl}/graph.json?window=60`)).body as {
      edges: Array<{ id: string; protocol?: string; tcp?: { bytesPerSecond: number } }>;
    };
    const edge = graph.edges.find((e) => e.id === 'workload:articles->service:postgres/tcp');
    expect(edge?.protocol).toBe('tcp');
    expect(edge?.tcp?.bytesPerSecond).toBeGreaterThan(0);
  });

  it('stop() ends every process it started, and their children (nginx)', async () => {
    const pids = withDescendants(mesh.endpoints().map((e) => e.pid!));
    expect(pids.length).toBeGreaterThanOrEqual(5);
    await mesh.stop();
    expect(pids.filter(isAlive)).toEqual([]);
  }, 60_000);
});
