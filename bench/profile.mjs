#!/usr/bin/env node
// CPU profile of one service under load (issue 10: profile before optimising). Starts articles, authors and
// web-api (v1 by default) directly as the bench's services section does, web-api under `node --cpu-prof`,
// loads getmultiple with `wrk -t1 -c10`, stops web-api (SIGTERM: the profile is written on exit) and prints
// the functions with the most self time. Run it on a quiet machine:
//
//   node bench/profile.mjs [v1|v2|authors|gateway|mesh] [seconds]     (authors: getauthor alone)
//
// mesh: the mesh CLI (gateway, sidecars, admin, telemetry in one process) under `node --cpu-prof`, getmultiple
// through its gateway under `wrk -t2 -c4` like the bench's stack figure, after a 20 s warm-up (the profile covers
// both; the measured part is at least as long as the warm-up when seconds >= 20).
//
// gateway: the mesh's data plane as the 80/20 ingress gateway with its Istio telemetry (bench/gateway-proxy.mjs)
// in front of two static upstreams, under `wrk -t2 -c50` like the bench's gateway figure.
//
// The .cpuprofile file stays in a temporary directory whose path is printed (open it in Chrome DevTools).
import fs from 'node:fs';
import path from 'node:path';
import { round, wrk } from './lib/load.mjs';
import { makeTempDir, startHelper, startMesh, startProcess, startService, stopAll, waitForLine } from './lib/processes.mjs';

const version = process.argv[2] ?? 'v1';
const seconds = Number(process.argv[3] ?? 10);

/** Self time per function (name, file:line), summed over the profile's nodes, largest first. */
export function topSelfTime(profile, limit = 20) {
  const selfByNode = new Map();
  const deltas = profile.timeDeltas ?? [];
  profile.samples.forEach((id, i) => selfByNode.set(id, (selfByNode.get(id) ?? 0) + (deltas[i] ?? 0)));
  const byFunction = new Map();
  let total = 0;
  for (const node of profile.nodes) {
    const us = selfByNode.get(node.id) ?? 0;
    total += us;
    const { functionName, url, lineNumber } = node.callFrame;
    const where = url
      ? `${url
          .replace(/^file:\/\//, '')
          .replace(/^.*node_modules\//, '')
          .replace(/^.*\/work\/wt\/[^/]+\//, '')}:${lineNumber + 1}`
      : '';
    const key = `${functionName || '(anonymous)'} ${where}`.trim();
    byFunction.set(key, (byFunction.get(key) ?? 0) + us);
  }
  return [...byFunction.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, limit)
    .map(([fn, us]) => ({ fn, selfPercent: round((100 * us) / total, 1) }));
}

/** Self time per package (`axios`, `express`, `pino`, ...), Node's own modules (`node:http` ...), or a repo folder. */
export function selfTimeByPackage(profile, limit = 12) {
  const selfByNode = new Map();
  const deltas = profile.timeDeltas ?? [];
  profile.samples.forEach((id, i) => selfByNode.set(id, (selfByNode.get(id) ?? 0) + (deltas[i] ?? 0)));
  const byPackage = new Map();
  let total = 0;
  for (const node of profile.nodes) {
    const us = selfByNode.get(node.id) ?? 0;
    total += us;
    const url = node.callFrame.url;
    const pkg =
      /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url)?.[1] ??
      (url.startsWith('node:')
        ? url.replace(/^node:(internal\/)?([^/]+).*$/, 'node:$2')
        : url
          ? `repo: ${url.replace(/^.*\/work\/wt\/[^/]+\//, '').split('/')[0]}`
          : node.callFrame.functionName || '(native)');
    byPackage.set(pkg, (byPackage.get(pkg) ?? 0) + us);
  }
  return [...byPackage.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, limit)
    .map(([name, us]) => ({ name, selfPercent: round((100 * us) / total, 1) }));
}

