/**
 * The one HTTP load generator of the repository, on Node's http/https with keep-alive agents:
 * - an open loop (`runOpenLoop`: requests start on a fixed schedule, not when the previous one ends, so a slow or
 *   stuck upstream shows up as latency and failures instead of silently lowering the rate) and a closed loop
 *   (`runClosedLoop`: a number of requests with a bound on those in flight), used by the reliability suite;
 * - the `load` command's bounded demo traffic against getmultiple (`runLoad`: at most `count` requests, at most
 *   `rate` per second, stopping at `duration`, with a summary of status codes and of the web-api version that
 *   answered, `x-web-api-version`).
 */
import http from 'node:http';
import https from 'node:https';
import { UserError } from './errors';

export interface Sample {
  /** HTTP status; 0 when the request failed without an answer (connection error, client timeout). */
  status: number;
  latencyMs: number;
  /** Start time relative to the start of the run. */
  startedAtMs: number;
  body: string;
  headers: http.IncomingHttpHeaders;
  error?: string;
}

export interface RequestSpec {
  method?: string;
  path: string;
  headers?: Record<string, string>;
  body?: string | Buffer;
}

export interface OpenLoopOptions {
  /** Base URL, e.g. the mesh's gateway URL (http or https). */
  baseUrl: string;
  /** The request to send; a function gets the request's index (0-based). */
  request: RequestSpec | ((index: number) => RequestSpec);
  ratePerSecond: number;
  /** Stop scheduling after this many requests or this long, whichever comes first (at least one of the two). */
  count?: number;
  durationMs?: number;
  /** Requests in flight at most; a request due while the limit is reached waits (and its latency counts from its due time). */
  maxInFlight?: number;
  /** Client-side deadline per request; an answer later than this is a failure (status 0). */
  timeoutMs?: number;
  /** Called once for each request as it is scheduled (e.g. to restart a workload at a given moment). */
  onTick?: (index: number, elapsedMs: number) => void;
  /** Called with each sample as its answer arrives (e.g. a progress bar, or a summary without keeping samples). */
  onSample?: (sample: Sample, index: number) => void;
  /** Keep every sample (with its body) for the result; false for long runs that only need onSample. Default true. */
  keepSamples?: boolean;
}

/** A keep-alive agent for `baseUrl`'s protocol, with at most `maxSockets` connections. */
export function agentFor(baseUrl: string, maxSockets: number): http.Agent {
  return new (new URL(baseUrl).protocol === 'https:' ? https.Agent : http.Agent)({ keepAlive: true, maxSockets });
}

