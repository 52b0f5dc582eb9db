export { createArticlesApp, type ArticlesAppOptions } from './app';
export { ARTICLES_DEFAULT_PORT, articlesConfigSchema, type ArticlesConfig } from './config';
export { seedArticles } from './seed';
export { type Article, type ArticleInput, type ArticleStore, type IdempotentCreate } from './store';
export {
  DatabaseUnavailableError,
  IdempotencyKeyReusedError,
  NEWEST_ARTICLES_SQL,
  PostgresArticleStore,
  StoreFullError,
  type PostgresStoreOptions,
} from './postgres-store';
export { migrate, migrations } from './migrations';
export { DEFAULT_AMOUNT, MAX_AMOUNT, articleInputSchema, parseAmount, parseArticleInput } from './validation';
