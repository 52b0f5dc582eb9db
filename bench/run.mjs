#!/usr/bin/env node
// `npm run bench`: the figures BENCHMARKS.md asks for, each as a ratio against a baseline measured in this
// same run (the machine is shared and noisy: absolute numbers move between runs, ratios much less).
//
//   1. gateway alone vs nginx (split_clients 80/20) vs direct vs a bare Node proxy (the floor), static upstreams
//   2. services direct: getmultiple v1 and v2 vs a bare Express 5 app serving the same JSON (wrk -t1 -c10)
//      and the design's floor: plain Express + node:http making web-api's same calls (bench/floor-web-api.mjs)
//   3. fan-out at concurrency 1: getmultiple p50 / the p50 of one articles call, v1 and v2 (and the floor's)
//   4. whole stack: getmultiple through the local mesh vs nginx in front of web-api vs web-api direct (and the floor:
//      the same services with every hop through a bare node:http + undici proxy, bench/bare-proxy.mjs)
//   5. the mesh process's CPU per proxied hop, cores per 1000 req/s, RSS
//   6. growth: getmultiple with 100,000 stored articles (PostgreSQL) vs the 14 samples, requests alternated
//   7. web-app gzipped JS/CSS
//
// Usage: npm run bench [-- --quick] [-- --out FILE] [-- --only services,stack,growth]   (needs `npm run build`, wrk, hey, nginx)
// Every server is started here on a free loopback port and stopped at the end, on error and on Ctrl-C.
import fs from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { alternate } from './lib/alternate.mjs';
import { articlesPath, authorPaths, distinctAuthors } from './lib/floor-calls.mjs';
import { addSamples, degradedReason, sampleAnswers } from './lib/degraded.mjs';
import { hey, round, which, wrk } from './lib/load.mjs';
import { sampleProcesses, rssMb } from './lib/proc-stats.mjs';
import { makeTempDir, repoRoot, sleep, startHelper, startMesh, startNginx, startService, stopAll } from './lib/processes.mjs';

const args = process.argv.slice(2);
const quick = args.includes('--quick');
const outIndex = args.indexOf('--out');
const outFile = outIndex >= 0 ? path.resolve(args[outIndex + 1]) : path.join(repoRoot, 'bench/results/latest.json');
/** `--only services,stack`: run some sections (gateway, services, stack, growth, webapp); all by default. */
const ALL_SECTIONS = ['gateway', 'services', 'stack', 'growth', 'webapp'];
const onlyIndex = args.indexOf('--only');
const sections = new Set(onlyIndex >= 0 ? args[onlyIndex + 1].split(',') : ALL_SECTIONS);
for (const name of sections) if (!ALL_SECTIONS.includes(name)) throw new Error(`--only: unknown section ${name} (one of ${ALL_SECTIONS.join(', ')})`);

/** Durations in seconds: warm-up (JIT, keep-alive pools), throughput (wrk), fixed-rate latency (hey). */
const T = quick ? { warm: 1, wrk: 2, hey: 2, stackWarm: 2, stackWrk: 3, stackHey: 3, cpu: 3 } : { warm: 2, wrk: 4, hey: 4, stackWarm: 5, stackWrk: 5, stackHey: 5, cpu: 6 };
/** hey -c10 -q100: at most 1000 req/s (BENCHMARKS.md's fixed rate). */
const RATE_1000 = { concurrency: 10, perWorker: 100 };
/**
 * The whole stack is CPU-bound in its Express services (≈ 20 ms of CPU per getmultiple over web-api, authors and
 * articles), so it runs at tens of req/s on 2 shared cores: 4 wrk connections (50 would queue past web-api's
 * 1 s upstream deadline and measure degraded answers), and latency at ≤ 10 req/s.
 */
const STACK_CONNECTIONS = 4;
const RATE_STACK = { concurrency: 1, perWorker: 10 };
/** The services alone (issue 10): `wrk -t1 -c10`; fan-out latency at concurrency 1, back to back (no rate limit). */
const SERVICES_CONNECTIONS = 10;
const RATE_SERIAL = { concurrency: 1, perWorker: 0 };
/** Articles per getmultiple (web-api/src/versions.ts): the articles call each version makes. */
const versionArticleCount = Object.fromEntries(
  Object.entries(createRequire(import.meta.url)('../web-api/dist/versions.js').versionTable).map(([version, row]) => [version, row.articleCount]),
);

const log = (message) => process.stderr.write(`bench: ${message}\n`);

function requireBuilt() {
  const needed = ['mesh/dist/cli.js', 'mesh/dist/dataplane/index.js', 'articles/dist/server.js', 'authors/dist/server.js', 'web-api-v1/dist/server.js', 'web-app/dist/index.html'];
  const missing = needed.filter((f) => !fs.existsSync(path.join(repoRoot, f)));
  if (missing.length) throw new Error(`missing build outputs (${missing.join(', ')}): run npm run build first`);
  const tools = ['wrk', 'hey', 'nginx'].filter((t) => !which(t));
  if (tools.length) throw new Error(`missing tools: ${tools.join(', ')} (apt-get install -y wrk hey nginx)`);
}

async function getJson(url) {
  const response = await fetch(url, { signal: AbortSignal.timeout(5000) });
  return { status: response.status, headers: response.headers, body: await response.json().catch(() => undefined) };
}

/**
 * A complete getmultiple answer (articles with their authors) before a path is measured. The first calls of
 * a cold stack on a loaded machine can miss web-api's 1 s deadline (empty author fields): a few tries.
 */
async function checkGetmultiple(label, url) {
  let last = '';
  for (let attempt = 0; attempt < 8; attempt++) {
    const { status, body } = await getJson(url).catch((error) => ({ status: 0, body: error.message }));
    if (status === 200 && Array.isArray(body) && body.length > 0 && body.every((a) => a.authorBlog)) return body.length;
    last = `status ${status}: ${JSON.stringify(body)?.slice(0, 300)}`;
    await sleep(500);
  }
  throw new Error(`${label}: ${url} did not answer a complete getmultiple (${last})`);
}

const meanOf = (values) => {
  const finite = values.filter(Number.isFinite);
  return finite.length ? round(finite.reduce((a, b) => a + b, 0) / finite.length, 3) : null;
};

/**
 * Throughput (wrk) then latency at a fixed rate (hey) of several paths, interleaved A B C then C B A so that
 * a burst of load from elsewhere on the machine, or a slow drift, falls on every path alike. Each figure is
 * the mean of its two rounds; the rounds are kept in the JSON. `sample`: pids whose CPU/RSS to record while
 * hey runs against that path.
 */
