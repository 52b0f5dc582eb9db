#!/usr/bin/env node
// A/B of the local mesh process between two checkouts (or one, with extra environment on B): CPU ms per proxied hop
// of the mesh CLI process at the stack's load (getmultiple through its gateway, `wrk -t2 -c4`, /proc), the way the
// bench's stack section measures it. Both meshes run side by side (each with its own services), each is warmed for
// 20 s, then the runs are interleaved A B B A (ROUNDS times) and medians printed. Build both checkouts first.
//
//   node bench/ab-mesh.mjs SECONDS CHECKOUT_A CHECKOUT_B              env: ROUNDS=3
//   B_ENV="MESH_TRACE_SAMPLING=0" node bench/ab-mesh.mjs 5 . .         (same code, environment on B only)
import path from 'node:path';

const seconds = Number(process.argv[2] ?? 5);
const repos = process.argv.slice(3).map((r) => path.resolve(r));
if (repos.length < 2) throw new Error('usage: node bench/ab-mesh.mjs SECONDS CHECKOUT_A CHECKOUT_B');
const here = path.dirname(new URL(import.meta.url).pathname);
const { startMesh, stopAll } = await import(path.join(here, 'lib/processes.mjs'));
const { wrk } = await import(path.join(here, 'lib/load.mjs'));
const { sampleProcesses } = await import(path.join(here, 'lib/proc-stats.mjs'));
const extraEnv = Object.fromEntries(
  (process.env.B_ENV ?? '')
    .split(' ')
    .filter(Boolean)
    .map((kv) => kv.split('=')),
);
const median = (xs) => {
  const a = [...xs].sort((x, y) => x - y);
  return a.length % 2 ? a[(a.length - 1) / 2] : (a[a.length / 2 - 1] + a[a.length / 2]) / 2;
};

/** Requests the mesh proxied (gateway and sidecars, source reporter), from its Istio metrics. */
async function hops(admin) {
  const text = await (await fetch(`${admin}/metrics`, { signal: AbortSignal.timeout(5000) })).text();
  let total = 0;
  for (const m of text.matchAll(/^istio_requests_total\{([^}]*)\} ([\d.e+]+)$/gm)) if (!/reporter="destination"/.test(m[1])) total += Number(m[2]);
  return total;
}

try {
  const meshes = [];
  for (const [i, repo] of repos.entries()) {
    const mesh = await startMesh({ name: `mesh-${i}`, repo, env: i === 1 ? extraEnv : {}, readyTimeoutMs: 90_000 });
    meshes.push({ pid: mesh.pid, url: `${mesh.gateway}/web-api/v1/getmultiple`, admin: mesh.admin });
  }
  for (const m of meshes) await wrk(m.url, { seconds: 20, connections: 4, threads: 2 });
  const rounds = Number(process.env.ROUNDS ?? 3);
  const order = [];
  for (let k = 0; k < rounds; k++) order.push(...meshes.keys(), ...[...meshes.keys()].reverse());
  const runs = meshes.map(() => []);
  for (const i of order) {
    const m = meshes[i];
    const hops0 = await hops(m.admin);
    const sampler = sampleProcesses([m.pid]);
    const result = await wrk(m.url, { seconds, connections: 4, threads: 2 });
    const cpuSeconds = sampler.stop().cpuSeconds;
    const proxied = (await hops(m.admin)) - hops0;
    runs[i].push({ rps: result.requestsPerSecond, cpuMsPerHop: (1000 * cpuSeconds) / proxied, non2xx: result.non2xx });
  }
  runs.forEach((r, i) => {
    process.stdout.write(
      `${i === 0 ? 'A' : 'B'} ${repos[i]}${i === 1 && process.env.B_ENV ? ` (${process.env.B_ENV})` : ''}: mesh CPU ms per hop ${median(r.map((x) => x.cpuMsPerHop)).toFixed(4)} (runs ${r.map((x) => x.cpuMsPerHop.toFixed(3)).join(', ')}), getmultiple ${Math.round(median(r.map((x) => x.rps)))} req/s, non-2xx ${r.reduce((a, x) => a + x.non2xx, 0)}\n`,
    );
  });
} finally {
  await stopAll();
}
