import { createHash } from 'node:crypto';
import { HttpError } from '@cns/service-kit';
import pg from 'pg';
import { migrate } from './migrations';
import type { Article, ArticleInput, ArticleStore, IdempotentCreate } from './store';

export interface PostgresStoreOptions {
  /** `postgres://user:password@host:5432/database` */
  url: string;
  /** Connections the pool keeps at most (DB_POOL_SIZE). */
  poolSize?: number;
  /** Server-side limit per statement (DB_STATEMENT_TIMEOUT_MS); the client gives up 1 s later. */
  statementTimeoutMs?: number;
  /** How long a request waits for a connection (DB_CONNECT_TIMEOUT_MS), from the pool or a new one. */
  connectTimeoutMs?: number;
  /** Creates answer 507 once this many ids have been handed out (MAX_ARTICLES). */
  maxArticles?: number;
  /** How long an Idempotency-Key identifies its create; default {@link IDEMPOTENCY_KEY_TTL_MS}. */
  idempotencyKeyTtlMs?: number;
  /** Pool and connection errors that belong to no request (the server restarted, ...). */
  onBackgroundError?: (error: Error) => void;
}

/** The database cannot answer now: 503, so callers (web-api) fall back and retry later. */
export class DatabaseUnavailableError extends HttpError {
  constructor(cause: unknown) {
    super(503, 'database_unavailable', 'the article database is not reachable; try again shortly');
    this.cause = cause;
  }
}

export class StoreFullError extends HttpError {
  constructor(capacity: number) {
    super(507, 'insufficient_storage', `the store holds its maximum of ${capacity} articles`);
  }
}

/**
 * The same Idempotency-Key with another request body: 422, as draft-ietf-httpapi-idempotency-key-header
 * (section 2.7, "Error Scenarios") says for a key reused with a different payload.
 */
export class IdempotencyKeyReusedError extends HttpError {
  constructor() {
    super(422, 'idempotency_key_reused', 'this Idempotency-Key was already used for a create with a different body; use a new key for a new article');
  }
}

/** What identifies "the same request" for a key: the validated fields (trimmed), not the raw bytes. */
function requestDigest(input: ArticleInput): string {
  return createHash('sha256')
    .update(JSON.stringify([input.title, input.url, input.author]))
    .digest('base64url');
}

// SQLSTATE classes that mean "the server is not able to answer now", not "this statement is wrong":
// 08 connection exceptions, 53 insufficient resources, 57 operator intervention (shutdown, statement timeout).
const UNAVAILABLE_CLASSES = new Set(['08', '53', '57']);

function isUnavailable(error: unknown): boolean {
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code)) return UNAVAILABLE_CLASSES.has(code.slice(0, 2));
  // No SQLSTATE: a network error (ECONNREFUSED, ECONNRESET), "Connection terminated", a client-side timeout.
  return true;
}

/**
 * How long a key is kept: 24 hours, the common practice (Stripe: "keys are eligible to be removed ... after they're at
 * least 24 hours old, and a new request is generated if a key is reused after the original has been pruned").
 * Long enough for any client's retries; the draft leaves the expiry to the resource.
 */
export const IDEMPOTENCY_KEY_TTL_MS = 24 * 60 * 60 * 1000;
/** Expired keys are pruned at most this often per store, in batches of at most PRUNE_BATCH rows. */
const PRUNE_INTERVAL_MS = 60_000;
const PRUNE_BATCH = 1000;

/** Only decimal ids in bigint range can exist; anything else is simply not found (no query, no cast error). */
const ID_PATTERN = /^[1-9]\d{0,17}$/;

/**
 * Newest first: a backward walk of the primary-key index that stops after `$1` rows, reading the columns an
 * article has (no `created_at`). A test checks the plan at 100,000 rows (store-contract.test.ts).
 */
export const NEWEST_ARTICLES_SQL = 'SELECT id::text AS id, title, url, author FROM articles ORDER BY articles.id DESC LIMIT $1';

/**
 * Articles in PostgreSQL (table `articles`, see migrations.ts). Newest first is `ORDER BY id DESC LIMIT n`, a
 * backward walk of the primary-key index: its cost does not grow with the table.
 */
export class PostgresArticleStore implements ArticleStore {
  readonly capacity: number;
  private readonly pool: pg.Pool;
  /** When a query last succeeded: /readyz answers from it while traffic flows instead of adding queries. */
  private lastSuccessAt = 0;
  private readonly keyTtlMs: number;
  private lastPruneAt = -Infinity;

  constructor(options: PostgresStoreOptions) {
    this.capacity = options.maxArticles ?? 1_000_000;
    this.keyTtlMs = options.idempotencyKeyTtlMs ?? IDEMPOTENCY_KEY_TTL_MS;
    const statementTimeoutMs = options.statementTimeoutMs ?? 2000;
    this.pool = new pg.Pool({
      connectionString: options.url,
      max: options.poolSize ?? 10,
      connectionTimeoutMillis: options.connectTimeoutMs ?? 2000,
      idleTimeoutMillis: 30_000,
      statement_timeout: statementTimeoutMs,
      query_timeout: statementTimeoutMs + 1000,
      application_name: 'articles',
    });
    // An idle pooled connection that the server closes (restart, failover) must not crash the process.
    this.pool.on('error', (error) => options.onBackgroundError?.(error));
  }

