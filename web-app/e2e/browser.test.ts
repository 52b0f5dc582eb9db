// The built web-app in a real Chromium, against a fake web-api on the same origin (port 0) that also serves
// web-app/dist with the security headers of web-app/nginx.conf (so a CSP that would block the app fails here).
// The full-stack browser test (local mesh, 80/20 split, authors fault) builds on this once the mesh exists.
import { chromiumLaunchOptions, describeWithTool } from '@cns/service-kit/testing';
import { mkdirSync, readFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { DIST, WEB_APP_DIR, ensureBuilt } from './helpers';

const SCREENSHOTS = path.join(WEB_APP_DIR, 'e2e', 'screenshots');

interface FakeArticle {
  id: string;
  title: string;
  url: string;
  authorName: string;
  authorBlog: string;
  authorTwitter: string;
}

const articles: FakeArticle[] = [
  ['Canary releases without fear', 'Ada Quill', '@adaquill', 'https://adaquill.example/blog'],
  ['Retries, timeouts and budgets', 'Milo Brandt', '@milobrandt', 'https://milo-brandt.example'],
  ['Reading a service graph', 'Priya Raman', '@priya_ops', 'https://priyaraman.example/notes'],
  ['Fault injection in practice', 'Tomas Ferreira', '@tferreira_dev', 'https://tomasferreira.example'],
  ['mTLS, explained with one diagram', 'Hana Okafor', '@hanaokafor', 'https://hana-okafor.example/writing'],
].map(([title, authorName, authorTwitter, authorBlog], i) => ({
  id: String(i + 1),
  title: title!,
  url: `https://articles.example/${i + 1}`,
  authorName: authorName!,
  authorBlog: authorBlog!,
  authorTwitter: authorTwitter!,
}));

/** What the fake web-api answers; each test sets it. */
type Scenario = 'healthy' | 'authors-degraded' | 'articles-down';

function securityHeaders(): Record<string, string> {
  const conf = readFileSync(path.join(WEB_APP_DIR, 'nginx.conf'), 'utf8');
  return Object.fromEntries([...conf.matchAll(/^\s*add_header\s+([A-Za-z-]+)\s+"([^"]*)"\s+always;/gm)].map((m) => [m[1]!, m[2]!]));
}

/** What nginx.conf answers at /mesh-admin.json in the image (no local mesh admin), read from the file itself. */
function meshAdminAnswer(): string {
  const conf = readFileSync(path.join(WEB_APP_DIR, 'nginx.conf'), 'utf8');
  const answer = /location = \/mesh-admin\.json \{[^}]*return 200 '([^']*)';/.exec(conf)?.[1];
  if (answer === undefined) throw new Error('web-app/nginx.conf no longer answers /mesh-admin.json');
  return answer.replace(/\\n$/, '\n');
}

const TYPES: Record<string, string> = { '.js': 'application/javascript', '.css': 'text/css', '.svg': 'image/svg+xml', '.html': 'text/html' };

