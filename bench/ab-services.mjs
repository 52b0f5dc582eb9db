#!/usr/bin/env node
// A/B of the services between two checkouts (issue 10's service steps): CPU ms per request of each process and
// req/s, measured the way the bench's services section does (direct, wrk -t1 -c10, /proc), both stacks started
// side by side and their runs interleaved A B B A (ROUNDS times), medians printed. `postgres`: the CPU of the
// articles database server (postmaster + backends) per request. Build both checkouts first;
// a "before" checkout needs its own node_modules/@cns links (or a copy of the repo with them).
//
//   node bench/ab-services.mjs SECONDS CHECKOUT_A CHECKOUT_B        env: PATHS=v1,v2,authors,articles ROUNDS=2
//   B_NODE_ARGS="--max-semi-space-size=32" node bench/ab-services.mjs 4 . .   (same code, Node flags on B only)
import fs from 'node:fs';

const seconds = Number(process.argv[2] ?? 4);
const repos = process.argv.slice(3).map((r) => new URL(r.endsWith('/') ? r : `${r}/`, `file://${process.cwd()}/`).pathname);
if (repos.length < 2) throw new Error('usage: node bench/ab-services.mjs SECONDS CHECKOUT_A CHECKOUT_B');
const libs = await Promise.all(
  repos.map(async (r) => ({
    p: await import(`${r}bench/lib/processes.mjs`),
    l: await import(`${r}bench/lib/load.mjs`),
    s: await import(`${r}bench/lib/proc-stats.mjs`),
  })),
);
const median = (xs) => {
  const a = [...xs].sort((x, y) => x - y);
  return a.length % 2 ? a[(a.length - 1) / 2] : (a[a.length / 2 - 1] + a[a.length / 2]) / 2;
};
/**
 * The PostgreSQL server processes (postmaster and its backends) of one articles process: its CPU per articles call is
 * part of what the call costs the machine. Found by the port in the articles process's DATABASE_URL.
 */
function databasePids(p, articlesPid) {
  const env = fs
    .readFileSync(`/proc/${articlesPid}/environ`, 'utf8')
    .split('\0')
    .find((e) => e.startsWith('DATABASE_URL='));
  const port = env && new URL(env.slice('DATABASE_URL='.length)).port;
  if (!port) return [];
  const postmaster = p.descendantPids(process.pid).find((pid) => {
    const args = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    return /postgres$/.test(args[0]) && args[args.indexOf('-p') + 1] === port;
  });
  return postmaster ? [postmaster, ...p.descendantPids(postmaster)] : [];
}

try {
  const stacks = [];
  for (const [i, { p }] of libs.entries()) {
    const nodeArgs = i === 1 && process.env.B_NODE_ARGS ? process.env.B_NODE_ARGS.split(' ') : [];
    const [articles, authors] = await Promise.all([
      p.startService(`articles-${i}`, 'articles', {}, nodeArgs),
      p.startService(`authors-${i}`, 'authors', {}, nodeArgs),
    ]);
    const upstreams = { ARTICLES_URL: `http://127.0.0.1:${articles.port}`, AUTHORS_URL: `http://127.0.0.1:${authors.port}` };
    const [v1, v2] = await Promise.all([
      p.startService(`web-api-v1-${i}`, 'web-api-v1', upstreams, nodeArgs),
      p.startService(`web-api-v2-${i}`, 'web-api-v2', upstreams, nodeArgs),
    ]);
    stacks.push({
      v1: { url: `http://127.0.0.1:${v1.port}/web-api/v1/getmultiple`, pids: { 'web-api': v1.pid, articles: articles.pid, authors: authors.pid } },
      v2: { url: `http://127.0.0.1:${v2.port}/web-api/v1/getmultiple`, pids: { 'web-api': v2.pid, articles: articles.pid, authors: authors.pid } },
      authors: { url: `http://127.0.0.1:${authors.port}/api/v1/getauthor?name=Ada%20Quill`, pids: { authors: authors.pid } },
      articles: { url: `http://127.0.0.1:${articles.port}/articles/v1/getmultiple?amount=5`, pids: { articles: articles.pid } },
    });
  }
  const rounds = Number(process.env.ROUNDS ?? 2);
  const order = [];
  for (let k = 0; k < rounds; k++) order.push(...stacks.keys(), ...[...stacks.keys()].reverse());
  for (const name of (process.env.PATHS ?? 'v1,v2,authors,articles').split(',')) {
    const runs = stacks.map(() => []);
    for (const i of order) {
      const { l, s } = libs[i];
      const { url, pids } = stacks[i][name];
      await l.wrk(url, { seconds: 1, connections: 10, threads: 1 }); // warm-up
      // The database server's processes are looked up per run: the pool opens backends as the load needs them.
      const withDatabase = { ...pids, ...(pids.articles ? { postgres: databasePids(libs[i].p, pids.articles) } : {}) };
      const samplers = Object.entries(withDatabase).map(([process, pid]) => [process, s.sampleProcesses([pid].flat())]);
      const result = await l.wrk(url, { seconds, connections: 10, threads: 1 });
      const requests = result.requestsPerSecond * seconds;
      runs[i].push({
        rps: result.requestsPerSecond,
        cpu: Object.fromEntries(samplers.map(([process, sampler]) => [process, (1000 * sampler.stop().cpuSeconds) / requests])),
      });
    }
    runs.forEach((r, i) => {
      const cpu = Object.fromEntries(Object.keys(r[0].cpu).map((process) => [process, Number(median(r.map((x) => x.cpu[process])).toFixed(3))]));
      process.stdout.write(
        `${name} ${i === 0 ? 'A' : 'B'}: ${Math.round(median(r.map((x) => x.rps)))} req/s, CPU ms per request ${JSON.stringify(cpu)} (runs: ${r.map((x) => Math.round(x.rps)).join(', ')} req/s)\n`,
      );
    });
  }
} finally {
  for (const { p } of libs) await p.stopAll();
}
