/** Istio's duration/size histogram buckets, and the quantile Prometheus computes over them. */

/** Envoy's default histogram buckets (source/common/stats/histogram_impl.cc, HistogramSettingsImpl::defaultBuckets), which Istio's proxies use for
 *  istio_request_duration_milliseconds, istio_request_bytes and istio_response_bytes alike. */
export const ISTIO_DEFAULT_BUCKETS: readonly number[] = [
  0.5, 1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000, 300000, 600000, 1800000, 3600000,
];

/** Buckets of a duration histogram: Istio's bounds, then +Inf. */
export const BUCKETS = ISTIO_DEFAULT_BUCKETS.length + 1;

/** The bucket a value falls in (Prometheus `le`: the first bound >= value; the last index is +Inf). */
export function bucketOf(value: number): number {
  let i = 0;
  while (i < ISTIO_DEFAULT_BUCKETS.length && value > ISTIO_DEFAULT_BUCKETS[i]) i++;
  return i;
}

export class Histogram {
  /** Per-bucket (not cumulative) counts; the last slot is +Inf. */
  readonly counts = new Float64Array(BUCKETS);
  sum = 0;
  count = 0;
  observe(value: number, bucket = bucketOf(value)): void {
    this.counts[bucket]++;
    this.sum += value;
    this.count++;
  }
}

/**
 * The q-quantile (0–1) of a histogram as Prometheus' `histogram_quantile` computes it (promql/quantile.go,
 * `bucketQuantile`): `counts` are per-bucket counts on ISTIO_DEFAULT_BUCKETS, the last one +Inf. The rank q × count
 * falls in the first bucket whose cumulative count reaches it; the value is interpolated linearly inside that
 * bucket, from the bound below (0 below the first bucket) to its own; a rank in the +Inf bucket gives the highest
 * finite bound. NaN without observations.
 */
export function histogramQuantile(q: number, counts: ArrayLike<number>): number {
  let total = 0;
  for (let i = 0; i < counts.length; i++) total += counts[i];
  if (total === 0) return NaN;
  const rank = q * total;
  let below = 0;
  for (let b = 0; b < ISTIO_DEFAULT_BUCKETS.length; b++) {
    const cumulative = below + counts[b];
    if (cumulative >= rank) {
      const lower = b === 0 ? 0 : ISTIO_DEFAULT_BUCKETS[b - 1];
      return lower + (ISTIO_DEFAULT_BUCKETS[b] - lower) * ((rank - below) / counts[b]);
    }
    below = cumulative;
  }
  return ISTIO_DEFAULT_BUCKETS[ISTIO_DEFAULT_BUCKETS.length - 1];
}
