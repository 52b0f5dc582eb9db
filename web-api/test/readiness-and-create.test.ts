// Issue 25: a replica is ready only once it has an answer to serve; a create's answer never lies about whether the
// article was stored. Fake upstreams on loopback, and the real articles app (PostgreSQL) where storage matters.
import http from 'node:http';
import { createArticlesApp } from '@cns/articles';
import { createLogger } from '@cns/service-kit';
import request from 'supertest';
import { deadUrl, json, listen, type Upstream } from './upstreams';
import { createWebApiApp } from '../src/app';
import { warmUpUntilReady } from '../src/warm-up';
import { articlesDatabase, type ArticlesDatabase } from '../../articles/test/database';

let database: ArticlesDatabase;
beforeAll(async () => {
  database = await articlesDatabase();
}, 90_000);
afterAll(() => database?.stop());

const upstreams: Upstream[] = [];
async function start(handler: http.RequestListener): Promise<Upstream> {
  const upstream = await listen(handler);
  upstreams.push(upstream);
  return upstream;
}
afterEach(async () => {
  await Promise.all(upstreams.splice(0).map((u) => u.close()));
});

const quiet = createLogger({ service: 'web-api-test', level: 'silent' });
const article = { title: 'Created once', url: 'https://example.com/once', author: 'Ada Quill' };
const fiveArticles = Array.from({ length: 5 }, (_, i) => ({ id: String(i + 1), title: `A${i}`, url: `https://example.com/${i}`, author: 'Ada Quill' }));

/** Answers `handler` after `delayMs` (the request is read first, as a busy upstream would). */
const after =
  (delayMs: number, handler: http.RequestListener): http.RequestListener =>
  (req, res) =>
    setTimeout(() => handler(req, res), delayMs);

describe('readiness: ready only with a last good answer', () => {
  it('warms up with its own budget (WARMUP_TIMEOUT_MS), not the per-request one', async () => {
    const articles = await start(after(300, json(200, fiveArticles)));
    const app = createWebApiApp({
      version: 'v1',
      config: { ARTICLES_URL: articles.url, AUTHORS_URL: await deadUrl(), UPSTREAM_TIMEOUT_MS: 100, WARMUP_TIMEOUT_MS: 3000 },
      logger: quiet,
    });
    await request(app)
      .get('/readyz')
      .expect(503, { status: 'not ready', failing: ['warm-up'] });
    await expect(app.warmUpUntilReady()).resolves.toBe(true);
    expect(articles.requests).toHaveLength(1);
    await request(app).get('/readyz').expect(200);
  });

  it('retries until articles answers, then turns ready; a slow request afterwards gets the last good answer', async () => {
    let up = false;
    const articles = await start((req, res) => (up ? json(200, fiveArticles) : json(503, { error: 'down', message: 'down' }))(req, res));
    const app = createWebApiApp({
      version: 'v1',
      config: { ARTICLES_URL: articles.url, AUTHORS_URL: await deadUrl(), UPSTREAM_TIMEOUT_MS: 200 },
      logger: quiet,
    });
    const warm = warmUpUntilReady({
      attempt: (ms) => app.warmUp(ms),
      timeoutMs: 1000,
      stopped: () => false,
      logger: quiet,
      retryDelayMs: 20,
      maxRetryDelayMs: 40,
    });
    while (articles.requests.length < 3) await new Promise((resolve) => setTimeout(resolve, 10));
    await request(app).get('/readyz').expect(503);
    up = true;
    await expect(warm).resolves.toBe(true);
    await request(app).get('/readyz').expect(200);
    up = false;
    const stale = await request(app).get('/web-api/v1/getmultiple').expect(200);
    expect(stale.headers['x-web-api-stale']).toBe('true');
  });

  it('stops retrying when shutdown begins', async () => {
    const app = createWebApiApp({
      version: 'v2',
      config: { ARTICLES_URL: await deadUrl(), AUTHORS_URL: await deadUrl(), UPSTREAM_TIMEOUT_MS: 100 },
      logger: quiet,
    });
    const warm = app.warmUpUntilReady();
    app.readiness.beginShutdown();
    await expect(warm).resolves.toBe(false);
  });
});