/** One request with its own deadline; never rejects. */
export function sendRequest(baseUrl: string, spec: RequestSpec, agent: http.Agent, timeoutMs = 10_000): Promise<Omit<Sample, 'startedAtMs'>> {
  const started = performance.now();
  return new Promise((resolve) => {
    let settled = false;
    const done = (sample: Omit<Sample, 'latencyMs' | 'startedAtMs'>): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve({ ...sample, latencyMs: performance.now() - started });
    };
    const url = new URL(spec.path, baseUrl);
    const request = (url.protocol === 'https:' ? https : http).request(
      { host: url.hostname, port: url.port, path: spec.path, method: spec.method ?? 'GET', headers: spec.headers, agent },
      (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('end', () => done({ status: response.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8'), headers: response.headers }));
        response.on('error', (error) => done({ status: 0, body: '', headers: {}, error: error.message }));
      },
    );
    const timer = setTimeout(() => {
      request.destroy(new Error(`no answer within ${timeoutMs} ms`));
    }, timeoutMs);
    request.on('error', (error: NodeJS.ErrnoException) => done({ status: 0, body: '', headers: {}, error: error.code ?? error.message }));
    if (spec.body !== undefined) request.end(spec.body);
    else request.end();
  });
}

/**
 * Open loop: request i is due at i / ratePerSecond, whether or not earlier ones have answered. Returns every
 * sample in start order (none with keepSamples: false).
 */
export async function runOpenLoop(options: OpenLoopOptions): Promise<Sample[]> {
  const { ratePerSecond } = options;
  if (options.count === undefined && options.durationMs === undefined) throw new Error('runOpenLoop needs a count or a duration');
  const dueWithinDuration = options.durationMs === undefined ? Infinity : Math.ceil((options.durationMs * ratePerSecond) / 1000);
  const count = Math.min(options.count ?? Infinity, dueWithinDuration);
  const maxInFlight = options.maxInFlight ?? 256;
  const agent = agentFor(options.baseUrl, maxInFlight);
  const keep = options.keepSamples ?? true;
  const requestFor = typeof options.request === 'function' ? options.request : () => options.request as RequestSpec;
  const samples: Sample[] = keep ? new Array(count) : [];
  const started = performance.now();
  let inFlight = 0;
  const slotWaiters: Array<() => void> = [];
  const running: Array<Promise<void>> = [];
  try {
    for (let index = 0; index < count; index++) {
      const dueAt = (index * 1000) / ratePerSecond;
      const wait = dueAt - (performance.now() - started);
      if (wait > 1) await new Promise((resolve) => setTimeout(resolve, wait));
      while (inFlight >= maxInFlight) await new Promise<void>((resolve) => slotWaiters.push(resolve));
      options.onTick?.(index, performance.now() - started);
      inFlight++;
      const startedAtMs = performance.now() - started;
      // Latency counts from the scheduled time: waiting for a free slot is the system's fault, not the client's.
      const queuedMs = Math.max(0, startedAtMs - dueAt);
      running.push(
        sendRequest(options.baseUrl, requestFor(index), agent, options.timeoutMs).then((answer) => {
          const sample = { ...answer, latencyMs: answer.latencyMs + queuedMs, startedAtMs };
          if (keep) samples[index] = sample;
          options.onSample?.(sample, index);
          inFlight--;
          slotWaiters.shift()?.();
        }),
      );
    }
    await Promise.all(running);
  } finally {
    agent.destroy();
  }
  return samples.filter((s) => s !== undefined);
}

/**
 * `count` requests with at most `concurrency` in flight (closed loop: as fast as the system answers). With
 * `durationMs`, no request starts after that time (the result is shorter than `count`).
 */
export async function runClosedLoop(
  baseUrl: string,
  count: number,
  request: RequestSpec | ((index: number) => RequestSpec),
  concurrency = 8,
  timeoutMs = 10_000,
  durationMs = Number.POSITIVE_INFINITY,
  onSample?: (sample: Sample, index: number) => void,
  keepSamples = true,
): Promise<Sample[]> {
  const agent = agentFor(baseUrl, concurrency);
  const requestFor = typeof request === 'function' ? request : () => request;
  const samples: Sample[] = keepSamples ? new Array(count) : [];
  const started = performance.now();
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < count && performance.now() - started < durationMs) {
      const index = next++;
      const startedAtMs = performance.now() - started;
      const sample = { ...(await sendRequest(baseUrl, requestFor(index), agent, timeoutMs)), startedAtMs };
      if (keepSamples) samples[index] = sample;
      onSample?.(sample, index);
    }
  };
  try {
    await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
  } finally {
    agent.destroy();
  }
  return samples.filter((s) => s !== undefined);
}

// ---------------------------------------------------------------- the load command

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

