import { GET_MULTIPLE_URL } from './api';

/** Outcome of one request of a traffic run: the version that answered, or an error. */
export type Outcome = { version: string } | { error: string };

export interface TrafficSlice {
  label: string;
  count: number;
  /** Share of all requests, 0–100. */
  percent: number;
}

export interface TrafficSummary {
  total: number;
  errors: number;
  /** One slice per serving version (sorted by name: v1 before v2), then "error" when any request failed. */
  slices: TrafficSlice[];
}

/** Header value when a response comes without `x-web-api-version`. */
export const UNKNOWN_VERSION = 'unknown';

/** Counts outcomes per version; percentages are of all requests, so the slices always add up to 100. */
export function summarizeTraffic(outcomes: readonly Outcome[]): TrafficSummary {
  const byVersion = new Map<string, number>();
  let errors = 0;
  for (const o of outcomes) {
    if ('error' in o) errors += 1;
    else byVersion.set(o.version, (byVersion.get(o.version) ?? 0) + 1);
  }
  const total = outcomes.length;
  const pct = (n: number) => (total === 0 ? 0 : (n / total) * 100);
  const slices = [...byVersion.entries()]
    .sort(([a], [b]) => a.localeCompare(b, 'en', { numeric: true }))
    .map(([label, count]) => ({ label, count, percent: pct(count) }));
  if (errors > 0) slices.push({ label: 'error', count: errors, percent: pct(errors) });
  return { total, errors, slices };
}

/** Whole-number percentages that still add up to exactly 100 (largest remainder), for the legend. */
export function roundedPercents(slices: readonly TrafficSlice[]): number[] {
  const floors = slices.map((s) => Math.floor(s.percent));
  const sum = slices.reduce((acc, s) => acc + s.percent, 0);
  let missing = Math.round(sum) - floors.reduce((a, b) => a + b, 0);
  const order = slices.map((s, i) => ({ i, rest: s.percent - floors[i]! })).sort((a, b) => b.rest - a.rest || a.i - b.i);
  for (const { i } of order) {
    if (missing <= 0) break;
    floors[i]! += 1;
    missing -= 1;
  }
  return floors;
}

async function oneRequest(fetchImpl: typeof fetch): Promise<Outcome> {
  try {
    const response = await fetchImpl(GET_MULTIPLE_URL, { cache: 'no-store', headers: { accept: 'application/json' } });
    // Drain the body so the connection is reused; the content does not matter here.
    await response.arrayBuffer().catch(() => undefined);
    if (!response.ok) return { error: `HTTP ${response.status}` };
    return { version: response.headers.get('x-web-api-version') ?? UNKNOWN_VERSION };
  } catch {
    return { error: 'network error' };
  }
}

export interface TrafficRunOptions {
  count: number;
  /** Requests in flight at once; a browser allows about 6 per origin over HTTP/1.1 anyway. */
  concurrency?: number;
  fetchImpl?: typeof fetch;
  /** Called after every finished request with the outcomes so far, so the bar grows while the run goes. */
  onProgress?: (outcomes: readonly Outcome[]) => void;
  signal?: AbortSignal;
}

/** Fires `count` GETs at getmultiple, `concurrency` at a time, and returns every outcome. */
export async function runTraffic(options: TrafficRunOptions): Promise<Outcome[]> {
  const { count, concurrency = 6, fetchImpl = (...args) => fetch(...args), onProgress, signal } = options;
  const outcomes: Outcome[] = [];
  let started = 0;
  const worker = async () => {
    while (started < count && !signal?.aborted) {
      started += 1;
      outcomes.push(await oneRequest(fetchImpl));
      onProgress?.(outcomes);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(concurrency, count)) }, worker));
  return outcomes;
}
