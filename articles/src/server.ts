import { loadConfigOrExit, runServer } from '@cns/service-kit';
import { setTimeout as delay } from 'node:timers/promises';
import { createArticlesApp } from './app';
import { articlesConfigSchema } from './config';
import { PostgresArticleStore } from './postgres-store';

const config = loadConfigOrExit('articles', articlesConfigSchema);
const store = new PostgresArticleStore({
  url: config.DATABASE_URL,
  poolSize: config.DB_POOL_SIZE,
  statementTimeoutMs: config.DB_STATEMENT_TIMEOUT_MS,
  connectTimeoutMs: config.DB_CONNECT_TIMEOUT_MS,
  maxArticles: config.MAX_ARTICLES,
  onBackgroundError: (error) => app.logger.warn({ err: error.message }, 'database connection lost'),
});
let prepared = false;
const app = createArticlesApp({ store, readinessChecks: [{ name: 'database', check: async () => prepared && (await store.isReachable()) }] });

// Listen at once (liveness, metrics); /readyz fails until the schema is in place and while the database is away.
void runServer(app, config).then(async () => {
  for (let attempt = 1; !prepared; attempt++) {
    try {
      const { applied, seeded } = await store.prepare(config.SEED_EXTRA_ARTICLES);
      prepared = true;
      app.logger.info({ applied, seeded, extra: seeded ? config.SEED_EXTRA_ARTICLES : 0 }, 'database ready');
    } catch (error) {
      if (attempt === 1 || attempt % 10 === 0) app.logger.warn({ err: (error as Error).message, attempt }, 'database not ready, retrying');
      await delay(Math.min(200 * attempt, 2000));
    }
  }
});
