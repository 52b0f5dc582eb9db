// The OpenAPI document describes what web-api really answers: real responses are validated against it.
import { createArticlesApp } from '@cns/articles';
import { createAuthorsApp } from '@cns/authors';
import Ajv from 'ajv';
import addFormats from 'ajv-formats';
import request from 'supertest';
import { createWebApiApp } from '../src/app';
import { json, listen, type Upstream } from './upstreams';
import { articlesDatabase, type ArticlesDatabase } from '../../articles/test/database';

// articles stores its articles in PostgreSQL: one local server for this file, a fresh database per test.
let database: ArticlesDatabase;
beforeAll(async () => {
  database = await articlesDatabase();
}, 90_000);
afterAll(() => database?.stop());

let articles: Upstream;
let authors: Upstream;
beforeAll(async () => {
  articles = await listen(createArticlesApp({ store: await database.fresh() }));
  authors = await listen(createAuthorsApp());
});
afterAll(async () => {
  await Promise.all([articles.close(), authors.close()]);
});

function app(version: 'v1' | 'v2' = 'v1') {
  return createWebApiApp({ version, config: { ARTICLES_URL: articles.url, AUTHORS_URL: authors.url, UPSTREAM_TIMEOUT_MS: 1000 } });
}

/** Compiles `#/components/schemas/<name>` of the served spec. */
async function schemaValidator(name: string) {
  const spec = (await request(app()).get('/openapi').expect(200)).body;
  const ajv = new Ajv({ strict: false, allErrors: true });
  addFormats(ajv);
  ajv.addSchema({ $id: 'openapi', components: spec.components });
  return ajv.compile({ $ref: `openapi#/components/schemas/${name}` });
}

describe('OpenAPI document', () => {
  it('is served as OpenAPI 3 JSON describing both operations and the version', async () => {
    const res = await request(app('v2')).get('/openapi').expect(200);
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    expect(res.body.openapi).toMatch(/^3\./);
    expect(res.body.info.version).toBe('v2');
    expect(Object.keys(res.body.paths)).toEqual(expect.arrayContaining(['/web-api/v1/getmultiple', '/web-api/v1/create']));
  });

  it('matches a real getmultiple response', async () => {
    const validate = await schemaValidator('WebApiArticle');
    const res = await request(app('v2')).get('/web-api/v1/getmultiple').expect(200);
    expect(res.body.length).toBe(10);
    for (const item of res.body) expect({ item, errors: validate(item) ? null : validate.errors }).toEqual({ item, errors: null });
    // The schema is not a rubber stamp: a missing field or a bad URL fails it.
    expect(validate({ ...res.body[0], authorBlog: undefined })).toBe(false);
    expect(validate({ ...res.body[0], url: 'not a url' })).toBe(false);
  });

  it('matches real create and error responses', async () => {
    const article = await schemaValidator('Article');
    const error = await schemaValidator('Error');
    const created = await request(app()).post('/web-api/v1/create').send({ title: 'Spec', url: 'https://example.com/spec', author: 'Ada Quill' }).expect(201);
    expect(article(created.body)).toBe(true);
    const invalid = await request(app()).post('/web-api/v1/create').send({ title: '' }).expect(400);
    expect(error(invalid.body)).toBe(true);
    const notFound = await request(app()).get('/web-api/v1/none').expect(404);
    expect(error(notFound.body)).toBe(true);
  });

  it('documents every answer a create with an Idempotency-Key gives: 201 (and its replay), 422 for a reused key, 504 outcome unknown', async () => {
    const error = await schemaValidator('Error');
    const spec = (await request(app()).get('/openapi').expect(200)).body;
    const documented = spec.paths['/web-api/v1/create'].post;
    expect(documented.parameters.map((p: { name: string; in: string }) => `${p.in}:${p.name}`)).toEqual(['header:Idempotency-Key']);
    const body = { title: 'Keyed', url: 'https://example.com/keyed', author: 'Ada Quill' };
    const first = await request(app()).post('/web-api/v1/create').set('idempotency-key', 'spec-key').send(body).expect(201);
    const replay = await request(app()).post('/web-api/v1/create').set('idempotency-key', 'spec-key').send(body).expect(201);
    expect(replay.body).toEqual(first.body);
    expect(replay.headers['idempotent-replayed']).toBe('true');
    expect(documented.responses['201'].headers).toHaveProperty('idempotent-replayed');
    const reused = await request(app())
      .post('/web-api/v1/create')
      .set('idempotency-key', 'spec-key')
      .send({ ...body, title: 'Other' })
      .expect(422);
    expect(error(reused.body)).toBe(true);
    const silent = await listen(json('hang'));
    const unknown = createWebApiApp({
      version: 'v1',
      config: { ARTICLES_URL: silent.url, AUTHORS_URL: silent.url, UPSTREAM_TIMEOUT_MS: 100, CREATE_TIMEOUT_MS: 100 },
    });
    const timedOut = await request(unknown).post('/web-api/v1/create').send(body).expect(504);
    await silent.close();
    expect(error(timedOut.body)).toBe(true);
    expect(Object.keys(documented.responses)).toEqual(expect.arrayContaining(['201', '400', '422', '503', '504']));
  });
});

describe('Swagger UI', () => {
  it('redirects /openapi/ui to the slash form its relative assets need', async () => {
    const res = await request(app()).get('/openapi/ui').expect(301);
    expect(res.headers.location).toBe('ui/');
  });

  it('serves its page and assets under the security headers', async () => {
    const page = await request(app()).get('/openapi/ui/').expect(200);
    expect(page.headers['content-type']).toMatch(/^text\/html/);
    expect(page.text).toContain('<div id="swagger-ui">');
    // helmet's CSP allows scripts from 'self' only: every script on the page must be an external file.
    const csp = page.headers['content-security-policy'];
    expect(csp).toContain("script-src 'self'");
    const scripts = [...page.text.matchAll(/<script([^>]*)>/g)].map((m) => m[1]!);
    expect(scripts.length).toBeGreaterThan(0);
    for (const attributes of scripts) expect(attributes).toMatch(/src="\.\/[\w.-]+\.js"/);
    for (const attributes of scripts) {
      const src = /src="\.\/([\w.-]+\.js)"/.exec(attributes)![1];
      const asset = await request(app()).get(`/openapi/ui/${src}`).expect(200);
      expect(asset.headers['content-type']).toMatch(/javascript/);
    }
    const init = await request(app('v2')).get('/openapi/ui/swagger-ui-init.js').expect(200);
    expect(init.text).toContain('"version": "v2"');
    await request(app()).get('/openapi/ui/swagger-ui.css').expect(200).expect('content-type', /css/);
  });
});
