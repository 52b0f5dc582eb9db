// What every section of bench/run.mjs measures with: the build check, a getmultiple check, measurePaths (wrk then hey
// over several paths, interleaved), the direct stack (articles, authors, web-api v1) and the ratio helpers.
import fs from 'node:fs';
import path from 'node:path';
import { addSamples, sampleAnswers } from './degraded.mjs';
import { hey, round, which, wrk } from './load.mjs';
import { sampleProcesses } from './proc-stats.mjs';
import { repoRoot, sleep, startService } from './processes.mjs';
import { T } from './settings.mjs';

export const log = (message) => process.stderr.write(`bench: ${message}\n`);

export function requireBuilt() {
  const needed = [
    'mesh/dist/cli.js',
    'mesh/dist/dataplane/index.js',
    'articles/dist/server.js',
    'authors/dist/server.js',
    'web-api-v1/dist/server.js',
    'web-app/dist/index.html',
  ];
  const missing = needed.filter((f) => !fs.existsSync(path.join(repoRoot, f)));
  if (missing.length) throw new Error(`missing build outputs (${missing.join(', ')}): run npm run build first`);
  const tools = ['wrk', 'hey', 'nginx'].filter((t) => !which(t));
  if (tools.length) throw new Error(`missing tools: ${tools.join(', ')} (apt-get install -y wrk hey nginx)`);
}

export async function getJson(url) {
  const response = await fetch(url, { signal: AbortSignal.timeout(5000) });
  return { status: response.status, headers: response.headers, body: await response.json().catch(() => undefined) };
}

/**
 * A complete getmultiple answer (articles with their authors) before a path is measured. The first calls of
 * a cold stack on a loaded machine can miss web-api's 1 s deadline (empty author fields): a few tries.
 */
export async function checkGetmultiple(label, url) {
  let last = '';
  for (let attempt = 0; attempt < 8; attempt++) {
    const { status, body } = await getJson(url).catch((error) => ({ status: 0, body: error.message }));
    if (status === 200 && Array.isArray(body) && body.length > 0 && body.every((a) => a.authorBlog)) return body.length;
    last = `status ${status}: ${JSON.stringify(body)?.slice(0, 300)}`;
    await sleep(500);
  }
  throw new Error(`${label}: ${url} did not answer a complete getmultiple (${last})`);
}

export const meanOf = (values) => {
  const finite = values.filter(Number.isFinite);
  return finite.length ? round(finite.reduce((a, b) => a + b, 0) / finite.length, 3) : null;
};

/**
 * Throughput (wrk) then latency at a fixed rate (hey) of several paths, interleaved A B C then C B A so that
 * a burst of load from elsewhere on the machine, or a slow drift, falls on every path alike. Each figure is
 * the mean of its two rounds; the rounds are kept in the JSON. `sample`: pids whose CPU/RSS to record while
 * hey runs against that path.
 */
export async function measurePaths(label, paths, { rate, wrkConnections = 50, wrkThreads = 2, wrkSeconds = T.wrk, heySeconds = T.hey, skipHey = false }) {
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
    if (each.length && result.requests > 0)
      runs[name].cpuMsPerRequestByProcess.push(
        Object.fromEntries(each.map(([process, s]) => [process, round((s.stop().cpuSeconds * 1000) / result.requests, 4)])),
      );
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
          latency: skipHey
            ? undefined
            : {
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

export const ratio = (a, b) => (a && b ? round(a / b, 2) : null);
export const minus = (a, b) => (Number.isFinite(a) && Number.isFinite(b) ? round(a - b, 3) : null);

export async function startDirectStack(suffix = '', articlesEnv = {}) {
  const [articles, authors] = await Promise.all([startService(`articles${suffix}`, 'articles', articlesEnv), startService(`authors${suffix}`, 'authors')]);
  const webApi = await startService(`web-api-v1${suffix}`, 'web-api-v1', {
    ARTICLES_URL: `http://127.0.0.1:${articles.port}`,
    AUTHORS_URL: `http://127.0.0.1:${authors.port}`,
  });
  return { articles, authors, webApi, stop: () => Promise.all([articles.stop(), authors.stop(), webApi.stop()]) };
}
