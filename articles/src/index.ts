export { createArticlesApp, type ArticlesAppOptions } from './app';
export { ARTICLES_DEFAULT_PORT, articlesConfigSchema, type ArticlesConfig } from './config';
export { seedArticles, seedStore } from './seed';
export { ArticleStore, type Article, type ArticleInput } from './store';
export { DEFAULT_AMOUNT, MAX_AMOUNT, articleInputSchema, parseAmount, parseArticleInput } from './validation';