try {
  const dir = makeTempDir('cns-bench-profile-');
  const keep = fs.mkdtempSync(path.join(path.dirname(dir), 'cns-cpuprofile-'));
  const [articles, authors] = await Promise.all([startService('articles', 'articles'), startService('authors', 'authors')]);
  const profiled = ['--cpu-prof', `--cpu-prof-dir=${keep}`];
  let target;
  let url;
  if (version === 'mesh') {
    await Promise.all([articles.stop(), authors.stop()]);
    const mesh = await startMesh({ nodeArgs: profiled });
    const getmultiple = `${mesh.gateway}/web-api/v1/getmultiple`;
    await wrk(getmultiple, { seconds: 20, connections: 4, threads: 2 });
    const result = await wrk(getmultiple, { seconds, connections: 4, threads: 2 });
    await mesh.stop();
    const file = fs.readdirSync(keep).find((f) => f.endsWith('.cpuprofile'));
    if (!file) throw new Error(`no .cpuprofile written in ${keep}`);
    const profile = JSON.parse(fs.readFileSync(path.join(keep, file), 'utf8'));
    process.stdout.write(
      `mesh CLI: ${Math.round(result.requestsPerSecond)} getmultiple/s under wrk -t2 -c4 ${seconds}s after 20 s of warm-up (profiling on); ${path.join(keep, file)}\n`,
    );
    for (const { fn, selfPercent } of topSelfTime(profile, 30)) process.stdout.write(`${String(selfPercent).padStart(5)} %  ${fn}\n`);
    process.stdout.write('by package:\n');
    for (const { name, selfPercent } of selfTimeByPackage(profile, 16)) process.stdout.write(`${String(selfPercent).padStart(5)} %  ${name}\n`);
  } else if (version === 'gateway') {
    const [v1, v2] = await Promise.all([startHelper('upstream-v1', 'static-upstream.mjs', ['v1']), startHelper('upstream-v2', 'static-upstream.mjs', ['v2'])]);
    const managed = startProcess('gateway-proxy', process.execPath, [
      ...profiled,
      path.join(path.dirname(new URL(import.meta.url).pathname), 'gateway-proxy.mjs'),
      String(v1.port),
      String(v2.port),
    ]);
    target = { ...managed, port: Number(await waitForLine(managed, /^listening (\d+)$/)) };
    const result = await wrk(`http://127.0.0.1:${target.port}/web-api/v1/getmultiple`, { seconds, connections: 50, threads: 2 });
    await target.stop();
    const file = fs.readdirSync(keep).find((f) => f.endsWith('.cpuprofile'));
    const profile = JSON.parse(fs.readFileSync(path.join(keep, file), 'utf8'));
    process.stdout.write(
      `gateway (data plane, telemetry on): ${Math.round(result.requestsPerSecond)} req/s under wrk -t2 -c50 ${seconds}s (profiling on); ${path.join(keep, file)}\n`,
    );
    for (const { fn, selfPercent } of topSelfTime(profile)) process.stdout.write(`${String(selfPercent).padStart(5)} %  ${fn}\n`);
    process.stdout.write('by package:\n');
    for (const { name, selfPercent } of selfTimeByPackage(profile)) process.stdout.write(`${String(selfPercent).padStart(5)} %  ${name}\n`);
    await Promise.all([v1.stop(), v2.stop(), articles.stop(), authors.stop()]);
  } else {
    if (version === 'authors') {
      target = await startService('authors-profiled', 'authors', {}, profiled);
      url = `http://127.0.0.1:${target.port}/api/v1/getauthor?name=Ada%20Quill`;
    } else if (version.startsWith('floor-')) {
      // The services' floor (bench/floor-web-api.mjs) against the same articles and authors: what is left without our code.
      const script = path.join(path.dirname(new URL(import.meta.url).pathname), 'floor-web-api.mjs');
      const managed = startProcess(version, process.execPath, [
        ...profiled,
        script,
        version.slice('floor-'.length),
        `http://127.0.0.1:${articles.port}`,
        `http://127.0.0.1:${authors.port}`,
      ]);
      target = { ...managed, port: Number(await waitForLine(managed, /^listening (\d+)$/)) };
      url = `http://127.0.0.1:${target.port}/web-api/v1/getmultiple`;
    } else {
      target = await startService(
        `web-api-${version}`,
        `web-api-${version}`,
        { ARTICLES_URL: `http://127.0.0.1:${articles.port}`, AUTHORS_URL: `http://127.0.0.1:${authors.port}` },
        profiled,
      );
      url = `http://127.0.0.1:${target.port}/web-api/v1/getmultiple`;
    }
    const result = await wrk(url, { seconds, connections: 10, threads: 1 });
    await target.stop();
    await Promise.all([articles.stop(), authors.stop()]);
    const file = fs.readdirSync(keep).find((f) => f.endsWith('.cpuprofile'));
    if (!file) throw new Error(`no .cpuprofile written in ${keep}`);
    const profile = JSON.parse(fs.readFileSync(path.join(keep, file), 'utf8'));
    process.stdout.write(
      `${version === 'authors' ? 'authors getauthor' : version.startsWith('floor-') ? version : `web-api ${version}`}: ${Math.round(result.requestsPerSecond)} req/s under wrk -t1 -c10 ${seconds}s (profiling on); ${path.join(keep, file)}\n`,
    );
    for (const { fn, selfPercent } of topSelfTime(profile)) process.stdout.write(`${String(selfPercent).padStart(5)} %  ${fn}\n`);
    process.stdout.write('by package:\n');
    for (const { name, selfPercent } of selfTimeByPackage(profile)) process.stdout.write(`${String(selfPercent).padStart(5)} %  ${name}\n`);
  }
} catch (error) {
  process.stderr.write(`profile failed: ${error.stack ?? error}\n`);
  process.exitCode = 1;
} finally {
  await stopAll();
}
