// For tests that need the real articles service in-process: a local PostgreSQL (the system server, else PGlite;
// LOCAL_POSTGRES forces one) and fresh, migrated, seeded stores on it.
import { PostgresArticleStore } from '@cns/articles';
import { startLocalPostgres, type LocalPostgres } from '@cns/test-support';
import pg from 'pg';

export interface ArticlesDatabase {
  server: LocalPostgres;
  /** Empties the database and returns a store on it with the schema and the sample articles (closed by stop()). */
  fresh(options?: { seedExtra?: number; maxArticles?: number }): Promise<PostgresArticleStore>;
  stop(): Promise<void>;
}

export async function articlesDatabase(): Promise<ArticlesDatabase> {
  const server = await startLocalPostgres({ database: 'articles', user: 'articles', password: 'articles-test', durable: false });
  const stores: PostgresArticleStore[] = [];
  return {
    server,
    async fresh(options = {}) {
      await Promise.all(stores.splice(0).map((s) => s.close().catch(() => {})));
      const client = new pg.Client(server.url);
      await client.connect();
      await client.query('DROP TABLE IF EXISTS articles, articles_seed, schema_migrations');
      await client.end();
      const store = new PostgresArticleStore({ url: server.url, poolSize: 4, maxArticles: options.maxArticles });
      stores.push(store);
      await store.prepare(options.seedExtra ?? 0);
      return store;
    },
    async stop() {
      await Promise.all(stores.splice(0).map((s) => s.close().catch(() => {})));
      await server.stop();
    },
  };
}
