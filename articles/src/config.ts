import { envInt, serviceConfigSchema } from '@cns/service-kit';
import { z } from 'zod';

/** The articles service listens on 8080 unless `PORT` says otherwise. */
export const ARTICLES_DEFAULT_PORT = 8080;

export const articlesConfigSchema = serviceConfigSchema(ARTICLES_DEFAULT_PORT).extend({
  /** The PostgreSQL database: `postgres://user:password@host:5432/database` (required). */
  DATABASE_URL: z
    .string({ error: 'is required: the PostgreSQL database, e.g. postgres://user:password@postgres:5432/articles' })
    .regex(/^postgres(ql)?:\/\/[^\s]+$/, { error: 'must be a postgres:// URL such as postgres://user:password@postgres:5432/articles' }),
  /** Connections the pool keeps at most, per replica (the server allows 100 in all). */
  DB_POOL_SIZE: envInt({ default: 10, min: 1, max: 100 }),
  /** Server-side limit per statement; a slower query fails (503) instead of holding a connection. */
  DB_STATEMENT_TIMEOUT_MS: envInt({ default: 2000, min: 100, max: 60_000 }),
  /** How long a request waits for a pooled or new connection before answering 503. */
  DB_CONNECT_TIMEOUT_MS: envInt({ default: 2000, min: 100, max: 60_000 }),
  /** Generated articles stored before the samples when the database is first seeded (growth benchmarks, e.g. 100000). */
  SEED_EXTRA_ARTICLES: envInt({ default: 0, min: 0, max: 1_000_000 }),
  /** A quota on stored articles (disk, not memory): creates beyond it answer 507 so a loop of POSTs cannot fill the volume. */
  MAX_ARTICLES: envInt({ default: 1_000_000, min: 1, max: 100_000_000 }),
});

export type ArticlesConfig = ReturnType<typeof articlesConfigSchema.parse>;