async function measurePaths(label, paths, { rate, wrkConnections = 50, wrkThreads = 2, wrkSeconds = T.wrk, heySeconds = T.hey, skipHey = false }) {
  const names = Object.keys(paths);
  const order = [...names, ...[...names].reverse()];
  const runs = Object.fromEntries(names.map((n) => [n, { wrk: [], hey: [], process: [], cpuMsPerRequest: [], cpuMsPerRequestByProcess: [] }]));
  const answers = Object.fromEntries(names.map((n) => [n, { samples: 0, degraded: 0, reasons: {} }]));
  // A getmultiple path (`checkAnswers`) has its answers sampled while it is loaded: degraded ones flag the run.
  const sampler = (name) => (paths[name].checkAnswers ? sampleAnswers(paths[name].url) : undefined);
  const stopSampler = async (name, s) => s && addSamples(answers[name], await s.stop());
  for (const name of names) {
    const seconds = paths[name].warmSeconds ?? T.warm;
    log(`${label}/${name}: ${paths[name].url} (warm-up ${seconds}s)`);
    await wrk(paths[name].url, { seconds, connections: wrkConnections, threads: wrkThreads });
  }
  for (const name of order) {
    log(`${label}/${name}: wrk -t${wrkThreads} -c${wrkConnections} ${wrkSeconds}s`);
    const pids = paths[name].sample?.() ?? [];
    // Each process on its own too (`sampleEach`: e.g. web-api, articles, authors): where the CPU goes.
    const each = Object.entries(paths[name].sampleEach?.() ?? {}).map(([process, pid]) => [process, sampleProcesses([pid])]);
    const stats = pids.length ? sampleProcesses(pids) : undefined;
    const answerSampler = sampler(name);
    const result = await wrk(paths[name].url, { seconds: wrkSeconds, connections: wrkConnections, threads: wrkThreads });
    await stopSampler(name, answerSampler);
    runs[name].wrk.push(result);
    // CPU per request does not depend on how much CPU the scheduler gave the process: the steadiest figure
    // on a shared machine.
    if (stats && result.requests > 0) runs[name].cpuMsPerRequest.push(round((stats.stop().cpuSeconds * 1000) / result.requests, 4));
    if (each.length && result.requests > 0) runs[name].cpuMsPerRequestByProcess.push(Object.fromEntries(each.map(([process, s]) => [process, round((s.stop().cpuSeconds * 1000) / result.requests, 4)])));
  }
  for (const name of skipHey ? [] : order) {
    log(`${label}/${name}: hey -c${rate.concurrency} -q${rate.perWorker} ${heySeconds}s`);
    const pids = paths[name].sample?.() ?? [];
    const stats = pids.length ? sampleProcesses(pids) : undefined;
    const answerSampler = sampler(name);
    runs[name].hey.push(await hey(paths[name].url, { seconds: heySeconds, ...rate }));
    await stopSampler(name, answerSampler);
    if (stats) runs[name].process.push(stats.stop());
  }
  return Object.fromEntries(
    names.map((name) => {
      const r = runs[name];
      const pick = (list, key) => meanOf(list.map((x) => x[key]));
      return [
        name,
        {
          url: paths[name].url,
          throughput: {
            requestsPerSecond: pick(r.wrk, 'requestsPerSecond'),
            non2xx: r.wrk.reduce((a, x) => a + x.non2xx, 0),
            socketErrors: r.wrk.reduce((a, x) => a + x.socketErrors, 0),
            p50Ms: pick(r.wrk, 'p50Ms'),
            p99Ms: pick(r.wrk, 'p99Ms'),
            cpuMsPerRequest: meanOf(r.cpuMsPerRequest),
            cpuMsPerRequestByProcess: r.cpuMsPerRequestByProcess.length
              ? Object.fromEntries(Object.keys(r.cpuMsPerRequestByProcess[0]).map((p) => [p, meanOf(r.cpuMsPerRequestByProcess.map((x) => x[p]))]))
              : undefined,
          },
          answers: paths[name].checkAnswers ? answers[name] : undefined,
          latency: skipHey ? undefined : {
            requestsPerSecond: pick(r.hey, 'requestsPerSecond'),
            p50Ms: pick(r.hey, 'p50Ms'),
            p90Ms: pick(r.hey, 'p90Ms'),
            p99Ms: pick(r.hey, 'p99Ms'),
            non200: r.hey.reduce((a, x) => a + Object.entries(x.statuses).reduce((b, [code, n]) => b + (code === '200' ? 0 : n), 0) + x.errors, 0),
          },
          process: r.process.length
            ? { cpuCores: pick(r.process, 'cpuCores'), rssMbMax: Math.max(...r.process.map((p) => p.rssMbMax)), cpuMsPerRequest: meanOf(r.cpuMsPerRequest) }
            : undefined,
          rounds: r,
        },
      ];
    }),
  );
}

const ratio = (a, b) => (a && b ? round(a / b, 2) : null);
const minus = (a, b) => (Number.isFinite(a) && Number.isFinite(b) ? round(a - b, 3) : null);

// ---------------------------------------------------------------------------------------------- 1. gateway
async function gatewayAlone() {
  const [v1, v2] = await Promise.all([startHelper('upstream-v1', 'static-upstream.mjs', ['v1']), startHelper('upstream-v2', 'static-upstream.mjs', ['v2'])]);
  const gateway = await startHelper('dataplane-gateway', 'gateway-proxy.mjs', [String(v1.port), String(v2.port)]);
  // The design's floor: node:http + undici with the same split and nothing else (bench/bare-proxy.mjs).
  const bareProxy = await startHelper('bare-proxy-gateway', 'bare-proxy.mjs', ['--split', String(v1.port), String(v2.port)]);
  const nginx = await startNginx(
    'nginx-gateway',
    `  upstream web_api_v1 { server 127.0.0.1:${v1.port}; keepalive 64; }
  upstream web_api_v2 { server 127.0.0.1:${v2.port}; keepalive 64; }
  split_clients "\${request_id}" $web_api { 80% web_api_v1; * web_api_v2; }
  server {
    listen 127.0.0.1:{{port}};
    location /web-api/ {
      proxy_pass http://$web_api;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
    }
  }`,
  );
  const path_ = '/web-api/v1/getmultiple';
  const measured = await measurePaths(
    'gateway',
    {
      direct: { url: `http://127.0.0.1:${v1.port}${path_}` },
      nginx: { url: `http://127.0.0.1:${nginx.port}${path_}`, sample: () => nginx.workerPids() },
      bareProxy: { url: `http://127.0.0.1:${bareProxy.port}${path_}`, sample: () => [bareProxy.pid] },
      dataplane: { url: `http://127.0.0.1:${gateway.port}${path_}`, sample: () => [gateway.pid] },
    },
    { rate: RATE_1000 },
  );
  const { direct, nginx: viaNginx, bareProxy: viaBare, dataplane: viaDataplane } = measured;
  await Promise.all([v1.stop(), v2.stop(), gateway.stop(), bareProxy.stop(), nginx.stop()]);
  const added = (m) => ({ p50: minus(m.latency.p50Ms, direct.latency.p50Ms), p99: minus(m.latency.p99Ms, direct.latency.p99Ms) });
  const cpu = (m) => m.process?.cpuMsPerRequest ?? null;
  return {
    description: 'static 5-article JSON upstreams (bare node:http); /web-api/ split 80/20 v1/v2 by the data plane (VirtualService weights), by nginx (split_clients, keepalive 64, 1 worker) and by the bare Node proxy (bench/bare-proxy.mjs: node:http + undici Pool, the design\'s floor)',
    direct,
    nginx: viaNginx,
    bareProxy: viaBare,
    dataplane: viaDataplane,
    throughputRatio: {
      dataplaneVsNginx: ratio(viaDataplane.throughput.requestsPerSecond, viaNginx.throughput.requestsPerSecond),
      dataplaneVsDirect: ratio(viaDataplane.throughput.requestsPerSecond, direct.throughput.requestsPerSecond),
      nginxVsDirect: ratio(viaNginx.throughput.requestsPerSecond, direct.throughput.requestsPerSecond),
      bareProxyVsNginx: ratio(viaBare.throughput.requestsPerSecond, viaNginx.throughput.requestsPerSecond),
      dataplaneVsBareProxy: ratio(viaDataplane.throughput.requestsPerSecond, viaBare.throughput.requestsPerSecond),
    },
    addedLatencyMs: { dataplane: added(viaDataplane), nginx: added(viaNginx), bareProxy: added(viaBare) },
    cpuMsPerRequest: {
      dataplane: cpu(viaDataplane),
      nginx: cpu(viaNginx),
      bareProxy: cpu(viaBare),
      dataplaneVsNginx: ratio(cpu(viaDataplane), cpu(viaNginx)),
      dataplaneVsBareProxy: ratio(cpu(viaDataplane), cpu(viaBare)),
    },
  };
}

