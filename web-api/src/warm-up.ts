import { setTimeout as delay } from 'node:timers/promises';
import type { Logger } from '@cns/service-kit';

export interface WarmUpOptions {
  /** One attempt: an aggregation within `timeoutMs`; true when it left a last good answer. */
  attempt: (timeoutMs: number) => Promise<boolean>;
  /** Budget of one attempt (WARMUP_TIMEOUT_MS), not the per-request one. */
  timeoutMs: number;
  /** Stop retrying (shutdown began). */
  stopped: () => boolean;
  logger: Logger;
  /** Pause after the first failed attempt; it doubles up to `maxRetryDelayMs`. */
  retryDelayMs?: number;
  maxRetryDelayMs?: number;
}

/**
 * Retries the warm-up until it produced a last good answer, for as long as it takes: the replica listens meanwhile
 * (liveness passes) and `/readyz` answers 503 `warm-up` until then, so no traffic comes to a replica that would answer
 * a slow articles call with 503 (issue 25). Resolves true once warm, false if stopped first.
 */
export async function warmUpUntilReady(options: WarmUpOptions): Promise<boolean> {
  const { attempt, timeoutMs, stopped, logger } = options;
  const maxRetryDelayMs = options.maxRetryDelayMs ?? 2000;
  let retryDelayMs = options.retryDelayMs ?? 250;
  const startedAt = Date.now();
  for (let attempts = 1; ; attempts++) {
    if (stopped()) return false;
    if (await attempt(timeoutMs)) {
      logger.info({ attempts, tookMs: Date.now() - startedAt }, 'warm-up done: ready');
      return true;
    }
    logger.warn({ attempts, timeoutMs, retryInMs: retryDelayMs }, 'warm-up: articles did not answer; not ready yet, retrying');
    await delay(retryDelayMs);
    retryDelayMs = Math.min(maxRetryDelayMs, retryDelayMs * 2);
  }
}