  /** Applies the migrations and seeds the sample articles once (safe when several replicas start together). */
  async prepare(seedExtra = 0): Promise<{ applied: number[]; seeded: boolean }> {
    const client = await this.pool.connect();
    try {
      return await migrate(client, seedExtra);
    } finally {
      client.release();
    }
  }

  async newest(amount: number): Promise<Article[]> {
    const result = await this.query<Article>(NEWEST_ARTICLES_SQL, [amount]);
    return result.rows;
  }

  async get(id: string): Promise<Article | undefined> {
    if (!ID_PATTERN.test(id)) return undefined;
    const result = await this.query<Article>('SELECT id::text AS id, title, url, author FROM articles WHERE id = $1', [id]);
    return result.rows[0];
  }

  async add(input: ArticleInput): Promise<Article> {
    // The limit is checked in the same statement as the insert; max(id) is an index lookup, and since articles
    // are never deleted it is at least the number stored.
    const result = await this.query<Article>(
      `INSERT INTO articles (title, url, author)
       SELECT $1, $2, $3 WHERE (SELECT COALESCE(max(id), 0) FROM articles) < $4
       RETURNING id::text AS id, title, url, author`,
      [input.title, input.url, input.author, this.capacity],
    );
    const article = result.rows[0];
    if (!article) throw new StoreFullError(this.capacity);
    return article;
  }

  async addOnce(input: ArticleInput, key: string): Promise<IdempotentCreate> {
    await this.pruneExpiredKeys();
    const digest = requestDigest(input);
    const first = await this.insertOnce(input, key, digest);
    if (first.article) return { article: first.article, replayed: false };
    const found = first.earlier;
    if (found && found.expired) {
      // The key outlived its 24 hours since the last pruning: it no longer names that article. Free it and store
      // this create (a concurrent attempt that frees it first makes this update a no-op; the insert decides).
      await this.query('UPDATE articles SET idempotency_key = NULL, request_digest = NULL WHERE id = $1 AND idempotency_key = $2', [found.id, key]);
      return this.addOnce(input, key);
    }
    if (!found) throw new StoreFullError(this.capacity);
    if (found.request_digest !== digest) throw new IdempotencyKeyReusedError();
    return { article: { id: found.id, title: found.title, url: found.url, author: found.author }, replayed: true };
  }

  /** Inserts the keyed article, or finds the one the key already names (and whether it has expired). */
  private async insertOnce(
    input: ArticleInput,
    key: string,
    digest: string,
  ): Promise<{ article?: Article; earlier?: Article & { request_digest: string; expired: boolean } }> {
    // The unique key decides between concurrent attempts: the second insert waits for the first to commit, then
    // does nothing; the lookup after it (a new statement, so it sees that commit) finds the first article.
    const inserted = await this.query<Article>(
      `INSERT INTO articles (title, url, author, idempotency_key, request_digest)
       SELECT $1, $2, $3, $5, $6 WHERE (SELECT COALESCE(max(id), 0) FROM articles) < $4
       ON CONFLICT (idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING
       RETURNING id::text AS id, title, url, author`,
      [input.title, input.url, input.author, this.capacity, key, digest],
    );
    if (inserted.rows[0]) return { article: inserted.rows[0] };
    const earlier = await this.query<Article & { request_digest: string; expired: boolean }>(
      `SELECT id::text AS id, title, url, author, request_digest, created_at < now() - $2 * interval '1 millisecond' AS expired
       FROM articles WHERE idempotency_key = $1`,
      [key, this.keyTtlMs],
    );
    return { earlier: earlier.rows[0] };
  }

  /**
   * Takes the expired keys out of the unique index (their articles stay), at most once a minute per store, the
   * oldest first. SKIP LOCKED: rows another replica is pruning or a create is freeing are left to it, so this
   * never waits and never deadlocks with them.
   */
  private async pruneExpiredKeys(): Promise<void> {
    const now = Date.now();
    if (now - this.lastPruneAt < PRUNE_INTERVAL_MS) return;
    this.lastPruneAt = now;
    await this.query(
      `UPDATE articles SET idempotency_key = NULL, request_digest = NULL
       WHERE id IN (SELECT id FROM articles
                    WHERE idempotency_key IS NOT NULL AND created_at < now() - $1 * interval '1 millisecond'
                    ORDER BY created_at LIMIT $2 FOR UPDATE SKIP LOCKED)`,
      [this.keyTtlMs, PRUNE_BATCH],
    );
  }

  async count(): Promise<number> {
    const result = await this.query<{ n: string }>('SELECT count(*)::text AS n FROM articles');
    return Number(result.rows[0]!.n);
  }

  /** True when the database answered within the last 2 s or answers a `SELECT 1` now. */
  async isReachable(): Promise<boolean> {
    if (Date.now() - this.lastSuccessAt < 2000) return true;
    try {
      await this.query('SELECT 1');
      return true;
    } catch {
      return false;
    }
  }

  close(): Promise<void> {
    return this.pool.end();
  }

  private async query<R extends pg.QueryResultRow>(text: string, values?: unknown[]): Promise<pg.QueryResult<R>> {
    try {
      const result = await this.pool.query<R>(text, values);
      this.lastSuccessAt = Date.now();
      return result;
    } catch (error) {
      if (!isUnavailable(error)) throw error;
      this.lastSuccessAt = 0;
      throw new DatabaseUnavailableError(error);
    }
  }
}
