import type { Logger } from '@cns/service-kit';

/**
 * One warning line per kind of failure per interval instead of one per failed call: under a 50 % fault the
 * degraded calls would otherwise write hundreds of identical lines a minute and bury everything else (as Envoy
 * samples its access log and pino users rate-limit). The first failure of a kind is logged at once, with the
 * request's trace id; the repeats within the interval are counted and logged as one line with `repeated: N` when
 * the interval ends.
 */
export class RepeatedWarnings {
  private readonly counts = new Map<string, { fields: Record<string, unknown>; message: string; repeated: number }>();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly logger: Logger,
    readonly intervalMs = 10_000,
  ) {}

  /** `kind` groups the warnings that are the same failure (e.g. upstream and reason). */
  warn(kind: string, fields: Record<string, unknown>, message: string): void {
    const seen = this.counts.get(kind);
    if (seen) {
      seen.repeated += 1;
      return;
    }
    this.logger.warn(fields, message);
    this.counts.set(kind, { fields, message, repeated: 0 });
    this.timer ??= setTimeout(() => this.flush(), this.intervalMs).unref();
  }

  /** Logs the repeats counted so far (one line per kind) and starts a new interval. */
  flush(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    for (const { fields, message, repeated } of this.counts.values()) {
      if (repeated > 0)
        this.logger.warn({ ...fields, repeated, intervalMs: this.intervalMs }, `${message} (${repeated} more times in ${this.intervalMs / 1000} s)`);
    }
    this.counts.clear();
  }
}
