// The mesh process's memory and GC under a load through its gateway (issue 10: graph telemetry window, trace store).
// Starts `node mesh/dist/cli.js` (istio/base, ports 0, temporary data folder) like `npm run bench`, drives its
// gateway with `wrk -t2 -c<connections>` for <seconds> on <path> (default `/` → web-app: one proxied hop per request,
// the highest rate the stack allows), then reads the mesh's RSS (/proc), its V8 heap and GC time (its own
// `mesh_nodejs_*` metrics) and how long `/graph.json?window=60` takes to answer. The mesh runs with `--trace-gc`:
// the heap after each full (Mark-Compact) GC during the load is its live set, which a heap reading at one instant
// (live + not yet collected garbage) is not.
// Usage: node bench/mesh-memory.mjs [--seconds 20] [--connections 20] [--path /] [--rate R]   (under the heavy lock)
// --rate R: `hey -c20 -q R/20` instead of wrk, a fixed rate, so that runs compare per hop at the same load.
// The environment is passed to the mesh (e.g. MESH_TRACE_SAMPLING=1, MESH_TRACE_MAX_TRACES=...).
import { hey, round, wrk } from './lib/load.mjs';
import { rssMb, sampleProcesses } from './lib/proc-stats.mjs';
import { startMesh, stopAll } from './lib/processes.mjs';

const arg = (name, fallback) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : fallback;
};
const seconds = Number(arg('seconds', '20'));
const connections = Number(arg('connections', '20'));
const loadPath = arg('path', '/');
const rate = arg('rate', undefined) === undefined ? undefined : Number(arg('rate'));

/** The mesh's own metrics: Istio hops (source reporter), heap used, GC seconds. */
async function meshFigures(admin) {
  const text = await (await fetch(`${admin}/metrics`, { signal: AbortSignal.timeout(10_000) })).text();
  let hops = 0;
  for (const m of text.matchAll(/^istio_requests_total\{([^}]*)\} ([\d.e+]+)$/gm)) if (!/reporter="destination"/.test(m[1])) hops += Number(m[2]);
  const value = (re) => [...text.matchAll(re)].reduce((sum, m) => sum + Number(m[1]), 0);
  return {
    hops,
    heapUsedMb: value(/^mesh_nodejs_heap_size_used_bytes ([\d.e+]+)$/gm) / 2 ** 20,
    gcSeconds: value(/^mesh_nodejs_gc_duration_seconds_sum\{[^}]*\} ([\d.e+]+)$/gm),
  };
}

async function timed(url) {
  const started = process.hrtime.bigint();
  const response = await fetch(url, { signal: AbortSignal.timeout(10_000) });
  const body = await response.text();
  return { ms: Number(process.hrtime.bigint() - started) / 1e6, bytes: body.length, status: response.status };
}

async function main() {
  const mesh = await startMesh({ nodeArgs: ['--trace-gc'] });
  const { gateway, admin } = mesh;
  const url = `${gateway}${loadPath}`;
  const check = await fetch(url, { signal: AbortSignal.timeout(5000) });
  await check.text();
  if (check.status !== 200) throw new Error(`mesh gateway ${loadPath} answered ${check.status}`);
  const pid = mesh.pid;
  const idle = { rssMb: rssMb(pid), ...(await meshFigures(admin)) };
  // V8's --trace-gc lines of the mesh process itself (its children print theirs with their own pids).
  const gcLine = new RegExp(
    `^\\[${pid}:0x[0-9a-f]+\\]\\s+\\d+ ms: (Scavenge|Mark-Compact(?: \\(reduce\\))?|Mark-sweep)\\S* [\\d.]+ \\([\\d.]+\\) -> ([\\d.]+) \\([\\d.]+\\) MB, ([\\d.]+) /`,
  );
  const gc = { measuring: false, scavenges: 0, fullGcs: 0, pauseMs: 0, liveMbAfterFullGc: [] };
  mesh.onLine((line) => {
    const m = gc.measuring ? gcLine.exec(line) : null;
    if (!m) return;
    gc.pauseMs += Number(m[3]);
    if (m[1] === 'Scavenge') gc.scavenges += 1;
    else {
      gc.fullGcs += 1;
      gc.liveMbAfterFullGc.push(Number(m[2]));
    }
  });
  gc.measuring = true;
  const stats = sampleProcesses([pid]);
  const load = rate ? await hey(url, { seconds, concurrency: 20, perWorker: rate / 20 }) : await wrk(url, { seconds, connections });
  const during = stats.stop();
  gc.measuring = false;
  const after = { rssMb: rssMb(pid), ...(await meshFigures(admin)) };
  const graph = await timed(`${admin}/graph.json?window=60`);
  const hops = after.hops - idle.hops;
  const result = {
    at: new Date().toISOString(),
    command: `node bench/mesh-memory.mjs --seconds ${seconds} --path ${loadPath} ${rate ? `--rate ${rate}` : `--connections ${connections}`}`,
    load: rate
      ? { tool: 'hey', ...load }
      : { tool: 'wrk', requestsPerSecond: load.requestsPerSecond, requests: load.requests, non2xx: load.non2xx, socketErrors: load.socketErrors },
    proxiedHops: hops,
    cpuMsPerHop: hops > 0 ? round((during.cpuSeconds * 1000) / hops, 4) : null,
    cpuCores: during.cpuCores,
    rssMb: { idle: idle.rssMb, maxUnderLoad: during.rssMbMax, afterLoad: after.rssMb },
    heapUsedMb: { idle: round(idle.heapUsedMb, 1), afterLoad: round(after.heapUsedMb, 1) },
    gcSecondsDuringLoad: round(after.gcSeconds - idle.gcSeconds, 3),
    traceGc: {
      scavenges: gc.scavenges,
      fullGcs: gc.fullGcs,
      pauseMs: round(gc.pauseMs, 1),
      liveHeapMbAfterFullGc: { max: gc.liveMbAfterFullGc.length ? Math.max(...gc.liveMbAfterFullGc) : null, last: gc.liveMbAfterFullGc.at(-1) ?? null },
    },
    gcMsPerThousandHops: hops > 0 ? round(((after.gcSeconds - idle.gcSeconds) * 1e6) / hops, 2) : null,
    graphJson: { ms: round(graph.ms, 1), bytes: graph.bytes, status: graph.status },
  };
  process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
  await mesh.stop();
}

main()
  .catch((error) => {
    process.stderr.write(`${error.stack ?? error}\n`);
    process.exitCode = 1;
  })
  .finally(() => stopAll());
