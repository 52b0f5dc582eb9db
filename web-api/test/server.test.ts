// web-api-v1 and web-api-v2 as real processes: in-cluster URLs reached through HTTP_PROXY (as in the local
// mesh), graceful shutdown with an upstream call in flight, and bad config.
import { createArticlesApp } from '@cns/articles';
import { createAuthorsApp } from '@cns/authors';
import { spawnNode, waitForListening, type SpawnedProcess } from '@cns/service-kit/testing';
import http from 'node:http';
import { builtServer } from '../../service-kit/test/built-server';
import { listen, type Upstream } from './upstreams';
import { articlesDatabase, type ArticlesDatabase } from '../../articles/test/database';

// articles stores its articles in PostgreSQL: one local server for this file, a fresh database per test.
let database: ArticlesDatabase;
beforeAll(async () => {
  database = await articlesDatabase();
}, 90_000);
afterAll(() => database?.stop());

// Spawning Node processes (or Chromium) takes seconds on a loaded 2-core machine.
jest.setTimeout(60_000);

let proc: SpawnedProcess | undefined;
const upstreams: Upstream[] = [];
afterEach(async () => {
  if (proc && proc.child.exitCode === null) proc.child.kill('SIGKILL');
  await proc?.exited;
  await Promise.all(upstreams.splice(0).map((u) => u.close()));
});

/** A forward proxy that sends `Host: articles:8080` / `authors:3000` to the given loopback servers. */
async function meshLikeProxy(routes: Record<string, string>): Promise<Upstream> {
  const proxy = await listen((req, res) => {
    const target = routes[req.headers.host ?? ''];
    if (!target) {
      res.writeHead(502).end();
      return;
    }
    const url = new URL(req.url!); // absolute-form: http://articles:8080/...
    const forwarded = http.request(`${target}${url.pathname}${url.search}`, { method: req.method, headers: req.headers }, (upstream) => {
      res.writeHead(upstream.statusCode!, upstream.headers);
      upstream.pipe(res);
    });
    req.pipe(forwarded);
  });
  upstreams.push(proxy);
  return proxy;
}

it.each([
  ['web-api-v1', 'v1', 5],
  ['web-api-v2', 'v2', 10],
] as const)('%s reaches http://articles:8080 and http://authors:3000 through HTTP_PROXY', async (workspace, version, count) => {
  const articles = await listen(createArticlesApp({ store: await database.fresh() }));
  const authors = await listen(createAuthorsApp());
  upstreams.push(articles, authors);
  const proxy = await meshLikeProxy({ 'articles:8080': articles.url, 'authors:3000': authors.url });
  proc = spawnNode(builtServer(workspace), { env: { PORT: '0', HOST: '127.0.0.1', HTTP_PROXY: proxy.url, NO_PROXY: '' } });
  const port = await waitForListening(proc);
  // Once it listens, the replica warms up with one getmultiple of its own (no caller, so no end-user) and turns ready.
  await proc.waitForLine((line) => line.includes('warm-up done'));
  expect((await fetch(`http://127.0.0.1:${port}/readyz`)).status).toBe(200);
  const warmUp = proxy.requests.splice(0);
  expect(warmUp[0]!.url).toBe(`http://articles:8080/articles/v1/getmultiple?amount=${count}`);
  expect(warmUp.some((r) => r.url.startsWith('http://authors:3000/api/v1/'))).toBe(true);
  const res = await fetch(`http://127.0.0.1:${port}/web-api/v1/getmultiple`, { headers: { 'end-user': 'jason' } });
  expect(res.status).toBe(200);
  expect(res.headers.get('x-web-api-version')).toBe(version);
  const body = (await res.json()) as { authorTwitter: string }[];
  expect(body).toHaveLength(count);
  expect(body.every((a) => a.authorTwitter.startsWith('@'))).toBe(true);
  expect(proxy.requests[0]!.url).toBe(`http://articles:8080/articles/v1/getmultiple?amount=${count}`);
  expect(proxy.requests.some((r) => r.url.startsWith('http://authors:3000/api/v1/'))).toBe(true);
  expect(proxy.requests.every((r) => r.headers['end-user'] === 'jason')).toBe(true);
});

it('finishes a getmultiple whose articles call is in flight at SIGTERM, then exits 0', async () => {
  // The fake articles service answers the warm-up (the replica's own call once it listens) and holds every
  // later request until the test releases it.
  const held: http.ServerResponse[] = [];
  let notifyHeld: () => void = () => undefined;
  let warmedUp = false;
  const articles = await listen((_req, res) => {
    if (!warmedUp) {
      warmedUp = true;
      res.writeHead(200, { 'content-type': 'application/json' }).end('[]');
      return;
    }
    held.push(res);
    notifyHeld();
  });
  upstreams.push(articles);
  const heldOnce = new Promise<void>((resolve) => (notifyHeld = resolve));
  proc = spawnNode(builtServer('web-api-v1'), {
    env: { PORT: '0', HOST: '127.0.0.1', ARTICLES_URL: articles.url, AUTHORS_URL: articles.url, UPSTREAM_TIMEOUT_MS: '20000' },
  });
  const port = await waitForListening(proc);
  await proc.waitForLine((line) => line.includes('warm-up done'));
  const inFlight = fetch(`http://127.0.0.1:${port}/web-api/v1/getmultiple`);
  await heldOnce;
  proc.child.kill('SIGTERM');
  await proc.waitForLine((line) => line.includes('shutdown started'));
  held[0]!.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify([{ id: '1', title: 't', url: 'https://example.com', author: '' }]));
  const res = await inFlight;
  expect(res.status).toBe(200);
  expect(await res.json()).toEqual([{ id: '1', title: 't', url: 'https://example.com', authorName: '', authorBlog: '', authorTwitter: '' }]);
  expect(await proc.exited).toBe(0);
});

it('refuses bad configuration with a clear message and exit code 1', async () => {
  proc = spawnNode(builtServer('web-api-v2'), { env: { PORT: 'abc', ARTICLES_URL: 'articles', UPSTREAM_TIMEOUT_MS: '0' } });
  expect(await proc.exited).toBe(1);
  const stderr = proc.stderr();
  expect(stderr).toContain('web-api-v2: invalid configuration');
  expect(stderr).toContain('PORT="abc": must be an integer');
  expect(stderr).toContain('ARTICLES_URL="articles": must be an http(s) URL');
  expect(stderr).toContain('UPSTREAM_TIMEOUT_MS="0": must be at least 1');
});
