import { browserPageHeaders, createHttpClient, createServiceApp, type Logger, type ServiceApp } from '@cns/service-kit';
import swaggerUi from 'swagger-ui-express';
import { ArticleAggregator } from './aggregation';
import { createHandler } from './create';
import type { WebApiConfig } from './config';
import { buildOpenApiSpec } from './openapi';
import { versionTable, type WebApiVersion } from './versions';
import { warmUpUntilReady } from './warm-up';

export interface WebApiAppOptions {
  version: WebApiVersion;
  config: Pick<WebApiConfig, 'ARTICLES_URL' | 'AUTHORS_URL' | 'UPSTREAM_TIMEOUT_MS'> &
    Partial<Pick<WebApiConfig, 'WARMUP_TIMEOUT_MS' | 'CREATE_TIMEOUT_MS' | 'ARTICLES_MAX_IN_FLIGHT' | 'AUTHORS_MAX_IN_FLIGHT'>>;
  logger?: Logger;
}

/**
 * web-api: `GET /web-api/v1/getmultiple` (articles with their authors), `POST /web-api/v1/create`
 * (forwarded to articles, see create.ts), `GET /openapi` and Swagger UI at `/openapi/ui/`. Every response carries
 * `x-web-api-version`. `/readyz` is 503 until a first aggregation succeeded (the warm-up, see warm-up.ts); from
 * then on it does not depend on the upstreams: web-api keeps answering (last good answer, empty author fields).
 */
/** The web-api app, with the warm-up its server runs once it listens. */
export type WebApiApp = ServiceApp & {
  /** One getmultiple aggregation against the real upstreams (within `timeoutMs`, default UPSTREAM_TIMEOUT_MS); true if articles answered. */
  warmUp(timeoutMs?: number): Promise<boolean>;
  /** Warm-up attempts (WARMUP_TIMEOUT_MS each) until one succeeds, or shutdown begins: see warm-up.ts. */
  warmUpUntilReady(): Promise<boolean>;
};

export function createWebApiApp(options: WebApiAppOptions): WebApiApp {
  const { version, config } = options;
  const behaviour = versionTable[version];
  const articlesClient = createHttpClient({
    baseURL: config.ARTICLES_URL,
    timeoutMs: config.UPSTREAM_TIMEOUT_MS,
    maxInFlight: config.ARTICLES_MAX_IN_FLIGHT ?? 64,
  });
  const authorsClient = createHttpClient({
    baseURL: config.AUTHORS_URL,
    timeoutMs: config.UPSTREAM_TIMEOUT_MS,
    maxInFlight: config.AUTHORS_MAX_IN_FLIGHT ?? 1024,
  });
  const createTimeoutMs = config.CREATE_TIMEOUT_MS ?? 3000;
  const createClient = createHttpClient({ baseURL: config.ARTICLES_URL, timeoutMs: createTimeoutMs, maxInFlight: config.ARTICLES_MAX_IN_FLIGHT ?? 64 });
  const spec = buildOpenApiSpec(version, behaviour.articleCount);

  const app: ServiceApp = createServiceApp({
    service: 'web-api',
    version,
    logger: options.logger,
    responseHeaders: { 'x-web-api-version': version },
    readinessChecks: [{ name: 'warm-up', check: () => aggregator.hasLastGood }],
    routes(router) {
      router.get('/web-api/v1/getmultiple', async (_req, res) => {
        const result = await aggregator.getMultiple();
        if (result.stale) res.setHeader('x-web-api-stale', 'true');
        res.json(result.articles);
      });

      router.post('/web-api/v1/create', (req, res) => handleCreate(req, res));
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
  const handleCreate = createHandler({ client: createClient, timeoutMs: createTimeoutMs, logger: app.logger });
  const aggregator = new ArticleAggregator({
    articlesClient,
    authorsClient,
    behaviour,
    timeoutMs: config.UPSTREAM_TIMEOUT_MS,
    logger: app.logger,
  });
  return Object.assign(app, {
    warmUp: (timeoutMs?: number) => aggregator.warmUp(timeoutMs),
    warmUpUntilReady: () =>
      warmUpUntilReady({
        attempt: (timeoutMs) => aggregator.warmUp(timeoutMs),
        timeoutMs: config.WARMUP_TIMEOUT_MS ?? 5000,
        stopped: () => app.readiness.isShuttingDown,
        logger: app.logger,
      }),
  });
}
