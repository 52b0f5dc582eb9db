/**
 * Open-loop load over loopback: requests start on a fixed schedule (not when the previous one ends), so a slow
 * or stuck upstream shows up as latency and failures instead of silently lowering the rate. Bounded in count,
 * time and requests in flight.
 */
import http from 'node:http';

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

export interface LoadOptions {
  /** Base URL, e.g. the mesh's gateway URL. */
  baseUrl: string;
  /** The request to send; a function gets the request's index (0-based). */
  request: RequestSpec | ((index: number) => RequestSpec);
  ratePerSecond: number;
  /** Stop scheduling after this many requests or this long, whichever comes first. */
  count?: number;
  durationMs?: number;
  /** Requests in flight at most; a request due while the limit is reached waits (and its latency counts from its due time). */
  maxInFlight?: number;
  /** Client-side deadline per request; an answer later than this is a failure (status 0). */
  timeoutMs?: number;
  /** Called once for each request as it is scheduled (e.g. to restart a workload at a given moment). */
  onTick?: (index: number, elapsedMs: number) => void;
}

/** One request with its own deadline; never rejects. */
export function send(baseUrl: string, spec: RequestSpec, agent: http.Agent, timeoutMs = 10_000): Promise<Omit<Sample, 'startedAtMs'>> {
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
    const request = http.request(
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

/** Runs the load and returns every sample in start order. */
export async function runLoad(options: LoadOptions): Promise<Sample[]> {
  const { ratePerSecond } = options;
  if (options.count === undefined && options.durationMs === undefined) throw new Error('runLoad needs a count or a duration');
  const count = options.count ?? Math.ceil(((options.durationMs ?? 0) * ratePerSecond) / 1000);
  const maxInFlight = options.maxInFlight ?? 256;
  const agent = new http.Agent({ keepAlive: true, maxSockets: maxInFlight });
  const requestFor = typeof options.request === 'function' ? options.request : () => options.request as RequestSpec;
  const samples: Sample[] = new Array(count);
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
        send(options.baseUrl, requestFor(index), agent, options.timeoutMs).then((sample) => {
          samples[index] = { ...sample, latencyMs: sample.latencyMs + queuedMs, startedAtMs };
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
export async function runBatch(
  baseUrl: string,
  count: number,
  request: RequestSpec | ((index: number) => RequestSpec),
  concurrency = 8,
  timeoutMs = 10_000,
  durationMs = Number.POSITIVE_INFINITY,
): Promise<Sample[]> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency });
  const requestFor = typeof request === 'function' ? request : () => request;
  const samples: Sample[] = new Array(count);
  const started = performance.now();
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < count && performance.now() - started < durationMs) {
      const index = next++;
      const startedAtMs = performance.now() - started;
      samples[index] = { ...(await send(baseUrl, requestFor(index), agent, timeoutMs)), startedAtMs };
    }
  };
  try {
    await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
  } finally {
    agent.destroy();
  }
  return samples.filter((s) => s !== undefined);
}
