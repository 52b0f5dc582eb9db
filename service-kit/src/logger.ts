import pino, { type DestinationStream, type Logger } from 'pino';
import { currentRequestContext } from './context';

export type { Logger } from 'pino';

export interface LoggerOptions {
  /** Service name written on every line. */
  service: string;
  /** Deployed version (e.g. `v2`), written on every line when given. */
  version?: string;
  /** pino level; defaults to env `LOG_LEVEL`, else `silent` under jest and `info` otherwise. */
  level?: string;
  /** Where lines go; defaults to an asynchronous stdout destination. Tests pass a stream to read them. */
  destination?: DestinationStream;
}

/**
 * One JSON-lines logger per process. Every line written while a request is handled carries that request's
 * `requestId` and `traceId` (read from AsyncLocalStorage), so handlers never pass them around.
 *
 * Lines go to stdout through an asynchronous destination (`pino.destination({ sync: false })`): a write
 * never blocks the request being served on a slow pipe (a supervisor busy elsewhere). pino flushes it when
 * the process exits, and `runServer` flushes it before its shutdown exits.
 */
export function createLogger(options: LoggerOptions): Logger {
  const level = options.level ?? process.env.LOG_LEVEL ?? (process.env.JEST_WORKER_ID ? 'silent' : 'info');
  const destination = options.destination ?? (level === 'silent' ? undefined : pino.destination({ dest: 1, sync: false }));
  return pino(
    {
      level,
      // `pod`: the replica (the local mesh sets POD_NAME), so lines written straight to a shared stdout say whose they are.
      base: {
        service: options.service,
        ...(options.version ? { version: options.version } : {}),
        ...(process.env.POD_NAME ? { pod: process.env.POD_NAME } : {}),
      },
      timestamp: pino.stdTimeFunctions.isoTime,
      mixin() {
        const context = currentRequestContext();
        return context ? { requestId: context.requestId, traceId: context.traceId } : {};
      },
    },
    destination as DestinationStream,
  );
}

/** The part of pino.destination()'s stream (sonic-boom) that flushLogger uses. */
interface SonicBoomLike {
  minLength: number;
  destroyed: boolean;
  end(): void;
  once(event: 'close', listener: () => void): unknown;
}
const isSonicBoom = (stream: unknown): stream is SonicBoomLike =>
  typeof stream === 'object' && stream !== null && 'minLength' in stream && typeof (stream as SonicBoomLike).end === 'function';

/**
 * Waits until the logger's buffered lines are written (bounded: a stuck stdout cannot hold up an exit). Called once,
 * right before the process exits. sonic-boom's flush(cb) calls back at once when minLength is 0 (pino.destination's
 * default), with a write still in flight; the exit then wrote the rest synchronously, ahead of it ("shutdown
 * complete" before "shutdown started"). Ending the destination waits for every write, as pino does on beforeExit.
 */
export function flushLogger(logger: Logger, timeoutMs = 2000): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, timeoutMs);
    const done = () => {
      clearTimeout(timer);
      resolve();
    };
    const stream: unknown = (logger as unknown as Record<symbol, unknown>)[pino.symbols.streamSym];
    if (isSonicBoom(stream)) {
      if (stream.destroyed) return done();
      stream.once('close', done);
      stream.end();
      return;
    }
    try {
      logger.flush(() => done());
    } catch {
      done();
    }
  });
}
