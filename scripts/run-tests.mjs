#!/usr/bin/env node
// Runs every test suite of the repository (jest for the Node workspaces, vitest for web-app's components),
// then prints one line per skipped test with its reason and a final plain `N passed, N failed` line built
// from the runners' JSON reports. `--report` only re-prints that summary from the last run's reports.
// With CI=true a skipped test is a failure: CI must run everything.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const resultsDir = path.join(root, '.test-results');
const jestReport = path.join(resultsDir, 'jest.json');
const vitestReport = path.join(resultsDir, 'vitest.json');
const reliabilityReport = path.join(resultsDir, 'jest-reliability.json');
const args = process.argv.slice(2);
const reportOnly = args.includes('--report');
const passthrough = args.filter((a) => a !== '--report');

const runnersFile = path.join(resultsDir, 'runners.json');
let runnerFailed = false;
if (!reportOnly) {
  rmSync(resultsDir, { recursive: true, force: true });
  mkdirSync(resultsDir, { recursive: true });
  const jestBin = path.join(root, 'node_modules/jest/bin/jest.js');
  // The reliability suite puts the whole stack under load with latency bounds: it runs after the other
  // suites, alone, so that it does not share the two cores with them.
  const others = passthrough.length > 0 ? passthrough : ['--testPathIgnorePatterns', '/node_modules/', '/dist/', '<rootDir>/reliability/'];
  const jest = spawnSync(process.execPath, [jestBin, '--json', `--outputFile=${jestReport}`, ...others], {
    cwd: root,
    stdio: 'inherit',
  });
  runnerFailed ||= jest.status !== 0;
  if (passthrough.length === 0) {
    const reliability = spawnSync(
      process.execPath,
      [
        jestBin,
        'reliability/test/',
        '--json',
        `--outputFile=${reliabilityReport}`,
        '--runInBand',
        '--reporters=default',
        '--reporters=./reliability/reporter.js',
      ],
      { cwd: root, stdio: 'inherit' },
    );
    runnerFailed ||= reliability.status !== 0;
  }
  // Component tests only when no jest filter was given (a filter targets jest suites).
  if (passthrough.length === 0) {
    const vitest = spawnSync(
      process.execPath,
      [path.join(root, 'node_modules/vitest/vitest.mjs'), 'run', '--reporter=default', '--reporter=json', `--outputFile=${vitestReport}`],
      { cwd: path.join(root, 'web-app'), stdio: 'inherit' },
    );
    runnerFailed ||= vitest.status !== 0;
  }
  // Remembered for `--report`: a runner can fail without a JSON report (e.g. a pattern that finds no tests).
  writeFileSync(runnersFile, JSON.stringify({ runnerFailed }));
} else if (existsSync(runnersFile)) {
  runnerFailed = JSON.parse(readFileSync(runnersFile, 'utf8')).runnerFailed === true;
}

/** Reads a jest-format JSON report (vitest writes the same shape). */
function readReport(file, runner) {
  if (!existsSync(file)) return null;
  const report = JSON.parse(readFileSync(file, 'utf8'));
  const skipped = [];
  for (const suite of report.testResults ?? []) {
    for (const test of suite.assertionResults ?? []) {
      if (['pending', 'skipped', 'todo'].includes(test.status)) {
        skipped.push(`${runner}: ${path.relative(root, suite.name)}: ${test.fullName ?? test.title}`);
      }
    }
    // A suite that failed to load has no assertions but counts as a failure.
  }
  const suiteErrors = (report.testResults ?? []).filter((s) => s.status === 'failed' && (s.assertionResults ?? []).length === 0).length;
  return {
    passed: report.numPassedTests ?? 0,
    failed: (report.numFailedTests ?? 0) + suiteErrors,
    skipped,
  };
}

const reports = [readReport(jestReport, 'jest'), readReport(reliabilityReport, 'jest (reliability)'), readReport(vitestReport, 'vitest')].filter(Boolean);
let passed = 0;
let failed = 0;
const skipped = [];
for (const r of reports) {
  passed += r.passed;
  failed += r.failed;
  skipped.push(...r.skipped);
}
if (reports.length === 0) failed += 1;
if (runnerFailed && failed === 0) failed += 1; // a runner crashed before reporting a failure
for (const line of skipped) console.log(`skipped ${line}`);
const inCI = process.env.CI === 'true' || process.env.CI === '1';
if (inCI && skipped.length > 0) {
  console.log(`CI must not skip tests: ${skipped.length} skipped (install what the lines above name)`);
}
console.log(`${passed} passed, ${failed} failed${skipped.length ? `, ${skipped.length} skipped` : ''}`);
process.exit(failed > 0 || (inCI && skipped.length > 0) ? 1 : 0);
