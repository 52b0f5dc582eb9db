/** Summary numbers the result table shows. */

/** The q-quantile (0..1) of `values` by the nearest-rank method; 0 for an empty list. */
export function quantile(values: readonly number[], q: number): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil(q * sorted.length)));
  return sorted[rank - 1];
}

/** A binomial share's half-width of the ~99.7 % interval (3 standard deviations), for choosing sample sizes. */
export function binomialHalfWidth(p: number, n: number): number {
  return 3 * Math.sqrt((p * (1 - p)) / n);
}

/** Achieved rate in requests per second over the samples' start times. */
export function achievedRate(startTimesMs: readonly number[]): number {
  if (startTimesMs.length < 2) return 0;
  const span = Math.max(...startTimesMs) - Math.min(...startTimesMs);
  return span > 0 ? ((startTimesMs.length - 1) * 1000) / span : 0;
}
