// Sections 2 and 3 of `npm run bench`: the services started directly (getmultiple v1 and v2 vs a bare Express app,
// wrk -t1 -c10), the design's floor (bench/floor-web-api.mjs), and the fan-out at concurrency 1.
import fs from 'node:fs';
import path from 'node:path';
import { addSamples, sampleAnswers } from '../lib/degraded.mjs';
import { articlesPath, authorPaths, distinctAuthors } from '../lib/floor-calls.mjs';
import { checkGetmultiple, getJson, log, meanOf, measurePaths, ratio } from '../lib/harness.mjs';
import { hey } from '../lib/load.mjs';
import { makeTempDir, startHelper, startService } from '../lib/processes.mjs';
import { RATE_SERIAL, SERVICES_CONNECTIONS, T, versionArticleCount } from '../lib/settings.mjs';

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
    for (const [name, version] of [
      ['v1', 'v1'],
      ['v2', 'v2'],
      ['memV1', 'v1'],
      ['memV2', 'v2'],
    ]) {
      const answer = await getJson(`http://127.0.0.1:${floor[name].port}/web-api/v1/getmultiple`);
      if (JSON.stringify(answer.body) !== JSON.stringify(expected[version]))
        throw new Error(`floor ${name} does not answer the same JSON as web-api ${version}`);
    }
    return { ...floor, stop: () => Promise.all(started.map((h) => h.stop())) };
  } catch (error) {
    await Promise.all(started.map((h) => h.stop()));
    throw error;
  }
}

/** bench/bare-express.mjs answering `body` (web-api v1's getmultiple of this run), checked to answer exactly that. */
async function startBareExpress(body, url) {
  const bodyFile = path.join(makeTempDir('cns-bench-bare-'), 'getmultiple-v1.json');
  fs.writeFileSync(bodyFile, JSON.stringify(body));
  const bare = await startHelper('bare-express', 'bare-express.mjs', [bodyFile]);
  const bareAnswer = await getJson(url(bare.port));
  if (JSON.stringify(bareAnswer.body) !== JSON.stringify(body)) throw new Error('bare Express does not answer the same JSON as web-api v1');
  return bare;
}

/** `hey -c1` back to back on each path, warmed, then interleaved A B C D D C B A; getmultiple answers sampled. */
async function fanOut(paths) {
  const runs = Object.fromEntries(Object.keys(paths).map((n) => [n, []]));
  const answers = { samples: 0, degraded: 0, reasons: {} };
  for (const name of Object.keys(paths)) await hey(paths[name].url, { seconds: T.warm, ...RATE_SERIAL });
  for (const name of [...Object.keys(paths), ...Object.keys(paths).reverse()]) {
    const sampler = paths[name].checkAnswers ? sampleAnswers(paths[name].url, 250) : undefined;
    runs[name].push(await hey(paths[name].url, { seconds: T.hey, ...RATE_SERIAL }));
    if (sampler) addSamples(answers, await sampler.stop());
  }
  return { runs, answers };
}

/**
 * The services started directly (no mesh, no proxy): getmultiple of web-api v1 and v2 against a bare Express 5
 * app answering the same 5-article JSON (captured from v1 in this run), `wrk -t1 -c10`; then the fan-out at
 * concurrency 1 (`hey -c1`, back to back): getmultiple p50 ÷ the p50 of the one articles call that version makes.
 */
export async function services() {
  const [articles, authors] = await Promise.all([startService('articles-direct', 'articles'), startService('authors-direct', 'authors')]);
  const upstreams = { ARTICLES_URL: `http://127.0.0.1:${articles.port}`, AUTHORS_URL: `http://127.0.0.1:${authors.port}` };
  const [v1, v2] = await Promise.all([startService('web-api-v1-direct', 'web-api-v1', upstreams), startService('web-api-v2-direct', 'web-api-v2', upstreams)]);
  const url = (port) => `http://127.0.0.1:${port}/web-api/v1/getmultiple`;
  await checkGetmultiple('services/v1', url(v1.port));
  await checkGetmultiple('services/v2', url(v2.port));
  const v1Answer = await getJson(url(v1.port));
  const bare = await startBareExpress(v1Answer.body, url);

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
  const { runs: fanOutRuns, answers: fanOutAnswers } = await fanOut(fanOutPaths);
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
