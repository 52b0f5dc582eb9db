// Latency of two paths compared request by request: A B, then B A, then A B, ... one request at a time, so that
// whatever else the machine is doing (a burst of load, a slow drift, a checkpoint) falls on both alike. Used by
// the growth figure, whose two sides differ by a fraction of a millisecond: separate hey rounds of a few seconds
// each measured mostly the machine.
import http from 'node:http';
import { round } from './load.mjs';
import { sleep } from './processes.mjs';

/**
 * One GET over a keep-alive agent; resolves with its latency in ms and, with `classify`, why the answer is degraded
 * (bench/lib/degraded.mjs; undefined when complete). Without `classify` a non-200 rejects; any request rejects after 5 s.
 */
function timedGet(url, agent, classify) {
  return new Promise((resolve, reject) => {
    const started = process.hrtime.bigint();
    const request = http.get(url, { agent, timeout: 5000 }, (response) => {
      const chunks = [];
      response.on('data', (chunk) => chunks.push(chunk));
      response.once('end', () => {
        const ms = Number(process.hrtime.bigint() - started) / 1e6;
        if (!classify) {
          if (response.statusCode === 200) resolve({ ms });
          else reject(new Error(`${url} answered ${response.statusCode}`));
          return;
        }
        let body;
        try {
          body = JSON.parse(Buffer.concat(chunks).toString());
        } catch {
          body = undefined;
        }
        resolve({ ms, degraded: classify(response.statusCode, { get: (name) => response.headers[name] }, body) });
      });
    });
    request.once('timeout', () => request.destroy(new Error(`${url}: no answer within 5 s`)));
    request.once('error', reject);
  });
}

const percentile = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))];

function summary(samples) {
  const sorted = [...samples].sort((a, b) => a - b);
  return {
    requests: sorted.length,
    p50Ms: round(percentile(sorted, 0.5), 3),
    p90Ms: round(percentile(sorted, 0.9), 3),
    p99Ms: round(percentile(sorted, 0.99), 3),
  };
}

/**
 * `pairs` pairs of requests to `urls.a` and `urls.b` (order alternating A B / B A), a pair every `intervalMs`
 * (≥ one pair's own time: the pace is never faster than back to back), after `warmPairs` unrecorded ones. Each
 * side keeps one keep-alive connection. `classify(status, headers, body)`: every recorded answer is checked and
 * the degraded ones counted per side. Returns each side's percentiles, the p50 ratio b ÷ a, and that ratio in
 * `blocks` consecutive slices of the run: their spread shows how much the figure moves within one run.
 */
export async function alternate(urls, { pairs, intervalMs = 0, warmPairs = 20, blocks = 5, classify }) {
  const agents = { a: new http.Agent({ keepAlive: true, maxSockets: 1 }), b: new http.Agent({ keepAlive: true, maxSockets: 1 }) };
  const samples = { a: [], b: [] };
  const answers = { a: { samples: 0, degraded: 0, reasons: {} }, b: { samples: 0, degraded: 0, reasons: {} } };
  try {
    for (let i = 0; i < warmPairs + pairs; i++) {
      const pairStarted = Date.now();
      for (const side of i % 2 === 0 ? ['a', 'b'] : ['b', 'a']) {
        const { ms, degraded } = await timedGet(urls[side], agents[side], classify);
        if (i < warmPairs) continue;
        samples[side].push(ms);
        answers[side].samples++;
        if (degraded) {
          answers[side].degraded++;
          answers[side].reasons[degraded] = (answers[side].reasons[degraded] ?? 0) + 1;
        }
      }
      const wait = intervalMs - (Date.now() - pairStarted);
      if (wait > 0) await sleep(wait);
    }
  } finally {
    agents.a.destroy();
    agents.b.destroy();
  }
  const a = summary(samples.a);
  const b = summary(samples.b);
  const size = Math.floor(pairs / blocks);
  const blockRatios = Array.from({ length: blocks }, (_, k) => {
    const slice = (side) => summary(samples[side].slice(k * size, (k + 1) * size)).p50Ms;
    return round(slice('b') / slice('a'), 2);
  });
  return {
    a: { ...a, answers: classify ? answers.a : undefined },
    b: { ...b, answers: classify ? answers.b : undefined },
    ratioP50: round(b.p50Ms / a.p50Ms, 2),
    ratioP90: round(b.p90Ms / a.p90Ms, 2),
    blockRatiosP50: blockRatios,
  };
}
