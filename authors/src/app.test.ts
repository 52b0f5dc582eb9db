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
      const res = await request(app).get('/api/v1/getauthors').query({ names: 'Ada Quill,Milo Brandt,ada quill,Ghost,, ' }).expect(200);
      expect(res.body).toEqual({ authors: [seedAuthors[0], seedAuthors[1]], notFound: ['Ghost'] });
    });

    it('rejects a missing, empty or oversized list with 400', async () => {
      await request(app).get('/api/v1/getauthors').expect(400);
      const empty = await request(app).get('/api/v1/getauthors').query({ names: ' , ' }).expect(400);
      expect(empty.body).toEqual({ error: 'bad_request', message: 'names: must list at least one name', field: 'names' });
      const many = Array.from({ length: 51 }, (_, i) => `n${i}`).join(',');
      await request(app).get('/api/v1/getauthors').query({ names: many }).expect(400);
    });
  });

  it('has the shared probes and 404 JSON', async () => {
    await request(app).get('/healthz').expect(200);
    await request(app).get('/readyz').expect(200);
    await request(app).get('/api/v1/nothing').expect(404);
  });
});
