import type pg from 'pg';
import { seedArticles } from './seed';

/**
 * The schema, as numbered steps applied in order and recorded in `schema_migrations`. A step is never edited once
 * released: a change is a new step with the next number.
 */
export const migrations: ReadonlyArray<{ version: number; name: string; sql: string }> = [
  {
    version: 1,
    name: 'create articles',
    // Newest first = highest id first: the primary-key index serves it. The length checks repeat the API's
    // validation so no other writer can store what the API would refuse.
    sql: `CREATE TABLE articles (
            id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            title text NOT NULL CHECK (char_length(title) BETWEEN 1 AND 200),
            url text NOT NULL CHECK (char_length(url) BETWEEN 1 AND 2048),
            author text NOT NULL CHECK (char_length(author) BETWEEN 1 AND 100),
            created_at timestamptz NOT NULL DEFAULT now()
          )`,
  },
  {
    version: 2,
    name: 'seed marker',
    // One row once the sample articles are in, so they are seeded exactly once per database.
    sql: `CREATE TABLE articles_seed (seeded_at timestamptz NOT NULL DEFAULT now(), extra_articles integer NOT NULL)`,
  },
  {
    version: 3,
    name: 'idempotency key',
    // A create's Idempotency-Key is stored with the article it made (unique: a retry finds that article instead
    // of inserting another) together with a digest of the request body (the same key with another body is
    // refused). NULL for articles created without a key; the partial index holds only the keyed ones, so the
    // seed and keyless creates pay nothing for it.
    sql: `ALTER TABLE articles
            ADD COLUMN idempotency_key text CHECK (char_length(idempotency_key) BETWEEN 1 AND 255),
            ADD COLUMN request_digest text;
          CREATE UNIQUE INDEX articles_idempotency_key ON articles (idempotency_key) WHERE idempotency_key IS NOT NULL`,
  },
  {
    version: 4,
    name: 'idempotency key age',
    // Keys are kept 24 hours (postgres-store.ts, IDEMPOTENCY_KEY_TTL_MS): the pruning finds the expired ones by
    // their create's time in this index of the keyed rows only.
    sql: `CREATE INDEX articles_idempotency_key_age ON articles (created_at) WHERE idempotency_key IS NOT NULL`,
  },
];

/** Arbitrary constant key of the advisory lock that serialises migrations between replicas. */
const MIGRATION_LOCK_KEY = 727_213_013;

/**
 * Applies the missing migrations and seeds the sample articles (after `seedExtra` generated ones, which are
 * older) when the database has never been seeded. One transaction under an advisory lock: a second replica
 * starting at the same moment waits, then finds everything done.
 */
export async function migrate(client: pg.PoolClient | pg.Client, seedExtra = 0): Promise<{ applied: number[]; seeded: boolean }> {
  await client.query('BEGIN');
  try {
    await client.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK_KEY]);
    await client.query(`CREATE TABLE IF NOT EXISTS schema_migrations (
                          version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`);
    const done = new Set((await client.query<{ version: number }>('SELECT version FROM schema_migrations')).rows.map((r) => r.version));
    const applied: number[] = [];
    for (const step of migrations) {
      if (done.has(step.version)) continue;
      await client.query(step.sql);
      await client.query('INSERT INTO schema_migrations (version, name) VALUES ($1, $2)', [step.version, step.name]);
      applied.push(step.version);
    }
    const seeded = (await client.query('SELECT 1 FROM articles_seed')).rowCount === 0;
    if (seeded) {
      // Explicit ids (generated 1..extra, then the samples in order): an INSERT ... SELECT does not promise to
      // draw identity values in the SELECT's order. The identity then continues after the last one.
      const base = (await client.query<{ max: string }>('SELECT COALESCE(max(id), 0)::text AS max FROM articles')).rows[0]!.max;
      if (seedExtra > 0) {
        const authors = [...new Set(seedArticles.map((a) => a.author))];
        await client.query(
          `INSERT INTO articles (id, title, url, author) OVERRIDING SYSTEM VALUE
           SELECT $3::bigint + i, 'Generated article ' || i, 'https://articles.example/generated/' || i, ($2::text[])[1 + i % array_length($2::text[], 1)]
           FROM generate_series(1, $1::int) AS i`,
          [seedExtra, authors, base],
        );
      }
      await client.query(
        `INSERT INTO articles (id, title, url, author) OVERRIDING SYSTEM VALUE
         SELECT $4::bigint + t.n, t.title, t.url, t.author
         FROM unnest($1::text[], $2::text[], $3::text[]) WITH ORDINALITY AS t(title, url, author, n)`,
        [seedArticles.map((a) => a.title), seedArticles.map((a) => a.url), seedArticles.map((a) => a.author), String(BigInt(base) + BigInt(seedExtra))],
      );
      await client.query("SELECT setval(pg_get_serial_sequence('articles', 'id'), (SELECT max(id) FROM articles))");
      await client.query('INSERT INTO articles_seed (extra_articles) VALUES ($1)', [seedExtra]);
      // Statistics for the planner right after the bulk load, as a real seed or data migration does: otherwise
      // the table has none (reltuples -1) until autovacuum's first pass, up to a minute later while serving.
      await client.query('ANALYZE articles');
    }
    await client.query('COMMIT');
    return { applied, seeded };
  } catch (error) {
    await client.query('ROLLBACK').catch(() => {});
    throw error;
  }
}
