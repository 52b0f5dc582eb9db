export { ArticleAggregator, type AggregatedArticles, type WebApiArticle } from './aggregation';
export { createWebApiApp, type WebApiAppOptions } from './app';
export { WEB_API_DEFAULT_PORT, webApiConfigSchema, type WebApiConfig } from './config';
export { buildOpenApiSpec } from './openapi';
export { startWebApi } from './server';
export { versionTable, type VersionBehaviour, type WebApiVersion } from './versions';
