/** Istio durations (`1s`, `250ms`, `1.5s`, `1m30s`) in milliseconds; undefined when absent or unreadable. */
const DURATION_PART = /(\d+(?:\.\d+)?|\.\d+)(ms|us|µs|ns|h|m|s)/gy;
const UNIT_MS: Record<string, number> = { h: 3_600_000, m: 60_000, s: 1000, ms: 1, us: 0.001, µs: 0.001, ns: 0.000001 };

export function parseDuration(text: string | undefined): number | undefined {
  if (typeof text !== 'string' || text.length === 0) return undefined;
  DURATION_PART.lastIndex = 0;
  let total = 0;
  let consumed = 0;
  for (let part = DURATION_PART.exec(text); part; part = DURATION_PART.exec(text)) {
    total += Number(part[1]) * UNIT_MS[part[2]];
    consumed = DURATION_PART.lastIndex;
  }
  return consumed === text.length ? total : undefined;
}
