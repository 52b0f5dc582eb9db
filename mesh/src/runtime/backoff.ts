/** The supervisor's restart back-off for a crashing replica (the kubelet's CrashLoopBackOff). */

export interface BackoffPolicy {
  /** Delay before the first restart. */
  baseMs: number;
  /** Upper bound of the doubling delay. */
  maxMs: number;
  /** A process that ran at least this long before crashing starts the back-off from `baseMs` again. */
  resetAfterMs: number;
}

export const defaultBackoff: BackoffPolicy = { baseMs: 1000, maxMs: 30_000, resetAfterMs: 60_000 };

/** Delay before restart number `crashStreak` (1-based) of a crash loop: base, 2×base, 4×base, ... capped. */
export function backoffDelay(crashStreak: number, policy: BackoffPolicy = defaultBackoff): number {
  const exponent = Math.max(0, crashStreak - 1);
  return Math.min(policy.maxMs, policy.baseMs * 2 ** Math.min(exponent, 30));
}