// --------------------------------------------------------------------------------------------- 2. services
/**
 * The design's floor for the services goals: bench/floor-web-api.mjs (plain Express + a plain node:http keep-alive
 * client, none of our code) v1 and v2 making web-api's exact calls against the real articles and authors of this
 * run; and the same in front of bench/floor-upstream.mjs (plain Express answering the real services' recorded
 * answers from memory): the ceiling of the call pattern itself. Each floor must answer web-api's JSON (`expected`).
 */
async function startFloor(upstreams, expected) {
  const started = [];
  const helper = async (...a) => {
    const h = await startHelper(...a);
    started.push(h);
    return h;
  };
  try {
    const dir = makeTempDir('cns-bench-floor-');
    const recorded = { articles: {}, authors: {} };
    for (const version of ['v1', 'v2']) {
      const list = (await getJson(`${upstreams.ARTICLES_URL}${articlesPath(version)}`)).body;
      recorded.articles[articlesPath(version)] = list;
      for (const p of authorPaths(version, distinctAuthors(list))) recorded.authors[p] = (await getJson(`${upstreams.AUTHORS_URL}${p}`)).body;
    }
    for (const [name, answers] of Object.entries(recorded)) fs.writeFileSync(path.join(dir, `${name}.json`), JSON.stringify(answers));
    const [v1, v2, memArticles, memAuthors] = await Promise.all([
      helper('floor-web-api-v1', 'floor-web-api.mjs', ['v1', upstreams.ARTICLES_URL, upstreams.AUTHORS_URL]),
      helper('floor-web-api-v2', 'floor-web-api.mjs', ['v2', upstreams.ARTICLES_URL, upstreams.AUTHORS_URL]),
      helper('floor-articles', 'floor-upstream.mjs', [path.join(dir, 'articles.json')]),
      helper('floor-authors', 'floor-upstream.mjs', [path.join(dir, 'authors.json')]),
    ]);
    const memUpstreams = [`http://127.0.0.1:${memArticles.port}`, `http://127.0.0.1:${memAuthors.port}`];
    const [memV1, memV2] = await Promise.all([
      helper('floor-mem-web-api-v1', 'floor-web-api.mjs', ['v1', ...memUpstreams]),
      helper('floor-mem-web-api-v2', 'floor-web-api.mjs', ['v2', ...memUpstreams]),
    ]);
    const floor = { v1, v2, memV1, memV2, memArticles, memAuthors };
    for (const [name, version] of [['v1', 'v1'], ['v2', 'v2'], ['memV1', 'v1'], ['memV2', 'v2']]) {
      const answer = await getJson(`http://127.0.0.1:${floor[name].port}/web-api/v1/getmultiple`);
      if (JSON.stringify(answer.body) !== JSON.stringify(expected[version])) throw new Error(`floor ${name} does not answer the same JSON as web-api ${version}`);
    }
    return { ...floor, stop: () => Promise.all(started.map((h) => h.stop())) };
  } catch (error) {
    await Promise.all(started.map((h) => h.stop()));
    throw error;
  }
}

/**
 * The services started directly (no mesh, no proxy): getmultiple of web-api v1 and v2 against a bare Express 5
 * app answering the same 5-article JSON (captured from v1 in this run), `wrk -t1 -c10`; then the fan-out at
 * concurrency 1 (`hey -c1`, back to back): getmultiple p50 ÷ the p50 of the one articles call that version makes.
 */
