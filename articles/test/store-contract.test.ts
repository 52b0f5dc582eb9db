// The article store's contract, run against both local PostgreSQL engines: the system server and PGlite
// behind the wire protocol. The service runs on PostgresArticleStore everywhere, so both must behave the same.
import {
  DatabaseUnavailableError,
  IdempotencyKeyReusedError,
  NEWEST_ARTICLES_SQL,
  PostgresArticleStore,
  StoreFullError,
  migrations,
  seedArticles,
} from '@cns/articles';
import { startLocalPostgres, systemPostgresUnavailable, type LocalPostgres, type LocalPostgresEngine } from '@cns/test-support';
import pg from 'pg';

jest.setTimeout(90_000);

const engines: Array<{ engine: LocalPostgresEngine; missing?: string }> = [{ engine: 'system', missing: systemPostgresUnavailable() }, { engine: 'embedded' }];

for (const { engine, missing } of engines) {
  // In CI nothing is skipped: a missing server fails the suite instead.
  const run = missing && process.env.CI !== 'true' ? describe.skip : describe;
  run(`article store on the ${engine} engine${missing ? ` [needs ${missing}]` : ''}`, () => {
    let server: LocalPostgres;
    const stores: PostgresArticleStore[] = [];
    const open = (options: { maxArticles?: number; url?: string } = {}) => {
      const store = new PostgresArticleStore({ url: options.url ?? server.url, maxArticles: options.maxArticles, poolSize: 4, connectTimeoutMs: 1000 });
      stores.push(store);
      return store;
    };
    async function sql(text: string, values?: unknown[]): Promise<pg.QueryResult> {
      const client = new pg.Client(server.url);
      await client.connect();
      try {
        return await client.query(text, values);
      } finally {
        await client.end();
      }
    }

    beforeAll(async () => {
      server = await startLocalPostgres({ engine, database: 'articles', user: 'articles', password: 'contract-test', durable: false });
    });
    afterAll(async () => {
      await server?.stop();
    });
    beforeEach(async () => {
      await sql('DROP TABLE IF EXISTS articles, articles_seed, schema_migrations');
    });
    afterEach(async () => {
      await Promise.all(stores.splice(0).map((s) => s.close().catch(() => {})));
    });

    it('migrates an empty database once and seeds the sample articles once', async () => {
      const store = open();
      expect(await store.prepare()).toEqual({ applied: migrations.map((m) => m.version), seeded: true });
      expect(await store.prepare()).toEqual({ applied: [], seeded: false });
      expect(await store.count()).toBe(seedArticles.length);
      const recorded = await sql('SELECT version FROM schema_migrations ORDER BY version');
      expect(recorded.rows.map((r) => r.version)).toEqual(migrations.map((m) => m.version));
    });

    it('is safe when two replicas start against the same empty database at once', async () => {
      const results = await Promise.all([open().prepare(), open().prepare()]);
      expect(results.filter((r) => r.seeded)).toHaveLength(1);
      expect(await open().count()).toBe(seedArticles.length);
    });

    it('serves the newest first, puts a created article on top and finds articles by id', async () => {
      const store = open();
      await store.prepare();
      const newest = await store.newest(3);
      expect(newest.map((a) => a.title)).toEqual(
        seedArticles
          .slice(-3)
          .reverse()
          .map((a) => a.title),
      );
      const created = await store.add({ title: 'Stored for real', url: 'https://example.com/real', author: 'Ada Quill' });
      expect(created).toEqual({ id: String(seedArticles.length + 1), title: 'Stored for real', url: 'https://example.com/real', author: 'Ada Quill' });
      expect((await store.newest(1))[0]).toEqual(created);
      expect(await store.get(created.id)).toEqual(created);
      expect(await store.get('1')).toEqual({ id: '1', ...seedArticles[0] });
      for (const unknown of ['424242', 'abc', '0', '99999999999999999999']) expect(await store.get(unknown)).toBeUndefined();
      // Another replica (another pool) sees the same data.
      expect(await open().newest(2)).toEqual(await store.newest(2));
    });

    it('stores generated articles before the samples when asked to (growth benchmarks)', async () => {
      const store = open();
      await store.prepare(1000);
      expect(await store.count()).toBe(1000 + seedArticles.length);
      expect((await store.newest(1))[0]!.title).toBe(seedArticles.at(-1)!.title);
      expect((await store.get('1'))!.title).toBe('Generated article 1');
      expect((await store.get('1000'))!.title).toBe('Generated article 1000');
    });

    it('lists the newest of 100,000 articles from the primary-key index, with planner statistics from the seed', async () => {
      const store = open();
      await store.prepare(100_000);
      const stored = 100_000 + seedArticles.length;
      // The seed analyzes what it loaded: statistics exist at once, not after autovacuum's first pass.
      const table = await sql(
        "SELECT c.reltuples, (SELECT count(*) FROM pg_stats WHERE tablename = 'articles')::int AS columns FROM pg_class c WHERE c.relname = 'articles'",
      );
      expect(Math.abs(Number(table.rows[0].reltuples) - stored)).toBeLessThan(stored * 0.01);
      expect(table.rows[0].columns).toBeGreaterThan(0);
      // The store's own query: a backward walk of articles_pkey that stops after 5 rows. It reads a root and a
      // leaf page of the index and one heap page whatever the size; a sort or a scan would read all ~1,500.
      const [explained] = (await sql(`EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) ${NEWEST_ARTICLES_SQL}`, [5])).rows[0]['QUERY PLAN'];
      const limit = explained.Plan;
      expect(limit['Node Type']).toBe('Limit');
      expect(limit.Plans[0]).toMatchObject({ 'Node Type': 'Index Scan', 'Scan Direction': 'Backward', 'Index Name': 'articles_pkey', 'Actual Rows': 5 });
      expect(limit['Shared Hit Blocks'] + limit['Shared Read Blocks']).toBeLessThanOrEqual(6);
      expect((await store.newest(5)).map((a) => a.title)).toEqual(
        seedArticles
          .slice(-5)
          .reverse()
          .map((a) => a.title),
      );
    });

    it('stores one article per idempotency key, also when the attempts run at the same time on different pools', async () => {
      await open().prepare();
      const input = { title: 'Created once', url: 'https://example.com/once', author: 'Ada Quill' };
      const attempts = await Promise.all([open(), open(), open()].map((store) => store.addOnce(input, 'same-key')));
      expect(attempts.filter((a) => !a.replayed)).toHaveLength(1);
      expect(new Set(attempts.map((a) => a.article.id)).size).toBe(1);
      expect(attempts[0]!.article).toMatchObject(input);
      expect(await open().count()).toBe(seedArticles.length + 1);
      const reused = await open()
        .addOnce({ ...input, title: 'Something else' }, 'same-key')
        .catch((e: unknown) => e);
      expect(reused).toBeInstanceOf(IdempotencyKeyReusedError);
      expect((reused as IdempotencyKeyReusedError).status).toBe(422);
      expect((await open().addOnce(input, 'another-key')).replayed).toBe(false);
      expect(await open().count()).toBe(seedArticles.length + 2);
    });

    it('forgets a key 24 hours after its create, as Stripe prunes keys: a later create with it stores a new article', async () => {
      const store = open();
      await store.prepare();
      const input = { title: 'Kept a day', url: 'https://example.com/day', author: 'Ada Quill' };
      const first = await store.addOnce(input, 'day-old-key');
      await store.addOnce(input, 'other-day-old-key');
      expect((await store.addOnce(input, 'day-old-key')).replayed).toBe(true);
      // 25 hours later (the keyed rows' created_at moved back).
      await sql(`UPDATE articles SET created_at = now() - interval '25 hours' WHERE idempotency_key IS NOT NULL`);
      const later = await store.addOnce({ ...input, title: 'Another body: no 422 now' }, 'day-old-key');
      expect(later.replayed).toBe(false);
      expect(later.article.id).not.toBe(first.article.id);
      expect(await store.addOnce({ ...input, title: 'Another body: no 422 now' }, 'day-old-key')).toEqual({ article: later.article, replayed: true });
      expect(await store.get(first.article.id)).toEqual(first.article);
      // The expired keys leave the index: a store's first keyed create prunes them (then at most once a minute).
      await open().addOnce(input, 'fresh-key');
      const keys = await sql('SELECT idempotency_key FROM articles WHERE idempotency_key IS NOT NULL ORDER BY id');
      expect(keys.rows.map((r) => r.idempotency_key)).toEqual(['day-old-key', 'fresh-key']);
    });

    it('refuses creates beyond MAX_ARTICLES with 507', async () => {
      const store = open({ maxArticles: seedArticles.length + 1 });
      await store.prepare();
      await store.add({ title: 'the last one that fits', url: 'https://example.com/last', author: 'Ada Quill' });
      const refused = await store.add({ title: 'one too many', url: 'https://example.com/x', author: 'Ada Quill' }).catch((e: unknown) => e);
      expect(refused).toBeInstanceOf(StoreFullError);
      expect((refused as StoreFullError).status).toBe(507);
      expect(await store.count()).toBe(seedArticles.length + 1);
    });

    it('rejects what the API would reject even from another writer (column checks)', async () => {
      await open().prepare();
      await expect(sql(`INSERT INTO articles (title, url, author) VALUES ('${'t'.repeat(201)}', 'https://e.x', 'a')`)).rejects.toThrow(/check constraint/);
    });

    it('answers "unavailable" (503) while the database cannot be reached, and false to readiness', async () => {
      const dead = new URL(server.url);
      dead.port = '1'; // nothing listens on port 1
      const store = open({ url: dead.toString() });
      const error = await store.newest(1).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(DatabaseUnavailableError);
      expect((error as DatabaseUnavailableError).status).toBe(503);
      expect(await store.isReachable()).toBe(false);
      expect(await open().isReachable()).toBe(true);
    });
  });
}
