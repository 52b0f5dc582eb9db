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
// Layout: lib/settings.mjs (command line, durations), lib/harness.mjs (measurePaths and helpers), sections/*.mjs (one
// module per section), lib/goals.mjs and lib/summary.mjs (the goals table and the printed summary).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { goals } from './lib/goals.mjs';
import { log, requireBuilt } from './lib/harness.mjs';
import { round } from './lib/load.mjs';
import { sleep, stopAll } from './lib/processes.mjs';
import { GROWTH, outFile, quick, RATE_1000, RATE_SERIAL, RATE_STACK, sections, T } from './lib/settings.mjs';
import { printSummary } from './lib/summary.mjs';
import { gatewayAlone } from './sections/gateway.mjs';
import { growthSection } from './sections/growth.mjs';
import { services } from './sections/services.mjs';
import { wholeStack } from './sections/stack.mjs';
import { webAppSizes } from './sections/webapp.mjs';

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
    settings: {
      seconds: T,
      rate1000: RATE_1000,
      rateStack: RATE_STACK,
      rateSerial: RATE_SERIAL,
      growth: GROWTH,
      wrk: '--latency; gateway -t2 -c50, services -t1 -c10, stack -t2 -c4',
      nginx: '1 worker, upstream keepalive 64',
    },
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