async function services() {
  const [articles, authors] = await Promise.all([startService('articles-direct', 'articles'), startService('authors-direct', 'authors')]);
  const upstreams = { ARTICLES_URL: `http://127.0.0.1:${articles.port}`, AUTHORS_URL: `http://127.0.0.1:${authors.port}` };
  const [v1, v2] = await Promise.all([startService('web-api-v1-direct', 'web-api-v1', upstreams), startService('web-api-v2-direct', 'web-api-v2', upstreams)]);
  const url = (port) => `http://127.0.0.1:${port}/web-api/v1/getmultiple`;
  await checkGetmultiple('services/v1', url(v1.port));
  await checkGetmultiple('services/v2', url(v2.port));
  const v1Answer = await getJson(url(v1.port));
  const bodyFile = path.join(makeTempDir('cns-bench-bare-'), 'getmultiple-v1.json');
  fs.writeFileSync(bodyFile, JSON.stringify(v1Answer.body));
  const bare = await startHelper('bare-express', 'bare-express.mjs', [bodyFile]);
  const bareAnswer = await getJson(url(bare.port));
  if (JSON.stringify(bareAnswer.body) !== JSON.stringify(v1Answer.body)) throw new Error('bare Express does not answer the same JSON as web-api v1');

  const floor = await startFloor(upstreams, { v1: v1Answer.body, v2: (await getJson(url(v2.port))).body });

  const articlesCallUrl = (amount) => `http://127.0.0.1:${articles.port}/articles/v1/getmultiple?amount=${amount}`;
  const stackProcesses = (webApi, upstreamArticles = articles, upstreamAuthors = authors) => ({
    sample: () => [webApi.pid, upstreamArticles.pid, upstreamAuthors.pid],
    sampleEach: () => ({ 'web-api': webApi.pid, articles: upstreamArticles.pid, authors: upstreamAuthors.pid }),
  });
  const measured = await measurePaths(
    'services',
    {
      bareExpress: { url: url(bare.port), sample: () => [bare.pid] },
      articlesCall: { url: articlesCallUrl(versionArticleCount.v1), sample: () => [articles.pid] },
      v1: { url: url(v1.port), checkAnswers: true, ...stackProcesses(v1) },
      v2: { url: url(v2.port), checkAnswers: true, ...stackProcesses(v2) },
      floorV1: { url: url(floor.v1.port), ...stackProcesses(floor.v1) },
      floorV2: { url: url(floor.v2.port), ...stackProcesses(floor.v2) },
      floorMemV1: { url: url(floor.memV1.port), ...stackProcesses(floor.memV1, floor.memArticles, floor.memAuthors) },
      floorMemV2: { url: url(floor.memV2.port), ...stackProcesses(floor.memV2, floor.memArticles, floor.memAuthors) },
    },
    { wrkConnections: SERVICES_CONNECTIONS, wrkThreads: 1, skipHey: true },
  );

  // Fan-out at concurrency 1, interleaved A B C D D C B A like the throughput runs.
  log('fan-out: hey -c1 (back to back): articles call vs getmultiple, v1 and v2');
  const fanOutPaths = {
    articlesV1: { url: articlesCallUrl(versionArticleCount.v1) },
    v1: { url: url(v1.port), checkAnswers: true },
    articlesV2: { url: articlesCallUrl(versionArticleCount.v2) },
    v2: { url: url(v2.port), checkAnswers: true },
    floorV1: { url: url(floor.v1.port) },
    floorV2: { url: url(floor.v2.port) },
    // Not the in-memory floor: its articles call (≈ 0.2 ms) is about one loopback hop, so its ratio says how slow
    // that call is, not how the fan-out costs (9.75 / 5.0 on 2026-12-01, bench/README.md), for 40 s more.
  };
  const fanOutRuns = Object.fromEntries(Object.keys(fanOutPaths).map((n) => [n, []]));
  const fanOutAnswers = { samples: 0, degraded: 0, reasons: {} };
  for (const name of Object.keys(fanOutPaths)) await hey(fanOutPaths[name].url, { seconds: T.warm, ...RATE_SERIAL });
  for (const name of [...Object.keys(fanOutPaths), ...Object.keys(fanOutPaths).reverse()]) {
    const sampler = fanOutPaths[name].checkAnswers ? sampleAnswers(fanOutPaths[name].url, 250) : undefined;
    fanOutRuns[name].push(await hey(fanOutPaths[name].url, { seconds: T.hey, ...RATE_SERIAL }));
    if (sampler) addSamples(fanOutAnswers, await sampler.stop());
  }
  await Promise.all([articles.stop(), authors.stop(), v1.stop(), v2.stop(), bare.stop(), floor.stop()]);
  const p50 = (name) => meanOf(fanOutRuns[name].map((r) => r.p50Ms));
  const p99 = (name) => meanOf(fanOutRuns[name].map((r) => r.p99Ms));
  const answers = addSamples(addSamples(addSamples({ samples: 0, degraded: 0, reasons: {} }, measured.v1.answers), measured.v2.answers), fanOutAnswers);
  const rps = (name) => measured[name].throughput.requestsPerSecond;
  return {
    description: `articles, authors, web-api v1 and v2 started directly (ARTICLES_URL/AUTHORS_URL, no proxy); bare Express 5 = plain express(), one route answering web-api v1's 5-article JSON, etag and x-powered-by off; wrk -t1 -c${SERVICES_CONNECTIONS}. Fan-out: hey -c1 without a rate limit; the articles call is the one that version makes (amount=${versionArticleCount.v1} / ${versionArticleCount.v2}). Floor: bench/floor-web-api.mjs (plain express() + node:http keep-alive Agent, none of our code) making web-api's same calls, against the same articles and authors (floorV1/V2) and against bench/floor-upstream.mjs answering their recorded JSON from memory (floorMemV1/V2)`,
    ...measured,
    throughputRatio: {
      v1VsBareExpress: ratio(rps('v1'), rps('bareExpress')),
      v2VsBareExpress: ratio(rps('v2'), rps('bareExpress')),
      articlesCallVsBareExpress: ratio(rps('articlesCall'), rps('bareExpress')),
      floorV1VsBareExpress: ratio(rps('floorV1'), rps('bareExpress')),
      floorV2VsBareExpress: ratio(rps('floorV2'), rps('bareExpress')),
      floorMemV1VsBareExpress: ratio(rps('floorMemV1'), rps('bareExpress')),
      floorMemV2VsBareExpress: ratio(rps('floorMemV2'), rps('bareExpress')),
    },
    cpuMsPerRequest: {
      bareExpress: measured.bareExpress.throughput.cpuMsPerRequest,
      articlesCall: measured.articlesCall.throughput.cpuMsPerRequest,
      v1: measured.v1.throughput.cpuMsPerRequestByProcess,
      v2: measured.v2.throughput.cpuMsPerRequestByProcess,
      floorV1: measured.floorV1.throughput.cpuMsPerRequestByProcess,
      floorV2: measured.floorV2.throughput.cpuMsPerRequestByProcess,
      floorMemV1: measured.floorMemV1.throughput.cpuMsPerRequestByProcess,
      floorMemV2: measured.floorMemV2.throughput.cpuMsPerRequestByProcess,
    },
    fanOut: {
      p50Ms: Object.fromEntries(Object.keys(fanOutPaths).map((n) => [n, p50(n)])),
      p99Ms: Object.fromEntries(Object.keys(fanOutPaths).map((n) => [n, p99(n)])),
      ratioP50: {
        v1: ratio(p50('v1'), p50('articlesV1')),
        v2: ratio(p50('v2'), p50('articlesV2')),
        floorV1: ratio(p50('floorV1'), p50('articlesV1')),
        floorV2: ratio(p50('floorV2'), p50('articlesV2')),
      },
      runs: fanOutRuns,
    },
    degradedAnswers: answers,
  };
}

// ------------------------------------------------------------------------------------------ 3-5. the stack
async function startDirectStack(suffix = '', articlesEnv = {}) {
  const [articles, authors] = await Promise.all([startService(`articles${suffix}`, 'articles', articlesEnv), startService(`authors${suffix}`, 'authors')]);
  const webApi = await startService(`web-api-v1${suffix}`, 'web-api-v1', {
    ARTICLES_URL: `http://127.0.0.1:${articles.port}`,
    AUTHORS_URL: `http://127.0.0.1:${authors.port}`,
  });
  return { articles, authors, webApi, stop: () => Promise.all([articles.stop(), authors.stop(), webApi.stop()]) };
}

/** Requests the bare proxies proxied so far (each prints `requests <n>` on SIGUSR2), summed. */
async function proxiedRequests(proxies) {
  const counts = await Promise.all(
    proxies.map(
      (p) =>
        new Promise((resolve, reject) => {
          const timer = setTimeout(() => reject(new Error(`${p.name}: no request count within 5 s`)), 5000);
          let done = false;
          p.onLine((line) => {
            const m = /^requests (\d+)$/.exec(line);
            if (m && !done) {
              done = true;
              clearTimeout(timer);
              resolve(Number(m[1]));
            }
          });
          p.child.kill('SIGUSR2');
        }),
    ),
  );
  return counts.reduce((a, b) => a + b, 0);
}

/** Requests the mesh proxied (every hop: gateway and sidecars), from its own Istio metrics. */
async function meshHops(adminUrl) {
  const text = await (await fetch(`${adminUrl}/metrics`, { signal: AbortSignal.timeout(5000) })).text();
  let total = 0;
  for (const m of text.matchAll(/^istio_requests_total\{([^}]*)\} ([\d.e+]+)$/gm)) if (!/reporter="destination"/.test(m[1])) total += Number(m[2]);
  return total;
}

