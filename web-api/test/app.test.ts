// Integration tests of web-api with real (articles, authors) and fake upstreams on loopback port 0.
import { createArticlesApp } from '@cns/articles';
import { createAuthorsApp, seedAuthors } from '@cns/authors';
import request from 'supertest';
import { deadUrl, json, listen, type Upstream } from './upstreams';
import { createWebApiApp } from '../src/app';
import type { WebApiVersion } from '../src/versions';
import { articlesDatabase, type ArticlesDatabase } from '../../articles/test/database';

// articles stores its articles in PostgreSQL: one local server for this file, a fresh database per test.
let database: ArticlesDatabase;
beforeAll(async () => {
  database = await articlesDatabase();
}, 90_000);
afterAll(() => database?.stop());

const upstreams: Upstream[] = [];
async function start(handler: Parameters<typeof listen>[0]): Promise<Upstream> {
  const upstream = await listen(handler);
  upstreams.push(upstream);
  return upstream;
}
afterEach(async () => {
  await Promise.all(upstreams.splice(0).map((u) => u.close()));
});

function webApi(version: WebApiVersion, articlesUrl: string, authorsUrl: string, timeoutMs = 1000) {
  return createWebApiApp({ version, config: { ARTICLES_URL: articlesUrl, AUTHORS_URL: authorsUrl, UPSTREAM_TIMEOUT_MS: timeoutMs } });
}

const sampleArticles = [
  { id: '3', title: 'Third', url: 'https://example.com/3', author: 'Ada Quill' },
  { id: '2', title: 'Second', url: 'https://example.com/2', author: 'Milo Brandt' },
  { id: '1', title: 'First', url: 'https://example.com/1', author: 'ada quill' },
];
const ada = seedAuthors.find((a) => a.name === 'Ada Quill')!;
const milo = seedAuthors.find((a) => a.name === 'Milo Brandt')!;

/** A fake authors service answering both the single and the batch lookup from the seed. */
function fakeAuthors(): Parameters<typeof listen>[0] {
  return (req, res) => {
    const url = new URL(req.url!, 'http://x');
    const names = url.searchParams.getAll('name').map((n) => n.toLowerCase());
    const known = seedAuthors.filter((a) => names.includes(a.name.toLowerCase()));
    res.setHeader('content-type', 'application/json');
    if (url.pathname === '/api/v1/getauthors') {
      res.end(JSON.stringify({ authors: known, notFound: [] }));
    } else if (known[0]) {
      res.end(JSON.stringify(known[0]));
    } else {
      res.statusCode = 404;
      res.end(JSON.stringify({ error: 'not_found', message: 'no author' }));
    }
  };
}

/**
 * The fake authors service that answers only once `together` lookups are in flight at the same time (all of them
 * then), and records the most it saw at once.
 */
function concurrentAuthors(together: number): Parameters<typeof listen>[0] & { maxInFlight(): number } {
  const answer = fakeAuthors();
  const held: Array<() => void> = [];
  let inFlight = 0;
  let most = 0;
  const handler = (req: Parameters<typeof answer>[0], res: Parameters<typeof answer>[1]) => {
    inFlight += 1;
    most = Math.max(most, inFlight);
    res.on('close', () => (inFlight -= 1));
    held.push(() => answer(req, res));
    if (inFlight >= together) for (const release of held.splice(0)) release();
  };
  return Object.assign(handler, { maxInFlight: () => most });
}

