import { loadConfigOrExit, runServer, type RunningServer } from '@cns/service-kit';
import { createWebApiApp } from './app';
import { webApiConfigSchema } from './config';
import type { WebApiVersion } from './versions';

/**
 * Entry point of a web-api deployable: reads the config from the environment, listens at once (liveness passes from
 * the start) and warms up in the background: `/readyz` is 503 until a warm-up attempt (WARMUP_TIMEOUT_MS each,
 * retried) left a last good answer, so traffic comes only to a replica that can serve it (warm-up.ts).
 */
export async function startWebApi(version: WebApiVersion): Promise<RunningServer> {
  const config = loadConfigOrExit(`web-api-${version}`, webApiConfigSchema);
  const app = createWebApiApp({ version, config });
  const running = await runServer(app, config);
  void app.warmUpUntilReady();
  return running;
}
