import request from 'supertest';
import { createAuthorsApp } from './app';
import { seedAuthors } from './directory';

const app = createAuthorsApp();

describe('authors service', () => {
  it('ships at least 4 fictional authors with a handle and an http(s) blog', () => {
    expect(seedAuthors.length).toBeGreaterThanOrEqual(4);
    for (const author of seedAuthors) {
      expect(author.twitter).toMatch(/^@\w+$/);
      expect(new URL(author.blog).protocol).toMatch(/^https?:$/);
    }
  });

  describe('GET /api/v1/getauthor', () => {
    it('returns the author by name, ignoring case and spaces', async () => {
      await request(app).get('/api/v1/getauthor').query({ name: 'Ada Quill' }).expect(200, seedAuthors[0]);
      await request(app).get('/api/v1/getauthor').query({ name: '  ada quill ' }).expect(200, seedAuthors[0]);
    });

    it('answers an unknown name with 404 JSON', async () => {
      const res = await request(app).get('/api/v1/getauthor').query({ name: 'Nobody Here' }).expect(404);
      expect(res.body).toEqual({ error: 'not_found', message: 'no author named "Nobody Here"' });
    });

    it.each([
      ['missing', {}, 'name: query parameter is required'],
      ['empty', { name: ' ' }, 'name: must not be empty'],
      ['too long', { name: 'x'.repeat(101) }, 'name: must be at most 100 characters'],
      ['repeated', 'name=a&name=b', 'name: must be given once'],
    ])('answers a %s name with 400 naming the field', async (_case, query, message) => {
      const res = await request(app).get('/api/v1/getauthor').query(query).expect(400);
      expect(res.body).toEqual({ error: 'bad_request', message, field: 'name' });
    });
  });

  describe('GET /api/v1/getauthors (batch)', () => {
    it('returns every known author once and lists the unknown names', async () => {
      const res = await request(app).get('/api/v1/getauthors?name=Ada%20Quill&name=Milo%20Brandt&name=ada%20quill&name=Ghost,%20Jr.').expect(200);
      expect(res.body).toEqual({ authors: [seedAuthors[0], seedAuthors[1]], notFound: ['Ghost, Jr.'] });
      const single = await request(app).get('/api/v1/getauthors').query({ name: 'Hana Okafor' }).expect(200);
      expect(single.body).toEqual({ authors: [seedAuthors[4]], notFound: [] });
    });

    it('rejects a missing, empty or oversized list with 400 naming the field', async () => {
      const missing = await request(app).get('/api/v1/getauthors').expect(400);
      expect(missing.body.field).toBe('name');
      const empty = await request(app).get('/api/v1/getauthors?name=Ada%20Quill&name=%20').expect(400);
      expect(empty.body).toEqual({ error: 'bad_request', message: 'name: must not be empty', field: 'name' });
      const many = Array.from({ length: 51 }, (_, i) => `name=n${i}`).join('&');
      const tooMany = await request(app).get(`/api/v1/getauthors?${many}`).expect(400);
      expect(tooMany.body.message).toBe('name: at most 50 names per call');
    });
  });

  it('has the shared probes and 404 JSON', async () => {
    await request(app).get('/healthz').expect(200);
    await request(app).get('/readyz').expect(200);
    await request(app).get('/api/v1/nothing').expect(404);
  });
});