describe('web-api against the real articles and authors services', () => {
  it.each([
    ['v1', 5],
    ['v2', 10],
  ] as const)('%s returns %i articles, newest first, with author fields and its version header', async (version, count) => {
    const articles = await start(createArticlesApp({ store: await database.fresh() }));
    const authors = await start(createAuthorsApp());
    const app = webApi(version, articles.url, authors.url);
    const res = await request(app).get('/web-api/v1/getmultiple').expect(200);
    expect(res.headers['x-web-api-version']).toBe(version);
    expect(res.headers['x-web-api-stale']).toBeUndefined();
    // What the two services hold, asked directly: web-api must pass the newest articles through with their authors.
    const stored = (await request(articles.url).get('/articles/v1/getmultiple').query({ amount: count }).expect(200)).body as Array<{
      id: string;
      title: string;
      url: string;
      author: string;
    }>;
    expect(stored).toHaveLength(count);
    const expected = stored.map((article) => {
      const author = seedAuthors.find((a) => a.name.toLowerCase() === article.author.toLowerCase());
      expect(author).toBeDefined(); // every sample article has a known author, so every field below is filled
      return { id: article.id, title: article.title, url: article.url, authorName: article.author, authorBlog: author!.blog, authorTwitter: author!.twitter };
    });
    expect(res.body).toEqual(expected);
    const ids = res.body.map((a: { id: string }) => Number(a.id));
    expect(ids).toEqual([...ids].sort((a, b) => b - a));
  });

  it('creates an article through articles, which then shows first', async () => {
    const articles = await start(createArticlesApp({ store: await database.fresh() }));
    const authors = await start(createAuthorsApp());
    const app = webApi('v1', articles.url, authors.url);
    const created = await request(app)
      .post('/web-api/v1/create')
      .send({ title: 'Through web-api', url: 'https://example.com/new', author: 'Hana Okafor' })
      .expect(201);
    expect(created.body).toEqual({ id: expect.any(String), title: 'Through web-api', url: 'https://example.com/new', author: 'Hana Okafor' });
    const list = await request(app).get('/web-api/v1/getmultiple').expect(200);
    expect(list.body[0]).toMatchObject({ id: created.body.id, authorName: 'Hana Okafor', authorTwitter: '@hanaokafor' });
  });

  it("passes articles' 400 back, naming the field", async () => {
    const articles = await start(createArticlesApp({ store: await database.fresh() }));
    const app = webApi('v1', articles.url, await deadUrl());
    const res = await request(app).post('/web-api/v1/create').send({ title: 'x', url: 'nope', author: 'a' }).expect(400);
    expect(res.body).toEqual({ error: 'bad_request', message: 'url: must be an http(s) URL', field: 'url' });
    const missing = await request(app).post('/web-api/v1/create').send({ url: 'https://example.com' }).expect(400);
    expect(missing.body.field).toBe('title');
  });
});

describe('web-api create: its own checks', () => {
  it('rejects malformed JSON, a non-object body and an oversized body without calling articles', async () => {
    const articles = await start(json(201, {}));
    const app = webApi('v2', articles.url, await deadUrl());
    const malformed = await request(app).post('/web-api/v1/create').set('content-type', 'application/json').send('{"title"').expect(400);
    expect(malformed.body).toEqual({ error: 'bad_request', message: 'request body is not valid JSON' });
    const list = await request(app).post('/web-api/v1/create').send(['x']).expect(400);
    expect(list.body.field).toBe('body');
    const big = await request(app)
      .post('/web-api/v1/create')
      .send({ title: 'x'.repeat(20_000) })
      .expect(413);
    expect(big.body.error).toBe('payload_too_large');
    expect(articles.requests).toHaveLength(0);
  });

  it('answers 503 JSON when articles refuses the connection (nothing was sent, so nothing stored)', async () => {
    const app = webApi('v1', await deadUrl(), await deadUrl());
    const res = await request(app).post('/web-api/v1/create').send({ title: 't', url: 'https://example.com', author: 'a' }).expect(503);
    expect(res.body).toEqual({ error: 'service_unavailable', message: 'articles service is unavailable (ECONNREFUSED); nothing was stored' });
  });
});

