// web-api checks the shape of its upstreams' answers (a cheap check, not a schema parse): a wrong shape counts
// as a failed call, exactly as an error status does.
import request from 'supertest';
import { json, listen, type Upstream } from './upstreams';
import { createWebApiApp } from '../src/app';
import type { WebApiVersion } from '../src/versions';

const upstreams: Upstream[] = [];
async function start(handler: Parameters<typeof listen>[0]): Promise<Upstream> {
  const upstream = await listen(handler);
  upstreams.push(upstream);
  return upstream;
}
afterEach(async () => {
  await Promise.all(upstreams.splice(0).map((u) => u.close()));
});

const webApi = (version: WebApiVersion, articlesUrl: string, authorsUrl: string) =>
  createWebApiApp({ version, config: { ARTICLES_URL: articlesUrl, AUTHORS_URL: authorsUrl, UPSTREAM_TIMEOUT_MS: 1000 } });

const article = { id: 7, title: 'Seven', url: 'https://example.com/7', author: 'Ada Quill' };
const ada = { name: 'Ada Quill', twitter: '@adaquill', blog: 'https://adaquill.example/blog' };

describe('upstream answer shapes', () => {
  it('accepts a numeric article id and answers it as a string', async () => {
    const articles = await start(json(200, [article]));
    const authors = await start(json(200, ada));
    const res = await request(webApi('v1', articles.url, authors.url))
      .get('/web-api/v1/getmultiple')
      .expect(200);
    expect(res.body).toEqual([
      { id: '7', title: 'Seven', url: 'https://example.com/7', authorName: 'Ada Quill', authorBlog: ada.blog, authorTwitter: ada.twitter },
    ]);
  });

  it.each([
    ['an entry without a title', [{ ...article, title: undefined }]],
    ['an entry whose author is a number', [{ ...article, author: 3 }]],
    ['null entries', [null]],
    ['an object instead of a list', { articles: [article] }],
  ])('articles answering %s → 503 naming the shape', async (_case, body) => {
    const articles = await start(json(200, body));
    const authors = await start(json(200, ada));
    const res = await request(webApi('v1', articles.url, authors.url))
      .get('/web-api/v1/getmultiple')
      .expect(503);
    expect(res.body).toEqual({ error: 'service_unavailable', message: expect.stringContaining('unexpected response shape') });
    expect(authors.requests).toHaveLength(0);
  });

  it.each([
    ['v1', 'an author without a blog', { name: 'Ada Quill', twitter: '@adaquill' }],
    ['v2', 'a batch without its authors list', { notFound: [] }],
    ['v2', 'a batch with a malformed author', { authors: [{ name: 'Ada Quill', blog: 5, twitter: '@x' }], notFound: [] }],
  ] as const)('%s: authors answering %s → the article with empty author fields', async (version, _case, body) => {
    const articles = await start(json(200, [article]));
    const authors = await start(json(200, body));
    const res = await request(webApi(version, articles.url, authors.url))
      .get('/web-api/v1/getmultiple')
      .expect(200);
    expect(res.body).toEqual([expect.objectContaining({ id: '7', authorName: 'Ada Quill', authorBlog: '', authorTwitter: '' })]);
    expect(authors.requests).toHaveLength(1);
  });
});
