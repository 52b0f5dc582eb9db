// Load generators: wrk for throughput (closed loop, -t2 -cN), hey for latency at a fixed rate (-c C -q Q =
// C*Q req/s at most, sub-millisecond percentiles). Both target loopback URLs of servers this run started,
// and both are bounded in time (wrk -d, hey -z) with a kill timeout on top.
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import { promisify } from 'node:util';

const run = promisify(execFile);

export function which(tool) {
  return (process.env.PATH ?? '').split(':').some((dir) => dir && fs.existsSync(`${dir}/${tool}`));
}

function assertLoopback(url) {
  const { hostname } = new URL(url);
  if (hostname !== '127.0.0.1' && hostname !== 'localhost') throw new Error(`refusing to load a non-loopback URL: ${url}`);
}

/** wrk -t2 -c<connections> -d<seconds>s --latency: req/s, non-2xx, socket errors, p50/p99 (ms). */
export async function wrk(url, { seconds, connections = 50, threads = 2 }) {
  assertLoopback(url);
  const { stdout } = await run('wrk', [`-t${threads}`, `-c${connections}`, `-d${seconds}s`, '--latency', '--timeout', '5s', url], {
    timeout: (seconds + 20) * 1000,
  });
  const num = (re) => {
    const m = re.exec(stdout);
    return m ? Number(m[1]) : 0;
  };
  const socketErrors = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(stdout);
  return {
    requestsPerSecond: num(/Requests\/sec:\s+([\d.]+)/),
    requests: num(/(\d+) requests in/),
    non2xx: num(/Non-2xx or 3xx responses:\s+(\d+)/),
    socketErrors: socketErrors ? socketErrors.slice(1).reduce((a, b) => a + Number(b), 0) : 0,
    p50Ms: wrkLatency(stdout, '50%'),
    p99Ms: wrkLatency(stdout, '99%'),
  };
}

function wrkLatency(stdout, label) {
  const m = new RegExp(`${label}\\s+([\\d.]+)(us|ms|s)\\b`).exec(stdout);
  if (!m) return NaN;
  const factor = { us: 0.001, ms: 1, s: 1000 }[m[2]];
  return round(Number(m[1]) * factor, 3);
}

/**
 * hey at a fixed rate: `concurrency` workers each limited to `perWorker` req/s for `seconds`.
 * Returns achieved req/s, p50/p90/p99 (ms), status counts and errors.
 */
export async function hey(url, { seconds, concurrency = 10, perWorker = 100 }) {
  assertLoopback(url);
  const { stdout } = await run('hey', ['-z', `${seconds}s`, '-c', String(concurrency), '-q', String(perWorker), '-t', '5', url], {
    timeout: (seconds + 20) * 1000,
    maxBuffer: 16 * 1024 * 1024,
  });
  const percentile = (p) => {
    const m = new RegExp(`\\b${p}%+ in ([\\d.]+) secs`).exec(stdout);
    return m ? round(Number(m[1]) * 1000, 3) : NaN;
  };
  const statuses = {};
  for (const m of stdout.matchAll(/\[(\d{3})\]\s+(\d+) responses/g)) statuses[m[1]] = Number(m[2]);
  const errorBlock = /Error distribution:\n([\s\S]*)$/.exec(stdout);
  const errors = errorBlock ? [...errorBlock[1].matchAll(/\[(\d+)\]/g)].reduce((a, m) => a + Number(m[1]), 0) : 0;
  const rps = /Requests\/sec:\s+([\d.]+)/.exec(stdout);
  return {
    requestsPerSecond: rps ? round(Number(rps[1]), 1) : 0,
    p50Ms: percentile(50),
    p90Ms: percentile(90),
    p99Ms: percentile(99),
    statuses,
    errors,
  };
}

export const round = (n, digits = 2) => (Number.isFinite(n) ? Number(n.toFixed(digits)) : null);
