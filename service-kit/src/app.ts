import express, { type ErrorRequestHandler, type Express, type RequestHandler } from 'express';
import helmet, { type HelmetOptions } from 'helmet';
import { API_SECURITY_HEADERS, browserPageHeaders } from './security-headers';
import { requestContextFromHeaders, runWithRequestContext } from './context';
import { HttpError, type ErrorBody } from './errors';
import { refuseDeepJson } from './json-depth';
import { createLogger, type Logger } from './logger';
import { createHttpMetrics, type HttpMetrics } from './metrics';
import { Readiness, type ReadinessCheck } from './readiness';

export interface ServiceAppOptions {
  /** Service name for logs and metrics, e.g. `articles`. */
  service: string;
  /** Deployed version (e.g. `v2`): a field of every log line and a label of every metric. */
  version?: string;
  /** Mounts the service's own routes; runs after the shared middleware and before the 404/error handlers. */
  routes: (app: Express) => void;
  logger?: Logger;
  /** Extra `/readyz` conditions; shutdown always makes `/readyz` fail. */
  readinessChecks?: ReadinessCheck[];
  /** Largest accepted JSON body (body-parser syntax); larger bodies get 413. */
  bodyLimit?: string;
  /** Headers set on every response, errors and probes included (e.g. `x-web-api-version`). */
  responseHeaders?: Record<string, string>;
  /** helmet's options for the answers a browser may show as a page (404s, errors); see security-headers.ts. */
  helmet?: HelmetOptions;
  /**
   * One `request` log line per answered request (the access log). Defaults to env `ACCESS_LOG=on`; off
   * otherwise, as Istio's default profile leaves the mesh's access logging off: see service-kit/README.md.
   */
  accessLog?: boolean;
}

/** An Express app built by {@link createServiceApp}, with the parts {@link runServer} needs. */
export type ServiceApp = Express & {
  service: string;
  logger: Logger;
  readiness: Readiness;
  metrics: HttpMetrics;
};

/** Status label of a request the client aborted before its answer was sent (nginx's "client closed request"). */
export const CLIENT_CLOSED_REQUEST = 499;

/** Probe and scrape paths log at debug level: kubelet and Prometheus call them every few seconds. */
const quietPaths = new Set(['/healthz', '/readyz', '/metrics']);

/**
 * Builds an Express 5 app with everything services share: request id and trace context, one log line per
 * request, Prometheus metrics, helmet, a JSON body limit, `/healthz`, `/readyz`, `/metrics`, and JSON 404
 * and error answers without stack traces. It never listens; {@link runServer} does.
 */
