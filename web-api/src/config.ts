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
  /**
   * Budget of one warm-up attempt (an aggregation before the replica reports ready). Its own, longer than a
   * request's: a cold replica on a busy machine is slow, and nobody waits on the warm-up but the readiness probe.
   */
  WARMUP_TIMEOUT_MS: envInt({ default: 5000, min: 1, max: 60_000 }),
  /** How long a create waits for articles before answering 504 "outcome unknown". */
  CREATE_TIMEOUT_MS: envInt({ default: 3000, min: 1, max: 60_000 }),
  /** Calls to articles on the wire at once (timed-out ones included); more are not sent (load shedding). */
  ARTICLES_MAX_IN_FLIGHT: envInt({ default: 64, min: 1, max: 100_000 }),
  /** The same for authors: v1 makes one call per distinct author, so up to 5 per request. Envoy's default max_requests. */
  AUTHORS_MAX_IN_FLIGHT: envInt({ default: 1024, min: 1, max: 100_000 }),
});

export type WebApiConfig = ReturnType<typeof webApiConfigSchema.parse>;
