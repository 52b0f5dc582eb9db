import { NotFoundError, createServiceApp, type Logger, type ReadinessCheck, type ServiceApp } from '@cns/service-kit';
import type { ArticleStore } from './store';
import { parseAmount, parseArticleInput, parseId } from './validation';

export interface ArticlesAppOptions {
  /** Where the articles live: PostgresArticleStore (postgres-store.ts). */
  store: ArticleStore;
  logger?: Logger;
  /** Extra /readyz conditions (server.ts: the database is reachable and migrated). */
  readinessChecks?: ReadinessCheck[];
}

/**
 * The articles service: `GET /articles/v1/getmultiple?amount=N` (newest first), `GET /articles/v1/getone?id=X`,
 * `POST /articles/v1/create` `{ title, url, author }` → 201 with the stored article. While the database cannot be
 * reached every route answers 503 `database_unavailable`; at MAX_ARTICLES a create answers 507.
 */
export function createArticlesApp(options: ArticlesAppOptions): ServiceApp {
  const { store } = options;
  return createServiceApp({
    service: 'articles',
    logger: options.logger,
    readinessChecks: options.readinessChecks ?? [{ name: 'database', check: () => store.isReachable() }],
    routes(app) {
      app.get('/articles/v1/getmultiple', async (req, res) => {
        res.json(await store.newest(parseAmount(req.query.amount)));
      });

      app.get('/articles/v1/getone', async (req, res) => {
        const id = parseId(req.query.id);
        const article = await store.get(id);
        if (!article) throw new NotFoundError(`no article with id ${JSON.stringify(id)}`);
        res.json(article);
      });

      app.post('/articles/v1/create', async (req, res) => {
        const article = await store.add(parseArticleInput(req.body));
        res.status(201).location(`/articles/v1/getone?id=${encodeURIComponent(article.id)}`).json(article);
      });
    },
  });
}
