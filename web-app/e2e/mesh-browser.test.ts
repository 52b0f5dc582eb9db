// The whole app in a real Chromium through the local mesh's ingress gateway: every service as a real process,
// web-app served by real nginx when it is installed, Istio routing from the repo's istio/ YAML applied at runtime.
// A screenshot after each step goes to web-app/e2e/screenshots/mesh-*.png (git-ignored), also when a step fails.
// Needs `npm run build` (the root `pretest` does it); the mesh fails with the build command when a build is missing.
import { chromiumLaunchOptions, describeWithTool, findExecutable } from '@cns/service-kit/testing';
import { startMesh, type MeshHandle } from '@cns/mesh';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { WEB_APP_DIR, ensureBuilt, eventually, processRunning, withDescendants } from './helpers';
import { VIEWPORTS, graphLabels, insideWidth, overlaps } from './pages';

const REPO_ROOT = path.resolve(WEB_APP_DIR, '..');
const SCREENSHOTS = path.join(WEB_APP_DIR, 'e2e', 'screenshots');
const DASH = '—';

// The traffic run: N requests through the 80/20 VirtualService. The v2 count is Binomial(N, 0.2):
// sd = sqrt(0.2 · 0.8 / N) = 2 pp for N = 400, so ± 7 pp is 3.5 sd (a false failure about 1 run in 2000),
// while a broken split (0 %, 50 %, 100 %) is far outside.
const TRAFFIC_REQUESTS = 400;
const V2_SHARE_BOUND_PP = 7;

