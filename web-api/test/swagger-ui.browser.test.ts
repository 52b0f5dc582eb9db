// Swagger UI really renders in Chromium under helmet's Content-Security-Policy (no blocked script or style).
import { chromiumLaunchOptions, describeWithTool } from '@cns/service-kit/testing';
import { chromium, type Browser } from 'playwright-core';
import { createWebApiApp } from '../src/app';
import { deadUrl, listen, type Upstream } from './upstreams';

// Spawning Node processes (or Chromium) takes seconds on a loaded 2-core machine.
jest.setTimeout(60_000);

describeWithTool('chromium', 'Swagger UI in Chromium', () => {
  let browser: Browser;
  let webApi: Upstream;
  beforeAll(async () => {
    const unreachable = await deadUrl();
    webApi = await listen(createWebApiApp({ version: 'v1', config: { ARTICLES_URL: unreachable, AUTHORS_URL: unreachable, UPSTREAM_TIMEOUT_MS: 500 } }));
    browser = await chromium.launch(chromiumLaunchOptions());
  });
  afterAll(async () => {
    await browser?.close();
    await webApi?.close();
  });

  it('lists both operations and reports no CSP violation', async () => {
    const page = await browser.newPage();
    const problems: string[] = [];
    page.on('console', (message) => {
      if (message.type() === 'error') problems.push(message.text());
    });
    page.on('pageerror', (error) => problems.push(error.message));
    await page.goto(`${webApi.url}/openapi/ui`);
    await page.locator('.opblock-summary-path', { hasText: '/web-api/v1/getmultiple' }).waitFor({ timeout: 15_000 });
    await page.locator('.opblock-summary-path', { hasText: '/web-api/v1/create' }).waitFor();
    expect(page.url()).toBe(`${webApi.url}/openapi/ui/`);
    expect(problems).toEqual([]);
  });
});
