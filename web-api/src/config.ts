import { envInt, envUrl, serviceConfigSchema } from '@cns/service-kit';

/** web-api listens on 9080 unless `PORT` says otherwise. */
export const WEB_API_DEFAULT_PORT = 9080;

/**
 * The upstream URLs default to the in-cluster Service names; in the local mesh they stay the same and the
 * calls reach the sidecar through `HTTP_PROXY`.
 */
export const webApiConfigSchema = serviceConfigSchema(WEB_API_DEFAULT_PORT).extend({
  ARTICLES_URL: envUrl('http://articles:8080'),
  AUTHORS_URL: envUrl('http://authors:3000'),
  /** Budget for the upstream calls of one request (articles, then authors in what is left). */
  UPSTREAM_TIMEOUT_MS: envInt({ default: 1000, min: 1, max: 60_000 }),
});

export type WebApiConfig = ReturnType<typeof webApiConfigSchema.parse>;
