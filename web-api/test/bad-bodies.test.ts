// issue 14: a deep or huge JSON body is the client's error (400/413 JSON from web-api itself), never an outage
// reported as a 5xx, and nothing is forwarded to articles.
import { MAX_JSON_DEPTH } from '@cns/service-kit';
import request from 'supertest';
import { json, listen, type Upstream } from './upstreams';
import { createWebApiApp } from '../src/app';

let articles: Upstream;
beforeEach(async () => {
  articles = await listen(json(201, { id: '1', title: 't', url: 'https://x.example', author: 'a' }));
});
afterEach(() => articles.close());

const webApi = () => createWebApiApp({ version: 'v1', config: { ARTICLES_URL: articles.url, AUTHORS_URL: articles.url, UPSTREAM_TIMEOUT_MS: 1000 } });

describe('POST /web-api/v1/create with a hostile body', () => {
  it.each([
    ['5,000 nested arrays', `{"title":${'['.repeat(5000)}${']'.repeat(5000)},"url":"https://x.example","author":"a"}`],
    ['5,000 nested arrays at the top', `${'['.repeat(5000)}${']'.repeat(5000)}`],
    [`objects nested ${MAX_JSON_DEPTH + 1} deep`, `${'{"a":'.repeat(MAX_JSON_DEPTH + 1)}1${'}'.repeat(MAX_JSON_DEPTH + 1)}`],
  ])('%s → 400 JSON naming the depth limit', async (_case, body) => {
    const res = await request(webApi()).post('/web-api/v1/create').set('content-type', 'application/json').send(body).expect(400);
    expect(res.body).toEqual({ error: 'bad_request', message: `body: nested deeper than ${MAX_JSON_DEPTH} levels`, field: 'body' });
    expect(articles.requests).toHaveLength(0);
  });

  it('a body over the size limit → 413 JSON', async () => {
    const res = await request(webApi())
      .post('/web-api/v1/create')
      .send({ title: 'x'.repeat(20_000), url: 'https://x.example', author: 'a' })
      .expect(413);
    expect(res.body).toEqual({ error: 'payload_too_large', message: 'request body is too large' });
    expect(articles.requests).toHaveLength(0);
  });

  it('a normal body is still forwarded', async () => {
    await request(webApi()).post('/web-api/v1/create').send({ title: 't', url: 'https://x.example', author: 'a' }).expect(201);
    expect(articles.requests).toHaveLength(1);
  });
});