async function wholeStack() {
  const stack = await startDirectStack();
  const nginx = await startNginx(
    'nginx-stack',
    `  upstream web_api_v1 { server 127.0.0.1:${stack.webApi.port}; keepalive 64; }
  server {
    listen 127.0.0.1:{{port}};
    location / {
      proxy_pass http://web_api_v1;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
    }
  }`,
  );
  // The floor (bench/bare-proxy.mjs, no mesh code): the same articles and authors, a web-api v1 of its own whose calls
  // go through a bare proxy as its HTTP_PROXY (absolute URI → the services' direct ports), and a bare proxy as the
  // front door: the same 7 hops per getmultiple as through the mesh, each through node:http + undici and nothing else.
  // Its articles reaches the shared database through a bare TCP relay, as the mesh's articles reaches PostgreSQL
  // through the mesh's outbound TCP hop (CPU the mesh figure includes).
  const sharedDatabase = new URL(stack.articles.databaseUrl);
  const bareDbRelay = await startHelper('bare-proxy-postgres', 'bare-proxy.mjs', ['--tcp', sharedDatabase.port]);
  const bareArticles = await startService('articles-bare-proxy', 'articles', { DATABASE_URL: Object.assign(new URL(sharedDatabase), { port: String(bareDbRelay.port) }).href });
  const bareSidecar = await startHelper('bare-proxy-sidecar', 'bare-proxy.mjs');
  const bareWebApi = await startService('web-api-v1-bare-proxy', 'web-api-v1', {
    ARTICLES_URL: `http://127.0.0.1:${bareArticles.port}`,
    AUTHORS_URL: `http://127.0.0.1:${stack.authors.port}`,
    HTTP_PROXY: `http://127.0.0.1:${bareSidecar.port}`,
    NO_PROXY: '',
  });
  const bareFront = await startHelper('bare-proxy-front', 'bare-proxy.mjs', ['--to', String(bareWebApi.port)]);
  /** The HTTP proxies (their requests are the hops); the TCP relay's CPU is counted with them. */
  const bareProxies = [bareFront, bareSidecar];
  log('starting the local mesh (node mesh/dist/cli.js, istio/base: getmultiple → web-api v1)');
  const mesh = await startMesh();
  const idleRssMb = rssMb(mesh.pid);
  const urls = {
    direct: `http://127.0.0.1:${stack.webApi.port}/web-api/v1/getmultiple`,
    nginx: `http://127.0.0.1:${nginx.port}/web-api/v1/getmultiple`,
    bareProxy: `http://127.0.0.1:${bareFront.port}/web-api/v1/getmultiple`,
    mesh: `${mesh.gateway}/web-api/v1/getmultiple`,
  };
  for (const [label, url] of Object.entries(urls)) await checkGetmultiple(label, url);
  // Proxied hops per getmultiple (gateway + the sidecar calls), from the mesh's own counters over a few
  // sequential requests: turns the mesh's CPU per getmultiple into CPU per hop.
  const probeHops0 = await meshHops(mesh.admin);
  const probeRequests = 10;
  for (let i = 0; i < probeRequests; i++) await getJson(urls.mesh);
  const hopsPerGetmultiple = round(((await meshHops(mesh.admin)) - probeHops0) / probeRequests, 2);
  const bareHops0 = await proxiedRequests(bareProxies);
  for (let i = 0; i < probeRequests; i++) await getJson(urls.bareProxy);
  const bareHopsPerGetmultiple = round(((await proxiedRequests(bareProxies)) - bareHops0) / probeRequests, 2);

  const hopsBefore = await meshHops(mesh.admin);
  const measured = await measurePaths(
    'stack',
    // Equal warm-up per stack: direct and nginx share one set of services, while the mesh path runs the mesh and
    // its own copy of the services, all started cold (V8's JIT needs tens of seconds at these rates: 3.5 ms of mesh
    // CPU per getmultiple in the first 6 s, 1.6 ms after 20 s). So the mesh gets as much load before its first
    // measured round as the shared stack has had by then: both warm-ups and the direct and nginx rounds.
    {
      direct: { url: urls.direct, checkAnswers: true, warmSeconds: T.stackWarm },
      nginx: { url: urls.nginx, checkAnswers: true, warmSeconds: T.stackWarm },
      // Its web-api and proxies start cold like the mesh's (its articles and authors are the shared, warm ones).
      bareProxy: {
        url: urls.bareProxy,
        checkAnswers: true,
        sample: () => [bareFront.pid, bareSidecar.pid, bareDbRelay.pid],
        sampleEach: () => ({ front: bareFront.pid, sidecar: bareSidecar.pid, postgresRelay: bareDbRelay.pid }),
        warmSeconds: 2 * (T.stackWarm + T.stackWrk),
      },
      mesh: { url: urls.mesh, checkAnswers: true, sample: () => [mesh.pid], warmSeconds: 2 * (T.stackWarm + T.stackWrk) },
    },
    { rate: RATE_STACK, wrkConnections: STACK_CONNECTIONS, wrkSeconds: T.stackWrk, heySeconds: T.stackHey },
  );
  const { direct, nginx: viaNginx, bareProxy: viaBare, mesh: viaMesh } = measured;
  const stackHops = (await meshHops(mesh.admin)) - hopsBefore;
  const degraded = { directAndNginx: direct.answers.degraded + viaNginx.answers.degraded, bareProxy: viaBare.answers.degraded, mesh: viaMesh.answers.degraded };
  await Promise.all([bareFront.stop(), bareSidecar.stop(), bareWebApi.stop(), bareArticles.stop(), bareDbRelay.stop()]);
  const bareCpuPerHop = viaBare.throughput.cpuMsPerRequest && bareHopsPerGetmultiple > 0 ? round(viaBare.throughput.cpuMsPerRequest / bareHopsPerGetmultiple, 4) : null;

  // 4b. the mesh process at a fixed ≈1000 req/s. getmultiple cannot reach that rate here (the services are
  // the bottleneck), so the load goes through the same gateway to web-app (the ingress route `/`, nginx
  // serving index.html): the mesh's own cost per proxied request at the target rate.
  log('mesh process CPU and RSS at ≈1000 req/s through its gateway (route / → web-app)');
  const appUrl = `${mesh.gateway}/`;
  const appCheck = await fetch(appUrl, { signal: AbortSignal.timeout(5000) });
  if (appCheck.status !== 200) throw new Error(`mesh gateway / answered ${appCheck.status}`);
  await appCheck.text();
  await hey(appUrl, { seconds: T.warm, ...RATE_1000 });
  const hops0 = await meshHops(mesh.admin);
  const stats = sampleProcesses([mesh.pid]);
  const started = Date.now();
  const atTarget = await hey(appUrl, { seconds: T.cpu, ...RATE_1000 });
  const meshStats = stats.stop();
  const hopsPerSecond = ((await meshHops(mesh.admin)) - hops0) / ((Date.now() - started) / 1000);

  await Promise.all([mesh.stop(), nginx.stop()]);

  await stack.stop();

  return {
    stack: {
      description: 'getmultiple (web-api v1: 5 articles, one authors call per distinct author); direct = web-api with ARTICLES_URL/AUTHORS_URL on the services; nginx = proxy_pass (keepalive) in front of that web-api; mesh = node mesh/dist/cli.js gateway, istio/base, every service call through its sidecar',
      direct,
      nginx: viaNginx,
      bareProxy: viaBare,
      mesh: viaMesh,
      degradedAnswers: degraded,
      degradedAnswerSamples: { direct: direct.answers, nginx: viaNginx.answers, bareProxy: viaBare.answers, mesh: viaMesh.answers },
      throughputRatio: {
        meshVsNginx: ratio(viaMesh.throughput.requestsPerSecond, viaNginx.throughput.requestsPerSecond),
        meshVsDirect: ratio(viaMesh.throughput.requestsPerSecond, direct.throughput.requestsPerSecond),
        nginxVsDirect: ratio(viaNginx.throughput.requestsPerSecond, direct.throughput.requestsPerSecond),
        bareProxyVsDirect: ratio(viaBare.throughput.requestsPerSecond, direct.throughput.requestsPerSecond),
        bareProxyVsNginx: ratio(viaBare.throughput.requestsPerSecond, viaNginx.throughput.requestsPerSecond),
        meshVsBareProxy: ratio(viaMesh.throughput.requestsPerSecond, viaBare.throughput.requestsPerSecond),
      },
      addedLatencyMs: {
        mesh: { p50: minus(viaMesh.latency.p50Ms, direct.latency.p50Ms), p99: minus(viaMesh.latency.p99Ms, direct.latency.p99Ms) },
        nginx: { p50: minus(viaNginx.latency.p50Ms, direct.latency.p50Ms), p99: minus(viaNginx.latency.p99Ms, direct.latency.p99Ms) },
        bareProxy: { p50: minus(viaBare.latency.p50Ms, direct.latency.p50Ms), p99: minus(viaBare.latency.p99Ms, direct.latency.p99Ms) },
      },
      // The floor: both bare proxies' CPU per getmultiple during the wrk runs ÷ the requests they proxied per getmultiple.
      bareProxyCpu: {
        hopsPerGetmultiple: bareHopsPerGetmultiple,
        cpuMsPerGetmultiple: viaBare.throughput.cpuMsPerRequest,
        cpuMsPerGetmultipleByProcess: viaBare.throughput.cpuMsPerRequestByProcess,
        cpuMsPerHopAtFullLoad: bareCpuPerHop,
      },
    },
    meshProcess: {
      description: 'the mesh CLI process alone (/proc/<pid>/stat and status; its children not included) at a fixed ≈1000 req/s through its gateway, route / → web-app',
      duringGetmultiple: {
        requestsPerSecond: viaMesh.latency.requestsPerSecond,
        proxiedHops: stackHops,
        hopsPerGetmultiple,
        // At full load (the wrk runs): the mesh process's CPU per getmultiple ÷ hops per getmultiple.
        cpuMsPerHopAtFullLoad: viaMesh.process?.cpuMsPerRequest && hopsPerGetmultiple > 0 ? round(viaMesh.process.cpuMsPerRequest / hopsPerGetmultiple, 4) : null,
        ...viaMesh.process,
      },
      targetRequestsPerSecond: RATE_1000.concurrency * RATE_1000.perWorker,
      achievedRequestsPerSecond: atTarget.requestsPerSecond,
      latency: atTarget,
      proxiedHopsPerSecond: round(hopsPerSecond, 0),
      cpuCores: meshStats.cpuCores,
      cpuCoresPer1000Hops: hopsPerSecond > 0 ? round((meshStats.cpuCores / hopsPerSecond) * 1000, 3) : null,
      rssMbIdle: idleRssMb,
      rssMbMax: meshStats.rssMbMax,
      rssMbMean: meshStats.rssMbMean,
    },
  };
}

