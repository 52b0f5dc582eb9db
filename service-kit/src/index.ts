export { CLIENT_CLOSED_REQUEST, createServiceApp, type ServiceApp, type ServiceAppOptions } from './app';
export { MAX_JSON_DEPTH } from './json-depth';
export { ConfigError, envInt, envUrl, loadConfig, loadConfigOrExit, serviceConfigSchema, type ServiceConfig } from './config';
export {
  PROPAGATED_HEADERS,
  PROPAGATED_HEADER_FORMATS,
  currentRequestContext,
  requestContextFromHeaders,
  runWithRequestContext,
  type RequestContext,
} from './context';
export { BadRequestError, HttpError, NotFoundError, PayloadTooLargeError, ServiceUnavailableError, badRequestFromIssues, type ErrorBody } from './errors';
export { createHttpClient, type HttpClientOptions } from './http-client';
export { parseIdempotencyKey } from './idempotency-key';
export { UPSTREAM_OVERFLOW } from './json-http-adapter';
export { createLogger, flushLogger, type Logger, type LoggerOptions } from './logger';
export { createHttpMetrics, type HttpMetrics } from './metrics';
export { Readiness, type ReadinessCheck } from './readiness';
export { API_SECURITY_HEADERS, browserPageHeaders } from './security-headers';
export { runServer, type RunServerOptions, type RunningServer, type SupervisorMessage } from './server';
