// Degraded answers (BENCHMARKS.md: no figure counts if the run served any): a getmultiple answer with an empty
// author field (an authors call failed or missed the deadline), `x-web-api-stale: true` (the last good list,
// articles failed), or not a 200 list at all. Counted from the answers themselves: a sampler fetches the
// measured URL every `everyMs` while the load runs and classifies each body. It does not depend on what the
// services log (access logs are off by default).

/** Why `status`/`headers`/`body` is a degraded getmultiple answer, or undefined when it is a complete one. */
export function degradedReason(status, headers, body) {
  if (status !== 200) return `status ${status}`;
  if (headers.get('x-web-api-stale') === 'true') return 'stale list';
  if (!Array.isArray(body) || body.length === 0) return 'not a list of articles';
  if (body.some((a) => !a || a.authorBlog === '' || a.authorTwitter === '')) return 'empty author fields';
  return undefined;
}

/**
 * Samples `url` until `stop()`; `stop()` resolves with { samples, degraded, reasons }. At most one request in
 * flight, each bounded by 5 s: the sampler adds a few requests per second to the load, no more.
 */
export function sampleAnswers(url, everyMs = 100) {
  let stopped = false;
  const result = { samples: 0, degraded: 0, reasons: {} };
  const loop = (async () => {
    while (!stopped) {
      const started = Date.now();
      let reason;
      try {
        const response = await fetch(url, { signal: AbortSignal.timeout(5000) });
        const body = await response.json().catch(() => undefined);
        reason = degradedReason(response.status, response.headers, body);
      } catch (error) {
        reason = `request failed (${error.name})`;
      }
      result.samples++;
      if (reason) {
        result.degraded++;
        result.reasons[reason] = (result.reasons[reason] ?? 0) + 1;
      }
      const wait = everyMs - (Date.now() - started);
      if (wait > 0 && !stopped) await new Promise((resolve) => setTimeout(resolve, wait));
    }
  })();
  return {
    async stop() {
      stopped = true;
      await loop;
      return result;
    },
  };
}

/** Sums sampler results. */
export function addSamples(into, more) {
  into.samples += more.samples;
  into.degraded += more.degraded;
  for (const [reason, n] of Object.entries(more.reasons)) into.reasons[reason] = (into.reasons[reason] ?? 0) + n;
  return into;
}
