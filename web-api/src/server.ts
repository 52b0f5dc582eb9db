import { loadConfigOrExit, runServer, type RunningServer } from '@cns/service-kit';
import { createWebApiApp } from './app';
import { webApiConfigSchema } from './config';
import type { WebApiVersion } from './versions';

/** Entry point of a web-api deployable: reads the config from the environment and serves `version`. */
export function startWebApi(version: WebApiVersion): Promise<RunningServer> {
  const config = loadConfigOrExit(`web-api-${version}`, webApiConfigSchema);
  return runServer(createWebApiApp({ version, config }), config);
}
