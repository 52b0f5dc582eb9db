// The articles app in-process against a real PostgreSQL (see ./database.ts), a fresh database per test.
import { PostgresArticleStore, createArticlesApp, seedArticles } from '@cns/articles';
import request from 'supertest';
import { articlesDatabase, type ArticlesDatabase } from './database';

let database: ArticlesDatabase;
beforeAll(async () => {
  database = await articlesDatabase();
}, 90_000);
afterAll(() => database?.stop());

/** The app on a fresh database holding the sample articles. */
async function freshApp(options: { maxArticles?: number } = {}) {
  return createArticlesApp({ store: await database.fresh(options) });
}

const validArticle = { title: 'Testing a mesh locally', url: 'https://example.com/mesh', author: 'Ada Quill' };

describe('articles service', () => {
  describe('GET /articles/v1/getmultiple', () => {
    it('returns the requested number of articles, newest first, with id, title, url and author', async () => {
      const res = await request(await freshApp())
        .get('/articles/v1/getmultiple')
        .query({ amount: 5 })
        .expect(200);
      expect(res.body).toHaveLength(5);
      const newestFive = seedArticles.slice(-5).reverse();
      expect(res.body.map((a: { title: string }) => a.title)).toEqual(newestFive.map((a) => a.title));
      for (const article of res.body) expect(Object.keys(article).sort()).toEqual(['author', 'id', 'title', 'url']);
    });

    it('defaults to 10 and returns at most what is stored', async () => {
      const app = await freshApp();
      expect((await request(app).get('/articles/v1/getmultiple').expect(200)).body).toHaveLength(10);
      expect((await request(app).get('/articles/v1/getmultiple?amount=100').expect(200)).body).toHaveLength(seedArticles.length);
    });

    it('puts a newly created article first', async () => {
      const app = await freshApp();
      const created = await request(app).post('/articles/v1/create').send(validArticle).expect(201);
      const res = await request(app).get('/articles/v1/getmultiple?amount=2').expect(200);
      expect(res.body[0]).toEqual(created.body);
      expect(res.body[1].title).toBe(seedArticles.at(-1)!.title);
    });

    it.each([
      ['0', 'amount: must be a positive integer'],
      ['-3', 'amount: must be a positive integer'],
      ['1.5', 'amount: must be a positive integer'],
      ['abc', 'amount: must be a positive integer'],
      ['', 'amount: must be a positive integer'],
      ['101', 'amount: must be at most 100'],
      ['99999999999', 'amount: must be a positive integer'],
    ])('rejects amount=%j with 400 naming the field', async (amount, message) => {
      const res = await request(await freshApp())
        .get(`/articles/v1/getmultiple?amount=${amount}`)
        .expect(400);
      expect(res.body).toEqual({ error: 'bad_request', message, field: 'amount' });
    });

    it('rejects a repeated amount', async () => {
      await request(await freshApp())
        .get('/articles/v1/getmultiple?amount=1&amount=2')
        .expect(400);
    });
  });

  describe('GET /articles/v1/getone', () => {
    it('returns one article by id', async () => {
      const app = await freshApp();
      const res = await request(app).get('/articles/v1/getone?id=1').expect(200);
      expect(res.body).toEqual({ id: '1', ...seedArticles[0] });
    });

    it('answers an unknown id with 404 JSON and a missing id with 400', async () => {
      const app = await freshApp();
      const missing = await request(app).get('/articles/v1/getone?id=424242').expect(404);
      expect(missing.body).toEqual({ error: 'not_found', message: 'no article with id "424242"' });
      const noId = await request(app).get('/articles/v1/getone').expect(400);
      expect(noId.body).toEqual({ error: 'bad_request', message: 'id: query parameter is required', field: 'id' });
    });
  });

  describe('POST /articles/v1/create', () => {
    it('stores the article with an id assigned by the service, trimming strings, and ignores a client id', async () => {
      const app = await freshApp();
      const res = await request(app)
        .post('/articles/v1/create')
        .send({ id: 'mine', title: '  Padded title ', url: ' http://example.org/a ', author: ' Milo Brandt ' })
        .expect(201);
      expect(res.body).toEqual({ id: String(seedArticles.length + 1), title: 'Padded title', url: 'http://example.org/a', author: 'Milo Brandt' });
      expect(res.headers.location).toBe(`/articles/v1/getone?id=${res.body.id}`);
      await request(app).get(`/articles/v1/getone?id=${res.body.id}`).expect(200, res.body);
    });

    it.each([
      ['title', { ...validArticle, title: undefined }, 'title: is required'],
      ['title', { ...validArticle, title: '   ' }, 'title: must not be empty'],
      ['title', { ...validArticle, title: 42 }, 'title: must be a string'],
      ['title', { ...validArticle, title: 't'.repeat(201) }, 'title: must be at most 200 characters'],
      ['title', { ...validArticle, title: 'a\u0000b' }, 'title: must not contain NUL (U+0000) characters'],
      ['url', { ...validArticle, url: 'not a url' }, 'url: must be an http(s) URL'],
      ['url', { ...validArticle, url: 'javascript:alert(1)' }, 'url: must be an http(s) URL'],
      ['url', { ...validArticle, url: 'ftp://example.com/file' }, 'url: must be an http(s) URL'],
      ['author', { ...validArticle, author: undefined }, 'author: is required'],
      ['author', { ...validArticle, author: 'a'.repeat(101) }, 'author: must be at most 100 characters'],
    ])('rejects a bad %s with 400 naming it', async (field, body, message) => {
      const res = await request(await freshApp())
        .post('/articles/v1/create')
        .send(body)
        .expect(400);
      expect(res.body).toEqual({ error: 'bad_request', message, field });
    });

    it('rejects a body that is not a JSON object', async () => {
      const app = await freshApp();
      const array = await request(app).post('/articles/v1/create').send([validArticle]).expect(400);
      expect(array.body.field).toBe('body');
      await request(app).post('/articles/v1/create').set('content-type', 'text/plain').send('title=x').expect(400);
    });

    it('answers malformed JSON with 400 and an oversized body with 413', async () => {
      const app = await freshApp();
      const malformed = await request(app).post('/articles/v1/create').set('content-type', 'application/json').send('{"title":').expect(400);
      expect(malformed.body).toEqual({ error: 'bad_request', message: 'request body is not valid JSON' });
      const big = await request(app)
        .post('/articles/v1/create')
        .send({ ...validArticle, title: 'x'.repeat(50_000) })
        .expect(413);
      expect(big.body.error).toBe('payload_too_large');
    });

    it('stores one article per Idempotency-Key: a retry gets the first answer again, marked as a replay', async () => {
      const app = await freshApp();
      const key = '3f5c9d2e-7a41-4c1b-9e0f-2b6d8a1c4e77';
      const first = await request(app).post('/articles/v1/create').set('idempotency-key', key).send(validArticle).expect(201);
      expect(first.headers['idempotent-replayed']).toBeUndefined();
      // Quoted (the header's Structured Fields form) is the same key; the body only has to validate to the same article.
      const retry = await request(app)
        .post('/articles/v1/create')
        .set('idempotency-key', `"${key}"`)
        .send({ ...validArticle, title: ` ${validArticle.title} ` })
        .expect(201);
      expect(retry.body).toEqual(first.body);
      expect(retry.headers.location).toBe(first.headers.location);
      expect(retry.headers['idempotent-replayed']).toBe('true');
      const all = await request(app).get('/articles/v1/getmultiple?amount=100').expect(200);
      expect(all.body.filter((a: { title: string }) => a.title === validArticle.title)).toHaveLength(1);
      // Without a key every create stores one.
      const other = await request(app).post('/articles/v1/create').send(validArticle).expect(201);
      expect(other.body.id).not.toBe(first.body.id);
    });

    it('answers 422 to the same Idempotency-Key with a different body, and stores nothing', async () => {
      const app = await freshApp();
      await request(app).post('/articles/v1/create').set('idempotency-key', 'key-1').send(validArticle).expect(201);
      const reused = await request(app)
        .post('/articles/v1/create')
        .set('idempotency-key', 'key-1')
        .send({ ...validArticle, title: 'Another article' })
        .expect(422);
      expect(reused.body).toEqual({ error: 'idempotency_key_reused', message: expect.stringMatching(/different body/) });
      const all = await request(app).get('/articles/v1/getmultiple?amount=100').expect(200);
      expect(all.body.some((a: { title: string }) => a.title === 'Another article')).toBe(false);
    });

    it.each([
      ['empty', ''],
      ['with a space', 'two words'],
      ['too long', 'k'.repeat(256)],
      ['non-ASCII', 'schlüssel'],
    ])('rejects an Idempotency-Key that is %s with 400 naming the header', async (_what, key) => {
      const res = await request(await freshApp())
        .post('/articles/v1/create')
        .set('idempotency-key', key)
        .send(validArticle)
        .expect(400);
      expect(res.body).toEqual({ error: 'bad_request', message: expect.stringMatching(/^Idempotency-Key: /), field: 'Idempotency-Key' });
    });

    it('answers 507 once MAX_ARTICLES are stored', async () => {
      const app = await freshApp({ maxArticles: seedArticles.length });
      const res = await request(app).post('/articles/v1/create').send(validArticle).expect(507);
      expect(res.body).toEqual({ error: 'insufficient_storage', message: `the store holds its maximum of ${seedArticles.length} articles` });
    });
  });

  it('answers 503 JSON while the database cannot be reached, and /readyz fails', async () => {
    const dead = new URL(database.server.url);
    dead.port = '1';
    const store = new PostgresArticleStore({ url: dead.toString(), connectTimeoutMs: 500 });
    const app = createArticlesApp({ store });
    try {
      for (const path of ['/articles/v1/getmultiple', '/articles/v1/getone?id=1']) {
        const res = await request(app).get(path).expect(503);
        expect(res.body).toEqual({ error: 'database_unavailable', message: 'the article database is not reachable; try again shortly' });
      }
      await request(app).post('/articles/v1/create').send(validArticle).expect(503);
      await request(app).get('/readyz').expect(503);
      await request(app).get('/healthz').expect(200);
    } finally {
      await store.close();
    }
  });
});
