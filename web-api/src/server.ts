import { loadConfigOrExit, runServer, type RunningServer } from '@cns/service-kit';
import { createWebApiApp } from './app';
import { webApiConfigSchema } from './config';
import type { WebApiVersion } from './versions';

/**
 * Entry point of a web-api deployable: reads the config from the environment, warms up (one aggregation, at most
 * UPSTREAM_TIMEOUT_MS; the process listens, and so turns ready, only after it) and serves `version`.
 */
export async function startWebApi(version: WebApiVersion): Promise<RunningServer> {
  const config = loadConfigOrExit(`web-api-${version}`, webApiConfigSchema);
  const app = createWebApiApp({ version, config });
  const warm = await app.warmUp();
  app.logger.info({ articlesAnswered: warm }, 'warm-up done');
  return runServer(app, config);
}
