import { HttpError, NotFoundError, createServiceApp, type Logger, type ServiceApp } from '@cns/service-kit';
import { seedStore } from './seed';
import { MemoryArticleStore } from './store';
import { parseAmount, parseArticleInput, parseId } from './validation';

export interface ArticlesAppOptions {
  /** Defaults to a store holding the sample articles. */
  store?: MemoryArticleStore;
  logger?: Logger;
}

/**
 * The articles service: `GET /articles/v1/getmultiple?amount=N` (newest first), `GET /articles/v1/getone?id=X`,
 * `POST /articles/v1/create` `{ title, url, author }` → 201 with the stored article.
 */
export function createArticlesApp(options: ArticlesAppOptions = {}): ServiceApp {
  const store = options.store ?? defaultStore();
  return createServiceApp({
    service: 'articles',
    logger: options.logger,
    routes(app) {
      app.get('/articles/v1/getmultiple', (req, res) => {
        res.json(store.newest(parseAmount(req.query.amount)));
      });

      app.get('/articles/v1/getone', (req, res) => {
        const id = parseId(req.query.id);
        const article = store.get(id);
        if (!article) throw new NotFoundError(`no article with id ${JSON.stringify(id)}`);
        res.json(article);
      });

      app.post('/articles/v1/create', (req, res) => {
        const input = parseArticleInput(req.body);
        if (store.isFull) throw new HttpError(507, 'insufficient_storage', `the store holds its maximum of ${store.capacity} articles`);
        const article = store.add(input);
        res.status(201).location(`/articles/v1/getone?id=${encodeURIComponent(article.id)}`).json(article);
      });
    },
  });
}

function defaultStore(): MemoryArticleStore {
  const store = new MemoryArticleStore();
  seedStore(store);
  return store;
}
