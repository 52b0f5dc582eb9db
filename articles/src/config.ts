import { envInt, serviceConfigSchema } from '@cns/service-kit';

/** The articles service listens on 8080 unless `PORT` says otherwise. */
export const ARTICLES_DEFAULT_PORT = 8080;

export const articlesConfigSchema = serviceConfigSchema(ARTICLES_DEFAULT_PORT).extend({
  /** Generated articles stored before the samples, for growth benchmarks (e.g. 10000). */
  SEED_EXTRA_ARTICLES: envInt({ default: 0, min: 0, max: 1_000_000 }),
  /** Creates beyond this answer 507, so a loop of POSTs cannot exhaust memory. */
  MAX_ARTICLES: envInt({ default: 100_000, min: 1, max: 2_000_000 }),
});

export type ArticlesConfig = ReturnType<typeof articlesConfigSchema.parse>;
