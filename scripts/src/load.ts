/**
 * Bounded demo traffic against getmultiple: at most `count` requests, at most `rate` per second, stopping at
 * `duration`, with a summary of status codes and of the web-api version that answered (`x-web-api-version`).
 */
import http from 'node:http';
import https from 'node:https';
import { UserError } from './errors';

export const VERSION_HEADER = 'x-web-api-version';

export interface LoadOptions {
  url: string;
  /** Requests to send (upper bound). */
  count: number;
  /** Requests per second; 0 = as fast as `concurrency` allows. */
  rate: number;
  /** Seconds after which no new request starts; 0 = no time limit (count still bounds the run). */
  durationSec: number;
  /** Requests in flight at once. */
  concurrency: number;
  /** Per-request timeout. */
  timeoutMs: number;
  onProgress?: (done: number) => void;
}

export interface LoadSummary {
  sent: number;
  elapsedMs: number;
  /** Status code (as text) or `error ECODE` → count. */
  outcomes: Record<string, number>;
  /** `x-web-api-version` value → count, over responses that carried it. */
  versions: Record<string, number>;
  stoppedBy: 'count' | 'duration';
}

export const LOAD_LIMITS = {
  count: { min: 1, max: 100_000 },
  rate: { min: 0, max: 10_000 },
  durationSec: { min: 0, max: 3_600 },
  concurrency: { min: 1, max: 256 },
} as const;

/** Parses a bounded integer flag, e.g. `--count 2000`. */
export function parseBounded(flag: string, text: string, limits: { min: number; max: number }): number {
  const value = /^\d+$/.test(text.trim()) ? Number(text.trim()) : NaN;
  if (!Number.isSafeInteger(value) || value < limits.min || value > limits.max) {
    throw new UserError(`${flag} must be an integer from ${limits.min} to ${limits.max}, got "${text}"`);
  }
  return value;
}

interface Outcome {
  key: string;
  version?: string;
}

function requestOnce(url: URL, agent: http.Agent, timeoutMs: number): Promise<Outcome> {
  const client = url.protocol === 'https:' ? https : http;
  return new Promise((resolve) => {
    const req = client.get(url, { agent, headers: { accept: 'application/json' } }, (res) => {
      const version = res.headers[VERSION_HEADER];
      res.resume(); // the body does not matter, but must be drained for keep-alive
      res.on('end', () =>
        resolve({ key: String(res.statusCode), version: Array.isArray(version) ? version[0] : version }),
      );
      res.on('error', (err: NodeJS.ErrnoException) => resolve({ key: `error ${err.code ?? err.message}` }));
    });
    req.setTimeout(timeoutMs, () => req.destroy(Object.assign(new Error('timeout'), { code: 'ETIMEDOUT' })));
    req.on('error', (err: NodeJS.ErrnoException) => resolve({ key: `error ${err.code ?? err.message}` }));
  });
}

export async function runLoad(options: LoadOptions): Promise<LoadSummary> {
  let url: URL;
  try {
    url = new URL(options.url);
  } catch {
    throw new UserError(`not a URL: "${options.url}"`);
  }
  const agent = new (url.protocol === 'https:' ? https.Agent : http.Agent)({
    keepAlive: true,
    maxSockets: options.concurrency,
  });
  const start = Date.now();
  const deadline = options.durationSec > 0 ? start + options.durationSec * 1000 : Infinity;
  const summary: LoadSummary = { sent: 0, elapsedMs: 0, outcomes: {}, versions: {}, stoppedBy: 'count' };
  let done = 0;

  // Each worker takes the next ticket; with a rate, ticket i may start at start + i / rate seconds.
  const worker = async (): Promise<void> => {
    for (;;) {
      if (summary.sent >= options.count) return;
      const ticket = summary.sent;
      const due = options.rate > 0 ? start + (ticket * 1000) / options.rate : Date.now();
      if (due >= deadline || Date.now() >= deadline) {
        summary.stoppedBy = 'duration';
        return;
      }
      summary.sent += 1;
      const wait = due - Date.now();
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait)); // pacing, not synchronisation
      const outcome = await requestOnce(url, agent, options.timeoutMs);
      summary.outcomes[outcome.key] = (summary.outcomes[outcome.key] ?? 0) + 1;
      if (outcome.version) summary.versions[outcome.version] = (summary.versions[outcome.version] ?? 0) + 1;
      done += 1;
      options.onProgress?.(done);
    }
  };
  try {
    await Promise.all(Array.from({ length: options.concurrency }, worker));
  } finally {
    agent.destroy();
  }
  summary.elapsedMs = Date.now() - start;
  return summary;
}

/** Share of each version among the responses that named one, in percent. */
export function versionShares(summary: LoadSummary): Record<string, number> {
  const total = Object.values(summary.versions).reduce((a, b) => a + b, 0);
  return Object.fromEntries(
    Object.entries(summary.versions).map(([version, n]) => [version, total ? (100 * n) / total : 0]),
  );
}

export function formatSummary(summary: LoadSummary): string[] {
  const seconds = summary.elapsedMs / 1000;
  const outcomes = Object.entries(summary.outcomes)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([key, n]) => `${key}: ${n}`)
    .join(', ');
  const shares = versionShares(summary);
  const versionTotal = Object.values(summary.versions).reduce((a, b) => a + b, 0);
  const versions = Object.keys(shares)
    .sort()
    .map((v) => `${v} ${shares[v]!.toFixed(1)} % (${summary.versions[v]})`)
    .join(', ');
  return [
    `${summary.sent} requests in ${seconds.toFixed(1)} s (${(summary.sent / Math.max(seconds, 0.001)).toFixed(0)}/s)` +
      (summary.stoppedBy === 'duration' ? ', stopped by --duration' : ''),
    `status codes: ${outcomes || 'none'}`,
    versionTotal > 0
      ? `web-api versions: ${versions}`
      : `web-api versions: no response carried the ${VERSION_HEADER} header`,
  ];
}