export function createServiceApp(options: ServiceAppOptions): ServiceApp {
  const logger = options.logger ?? createLogger({ service: options.service, version: options.version });
  const metrics = createHttpMetrics(options.service, options.version);
  const readiness = new Readiness(options.readinessChecks);
  const app = express() as ServiceApp;
  Object.assign(app, { service: options.service, logger, readiness, metrics });

  // Hot JSON routes: no ETag hashing of every body, no framework advertisement.
  app.set('etag', false);
  app.set('x-powered-by', false);

  // Set on every answer from one precomputed list: the API security headers, then the app's own.
  const staticHeaders = [...API_SECURITY_HEADERS, ...Object.entries(options.responseHeaders ?? {})];
  const pageHeaders = options.helmet ? helmet(options.helmet) : browserPageHeaders;
  const accessLog = options.accessLog ?? process.env.ACCESS_LOG === 'on';
  const requestContextMiddleware: RequestHandler = (req, res, next) => {
    const context = requestContextFromHeaders(req.headers);
    const startedAt = performance.now();
    res.setHeader('x-request-id', context.requestId);
    for (const [name, value] of staticHeaders) res.setHeader(name, value);
    // 'close' comes after 'finish' for an answered request, and alone when the client went away first.
    res.on('close', () => {
      const seconds = (performance.now() - startedAt) / 1e3;
      const aborted = !res.writableFinished;
      const route = req.route ? `${req.baseUrl}${String(req.route.path)}` : !aborted && res.statusCode === 404 ? 'unmatched' : 'other';
      if (aborted) {
        // Istio reports these with response code 0 and flag DC (downstream connection termination); the
        // service's own metrics use nginx's 499 "client closed request", a status no handler sends.
        metrics.record(req.method, route, CLIENT_CLOSED_REQUEST, seconds);
        logger.info(
          { method: req.method, path: pathOf(req), route, status: CLIENT_CLOSED_REQUEST, responseFlags: 'DC', durationMs: millis(seconds) },
          'request aborted by client',
        );
        return;
      }
      metrics.record(req.method, route, res.statusCode, seconds);
      // Nothing below is needed for the metrics: the log line's fields are built only when it is written.
      if (!accessLog) return;
      const path = pathOf(req);
      const line = {
        requestId: context.requestId,
        traceId: context.traceId,
        method: req.method,
        path,
        route,
        status: res.statusCode,
        durationMs: millis(seconds),
      };
      if (quietPaths.has(path)) logger.debug(line, 'request');
      else logger.info(line, 'request');
    });
    runWithRequestContext(context, next);
  };
  app.use(requestContextMiddleware);
  app.use(express.json({ limit: options.bodyLimit ?? '10kb', verify: refuseDeepJson }));

  app.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  app.get('/readyz', async (_req, res) => {
    const { ready, failing } = await readiness.evaluate();
    if (ready) res.json({ status: 'ready' });
    else res.status(503).json({ status: 'not ready', failing });
  });
  app.get('/metrics', async (_req, res) => {
    res.type(metrics.registry.contentType).send(await metrics.registry.metrics());
  });

  options.routes(app);

  // A 404 or an error is what a browser shows when someone opens a wrong URL: the browser page headers.
  app.use((req, res) => {
    pageHeaders(req, res, () => {
      const body: ErrorBody = { error: 'not_found', message: `no route for ${req.method} ${req.path}` };
      res.status(404).json(body);
    });
  });
  app.use(errorHandler(logger, pageHeaders));
  return app;
}

/** The request's path for log lines; originalUrl: mounted middleware (e.g. Swagger UI) rewrites req.url/req.path while it runs. */
const pathOf = (req: express.Request) => req.originalUrl.split('?', 1)[0]!;
const millis = (seconds: number) => Math.round(seconds * 1e6) / 1e3;

/** Maps body-parser's error types to answers a client can act on. */
const bodyParserErrors: Record<string, { status: number; body: ErrorBody }> = {
  'entity.parse.failed': { status: 400, body: { error: 'bad_request', message: 'request body is not valid JSON' } },
  'entity.too.large': { status: 413, body: { error: 'payload_too_large', message: 'request body is too large' } },
  'encoding.unsupported': { status: 415, body: { error: 'unsupported_media_type', message: 'unsupported content encoding' } },
  'charset.unsupported': { status: 415, body: { error: 'unsupported_media_type', message: 'unsupported charset' } },
  'request.aborted': { status: 400, body: { error: 'bad_request', message: 'request aborted' } },
};

function errorHandler(logger: Logger, pageHeaders: RequestHandler): ErrorRequestHandler {
  return (err, req, res, next) => {
    if (res.headersSent) {
      next(err);
      return;
    }
    pageHeaders(req, res, () => answerError(logger, err, res));
  };
}

/** The fields body-parser and http-errors put on the errors they raise. */
type RaisedError = { type?: unknown; status?: unknown; expose?: unknown; message?: unknown } | null | undefined;

/** The JSON answer for an error a handler threw or passed on (never a stack trace). */
function answerError(logger: Logger, thrown: unknown, res: express.Response): void {
  if (thrown instanceof HttpError) {
    res.status(thrown.status).json(thrown.toJSON());
    return;
  }
  const err = thrown as RaisedError;
  const known = typeof err?.type === 'string' ? bodyParserErrors[err.type] : undefined;
  if (known) {
    res.status(known.status).json(known.body);
    return;
  }
  const status = typeof err?.status === 'number' ? err.status : 500;
  if (status >= 400 && status < 500 && err?.expose) {
    res.status(status).json({ error: 'bad_request', message: String(err.message) });
    return;
  }
  // Unexpected: the stack goes to the log, never to the client.
  logger.error({ err }, 'unhandled error');
  res.status(500).json({ error: 'internal', message: 'internal server error' });
}
