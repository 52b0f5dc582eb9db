/**
 * Tracing through the whole local mesh (real service processes): one getmultiple with a known traceparent gives
 * one trace with a client and a server span per hop whose parents resolve, an aborted authors call shows as an
 * error span, Jaeger's API serves it, and the /traces page draws the waterfall in Chromium.
 * Needs `npm run build` (the root `pretest` does it). Run it alone: it starts the whole stack.
 */
import fs from 'node:fs';
import { chromiumLaunchOptions, findExecutable } from '@cns/service-kit/testing';
import { startMesh, type MeshHandle } from '../src';
import { eventually, get, makeMeshRoot, requireBuild } from './helpers';

interface JaegerSpan {
  traceID: string;
  spanID: string;
  operationName: string;
  references: Array<{ refType: string; traceID: string; spanID: string }>;
  startTime: number;
  duration: number;
  tags: Array<{ key: string; type: string; value: unknown }>;
  processID: string;
}
interface JaegerTrace {
  traceID: string;
  spans: JaegerSpan[];
  processes: Record<string, { serviceName: string }>;
}

let root: string;
let mesh: MeshHandle;

beforeAll(async () => {
  requireBuild();
  root = makeMeshRoot();
  mesh = await startMesh({
    root,
    gatewayPort: 0,
    adminPort: 0,
    log: () => undefined,
    output: () => undefined,
    probe: { startupTimeoutMs: 90_000 },
    traceSampling: 100,
  });
  // Cold processes can miss web-api's 1 s upstream deadline: wait for one complete answer first.
  await eventually(
    async () => {
      const answer = await get(`${mesh.gatewayUrl}/web-api/v1/getmultiple`);
      const articles = answer.body as Array<{ authorBlog: string }>;
      return answer.status === 200 && Array.isArray(articles) && articles.every((a) => a.authorBlog !== '') ? true : undefined;
    },
    60_000,
    'a first complete getmultiple answer',
  );
}, 240_000);

afterAll(async () => {
  await mesh?.stop();
  if (root) fs.rmSync(root, { recursive: true, force: true });
}, 60_000);

const hex = (n: number, width: number) => n.toString(16).padStart(width, '0');
const tag = (span: JaegerSpan, key: string) => span.tags.find((t) => t.key === key)?.value;

/** Sends one getmultiple with a fresh known traceparent and returns the trace once `spans` spans are stored. */
async function tracedGetmultiple(
  n: number,
  spans: number,
): Promise<{ traceId: string; parent: string; trace: JaegerTrace; articles: Array<{ authorBlog: string }> }> {
  const traceId = `7ace${hex(n, 28)}`;
  const parent = `c1e0${hex(n, 12)}`;
  const answer = await get(`${mesh.gatewayUrl}/web-api/v1/getmultiple`, { headers: { traceparent: `00-${traceId}-${parent}-01` } });
  expect(answer.status).toBe(200);
  const trace = await eventually(
    async () => {
      const found = await get(`${mesh.adminUrl}/api/traces/${traceId}`);
      const data = (found.body as { data: JaegerTrace[] | null }).data;
      return found.status === 200 && data && data[0].spans.length >= spans ? data[0] : undefined;
    },
    10_000,
    `${spans} spans of trace ${traceId}`,
  );
  return { traceId, parent, trace, articles: answer.body as Array<{ authorBlog: string }> };
}

