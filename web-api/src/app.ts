import { BadRequestError, ServiceUnavailableError, browserPageHeaders, createHttpClient, createServiceApp, type Logger, type ServiceApp } from '@cns/service-kit';
import swaggerUi from 'swagger-ui-express';
import { ArticleAggregator, describeFailure } from './aggregation';
import type { WebApiConfig } from './config';
import { buildOpenApiSpec } from './openapi';
import { versionTable, type WebApiVersion } from './versions';

export interface WebApiAppOptions {
  version: WebApiVersion;
  config: Pick<WebApiConfig, 'ARTICLES_URL' | 'AUTHORS_URL' | 'UPSTREAM_TIMEOUT_MS'>;
  logger?: Logger;
}

/**
 * web-api: `GET /web-api/v1/getmultiple` (articles with their authors), `POST /web-api/v1/create`
 * (forwarded to articles), `GET /openapi` and Swagger UI at `/openapi/ui/`. Every response carries
 * `x-web-api-version`. Readiness does not depend on the upstreams: web-api keeps answering (last good
 * answer, empty author fields) when they are down.
 */
/** The web-api app, with the warm-up its server runs before it listens. */
export type WebApiApp = ServiceApp & {
  /** One getmultiple aggregation against the real upstreams (bounded by UPSTREAM_TIMEOUT_MS); true if articles answered. */
  warmUp(): Promise<boolean>;
};

export function createWebApiApp(options: WebApiAppOptions): WebApiApp {
  const { version, config } = options;
  const behaviour = versionTable[version];
  const articlesClient = createHttpClient({ baseURL: config.ARTICLES_URL, timeoutMs: config.UPSTREAM_TIMEOUT_MS });
  const authorsClient = createHttpClient({ baseURL: config.AUTHORS_URL, timeoutMs: config.UPSTREAM_TIMEOUT_MS });
  const spec = buildOpenApiSpec(version, behaviour.articleCount);

  const app: ServiceApp = createServiceApp({
    service: 'web-api',
    version,
    logger: options.logger,
    responseHeaders: { 'x-web-api-version': version },
    routes(router) {
      router.get('/web-api/v1/getmultiple', async (_req, res) => {
        const result = await aggregator.getMultiple();
        if (result.stale) res.setHeader('x-web-api-stale', 'true');
        res.json(result.articles);
      });

      router.post('/web-api/v1/create', async (req, res) => {
        if (typeof req.body !== 'object' || req.body === null || Array.isArray(req.body)) {
          throw new BadRequestError('body: must be a JSON object with title, url and author', 'body');
        }
        let response;
        try {
          response = await articlesClient.post('/articles/v1/create', req.body);
        } catch (error) {
          throw new ServiceUnavailableError(`articles service is unavailable (${describeFailure(error)})`);
        }
        // The articles service owns the validation: its 4xx answers (naming the field) go back unchanged.
        if (response.status === 201 || (response.status >= 400 && response.status < 500 && isErrorBody(response.data))) {
          res.status(response.status).json(response.data);
          return;
        }
        throw new ServiceUnavailableError(`articles service answered ${response.status}`);
      });

      router.get('/openapi', (_req, res) => {
        res.json(spec);
      });
      // Swagger UI's page loads its assets relatively (`./swagger-ui.css`): it must be served under a slash.
      // Swagger UI is a page a browser loads: helmet's browser headers (CSP allowing its own scripts, COOP, ...).
      router.use('/openapi/ui', browserPageHeaders);
      router.use('/openapi/ui', (req, res, next) => {
        if (req.originalUrl.split('?', 1)[0] === '/openapi/ui') res.redirect(301, 'ui/');
        else next();
      });
      // serveFiles (not the shared `serve`) keeps each app's spec separate when v1 and v2 share a process.
      router.use('/openapi/ui', swaggerUi.serveFiles(spec), swaggerUi.setup(spec, { customSiteTitle: `web-api ${version}` }));
    },
  });
  const aggregator = new ArticleAggregator({
    articlesClient,
    authorsClient,
    behaviour,
    timeoutMs: config.UPSTREAM_TIMEOUT_MS,
    logger: app.logger,
  });
  return Object.assign(app, { warmUp: () => aggregator.warmUp() });
}

function isErrorBody(data: unknown): boolean {
  return typeof data === 'object' && data !== null && typeof (data as { message?: unknown }).message === 'string';
}
