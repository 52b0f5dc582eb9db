// The command line of `npm run bench` (bench/run.mjs) and the durations, rates and connection counts every section
// measures with: one place, so the JSON's `settings` says exactly what ran.
import { createRequire } from 'node:module';
import path from 'node:path';
import { repoRoot } from './processes.mjs';

const args = process.argv.slice(2);
if (args.includes('--help') || args.includes('-h')) {
  process.stdout.write(`Usage: npm run bench [-- --quick] [-- --out FILE] [-- --only gateway,services,stack,growth,webapp]
  --quick   shorter runs (wrk 2 s, hey 2 s per path; fewer growth pairs)
  --out     the JSON result (default bench/results/latest.json; a timestamped copy is written beside it)
  --only    run these sections only (default: all)
Needs \`npm run build\`, wrk, hey and nginx. bench/README.md says what each section measures.
`);
  process.exit(0);
}
export const quick = args.includes('--quick');
const outIndex = args.indexOf('--out');
export const outFile = outIndex >= 0 ? path.resolve(args[outIndex + 1]) : path.join(repoRoot, 'bench/results/latest.json');
/** `--only services,stack`: run some sections (gateway, services, stack, growth, webapp); all by default. */
const ALL_SECTIONS = ['gateway', 'services', 'stack', 'growth', 'webapp'];
const onlyIndex = args.indexOf('--only');
export const sections = new Set(onlyIndex >= 0 ? args[onlyIndex + 1].split(',') : ALL_SECTIONS);
for (const name of sections) if (!ALL_SECTIONS.includes(name)) throw new Error(`--only: unknown section ${name} (one of ${ALL_SECTIONS.join(', ')})`);

/** Durations in seconds: warm-up (JIT, keep-alive pools), throughput (wrk), fixed-rate latency (hey). */
export const T = quick
  ? { warm: 1, wrk: 2, hey: 2, stackWarm: 2, stackWrk: 3, stackHey: 3, cpu: 3 }
  : { warm: 2, wrk: 4, hey: 4, stackWarm: 5, stackWrk: 5, stackHey: 5, cpu: 6 };
/** hey -c10 -q100: at most 1000 req/s (BENCHMARKS.md's fixed rate). */
export const RATE_1000 = { concurrency: 10, perWorker: 100 };
/**
 * The whole stack is CPU-bound in its Express services (≈ 20 ms of CPU per getmultiple over web-api, authors and
 * articles), so it runs at tens of req/s on 2 shared cores: 4 wrk connections (50 would queue past web-api's
 * 1 s upstream deadline and measure degraded answers), and latency at ≤ 10 req/s.
 */
export const STACK_CONNECTIONS = 4;
export const RATE_STACK = { concurrency: 1, perWorker: 10 };
/** The services alone (issue 10): `wrk -t1 -c10`; fan-out latency at concurrency 1, back to back (no rate limit). */
export const SERVICES_CONNECTIONS = 10;
export const RATE_SERIAL = { concurrency: 1, perWorker: 0 };
/** Articles per getmultiple (web-api/src/versions.ts): the articles call each version makes. */
export const versionArticleCount = Object.fromEntries(
  Object.entries(createRequire(import.meta.url)('../../web-api/dist/versions.js').versionTable).map(([version, row]) => [version, row.articleCount]),
);
/** Pairs of alternated requests (bench/lib/alternate.mjs): getmultiple at 10 req/s per stack, the articles call at ≤ 100. */
export const GROWTH = quick ? { getmultiplePairs: 100, articlesPairs: 300 } : { getmultiplePairs: 400, articlesPairs: 1000 };