function startFake(state: { scenario: Scenario; calls: number }): Promise<http.Server> {
  const headers = securityHeaders();
  const meshAdmin = meshAdminAnswer();
  const server = http.createServer((req, res) => {
    const urlPath = (req.url ?? '/').split('?')[0]!;
    if (urlPath === '/web-api/v1/getmultiple') {
      state.calls += 1;
      // An exact 80/20 split: every fifth request is served by v2.
      const version = state.calls % 5 === 0 ? 'v2' : 'v1';
      if (state.scenario === 'articles-down') {
        res.writeHead(503, { 'content-type': 'application/json', 'x-web-api-version': version });
        res.end(JSON.stringify({ error: 'ServiceUnavailable', message: 'articles service unavailable' }));
        return;
      }
      const body = state.scenario === 'authors-degraded' ? articles.map((a) => ({ ...a, authorBlog: '', authorTwitter: '' })) : articles;
      res.writeHead(200, { 'content-type': 'application/json', 'x-web-api-version': version });
      res.end(JSON.stringify(body));
      return;
    }
    // As nginx does in the image: the app asks where a local mesh's admin is and learns there is none.
    if (urlPath === '/mesh-admin.json') {
      res.writeHead(200, { ...headers, 'content-type': 'application/json' }).end(meshAdmin);
      return;
    }
    const file = path.join(DIST, path.posix.normalize(urlPath));
    let body: Buffer;
    let type = 'text/html';
    try {
      body = readFileSync(file.startsWith(DIST) && path.extname(file) ? file : path.join(DIST, 'index.html'));
      type = TYPES[path.extname(file)] ?? type;
    } catch {
      res.writeHead(404, headers).end();
      return;
    }
    res.writeHead(200, { ...headers, 'content-type': `${type}; charset=utf-8` });
    res.end(body);
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

describeWithTool('chromium', 'web-app in Chromium against a fake web-api', () => {
  const state: { scenario: Scenario; calls: number } = { scenario: 'healthy', calls: 0 };
  let server: http.Server;
  let browser: Browser;
  let page: Page;
  let origin: string;
  let problems: string[];

  beforeAll(async () => {
    await ensureBuilt();
    mkdirSync(SCREENSHOTS, { recursive: true });
    server = await startFake(state);
    origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    browser = await chromium.launch(chromiumLaunchOptions());
    // One page for all tests (opening a page costs seconds on a busy machine); each test navigates afresh.
    page = await browser.newPage();
    // A CSP violation or a script error is a failure even when the page still looks fine.
    page.on('console', (m) => {
      if (m.type() === 'error') problems.push(`${m.text()} (${m.location().url})`);
    });
    page.on('pageerror', (e) => problems.push(e.message));
  });

  afterAll(async () => {
    await browser?.close();
    await new Promise((r) => server?.close(r));
  });

  beforeEach(async () => {
    state.calls = 0;
    problems = [];
    await page.setViewportSize({ width: 1100, height: 900 });
  });

  it('renders the articles with their authors, the serving version and the count', async () => {
    state.scenario = 'healthy';
    await page.goto(`${origin}/`);
    await page.locator('[data-test="article"]').first().waitFor();
    expect(await page.locator('[data-test="article"]').count()).toBe(5);
    expect(await page.locator('[data-test="version-badge"]').textContent()).toBe('web-api v1');
    expect(await page.locator('[data-test="article-count"]').textContent()).toBe('5 articles');
    const first = page.locator('[data-test="article"]').first();
    expect(await first.locator('[data-test="author"]').textContent()).toBe('Ada Quill');
    expect(await first.locator('[data-test="twitter"] a').getAttribute('href')).toBe('https://twitter.com/adaquill');
    expect(await page.getByRole('heading', { level: 1 }).textContent()).toBe('Articles');
    await page.screenshot({ path: path.join(SCREENSHOTS, 'articles-desktop.png'), fullPage: true });
    expect(problems).toEqual([]);
  });

  it('shows "—" for author fields when authors is degraded, and no error', async () => {
    state.scenario = 'authors-degraded';
    await page.goto(`${origin}/`);
    await page.locator('[data-test="article"]').first().waitFor();
    expect(await page.locator('[data-test="twitter"]').allTextContents()).toEqual(Array(5).fill('—'));
    expect(await page.locator('[data-test="blog"]').allTextContents()).toEqual(Array(5).fill('—'));
    expect(await page.locator('[data-test="error"]').count()).toBe(0);
    expect(await page.locator('[data-test="degraded-notice"]').isVisible()).toBe(true);
    await page.screenshot({ path: path.join(SCREENSHOTS, 'authors-degraded.png'), fullPage: true });
    expect(problems).toEqual([]);
  });

  it('shows what failed when articles is down', async () => {
    state.scenario = 'articles-down';
    await page.goto(`${origin}/`);
    const alert = page.getByRole('alert');
    await alert.waitFor();
    expect(await alert.textContent()).toContain('The articles service is unavailable: articles service unavailable');
    await page.screenshot({ path: path.join(SCREENSHOTS, 'articles-down.png'), fullPage: true });
    // The browser logs the 503 itself; anything else is a problem.
    expect(problems.filter((p) => !/status of 503/.test(p))).toEqual([]);
  });

  it('the traffic panel shows the 80/20 split of 100 requests as a bar', async () => {
    state.scenario = 'healthy';
    await page.goto(`${origin}/`);
    await page.locator('[data-test="article"]').first().waitFor();
    await page.getByLabel('Requests').fill('100');
    await page.getByRole('button', { name: 'Send requests' }).click();
    await page.getByText('100 of 100 requests done.').waitFor();
    expect(await page.locator('[data-test="legend-v1"]').textContent()).toBe('v1 80% (80)');
    expect(await page.locator('[data-test="legend-v2"]').textContent()).toBe('v2 20% (20)');
    // The bar really is drawn in that proportion.
    const bar = await page.locator('[data-test="traffic-bar"]').boundingBox();
    const v2 = await page.locator('[data-test="slice-v2"]').boundingBox();
    expect(v2!.width / bar!.width).toBeGreaterThan(0.18);
    expect(v2!.width / bar!.width).toBeLessThan(0.22);
    await page.screenshot({ path: path.join(SCREENSHOTS, 'traffic-split.png'), fullPage: true });
    expect(problems).toEqual([]);
  });

  it('fits a phone screen without horizontal scrolling', async () => {
    state.scenario = 'healthy';
    await page.setViewportSize({ width: 375, height: 800 });
    await page.goto(`${origin}/`);
    await page.locator('[data-test="article"]').first().waitFor();
    const { scrollWidth, innerWidth } = await page.evaluate(() => ({
      scrollWidth: document.documentElement.scrollWidth,
      innerWidth: window.innerWidth,
    }));
    expect(scrollWidth).toBeLessThanOrEqual(innerWidth);
    await page.screenshot({ path: path.join(SCREENSHOTS, 'articles-phone.png'), fullPage: true });
    expect(problems).toEqual([]);
  });
});
