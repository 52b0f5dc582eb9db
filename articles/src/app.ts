import { NotFoundError, createServiceApp, parseIdempotencyKey, type Logger, type ReadinessCheck, type ServiceApp } from '@cns/service-kit';
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
 * `POST /articles/v1/create` `{ title, url, author }` → 201 with the stored article; with an `Idempotency-Key` header
 * at most one article per key (a retry gets the first one again, a different body with the key 422). While the database cannot be
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
        const input = parseArticleInput(req.body);
        const key = parseIdempotencyKey(req.headers['idempotency-key']);
        const { article, replayed } = key === undefined ? { article: await store.add(input), replayed: false } : await store.addOnce(input, key);
        // A replay answers what the first attempt answered (201, the same article); the header says nothing was stored now.
        if (replayed) res.setHeader('idempotent-replayed', 'true');
        res
          .status(201)
          .location(`/articles/v1/getone?id=${encodeURIComponent(article.id)}`)
          .json(article);
      });
    },
  });
}
