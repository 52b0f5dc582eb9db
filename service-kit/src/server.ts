import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as delay } from 'node:timers/promises';
import type { ServiceApp } from './app';
import type { ServiceConfig } from './config';
import { flushLogger } from './logger';

export interface RunServerOptions {
  /** Called with the exit code when shutdown ends; defaults to `process.exit`. Tests pass a recorder. */
  exit?: (code: number) => void;
  /** Install SIGTERM/SIGINT handlers (default true). */
  handleSignals?: boolean;
}

export interface RunningServer {
  server: http.Server;
  /** The port actually bound (useful with `PORT=0`). */
  port: number;
  /** Starts the graceful shutdown a signal would start; resolves with the exit code. */
  shutdown(reason: string): Promise<number>;
}

type ShutdownConfig = Pick<ServiceConfig, 'PORT' | 'HOST' | 'SHUTDOWN_DELAY_MS' | 'DRAIN_TIMEOUT_MS'>;

/**
 * Listens on `config.HOST:config.PORT`, logs one `listening` line with the real port (and, under the local mesh,
 * sends it as `{ type: 'listening', port }` over the IPC channel), and wires graceful
 * shutdown. On SIGTERM/SIGINT: `/readyz` turns 503, wait `SHUTDOWN_DELAY_MS` (so endpoints stop routing
 * here), stop accepting, let in-flight requests finish within `DRAIN_TIMEOUT_MS`, exit 0 (1 if the deadline
 * cut requests off). A second signal exits at once with 1.
 */
export async function runServer(app: ServiceApp, config: ShutdownConfig, options: RunServerOptions = {}): Promise<RunningServer> {
  const exit = options.exit ?? ((code: number) => process.exit(code));
  const { readiness } = app;
  // Lifecycle lines (listening with the real port, shutdown) are written even when LOG_LEVEL hides info:
  // test helpers and scripts read the port from the listening line.
  const logger = app.logger.isLevelEnabled('info') ? app.logger : app.logger.child({}, { level: 'info' });
  const server = http.createServer(app);
  // Longer than the idle timeout of the proxies in front (Envoy, nginx, the local mesh) so they never reuse
  // a connection this side is closing.
  server.keepAliveTimeout = 65_000;
  server.headersTimeout = 66_000;

  const openResponses = new Set<http.ServerResponse>();
  server.on('request', (_req: http.IncomingMessage, res: http.ServerResponse) => {
    if (readiness.isShuttingDown) res.setHeader('connection', 'close');
    openResponses.add(res);
    res.on('close', () => {
      openResponses.delete(res);
      // A keep-alive socket turns idle when its response ends: close it so the drain can finish.
      if (readiness.isShuttingDown) setImmediate(() => server.closeIdleConnections());
    });
  });

  await new Promise<void>((resolve, reject) => {
    const onError = (error: NodeJS.ErrnoException) => {
      logger.fatal({ err: error, port: config.PORT, host: config.HOST }, 'cannot listen');
      // The supervisor tells a taken port (it then starts us on another) from a crash.
      void tellSupervisor({ type: 'listen-failed', port: config.PORT, code: error.code, message: error.message }).then(() => {
        exit(1);
        reject(error);
      });
    };
    server.once('error', onError);
    server.listen(config.PORT, config.HOST, () => {
      server.off('error', onError);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  logger.info({ port, host: config.HOST, pid: process.pid }, 'listening');
  // The local mesh starts us with PORT=0 and learns the bound port from this message: a port picked for us
  // beforehand could be taken by another process before we bind it.
  await tellSupervisor({ type: 'listening', port });

  let shutdownResult: Promise<number> | undefined;
  const shutdown = (reason: string): Promise<number> => {
    shutdownResult ??= (async () => {
      readiness.beginShutdown();
      logger.info({ reason, inFlight: openResponses.size, shutdownDelayMs: config.SHUTDOWN_DELAY_MS }, 'shutdown started');
      if (config.SHUTDOWN_DELAY_MS > 0) await delay(config.SHUTDOWN_DELAY_MS);
      // Responses still being prepared tell their client not to reuse the connection.
      for (const res of openResponses) if (!res.headersSent) res.setHeader('connection', 'close');
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      let deadline: NodeJS.Timeout | undefined;
      const timedOut = new Promise<boolean>((resolve) => {
        deadline = setTimeout(() => resolve(true), config.DRAIN_TIMEOUT_MS);
      });
      const cutOff = await Promise.race([closed.then(() => false), timedOut]);
      clearTimeout(deadline);
      if (cutOff) {
        logger.warn({ inFlight: openResponses.size, drainTimeoutMs: config.DRAIN_TIMEOUT_MS }, 'drain deadline passed, closing connections');
        server.closeAllConnections();
      }
      const code = cutOff ? 1 : 0;
      logger.info({ exitCode: code }, 'shutdown complete');
      // The log destination is asynchronous: write what is buffered before the process ends.
      await flushLogger(logger);
      exit(code);
      return code;
    })();
    return shutdownResult;
  };

  if (options.handleSignals ?? true) {
    const onSignal = (signal: NodeJS.Signals) => {
      if (shutdownResult) {
        logger.warn({ signal }, 'second signal, exiting now');
        exit(1);
        return;
      }
      void shutdown(signal);
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
    // Started by a supervisor over an IPC channel (the local mesh sets MESH_SUPERVISED=1): when the supervisor
    // dies without stopping us (SIGKILL, a killed test worker) the channel closes, and we shut down instead of
    // living on as an orphan holding a port. Node has no portable parent-death signal; this is the next best.
    if (process.env.MESH_SUPERVISED === '1' && process.channel) {
      // Nothing routes here any more and our stdout (a pipe to the supervisor) is gone too: exit at once.
      process.once('disconnect', () => exit(1));
      process.channel.unref();
    }
  }
  return { server, port, shutdown };
}

/** What a server tells the supervisor that started it (the local mesh) over the IPC channel. */
export type SupervisorMessage = { type: 'listening'; port: number } | { type: 'listen-failed'; port: number; code: string | undefined; message: string };

/**
 * Sends `message` when the process was started by the local mesh (MESH_SUPERVISED=1 and an IPC channel); resolves
 * once it is written, so an exit right after cannot lose it. Other IPC parents (test runners' workers) get nothing.
 */
function tellSupervisor(message: SupervisorMessage): Promise<void> {
  if (process.env.MESH_SUPERVISED !== '1' || !process.send || !process.connected) return Promise.resolve();
  return new Promise((resolve) => {
    process.send!(message, undefined, {}, () => resolve());
  });
}