export async function runLoad(options: LoadOptions): Promise<LoadSummary> {
  let url: URL;
  try {
    url = new URL(options.url);
  } catch {
    throw new UserError(`not a URL: "${options.url}"`);
  }
  const start = Date.now();
  const summary: LoadSummary = { sent: 0, elapsedMs: 0, outcomes: {}, versions: {}, stoppedBy: 'count' };
  let done = 0;
  const onSample = (sample: Sample): void => {
    const key = sample.status === 0 ? `error ${sample.error ?? 'no answer'}` : String(sample.status);
    summary.outcomes[key] = (summary.outcomes[key] ?? 0) + 1;
    const header = sample.headers[VERSION_HEADER];
    const version = Array.isArray(header) ? header[0] : header;
    if (version) summary.versions[version] = (summary.versions[version] ?? 0) + 1;
    done += 1;
    options.onProgress?.(done);
  };
  const request: RequestSpec = { path: url.pathname + url.search, headers: { accept: 'application/json' } };
  const durationMs = options.durationSec > 0 ? options.durationSec * 1000 : undefined;
  // With a rate: the open loop (at most `concurrency` in flight); without: as fast as `concurrency` allows.
  await (options.rate > 0
    ? runOpenLoop({
        baseUrl: url.origin,
        request,
        ratePerSecond: options.rate,
        count: options.count,
        durationMs,
        maxInFlight: options.concurrency,
        timeoutMs: options.timeoutMs,
        onSample,
        keepSamples: false,
      })
    : runClosedLoop(url.origin, options.count, request, options.concurrency, options.timeoutMs, durationMs, onSample, false));
  summary.sent = done;
  if (done < options.count) summary.stoppedBy = 'duration';
  summary.elapsedMs = Date.now() - start;
  return summary;
}

/** Share of each version among the responses that named one, in percent. */
export function versionShares(summary: LoadSummary): Record<string, number> {
  const total = Object.values(summary.versions).reduce((a, b) => a + b, 0);
  return Object.fromEntries(Object.entries(summary.versions).map(([version, n]) => [version, total ? (100 * n) / total : 0]));
}

/**
 * Shares in tenths of a percent that add up to exactly 100.0 (largest remainder, as the web-app's traffic legend
 * rounds): 2 / 1 / 1 of 3 gives 66.7 / 33.3, never 66.7 / 33.4 or a total of 100.1.
 */
export function roundedShares(counts: Record<string, number>): Record<string, number> {
  const total = Object.values(counts).reduce((a, b) => a + b, 0);
  if (total === 0) return Object.fromEntries(Object.keys(counts).map((k) => [k, 0]));
  const exact = Object.entries(counts).map(([key, n]) => ({ key, tenths: (1000 * n) / total }));
  const floors = new Map(exact.map((e) => [e.key, Math.floor(e.tenths)]));
  let missing = 1000 - [...floors.values()].reduce((a, b) => a + b, 0);
  for (const e of [...exact].sort((a, b) => b.tenths - Math.floor(b.tenths) - (a.tenths - Math.floor(a.tenths)) || a.key.localeCompare(b.key))) {
    if (missing-- <= 0) break;
    floors.set(e.key, floors.get(e.key)! + 1);
  }
  return Object.fromEntries([...floors].map(([key, tenths]) => [key, tenths / 10]));
}

export function formatSummary(summary: LoadSummary): string[] {
  const seconds = summary.elapsedMs / 1000;
  const outcomes = Object.entries(summary.outcomes)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([key, n]) => `${key}: ${n}`)
    .join(', ');
  const shares = roundedShares(summary.versions);
  const versionTotal = Object.values(summary.versions).reduce((a, b) => a + b, 0);
  const versions = Object.keys(shares)
    .sort()
    .map((v) => `${v} ${shares[v]!.toFixed(1)} % (${summary.versions[v]})`)
    .join(', ');
  return [
    `${summary.sent} requests in ${seconds.toFixed(1)} s (${(summary.sent / Math.max(seconds, 0.001)).toFixed(0)}/s)` +
      (summary.stoppedBy === 'duration' ? ', stopped by --duration' : ''),
    `status codes: ${outcomes || 'none'}`,
    versionTotal > 0 ? `web-api versions: ${versions}` : `web-api versions: no response carried the ${VERSION_HEADER} header`,
  ];
}