// ------------------------------------------------------------------------------------------------ 6. growth
/** Pairs of alternated requests (bench/lib/alternate.mjs): getmultiple at 10 req/s per stack, the articles call at ≤ 100. */
const GROWTH = quick ? { getmultiplePairs: 100, articlesPairs: 300 } : { getmultiplePairs: 400, articlesPairs: 1000 };

/**
 * getmultiple with 100,000 generated articles in the database vs the 14 samples only: two direct stacks
 * (articles, authors, web-api v1; each articles with a local PostgreSQL of its own), started together and warmed
 * alike (wrk, A B B A), then measured request by request, alternately (A B, B A, ...) so that whatever else the
 * machine does falls on both sides. The samples side used to be the whole-stack section's stack, warmed by minutes
 * of wrk, against 20 requests for the 100,000 one: that difference alone measured 1.2–1.6.
 */
async function growthSection() {
  log('growth: 100,000 stored articles vs the 14 samples');
  const [small, big] = await Promise.all([startDirectStack('-samples'), startDirectStack('-100k', { SEED_EXTRA_ARTICLES: '100000' })]);
  const getmultipleUrl = (s) => `http://127.0.0.1:${s.webApi.port}/web-api/v1/getmultiple`;
  const articlesUrl = (s) => `http://127.0.0.1:${s.articles.port}/articles/v1/getmultiple?amount=${versionArticleCount.v1}`;
  await checkGetmultiple('growth/samples', getmultipleUrl(small));
  await checkGetmultiple('growth/100k', getmultipleUrl(big));
  for (const s of [small, big, big, small]) await wrk(getmultipleUrl(s), { seconds: T.warm, connections: STACK_CONNECTIONS });
  log(`growth: ${GROWTH.getmultiplePairs} getmultiple pairs at 10 req/s per stack, alternated`);
  const getmultiple = await alternate({ a: getmultipleUrl(small), b: getmultipleUrl(big) }, { pairs: GROWTH.getmultiplePairs, intervalMs: 100, classify: degradedReason });
  // The store itself, faster (an articles call is cheap): the part that could grow with the size.
  log(`growth: ${GROWTH.articlesPairs} articles-call pairs, alternated`);
  const articlesCall = await alternate({ a: articlesUrl(small), b: articlesUrl(big) }, { pairs: GROWTH.articlesPairs, intervalMs: 10 });
  const articlesRssMb = { samples: rssMb(small.articles.pid), hundredThousand: rssMb(big.articles.pid) };
  await Promise.all([small.stop(), big.stop()]);
  return {
    description: `two direct stacks (articles, authors, web-api v1), one with SEED_EXTRA_ARTICLES=100000; warmed alike (wrk -c${STACK_CONNECTIONS} ${T.warm}s each, A B B A); then getmultiple requests alternated one by one (A B, B A, ...; one keep-alive connection per side) at 10 req/s per stack, and the articles call (amount=${versionArticleCount.v1}) the same way at up to 100 req/s per side`,
    samples: getmultiple.a,
    hundredThousand: getmultiple.b,
    ratioP50: getmultiple.ratioP50,
    ratioP90: getmultiple.ratioP90,
    blockRatiosP50: getmultiple.blockRatiosP50,
    degradedAnswers: getmultiple.a.answers.degraded + getmultiple.b.answers.degraded,
    articlesCall: { samples: articlesCall.a, hundredThousand: articlesCall.b, ratioP50: articlesCall.ratioP50, ratioP90: articlesCall.ratioP90, blockRatiosP50: articlesCall.blockRatiosP50 },
    articlesRssMb,
  };
}

// ------------------------------------------------------------------------------------------------ 5. web-app
async function webAppSizes() {
  const { sizeReport } = await import(path.join(repoRoot, 'web-app/scripts/size-report.mjs'));
  const report = sizeReport(path.join(repoRoot, 'web-app/dist/assets'));
  return { jsGzipKb: round(report.js.gzipBytes / 1024, 1), cssGzipKb: round(report.css.gzipBytes / 1024, 1), report };
}