describe('tracing through the whole local mesh', () => {
  it('one getmultiple = one trace: gateway → web-api, web-api → articles, five web-api → authors, client and server spans with resolving parents', async () => {
    const { traceId, parent, trace, articles } = await tracedGetmultiple(1, 15);
    expect(articles.every((a) => a.authorBlog !== '')).toBe(true);
    const service = (span: JaegerSpan) => trace.processes[span.processID].serviceName;
    const kind = (span: JaegerSpan) => tag(span, 'span.kind');
    const byId = new Map(trace.spans.map((s) => [s.spanID, s]));
    expect(trace.traceID).toBe(traceId);
    expect(trace.spans).toHaveLength(15);
    expect(new Set(Object.values(trace.processes).map((p) => p.serviceName))).toEqual(
      new Set(['istio-ingressgateway.istio-system', 'web-api.default', 'articles.default', 'authors.default']),
    );

    // Every parent resolves inside the trace, except the root's, which is the caller's span from the traceparent.
    const roots = trace.spans.filter((s) => !byId.has(s.references[0]?.spanID ?? ''));
    expect(roots).toHaveLength(1);
    expect(roots[0].references).toEqual([{ refType: 'CHILD_OF', traceID: traceId, spanID: parent }]);
    for (const span of trace.spans) expect(span.traceID).toBe(traceId);

    // The hops, named as Istio names them.
    const edge = roots[0];
    expect([service(edge), kind(edge), edge.operationName]).toEqual([
      'istio-ingressgateway.istio-system',
      'server',
      'web-api.default.svc.cluster.local:9080/web-api/v1/getmultiple*',
    ]);
    const children = (span: JaegerSpan) => trace.spans.filter((s) => s.references[0]?.spanID === span.spanID);
    const [router] = children(edge);
    expect([service(router), kind(router), router.operationName]).toEqual([
      'istio-ingressgateway.istio-system',
      'client',
      'router outbound|9080|v1|web-api.default.svc.cluster.local egress',
    ]);
    const [webApi] = children(router);
    expect([service(webApi), kind(webApi), webApi.operationName]).toEqual(['web-api.default', 'server', 'web-api.default.svc.cluster.local:9080/*']);
    expect(tag(webApi, 'istio.canonical_service')).toBe('web-api');
    // web-api forwarded the headers it got: its calls are children of its server span.
    const calls = children(webApi);
    expect(calls.every((s) => service(s) === 'web-api.default' && kind(s) === 'client')).toBe(true);
    const toArticles = calls.filter((s) => /^articles\.default\.svc\.cluster\.local:\d+\/\*$/.test(s.operationName));
    const toAuthors = calls.filter((s) => /^authors\.default\.svc\.cluster\.local:\d+\/\*$/.test(s.operationName));
    expect([toArticles.length, toAuthors.length, calls.length]).toEqual([1, 5, 6]);
    for (const call of calls) {
      const [server] = children(call);
      expect(service(server)).toBe(call.operationName.split('.').slice(0, 2).join('.'));
      expect(kind(server)).toBe('server');
      expect(tag(server, 'http.status_code')).toBe('200');
      expect(tag(call, 'guid:x-request-id')).toBe(tag(edge, 'guid:x-request-id'));
    }
    // Times nest: a child starts after its parent and the root covers the whole trace.
    for (const span of trace.spans) {
      const up = byId.get(span.references[0]?.spanID ?? '');
      if (up) expect(span.startTime).toBeGreaterThanOrEqual(up.startTime);
    }
    expect(Math.max(...trace.spans.map((s) => s.startTime + s.duration))).toBeLessThanOrEqual(edge.startTime + edge.duration + 1000);
    expect(tag(edge, 'http.status_code')).toBe('200');
    expect(tag(edge, 'upstream_cluster')).toBe('outbound|9080|v1|web-api.default.svc.cluster.local');
    expect(tag(edge, 'route_name')).toBe('web-api-getmultiple');
    expect(trace.spans.some((s) => tag(s, 'error') !== undefined)).toBe(false);

    // Jaeger's search finds it per service.
    const search = (await get(`${mesh.adminUrl}/api/traces?service=authors.default&limit=50&lookback=1h`)).body as { data: JaegerTrace[] };
    expect(search.data.map((t) => t.traceID)).toContain(traceId);
    expect((await get(`${mesh.adminUrl}/api/services`)).body).toMatchObject({
      data: expect.arrayContaining(['articles.default', 'authors.default', 'istio-ingressgateway.istio-system', 'web-api.default']),
    });
  }, 60_000);

  it('an aborted authors call (istio/faults/authors-abort-100.yaml) is an error span with flag FI; authors is never reached', async () => {
    mesh.applyFile('istio/faults/authors-abort-100.yaml');
    try {
      // 5 gateway/web-api/articles spans + 5 aborted client spans, and no authors server span.
      const { traceId, trace, articles } = await tracedGetmultiple(2, 10);
      expect(articles.every((a) => a.authorBlog === '')).toBe(true);
      const service = (span: JaegerSpan) => trace.processes[span.processID].serviceName;
      const aborted = trace.spans.filter((s) => s.operationName.startsWith('authors.'));
      expect(aborted).toHaveLength(5);
      for (const span of aborted) {
        expect(service(span)).toBe('web-api.default');
        expect(span.tags).toEqual(
          expect.arrayContaining([
            { key: 'error', type: 'bool', value: true },
            { key: 'response_flags', type: 'string', value: 'FI' },
            { key: 'http.status_code', type: 'string', value: '500' },
          ]),
        );
      }
      expect(trace.spans.filter((s) => service(s) === 'authors.default')).toHaveLength(0);
      const errors = (await get(`${mesh.adminUrl}/api/traces?service=web-api.default&tags=${encodeURIComponent('{"error":"true"}')}`)).body as {
        data: JaegerTrace[];
      };
      expect(errors.data.map((t) => t.traceID)).toContain(traceId);
      expect(errors.data.map((t) => t.traceID)).not.toContain(`7ace${hex(1, 28)}`);
    } finally {
      mesh.deleteObject('VirtualService', 'authors');
    }
  }, 60_000);

  const chromium = findExecutable('chromium');
  const runBrowser = Boolean(chromium) || process.env.CI === 'true';
  (runBrowser ? it : it.skip)(
    `the /traces page lists the traces and draws one as a waterfall; a graph edge links to its traces${runBrowser ? '' : ' [needs chromium: apt-get install -y chromium]'}`,
    async () => {
      const faulted = `7ace${hex(2, 28)}`;
      const { chromium: launcher } = await import('playwright-core');
      const browser = await launcher.launch(chromiumLaunchOptions());
      try {
        const page = await browser.newPage();
        const pageErrors: string[] = [];
        page.on('pageerror', (error) => pageErrors.push(error.message));
        await page.goto(`${mesh.adminUrl}/traces?trace=${faulted}`);
        await page.locator(`[data-test=trace-row][data-trace-id="${faulted}"]`).waitFor();
        await page.locator('[data-test=span-row]').nth(9).waitFor();
        type Row = { service?: string; kind?: string; error?: string; flags?: string; operation?: string; width: number };
        const rows: Row[] = await page
          .locator('[data-test=span-row]')
          .evaluateAll((els) =>
            els.map((e) => ({ ...(e as HTMLElement).dataset, width: (e.querySelector('.bar') as HTMLElement).getBoundingClientRect().width })),
          );
        expect(rows).toHaveLength(10);
        // Tree order: the gateway's span first, its router span, web-api's server span, then web-api's calls.
        expect(rows.slice(0, 3).map((r) => [r.service, r.kind])).toEqual([
          ['istio-ingressgateway.istio-system', 'server'],
          ['istio-ingressgateway.istio-system', 'client'],
          ['web-api.default', 'server'],
        ]);
        const errorRows = rows.filter((r) => r.error === 'true');
        expect(errorRows).toHaveLength(5);
        expect(errorRows.every((r) => r.flags === 'FI' && r.operation!.startsWith('authors.'))).toBe(true);
        expect(await page.locator('.span.error .flag.fault').count()).toBe(5);
        // The root bar spans the track; every bar is drawn.
        expect(rows.every((r) => r.width > 0)).toBe(true);
        expect(rows[0].width).toBeGreaterThan(Math.max(...rows.slice(1).map((r) => r.width)) * 0.99);

        // Errors only: the faulted trace stays, the clean one goes.
        await page.locator('[data-test=errors-filter]').check();
        await page.locator(`[data-test=trace-row][data-trace-id="7ace${hex(1, 28)}"]`).waitFor({ state: 'detached' });
        expect(await page.locator(`[data-test=trace-row][data-trace-id="${faulted}"]`).count()).toBe(1);

        // The graph: tapping the gateway → web-api edge shows its details, with a link to the traces crossing it.
        await page.goto(`${mesh.adminUrl}/graph`);
        await page.waitForFunction(() => (window as unknown as { meshGraph?: { edges(): { length: number } } }).meshGraph?.edges().length);
        await page.evaluate(() => {
          const cy = (window as unknown as { meshGraph: { edges(): Array<{ source(): { data(k: string): string }; emit(e: string): void }> } }).meshGraph;
          cy.edges()
            .find((e) => e.source().data('app') === 'istio-ingressgateway')!
            .emit('tap');
        });
        await page.locator('[data-test=edge-traces]').click();
        await page.waitForURL(/\/traces\?/);
        expect(new URL(page.url()).searchParams.get('from')).toBe('istio-ingressgateway');
        await page.locator('[data-test=trace-row]').first().waitFor();
        expect(pageErrors).toEqual([]);
      } finally {
        await browser.close();
      }
    },
    60_000,
  );
});