describe('create: its answer says whether the article was stored', () => {
  it('answers 504 outcome_unknown (not 503) when articles does not answer within CREATE_TIMEOUT_MS, or answers a 5xx', async () => {
    const slow = await start(after(1000, json(201, { id: '1', ...article })));
    const app = createWebApiApp({
      version: 'v1',
      config: { ARTICLES_URL: slow.url, AUTHORS_URL: slow.url, UPSTREAM_TIMEOUT_MS: 100, CREATE_TIMEOUT_MS: 300 },
      logger: quiet,
    });
    const timedOut = await request(app).post('/web-api/v1/create').set('idempotency-key', 'k-1').send(article).expect(504);
    expect(timedOut.body).toEqual({
      error: 'outcome_unknown',
      message: expect.stringMatching(/did not answer within 300 ms.*may or may not have been stored.*same Idempotency-Key/),
    });
    const noKey = await request(app).post('/web-api/v1/create').send(article).expect(504);
    expect(noKey.body.message).toMatch(/send an Idempotency-Key header/);

    const failing = await start(json(500, { error: 'internal', message: 'internal server error' }));
    const app2 = createWebApiApp({ version: 'v1', config: { ARTICLES_URL: failing.url, AUTHORS_URL: failing.url, UPSTREAM_TIMEOUT_MS: 100 }, logger: quiet });
    const answered500 = await request(app2).post('/web-api/v1/create').send(article).expect(504);
    expect(answered500.body.message).toMatch(/^articles answered 500: /);
  });

  it('refuses a malformed Idempotency-Key with 400 before calling articles, also while articles is down', async () => {
    let calls = 0;
    const counting = await start((req, res) => {
      calls++;
      json(201, { id: '1', ...article })(req, res);
    });
    for (const articlesUrl of [await deadUrl(), counting.url]) {
      const app = createWebApiApp({ version: 'v1', config: { ARTICLES_URL: articlesUrl, AUTHORS_URL: articlesUrl, UPSTREAM_TIMEOUT_MS: 100 }, logger: quiet });
      for (const key of ['has spaces', 'x'.repeat(256), '']) {
        const refused = await request(app).post('/web-api/v1/create').set('idempotency-key', key).send(article).expect(400);
        expect(refused.body).toMatchObject({ error: 'bad_request', message: expect.stringMatching(/^Idempotency-Key: /) });
      }
    }
    expect(calls).toBe(0);
  });

  it('a retry with the same Idempotency-Key after a 504 returns the article the first attempt stored: one article, not two', async () => {
    const store = await database.fresh();
    const articlesApp = await start(createArticlesApp({ store, logger: quiet }));
    // The first create reaches articles (and is stored) but its answer comes after web-api gave up.
    let creates = 0;
    const target = new URL(articlesApp.url);
    const slowFirst = await start((req, res) => {
      const delayMs = req.url === '/articles/v1/create' && ++creates === 1 ? 600 : 0;
      const upstream = http.request({ host: target.hostname, port: target.port, path: req.url, method: req.method, headers: req.headers }, (answer) => {
        const chunks: Buffer[] = [];
        answer.on('data', (chunk: Buffer) => chunks.push(chunk));
        answer.on('end', () => setTimeout(() => res.writeHead(answer.statusCode!, answer.headers).end(Buffer.concat(chunks)), delayMs));
      });
      req.pipe(upstream);
    });
    const app = createWebApiApp({
      version: 'v1',
      config: { ARTICLES_URL: slowFirst.url, AUTHORS_URL: slowFirst.url, UPSTREAM_TIMEOUT_MS: 100, CREATE_TIMEOUT_MS: 300 },
      logger: quiet,
    });
    const key = '0b6d3b47-1f1a-4b8e-9d7c-5a2e6f3c9d10';
    await request(app).post('/web-api/v1/create').set('idempotency-key', key).send(article).expect(504);
    const retry = await request(app).post('/web-api/v1/create').set('idempotency-key', key).send(article).expect(201);
    expect(retry.headers['idempotent-replayed']).toBe('true');
    expect(retry.body).toMatchObject(article);
    const all = await store.newest(100);
    expect(all.filter((a) => a.title === article.title)).toEqual([retry.body]);
    // The same key with another article is refused by articles, and web-api passes its 422 on.
    const reused = await request(app)
      .post('/web-api/v1/create')
      .set('idempotency-key', key)
      .send({ ...article, title: 'Other' })
      .expect(422);
    expect(reused.body.error).toBe('idempotency_key_reused');
  });
});
