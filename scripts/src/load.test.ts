import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { UserError } from './errors';
import { formatSummary, parseBounded, roundedShares, runClosedLoop, runLoad, runOpenLoop, versionShares, type LoadSummary, type Sample } from './load';

/** A stand-in for getmultiple: every third answer is v2, every tenth a 503. */
function fakeApp(): Promise<{ url: string; hits: () => number; close: () => Promise<void> }> {
  let hits = 0;
  const server = http.createServer((_req, res) => {
    hits += 1;
    const status = hits % 10 === 0 ? 503 : 200;
    res.writeHead(status, { 'x-web-api-version': hits % 3 === 0 ? 'v2' : 'v1', 'content-type': 'application/json' });
    res.end('[]');
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () =>
      resolve({
        url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/web-api/v1/getmultiple`,
        hits: () => hits,
        close: () => new Promise((done) => server.close(() => done())),
      }),
    ),
  );
}

describe('runLoad', () => {
  it('sends exactly --count requests and counts status codes and versions', async () => {
    const app = await fakeApp();
    try {
      const progress: number[] = [];
      const summary = await runLoad({ url: app.url, count: 30, rate: 0, durationSec: 0, concurrency: 4, timeoutMs: 5000, onProgress: (n) => progress.push(n) });
      expect(app.hits()).toBe(30);
      expect(summary.sent).toBe(30);
      expect(summary.outcomes).toEqual({ '200': 27, '503': 3 });
      expect(summary.versions).toEqual({ v1: 20, v2: 10 });
      expect(summary.stoppedBy).toBe('count');
      expect(progress.at(-1)).toBe(30);
    } finally {
      await app.close();
    }
  });

  it('stops at --duration even when --count is not reached (rate 10/s for 1 s: about 10 requests)', async () => {
    const app = await fakeApp();
    try {
      const summary = await runLoad({ url: app.url, count: 1000, rate: 10, durationSec: 1, concurrency: 4, timeoutMs: 5000 });
      expect(summary.stoppedBy).toBe('duration');
      // Tickets are due at 0, 100, ... 900 ms: at most 10 start before the 1 s deadline (fewer only on a
      // machine so busy that a worker picks its ticket after the deadline).
      expect(summary.sent).toBeLessThanOrEqual(10);
      expect(summary.sent).toBeGreaterThanOrEqual(5);
      expect(app.hits()).toBe(summary.sent);
    } finally {
      await app.close();
    }
  });

  it('counts connection failures by their code instead of throwing', async () => {
    const app = await fakeApp();
    await app.close(); // nothing listens there now
    const summary = await runLoad({ url: app.url, count: 3, rate: 0, durationSec: 0, concurrency: 1, timeoutMs: 2000 });
    expect(summary.outcomes).toEqual({ 'error ECONNREFUSED': 3 });
    expect(summary.versions).toEqual({});
  });

  it('rejects a malformed URL with a user error', async () => {
    await expect(runLoad({ url: 'getmultiple', count: 1, rate: 0, durationSec: 0, concurrency: 1, timeoutMs: 1000 })).rejects.toThrow(
      new UserError('not a URL: "getmultiple"'),
    );
  });
});

describe("runOpenLoop / runClosedLoop (the reliability suite's load)", () => {
  it('the open loop sends on its schedule, keeps samples in start order with status, headers and body', async () => {
    const app = await fakeApp();
    try {
      const base = new URL(app.url);
      const samples = await runOpenLoop({ baseUrl: base.origin, request: { path: base.pathname }, ratePerSecond: 100, count: 20 });
      // The fake answers every tenth request it receives with 503 (arrival order may differ from start order).
      expect(samples.map((s) => s.status).sort()).toEqual([...Array(18).fill(200), 503, 503]);
      expect(samples.every((s, i) => s.body === '[]' && s.headers['x-web-api-version'] && (i === 0 || s.startedAtMs >= samples[i - 1]!.startedAtMs))).toBe(
        true,
      );
      // Request i is not sent before it is due (i × 10 ms; a timer may fire up to a millisecond early).
      expect(samples.filter((s, i) => s.startedAtMs < i * 10 - 2).map((s) => s.startedAtMs)).toEqual([]);
    } finally {
      await app.close();
    }
  });

  it('streams samples without keeping them, and the closed loop stops at its duration', async () => {
    const app = await fakeApp();
    try {
      const base = new URL(app.url);
      const seen: Sample[] = [];
      expect(
        await runOpenLoop({
          baseUrl: base.origin,
          request: { path: base.pathname },
          ratePerSecond: 200,
          count: 12,
          onSample: (s) => seen.push(s),
          keepSamples: false,
        }),
      ).toEqual([]);
      expect(seen).toHaveLength(12);
      const closed = await runClosedLoop(base.origin, 100_000, { path: base.pathname }, 2, 5000, 300);
      expect(closed.length).toBeGreaterThan(0);
      expect(closed.length).toBeLessThan(100_000);
      expect(Math.max(...closed.map((s) => s.startedAtMs))).toBeLessThan(310); // none starts after 300 ms (+ the check-to-start gap)
    } finally {
      await app.close();
    }
  });
});

describe('parseBounded', () => {
  it('accepts integers within the bounds', () => {
    expect(parseBounded('--count', '2000', { min: 1, max: 100_000 })).toBe(2000);
    expect(parseBounded('--rate', '0', { min: 0, max: 10 })).toBe(0);
  });
  it.each(['0', '-1', '1.5', 'many', '', '100001'])('rejects --count %p', (text) => {
    expect(() => parseBounded('--count', text, { min: 1, max: 100_000 })).toThrow(`--count must be an integer from 1 to 100000, got "${text}"`);
  });
});

describe('roundedShares', () => {
  it('adds up to exactly 100.0 (largest remainder), where rounding each share alone would give 100.1', () => {
    // 1 / 1 / 4 of 6: each rounded alone gives 16.7 + 16.7 + 66.7 = 100.1.
    expect(roundedShares({ v1: 1, v2: 1, v3: 4 })).toEqual({ v1: 16.7, v2: 16.7, v3: 66.6 }); // equal remainders: by name
    expect(roundedShares({ a: 1, b: 1, c: 1 })).toEqual({ a: 33.4, b: 33.3, c: 33.3 });
    const shares = roundedShares({ v1: 2001, v2: 1000, v3: 1000 });
    expect(Object.values(shares).reduce((x, y) => x + y, 0)).toBeCloseTo(100, 10);
    expect(roundedShares({ v1: 0, v2: 0 })).toEqual({ v1: 0, v2: 0 });
    expect(roundedShares({ v1: 7 })).toEqual({ v1: 100 });
  });
});

describe('formatSummary', () => {
  const summary: LoadSummary = {
    sent: 2000,
    elapsedMs: 8000,
    outcomes: { '200': 1998, '503': 2 },
    versions: { v1: 1600, v2: 400 },
    stoppedBy: 'count',
  };
  it('status codes and the v1/v2 share', () => {
    expect(versionShares(summary)).toEqual({ v1: 80, v2: 20 });
    expect(formatSummary(summary)).toEqual([
      '2000 requests in 8.0 s (250/s)',
      'status codes: 200: 1998, 503: 2',
      'web-api versions: v1 80.0 % (1600), v2 20.0 % (400)',
    ]);
  });
  it('says when no response named a version', () => {
    expect(formatSummary({ ...summary, versions: {}, stoppedBy: 'duration' })).toEqual([
      '2000 requests in 8.0 s (250/s), stopped by --duration',
      'status codes: 200: 1998, 503: 2',
      'web-api versions: no response carried the x-web-api-version header',
    ]);
  });
});