describe('web-api aggregation with fake upstreams', () => {
  it('v1 looks each distinct author up once, in parallel', async () => {
    const articles = await start(json(200, sampleArticles));
    // Holds every lookup until both distinct authors are being looked up at once: lookups made one after the other
    // would wait here until web-api's deadline and come back without author fields.
    const lookups = concurrentAuthors(2);
    const authors = await start(lookups);
    const res = await request(webApi('v1', articles.url, authors.url, 3000))
      .get('/web-api/v1/getmultiple')
      .expect(200);
    expect(articles.requests.map((r) => r.url)).toEqual(['/articles/v1/getmultiple?amount=5']);
    // 'Ada Quill' and 'ada quill' are one author for the authors service.
    expect(authors.requests.map((r) => r.url).sort()).toEqual(['/api/v1/getauthor?name=Ada+Quill', '/api/v1/getauthor?name=Milo+Brandt']);
    expect(lookups.maxInFlight()).toBe(2);
    expect(res.body).toEqual([
      { id: '3', title: 'Third', url: 'https://example.com/3', authorName: 'Ada Quill', authorBlog: ada.blog, authorTwitter: ada.twitter },
      { id: '2', title: 'Second', url: 'https://example.com/2', authorName: 'Milo Brandt', authorBlog: milo.blog, authorTwitter: milo.twitter },
      { id: '1', title: 'First', url: 'https://example.com/1', authorName: 'ada quill', authorBlog: ada.blog, authorTwitter: ada.twitter },
    ]);
  });

  it('v2 asks for 10 articles and looks all authors up in one batch call', async () => {
    const articles = await start(json(200, sampleArticles));
    const authors = await start(fakeAuthors());
    const res = await request(webApi('v2', articles.url, authors.url))
      .get('/web-api/v1/getmultiple')
      .expect(200);
    expect(articles.requests.map((r) => r.url)).toEqual(['/articles/v1/getmultiple?amount=10']);
    expect(authors.requests.map((r) => r.url)).toEqual(['/api/v1/getauthors?name=Ada+Quill&name=Milo+Brandt']);
    expect(res.body.map((a: { authorTwitter: string }) => a.authorTwitter)).toEqual([ada.twitter, milo.twitter, ada.twitter]);
  });

  it('leaves the fields of an unknown author empty and fills the others', async () => {
    const articles = await start(json(200, [...sampleArticles, { id: '0', title: 'Zero', url: 'https://example.com/0', author: 'Ghost Writer' }]));
    const authors = await start(fakeAuthors());
    const res = await request(webApi('v1', articles.url, authors.url))
      .get('/web-api/v1/getmultiple')
      .expect(200);
    expect(res.body[3]).toEqual({ id: '0', title: 'Zero', url: 'https://example.com/0', authorName: 'Ghost Writer', authorBlog: '', authorTwitter: '' });
    expect(res.body[0].authorBlog).toBe(ada.blog);
  });

  it.each(['v1', 'v2'] as const)('%s: authors down → 200 with empty author fields', async (version) => {
    const articles = await start(json(200, sampleArticles));
    const res = await request(webApi(version, articles.url, await deadUrl()))
      .get('/web-api/v1/getmultiple')
      .expect(200);
    expect(res.body).toHaveLength(3);
    for (const article of res.body) expect(article).toMatchObject({ authorBlog: '', authorTwitter: '' });
    expect(res.body[0].authorName).toBe('Ada Quill');
  });

  it.each(['v1', 'v2'] as const)('%s: authors hanging → 200 with empty author fields within the timeout', async (version) => {
    const articles = await start(json(200, sampleArticles));
    const authors = await start(json('hang'));
    const started = Date.now();
    const res = await request(webApi(version, articles.url, authors.url, 300))
      .get('/web-api/v1/getmultiple')
      .expect(200);
    // A hanging upstream never answers: finishing at all proves the timeout; the bound is loose for loaded machines.
    expect(Date.now() - started).toBeLessThan(5000);
    expect(authors.requests.length).toBeGreaterThan(0);
    for (const article of res.body) expect(article).toMatchObject({ authorBlog: '', authorTwitter: '' });
  });

  it('articles down and no earlier answer → 503 JSON with a message', async () => {
    const res = await request(webApi('v1', await deadUrl(), await deadUrl()))
      .get('/web-api/v1/getmultiple')
      .expect(503);
    expect(res.body).toEqual({
      error: 'service_unavailable',
      message: 'articles service is unavailable (ECONNREFUSED) and there is no earlier answer to serve',
    });
    expect(res.headers['x-web-api-version']).toBe('v1');
  });

  it('articles hanging and no earlier answer → 503 within the timeout', async () => {
    const articles = await start(json('hang'));
    const started = Date.now();
    const res = await request(webApi('v2', articles.url, await deadUrl(), 300))
      .get('/web-api/v1/getmultiple')
      .expect(503);
    expect(Date.now() - started).toBeLessThan(5000);
    expect(res.body.message).toContain('timed out');
  });

  it.each([
    ['a 500', json(500, { error: 'boom' })],
    ['a body of the wrong shape', json(200, { not: 'an array' })],
  ])('articles answering %s counts as down', async (_case, handler) => {
    const articles = await start(handler);
    const res = await request(webApi('v1', articles.url, await deadUrl()))
      .get('/web-api/v1/getmultiple')
      .expect(503);
    expect(res.body.error).toBe('service_unavailable');
  });

  it('articles down after a good answer → the last good answer, marked stale', async () => {
    let articlesUp = true;
    const articles = await start((req, res) => (articlesUp ? json(200, sampleArticles) : json(503, { error: 'down' }))(req, res));
    const authors = await start(fakeAuthors());
    const app = webApi('v1', articles.url, authors.url);
    const fresh = await request(app).get('/web-api/v1/getmultiple').expect(200);
    articlesUp = false;
    const stale = await request(app).get('/web-api/v1/getmultiple').expect(200);
    expect(stale.headers['x-web-api-stale']).toBe('true');
    expect(stale.body).toEqual(fresh.body);
    articlesUp = true;
    const again = await request(app).get('/web-api/v1/getmultiple').expect(200);
    expect(again.headers['x-web-api-stale']).toBeUndefined();
  });

  it('warm-up: one aggregation before serving leaves a last good answer for a first request whose articles call fails', async () => {
    let articlesUp = true;
    const articles = await start((req, res) => (articlesUp ? json(200, sampleArticles) : json(503, { error: 'down' }))(req, res));
    const authors = await start(fakeAuthors());
    const app = webApi('v1', articles.url, authors.url);
    await expect(app.warmUp()).resolves.toBe(true);
    expect(articles.requests.map((r) => r.url)).toEqual(['/articles/v1/getmultiple?amount=5']);
    articlesUp = false;
    const first = await request(app).get('/web-api/v1/getmultiple').expect(200);
    expect(first.headers['x-web-api-stale']).toBe('true');
    expect(first.body.map((a: { id: string }) => a.id)).toEqual(sampleArticles.map((a) => a.id));
  });

  it('warm-up with articles down: resolves false without throwing, and the first request still answers 503', async () => {
    const app = webApi('v1', await deadUrl(), await deadUrl());
    await expect(app.warmUp()).resolves.toBe(false);
    await request(app).get('/web-api/v1/getmultiple').expect(503);
  });

  it('forwards the incoming trace headers to articles and authors', async () => {
    const articles = await start(json(200, sampleArticles));
    const authors = await start(fakeAuthors());
    const traceHeaders = {
      'x-request-id': 'trace-me-1',
      traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01',
      'x-b3-traceid': '4bf92f3577b34da6',
      'x-b3-spanid': '00f067aa0ba902b7',
      'x-b3-sampled': '1',
      'end-user': 'jason',
    };
    await request(webApi('v1', articles.url, authors.url))
      .get('/web-api/v1/getmultiple')
      .set(traceHeaders)
      .expect(200);
    for (const call of [...articles.requests, ...authors.requests]) {
      for (const [name, value] of Object.entries(traceHeaders)) expect(call.headers[name]).toBe(value);
    }
  });

  it('sends its generated x-request-id upstream when the caller sent none', async () => {
    const articles = await start(json(200, sampleArticles));
    const authors = await start(fakeAuthors());
    const res = await request(webApi('v2', articles.url, authors.url))
      .get('/web-api/v1/getmultiple')
      .expect(200);
    const id = res.headers['x-request-id'];
    expect(id).toMatch(/^[0-9a-f-]{36}$/);
    expect(articles.requests[0]!.headers['x-request-id']).toBe(id);
    expect(authors.requests[0]!.headers['x-request-id']).toBe(id);
  });

  it('is not ready before a first answer, then stays ready while its upstreams are down, and counts getmultiple in /metrics', async () => {
    let articlesUp = false;
    const articles = await start((req, res) => (articlesUp ? json(200, sampleArticles) : json(503, { error: 'down', message: 'down' }))(req, res));
    const app = webApi('v1', articles.url, await deadUrl());
    await request(app)
      .get('/readyz')
      .expect(503, { status: 'not ready', failing: ['warm-up'] });
    await request(app).get('/web-api/v1/getmultiple').expect(503);
    articlesUp = true;
    await expect(app.warmUp()).resolves.toBe(true);
    articlesUp = false;
    await request(app).get('/readyz').expect(200, { status: 'ready' });
    const metrics = await request(app).get('/metrics').expect(200);
    expect(metrics.text).toMatch(/http_requests_total\{[^}]*route="\/web-api\/v1\/getmultiple"[^}]*status_code="503"[^}]*\} 1/);
    expect(metrics.text).toMatch(/http_requests_total\{[^}]*version="v1"[^}]*\} 1/);
  });

  it('answers unknown paths with 404 JSON carrying the version header', async () => {
    const res = await request(webApi('v2', await deadUrl(), await deadUrl()))
      .get('/web-api/v1/nothing')
      .expect(404);
    expect(res.body.error).toBe('not_found');
    expect(res.headers['x-web-api-version']).toBe('v2');
  });
});