describeWithTool('chromium', 'web-app in Chromium through the local mesh (whole stack)', () => {
  let mesh: MeshHandle | undefined;
  let browser: Browser | undefined;
  let page: Page;
  let problems: string[] = [];
  const meshLog: string[] = [];

  /** Runs one step of the story and saves a screenshot of the page afterwards, whether the step passed or not. */
  async function step(name: string, body: () => Promise<void>): Promise<void> {
    try {
      await body();
    } finally {
      await page?.screenshot({ path: path.join(SCREENSHOTS, `mesh-${name}.png`), fullPage: true }).catch(() => undefined);
    }
  }

  const rows = () => page.locator('[data-test="article"]');

  /** Opens (or reloads) the page and waits until the article list is there (or an error/empty state). */
  async function openPage(): Promise<void> {
    await page.goto(`${mesh!.gatewayUrl}/`);
    await page.locator('[data-test="article"], [data-test="error"], [data-test="empty"]').first().waitFor({ timeout: 30_000 });
  }

  /** One row per article: the text of each cell, plus the links' targets. */
  async function readRows(): Promise<Array<{ author: string; twitter: string; blog: string; twitterHref: string | null; blogHref: string | null }>> {
    return rows().evaluateAll((trs) =>
      trs.map((tr) => {
        const cell = (name: string) => tr.querySelector(`[data-test="${name}"]`);
        return {
          author: cell('author')?.textContent?.trim() ?? '',
          twitter: cell('twitter')?.textContent?.trim() ?? '',
          blog: cell('blog')?.textContent?.trim() ?? '',
          twitterHref: cell('twitter')?.querySelector('a')?.getAttribute('href') ?? null,
          blogHref: cell('blog')?.querySelector('a')?.getAttribute('href') ?? null,
        };
      }),
    );
  }

  const complete = (r: { author: string; twitterHref: string | null; blogHref: string | null }) =>
    r.author !== '' && r.author !== DASH && r.twitterHref !== null && r.blogHref !== null;

  /**
   * Opens the page until it shows every author's details. On a loaded machine web-api's 1 s deadline for its
   * upstream calls is sometimes missed and it answers (by design) with blank author fields, so one degraded page
   * is not a failure; a page that never completes within the deadline is. Returns how many loads it took.
   */
  async function openUntilAuthorsComplete(timeoutMs = 90_000): Promise<number> {
    let loads = 0;
    await eventually(
      async () => {
        loads += 1;
        await openPage();
        const shown = await readRows();
        return shown.length > 0 && shown.every(complete) ? true : undefined;
      },
      timeoutMs,
      "a page with every author's twitter and blog",
    );
    if (loads > 1) console.log(`mesh-browser: ${loads - 1} page load(s) came back with degraded authors first (busy machine)`);
    return loads;
  }

  beforeAll(async () => {
    await ensureBuilt();
    mkdirSync(SCREENSHOTS, { recursive: true });
    mesh = await startMesh({
      root: REPO_ROOT,
      gatewayPort: 0,
      adminPort: 0,
      // The test applies files itself; it must not pick up other edits of istio/ in this checkout meanwhile.
      watch: false,
      log: (message) => meshLog.push(message),
      output: () => undefined,
      probe: { startupTimeoutMs: 90_000 },
    });
    // Cold processes (JIT, first connections) can miss web-api's 1 s upstream deadline on a loaded machine, and
    // the page would then show "—" for authors: wait until one complete answer came back before judging the page.
    await eventually(
      async () => {
        try {
          const response = await fetch(`${mesh!.gatewayUrl}/web-api/v1/getmultiple`, { signal: AbortSignal.timeout(10_000) });
          const body = (await response.json()) as Array<{ authorBlog: string }>;
          return response.status === 200 && body.length > 0 && body.every((a) => a.authorBlog !== '') ? true : undefined;
        } catch {
          return undefined;
        }
      },
      60_000,
      'a first complete getmultiple answer through the gateway',
    );
    browser = await chromium.launch(chromiumLaunchOptions());
    page = await browser.newPage({ viewport: { width: 1100, height: 900 } });
    // A script error or a failed load is a failure even when the page still looks fine.
    page.on('console', (m) => {
      if (m.type() === 'error') problems.push(`${m.text()} (${m.location().url})`);
    });
    page.on('pageerror', (e) => problems.push(e.message));
  }, 240_000);

  afterAll(async () => {
    // Everything this test worker started: the mesh's replicas (with nginx and its workers) and Chromium's processes
    // (playwright runs the browser as a child of this process).
    const pids = withDescendants([process.pid]).filter((pid) => pid !== process.pid);
    const replicas = mesh?.endpoints().length ?? 0;
    await browser?.close();
    await mesh?.stop();
    if (process.env.MESH_TEST_LOG) console.log(meshLog.join('\n'));
    const left = await eventually(
      () => {
        const running = pids.filter(processRunning);
        return running.length === 0 ? running : undefined;
      },
      20_000,
      'every started process to end',
    ).catch(() => pids.filter(processRunning));
    expect(pids.length).toBeGreaterThanOrEqual(replicas); // the /proc scan did find them
    expect(left).toEqual([]);
  }, 90_000);

  beforeEach(() => {
    problems = [];
  });

  it('shows the 5 articles with their authors and links, served by web-api v1 (base routing)', async () => {
    await step('1-articles', async () => {
      expect(mesh!.webAppServer()).toBe(findExecutable('nginx') ? 'nginx' : 'node');
      await openUntilAuthorsComplete();
      expect(await page.locator('[data-test="error"]').count()).toBe(0);
      expect(await rows().count()).toBe(5);
      expect(await page.locator('[data-test="version-badge"]').textContent()).toBe('web-api v1');
      expect(await page.locator('[data-test="article-count"]').textContent()).toBe('5 articles');
      for (const row of await readRows()) {
        expect(row.author).not.toBe(DASH);
        expect(row.author).not.toBe('');
        expect(row.twitterHref).toMatch(/^https:\/\/(twitter|x)\.com\/[A-Za-z0-9_]+$/);
        expect(row.blogHref).toMatch(/^https?:\/\//);
      }
      expect(await page.locator('[data-test="degraded-notice"]').count()).toBe(0);
      // The mesh's pages are linked on the admin port this mesh has (a random one here, not the default 15000).
      const admin = mesh!.adminUrl.replace('127.0.0.1', 'localhost');
      expect(admin).not.toMatch(/:15000$/);
      expect(await page.locator('[data-test="mesh-graph-link"]').getAttribute('href')).toBe(`${admin}/graph`);
      expect(await page.locator('[data-test="trace-link"]').getAttribute('href')).toMatch(new RegExp(`^${admin}/traces\\?trace=[0-9a-f]{32}$`));
      expect(problems).toEqual([]);
    });
  }, 150_000);

  it(`after applying the 80/20 split, the traffic panel shows v2 near 20 % of ${TRAFFIC_REQUESTS} requests`, async () => {
    await step('2-traffic-80-20', async () => {
      const applied = mesh!.applyFile('istio/traffic/web-ingress-80-20.yaml');
      expect(applied.map((o) => `${o.object.kind}/${o.object.metadata?.name}`)).toEqual(['VirtualService/web-ingress']);
      await page.getByLabel('Requests').fill(String(TRAFFIC_REQUESTS));
      await page.getByRole('button', { name: 'Send requests' }).click();
      const progress = page.locator('[data-test="traffic-progress"]');
      await progress.filter({ hasText: new RegExp(`^${TRAFFIC_REQUESTS} of ${TRAFFIC_REQUESTS} requests done`) }).waitFor({ timeout: 150_000 });
      expect((await progress.textContent())?.trim()).toBe(`${TRAFFIC_REQUESTS} of ${TRAFFIC_REQUESTS} requests done.`); // no ", N failed"

      // The legend reads e.g. "v1 79% (316)" and "v2 21% (84)"; there is no other slice.
      const legend = async (label: string) => {
        const text = ((await page.locator(`[data-test="legend-${label}"]`).textContent()) ?? '').replace(/\s+/g, ' ').trim();
        const m = new RegExp(`^${label} (\\d+)% \\((\\d+)\\)$`).exec(text);
        if (!m) throw new Error(`legend for ${label} reads "${text}"`);
        return { percent: Number(m[1]), count: Number(m[2]) };
      };
      const v1 = await legend('v1');
      const v2 = await legend('v2');
      expect(await page.locator('.legend li').count()).toBe(2);
      expect(v1.count + v2.count).toBe(TRAFFIC_REQUESTS);
      // The legend rounds so that the shown percentages add up to 100 (largest remainder): floor or ceiling.
      expect(v1.percent + v2.percent).toBe(100);
      expect(Math.abs(v2.percent - (v2.count / TRAFFIC_REQUESTS) * 100)).toBeLessThan(1);
      expect(Math.abs(v2.percent - 20)).toBeLessThanOrEqual(V2_SHARE_BOUND_PP);
      // The bar is drawn in that proportion too.
      const bar = await page.locator('[data-test="traffic-bar"]').boundingBox();
      const slice = await page.locator('[data-test="slice-v2"]').boundingBox();
      expect(Math.abs((slice!.width / bar!.width) * 100 - v2.count / (TRAFFIC_REQUESTS / 100))).toBeLessThan(1.5);
      expect(problems).toEqual([]);
    });
  }, 240_000);

  it('with the authors abort fault, the articles still render with "—" for twitter and blog, and no error', async () => {
    await step('3-authors-abort', async () => {
      // Back to v1 only (undoes the 80/20 split, also when that test failed half-way), then the fault.
      mesh!.applyFile('istio/base/virtualservice-web-ingress.yaml');
      mesh!.applyFile('istio/faults/authors-abort-100.yaml');
      await openPage();
      expect(await page.locator('[data-test="error"]').count()).toBe(0);
      expect(await rows().count()).toBe(5);
      expect(await page.locator('[data-test="version-badge"]').textContent()).toBe('web-api v1');
      // The author's name comes from articles; the fields only authors knows are shown as "—", not as links.
      const shown = await readRows();
      expect(shown.map((r) => ({ twitter: r.twitter, blog: r.blog, twitterHref: r.twitterHref, blogHref: r.blogHref }))).toEqual(
        Array(5).fill({ twitter: DASH, blog: DASH, twitterHref: null, blogHref: null }),
      );
      expect(shown.every((r) => r.author !== '' && r.author !== DASH)).toBe(true);
      expect(await page.locator('[data-test="degraded-notice"]').isVisible()).toBe(true);
      expect(problems).toEqual([]);
    });
  }, 60_000);

  it('after applying authors-no-fault, the author data is back', async () => {
    await step('4-authors-back', async () => {
      mesh!.applyFile('istio/faults/authors-no-fault.yaml');
      await openUntilAuthorsComplete();
      expect(await rows().count()).toBe(5);
      for (const row of await readRows()) {
        expect(row.author).not.toBe(DASH);
        expect(row.twitterHref).toMatch(/^https:\/\/(twitter|x)\.com\//);
        expect(row.blogHref).toMatch(/^https?:\/\//);
      }
      expect(await page.locator('[data-test="degraded-notice"]').count()).toBe(0);
      expect(await page.locator('[data-test="error"]').count()).toBe(0);
      expect(problems).toEqual([]);
    });
  }, 150_000);

  /** Traffic for the graph's 30 s window while the pages are checked: v1 and v2 both call articles and authors, half of the authors calls fail. */
  function keepSending(): () => Promise<void> {
    let sending = true;
    const traffic = (async () => {
      while (sending) {
        await fetch(`${mesh!.gatewayUrl}/web-api/v1/getmultiple`, { signal: AbortSignal.timeout(10_000) })
          .then((r) => r.arrayBuffer())
          .catch(() => undefined);
      }
    })();
    return async () => {
      sending = false;
      await traffic;
    };
  }

  it.each(VIEWPORTS)(
    'at $name the graph under the 80/20 split and the authors fault: labels >= 11 px, no two label boxes overlapping, badges and padlocks',
    async (viewport) => {
      mesh!.applyFile('istio/traffic/web-ingress-80-20.yaml');
      mesh!.applyFile('istio/faults/authors-abort-50.yaml');
      const stop = keepSending();
      const graphPage = await browser!.newPage({ viewport });
      const graphProblems: string[] = [];
      graphPage.on('console', (m) => {
        if (m.type() === 'error') graphProblems.push(`${m.text()} (${m.location().url})`);
      });
      graphPage.on('pageerror', (e) => graphProblems.push(e.message));
      try {
        await graphPage.goto(`${mesh!.adminUrl}/graph`);
        await graphPage.waitForFunction(
          () => {
            const cy = (window as any).meshGraph;
            const label = (id: string): string => (cy?.getElementById(id).nonempty() ? cy.getElementById(id).data('label') : '');
            return (
              / err/.test(label('workload:web-api-v1->service:authors')) &&
              label('workload:web-api-v2->service:articles') !== '' &&
              document.getElementById('canvas')!.dataset.ready === 'true'
            );
          },
          undefined,
          { timeout: 60_000 },
        );
        await graphPage.screenshot({ path: path.join(SCREENSHOTS, `mesh-graph-${viewport.name}.png`), fullPage: true });
        const drawn = await graphLabels(graphPage);
        expect(drawn.labels.length).toBeGreaterThanOrEqual(15);
        expect(drawn.labels.filter((l) => l.px < 11).map((l) => `${l.what} at ${l.px.toFixed(1)} px`)).toEqual([]);
        expect(overlaps(drawn.labels)).toEqual([]);
        // TCP edges in bytes/s, HTTP edges in requests/s with the response time the menu picks.
        expect(drawn.labels.find((l) => l.what.includes('->service:postgres'))?.text).toMatch(/\d(\.\d)? (B|KB|MB)\/s/);
        expect(drawn.labels.some((l) => /rps · \d+(\.\d)?%\np95 /.test(l.text))).toBe(true);
        // The badges are SVG drawings (no glyph that a font without emoji would show as an empty box).
        expect(drawn.badges).toEqual(expect.arrayContaining(['service:web-api trafficShifting', 'service:authors faultInjection']));
        expect(drawn.legendIcons).toBeGreaterThanOrEqual(8);
        expect(await graphPage.locator('#overlay .lock').count()).toBeGreaterThan(0);
        expect(drawn.labels.map((l) => l.text).filter((t) => /[\u2190-\u2bff\u{1f000}-\u{1faff}]/u.test(t))).toEqual([]);
        // Idle nodes (no edge in the window) are hidden until asked for; every node with traffic is shown.
        const nodes = () =>
          graphPage.evaluate((): Array<{ idle: boolean; hidden: boolean }> =>
            (window as any).meshGraph
              .nodes()
              .filter((n: any) => !n.isParent())
              .map((n: any) => ({ idle: n.connectedEdges().length === 0, hidden: !n.visible() })),
          );
        expect((await nodes()).every((n) => n.hidden === n.idle)).toBe(true);
        await graphPage.locator('[data-test=idle-toggle]').check();
        expect((await nodes()).every((n) => !n.hidden)).toBe(true);
        // p99 from the edge-label menu; a click on an edge opens its details with a link to its traces.
        await graphPage.locator('#percentile').selectOption('p99');
        expect((await graphLabels(graphPage)).labels.some((l) => /\np99 /.test(l.text))).toBe(true);
        await graphPage.evaluate(() => (window as any).meshGraph.getElementById('workload:web-api-v1->service:authors').emit('tap'));
        await graphPage.locator('[data-test=edge-traces]').waitFor();
        expect(await graphPage.locator('#panel [data-test=codes]').textContent()).toMatch(/200.*500|500.*200/s);
        await graphPage.screenshot({ path: path.join(SCREENSHOTS, `mesh-graph-panel-${viewport.name}.png`), fullPage: true });
        expect(graphProblems).toEqual([]);
      } finally {
        await stop();
        await graphPage.close();
      }
    },
    150_000,
  );

  it.each(VIEWPORTS)(
    'at $name the trace list shows root, services, spans, errors and duration; one trace opens as a waterfall; the app shows the 80/20 split',
    async (viewport) => {
      const tracesPage = await browser!.newPage({ viewport });
      const pageProblems: string[] = [];
      tracesPage.on('pageerror', (e) => pageProblems.push(e.message));
      try {
        await tracesPage.goto(`${mesh!.adminUrl}/traces?service=web-api`);
        const row = tracesPage.locator('[data-test=trace-row]').first();
        await row.waitFor({ timeout: 30_000 });
        for (const column of ['td.root', 'td.services', 'td.spans', 'td.errors', 'td.duration']) {
          expect([column, await insideWidth(tracesPage, `[data-test=trace-row] ${column}`)]).toEqual([column, true]);
        }
        expect(await row.locator('td.services').textContent()).toMatch(/web-api\.default \(\d+\)/);
        expect(await tracesPage.locator('#scatter circle').count()).toBeGreaterThan(0);
        await tracesPage.screenshot({ path: path.join(SCREENSHOTS, `mesh-traces-${viewport.name}.png`), fullPage: true });
        await row.click();
        const span = tracesPage.locator('[data-test=span-row]').first();
        await span.waitFor();
        // The full service and operation names on hover; the span's tags on click.
        expect(await span.locator('.name').getAttribute('title')).toMatch(/^istio-ingressgateway\.istio-system .*\n.+/s);
        await span.click();
        expect(await tracesPage.locator('.tags td', { hasText: 'http.status_code' }).count()).toBe(1);
        await tracesPage.screenshot({ path: path.join(SCREENSHOTS, `mesh-trace-${viewport.name}.png`), fullPage: true });
        expect(pageProblems).toEqual([]);

        const app = await browser!.newPage({ viewport });
        try {
          await app.goto(`${mesh!.gatewayUrl}/`);
          await app.locator('[data-test="mesh-graph-link"]').waitFor({ timeout: 30_000 });
          await app.getByLabel('Requests').fill('100');
          await app.getByRole('button', { name: 'Send requests' }).click();
          await app
            .locator('[data-test="traffic-progress"]')
            .filter({ hasText: /^100 of 100 requests done/ })
            .waitFor({ timeout: 120_000 });
          await app.screenshot({ path: path.join(SCREENSHOTS, `mesh-app-80-20-${viewport.name}.png`), fullPage: true });
        } finally {
          await app.close();
        }
      } finally {
        await tracesPage.close();
      }
    },
    240_000,
  );
});