// ------------------------------------------------------------------------------------------------ summary
function goals(r) {
  const rows = [];
  const row = (id, figure, value, goal, met) => rows.push({ id, figure, value, goal, met: met === null ? null : value === null || value === undefined ? false : met });
  const g = r.gateway;
  if (g) {
    row('1', 'gateway throughput ÷ nginx', g.throughputRatio.dataplaneVsNginx, '≥ 0.6', g.throughputRatio.dataplaneVsNginx >= 0.6);
    row('1', 'gateway added p99 (ms) vs nginx added p99', `${g.addedLatencyMs.dataplane.p99} vs ${g.addedLatencyMs.nginx.p99}`, '≤ nginx + 0.5', g.addedLatencyMs.dataplane.p99 <= g.addedLatencyMs.nginx.p99 + 0.5);
    row('1', 'gateway CPU ms/request (nginx)', `${g.cpuMsPerRequest.dataplane} (${g.cpuMsPerRequest.nginx})`, 'info', null);
    // The floor (bench/bare-proxy.mjs): how much of the gap to nginx is Node's HTTP stack, how much the mesh's code.
    row('1', 'floor: bare Node proxy ÷ nginx', g.throughputRatio.bareProxyVsNginx, 'info', null);
    row('1', 'floor: bare proxy CPU ms/request', g.cpuMsPerRequest.bareProxy, 'info', null);
    row('1', 'floor: bare proxy added p50 / p99 (ms)', `${g.addedLatencyMs.bareProxy.p50} / ${g.addedLatencyMs.bareProxy.p99}`, 'info', null);
    row('1', 'gateway ÷ bare proxy: req/s (CPU/request)', `${g.throughputRatio.dataplaneVsBareProxy} (${g.cpuMsPerRequest.dataplaneVsBareProxy})`, 'info', null);
  }
  const sv = r.services;
  if (sv) {
    const note = sv.degradedAnswers.degraded > 0 ? `${sv.degradedAnswers.degraded} degraded answers` : undefined;
    row('2', 'services: getmultiple v1 ÷ bare Express', sv.throughputRatio.v1VsBareExpress, '≥ 0.15', sv.throughputRatio.v1VsBareExpress >= 0.15);
    row('2', 'services: getmultiple v2 ÷ bare Express', sv.throughputRatio.v2VsBareExpress, '≥ 0.30', sv.throughputRatio.v2VsBareExpress >= 0.3);
    row('2', 'services: articles call ÷ bare Express', sv.throughputRatio.articlesCallVsBareExpress, 'info', null);
    row('3', 'fan-out v1: getmultiple p50 ÷ articles p50', sv.fanOut.ratioP50.v1, '≤ 3.5', sv.fanOut.ratioP50.v1 <= 3.5);
    row('3', 'fan-out v2: getmultiple p50 ÷ articles p50', sv.fanOut.ratioP50.v2, '≤ 2.5', sv.fanOut.ratioP50.v2 <= 2.5);
    // The design's floor (bench/floor-web-api.mjs): what plain Express + node:http reach with the same calls.
    const t = sv.throughputRatio;
    const cpu = sv.cpuMsPerRequest;
    const pair = (a, b) => `${a ?? '-'} / ${b ?? '-'}`;
    row('2', 'floor v1 / v2 ÷ bare Express (real services)', pair(t.floorV1VsBareExpress, t.floorV2VsBareExpress), 'info', null);
    row('2', 'floor v1 / v2 ÷ bare Express (in-memory ups.)', pair(t.floorMemV1VsBareExpress, t.floorMemV2VsBareExpress), 'info', null);
    row('2', 'web-api CPU ms per v1 getmultiple: ours/floor', pair(cpu.v1?.['web-api'], cpu.floorV1?.['web-api']), 'info', null);
    row('2', 'web-api CPU ms per v2 getmultiple: ours/floor', pair(cpu.v2?.['web-api'], cpu.floorV2?.['web-api']), 'info', null);
    row('3', 'floor fan-out v1 / v2 (real services)', pair(sv.fanOut.ratioP50.floorV1, sv.fanOut.ratioP50.floorV2), 'info', null);
    for (const x of rows.filter((x) => x.id === '2' || x.id === '3')) if (note && x.met !== null) Object.assign(x, { met: false, note });
  }
  const s = r.stack;
  if (s) {
    const degraded = s.degradedAnswers.directAndNginx + s.degradedAnswers.mesh + s.degradedAnswers.bareProxy;
    const note = degraded > 0 ? `${degraded} degraded answers during the stack runs` : undefined;
    row('4', 'stack: mesh ÷ nginx-fronted', s.throughputRatio.meshVsNginx, '≥ 0.9', s.throughputRatio.meshVsNginx >= 0.9);
    row('4', 'stack: mesh ÷ direct', s.throughputRatio.meshVsDirect, '≥ 0.8', s.throughputRatio.meshVsDirect >= 0.8);
    // The floor: the same stack with every hop through bench/bare-proxy.mjs (no mesh code).
    row('4', 'floor: bare-proxy stack ÷ direct (÷ nginx)', `${s.throughputRatio.bareProxyVsDirect} (${s.throughputRatio.bareProxyVsNginx})`, 'info', null);
    row('4', 'stack: mesh ÷ bare-proxy stack', s.throughputRatio.meshVsBareProxy, 'info', null);
    for (const x of rows.filter((x) => x.id === '4')) if (note && x.met !== null) Object.assign(x, { met: false, note });
    const m = r.meshProcess;
    row('5', 'mesh CPU ms per proxied hop (full load)', m.duringGetmultiple.cpuMsPerHopAtFullLoad, '≤ 0.15', m.duringGetmultiple.cpuMsPerHopAtFullLoad <= 0.15);
    row('5', 'floor: bare proxy CPU ms per hop (full load)', s.bareProxyCpu.cpuMsPerHopAtFullLoad, 'info', null);
    row('5', 'mesh cores per 1000 proxied req/s', m.cpuCoresPer1000Hops, '≤ 0.2', m.cpuCoresPer1000Hops <= 0.2);
    row('5', 'mesh RSS MB (max under load)', m.rssMbMax, 'ref 60/proxy', null);
  }
  if (r.growth) {
    const note = r.growth.degradedAnswers > 0 ? `${r.growth.degradedAnswers} degraded answers` : undefined;
    row('6', 'growth: 100,000 articles ÷ 14, p50', r.growth.ratioP50, '≤ 1.2', r.growth.ratioP50 <= 1.2);
    if (note) Object.assign(rows.at(-1), { met: false, note });
  }
  if (r.webApp) row('7', 'web-app JS gzip KB', r.webApp.jsGzipKb, '≤ 50', r.webApp.jsGzipKb <= 50);
  return rows;
}

