import pino, { type Logger } from 'pino';
import { currentRequestContext } from './context';

export type { Logger } from 'pino';

export interface LoggerOptions {
  /** Service name written on every line. */
  service: string;
  /** Deployed version (e.g. `v2`), written on every line when given. */
  version?: string;
  /** pino level; defaults to env `LOG_LEVEL`, else `silent` under jest and `info` otherwise. */
  level?: string;
}

/**
 * One JSON-lines logger per process. Every line written while a request is handled carries that request's
 * `requestId` and `traceId` (read from AsyncLocalStorage), so handlers never pass them around.
 */
export function createLogger(options: LoggerOptions): Logger {
  const level = options.level ?? process.env.LOG_LEVEL ?? (process.env.JEST_WORKER_ID ? 'silent' : 'info');
  return pino({
    level,
    base: options.version ? { service: options.service, version: options.version } : { service: options.service },
    timestamp: pino.stdTimeFunctions.isoTime,
    mixin() {
      const context = currentRequestContext();
      return context ? { requestId: context.requestId, traceId: context.traceId } : {};
    },
  });
}