function printSummary(r) {
  const lines = [];
  const pad = (s, n) => String(s ?? '-').padEnd(n);
  lines.push('');
  lines.push(`${pad('#', 2)} ${pad('figure (same-run ratio)', 46)} ${pad('value', 14)} ${pad('goal', 14)} met`);
  for (const g of r.goals) lines.push(`${pad(g.id, 2)} ${pad(g.figure, 46)} ${pad(g.value, 14)} ${pad(g.goal, 14)} ${g.met === null ? '(info)' : g.met ? 'met' : 'MISSED'}${g.note ? `  (${g.note})` : ''}`);
  lines.push('');
  lines.push(`${pad('path', 22)} ${pad('wrk req/s', 10)} ${pad('hey at req/s', 13)} ${pad('p50 ms', 8)} ${pad('p90 ms', 8)} ${pad('p99 ms', 8)} process CPU / RSS`);
  const pathRow = (name, m) =>
    lines.push(
      `${pad(name, 22)} ${pad(Math.round(m.throughput.requestsPerSecond), 10)} ${pad(m.latency?.requestsPerSecond, 13)} ${pad(m.latency?.p50Ms, 8)} ${pad(m.latency?.p90Ms, 8)} ${pad(m.latency?.p99Ms, 8)} ${m.process ? `${m.process.cpuCores} cores / ${m.process.rssMbMax} MB${m.process.cpuMsPerRequest ? ` / ${m.process.cpuMsPerRequest} CPU ms/req` : ''}` : ''}${m.throughput.cpuMsPerRequestByProcess ? ` CPU ms/req ${JSON.stringify(m.throughput.cpuMsPerRequestByProcess)}` : !m.process && m.throughput.cpuMsPerRequest ? ` ${m.throughput.cpuMsPerRequest} CPU ms/req` : ''}`,
    );
  if (r.gateway) {
    pathRow('gateway: direct', r.gateway.direct);
    pathRow('gateway: nginx', r.gateway.nginx);
    pathRow('gateway: bare proxy', r.gateway.bareProxy);
    pathRow('gateway: dataplane', r.gateway.dataplane);
  }
  if (r.services) {
    const sv = r.services;
    for (const name of ['bareExpress', 'articlesCall', 'v1', 'v2', 'floorV1', 'floorV2', 'floorMemV1', 'floorMemV2']) pathRow(`services: ${name}`, sv[name]);
    const f = sv.fanOut.p50Ms;
    lines.push(`fan-out p50 ms (hey -c1): v1 ${f.v1} / articles ${f.articlesV1}; v2 ${f.v2} / articles ${f.articlesV2}`);
    lines.push(`fan-out p50 ms, floor: v1 ${f.floorV1}, v2 ${f.floorV2} (÷ the same articles calls)`);
    lines.push(`services: degraded answers ${sv.degradedAnswers.degraded} of ${sv.degradedAnswers.samples} sampled ${JSON.stringify(sv.degradedAnswers.reasons)}`);
  }
  if (r.stack) {
    pathRow('stack: direct', r.stack.direct);
    pathRow('stack: nginx', r.stack.nginx);
    pathRow('stack: bare proxy', r.stack.bareProxy);
    pathRow('stack: mesh', r.stack.mesh);
    const m = r.meshProcess;
    lines.push(
      `mesh process at ${m.achievedRequestsPerSecond} req/s (target ${m.targetRequestsPerSecond}, gateway → web-app): ${m.cpuCores} cores, RSS ${m.rssMbMean}-${m.rssMbMax} MB (idle ${m.rssMbIdle}); during getmultiple at ${m.duringGetmultiple.requestsPerSecond} req/s (${m.duringGetmultiple.proxiedHops} hops, ${m.duringGetmultiple.hopsPerGetmultiple} per getmultiple): ${m.duringGetmultiple.cpuCores} cores`,
    );
    const d = r.stack.degradedAnswers;
    const samples = r.stack.degradedAnswerSamples;
    lines.push(`stack: degraded answers direct+nginx ${d.directAndNginx}, bare proxy ${d.bareProxy}, mesh ${d.mesh} (of ${samples.direct.samples + samples.nginx.samples} / ${samples.bareProxy.samples} / ${samples.mesh.samples} sampled)`);
    const b = r.stack.bareProxyCpu;
    lines.push(`stack floor: bare proxies ${b.cpuMsPerGetmultiple} CPU ms per getmultiple over ${b.hopsPerGetmultiple} hops (${JSON.stringify(b.cpuMsPerGetmultipleByProcess)}) = ${b.cpuMsPerHopAtFullLoad} ms per hop; mesh ${m.duringGetmultiple.cpuMsPerRequest} over ${m.duringGetmultiple.hopsPerGetmultiple}`);
  }
  const flagged = (r.services?.degradedAnswers.degraded ?? 0) + (r.stack ? r.stack.degradedAnswers.directAndNginx + r.stack.degradedAnswers.mesh : 0) + (r.growth?.degradedAnswers ?? 0);
  if (flagged > 0) lines.push(`warning: ${flagged} degraded answers sampled (empty author fields, stale lists or errors): the figures of those sections do not count`);
  if (r.growth) {
    const g = r.growth;
    lines.push(
      `growth p50 ${g.hundredThousand.p50Ms} / ${g.samples.p50Ms} ms over ${g.samples.requests} alternated pairs (by fifths ${g.blockRatiosP50.join(' ')}); articles call alone ${g.articlesCall.hundredThousand.p50Ms} / ${g.articlesCall.samples.p50Ms} ms = ${g.articlesCall.ratioP50} (by fifths ${g.articlesCall.blockRatiosP50.join(' ')})`,
    );
  }
  if (r.webApp) lines.push(`web-app: JS ${r.webApp.jsGzipKb} KB gzip, CSS ${r.webApp.cssGzipKb} KB gzip`);
  lines.push(`load average ${r.machine.loadAverageStart.join(' ')} → ${r.machine.loadAverageEnd.join(' ')} on ${r.machine.cpus} cores (shared machine: compare ratios)`);
  process.stdout.write(lines.join('\n') + '\n');
}

async function main() {
  requireBuilt();
  const startedAt = new Date();
  const loadAverageStart = os.loadavg().map((l) => round(l, 2));
  log(`${quick ? 'quick' : 'full'} run (${[...sections].join(', ')}): wrk ${T.wrk}s, hey ${T.hey}s per path`);
  const gateway = sections.has('gateway') ? await gatewayAlone() : undefined;
  const servicesResult = sections.has('services') ? await services() : undefined;
  const { stack, meshProcess } = sections.has('stack') ? await wholeStack() : {};
  const growth = sections.has('growth') ? await growthSection() : undefined;
  const webApp = sections.has('webapp') ? await webAppSizes() : undefined;
  const result = {
    measuredAt: startedAt.toISOString(),
    durationSeconds: round((Date.now() - startedAt.getTime()) / 1000, 0),
    quick,
    sections: [...sections],
    machine: { cpus: os.cpus().length, node: process.version, loadAverageStart, loadAverageEnd: os.loadavg().map((l) => round(l, 2)) },
    settings: { seconds: T, rate1000: RATE_1000, rateStack: RATE_STACK, rateSerial: RATE_SERIAL, growth: GROWTH, wrk: '--latency; gateway -t2 -c50, services -t1 -c10, stack -t2 -c4', nginx: '1 worker, upstream keepalive 64' },
    gateway,
    services: servicesResult,
    stack,
    growth,
    meshProcess,
    webApp,
  };
  result.goals = goals(result);
  fs.mkdirSync(path.dirname(outFile), { recursive: true });
  const json = `${JSON.stringify(result, null, 2)}\n`;
  fs.writeFileSync(outFile, json);
  fs.writeFileSync(path.join(path.dirname(outFile), `bench-${startedAt.toISOString().replace(/[:.]/g, '-')}.json`), json);
  printSummary(result);
  log(`results: ${path.relative(process.cwd(), outFile)} (+ a timestamped copy)`);
}

try {
  await main();
} catch (error) {
  process.stderr.write(`bench failed: ${error.stack ?? error}\n`);
  process.exitCode = 1;
} finally {
  await stopAll();
}
await sleep(0);
