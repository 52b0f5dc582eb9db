#!/usr/bin/env node
// Prints the gzipped size of the built JS and CSS (web-app/dist/assets), the figure the web-app's budget is
// about: JS <= 50 KB gzipped. `--json` prints one JSON object for the benchmark; `--check` exits 1 over budget.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import zlib from 'node:zlib';

export const JS_BUDGET_GZIP_BYTES = 50 * 1024;

/** Sizes of every .js and .css file in `assetsDir`: raw bytes and gzip -9 bytes, plus totals per kind. */
export function sizeReport(assetsDir) {
  const files = readdirSync(assetsDir)
    .filter((f) => f.endsWith('.js') || f.endsWith('.css'))
    .sort()
    .map((name) => {
      const body = readFileSync(path.join(assetsDir, name));
      return {
        name,
        kind: name.endsWith('.js') ? 'js' : 'css',
        bytes: body.length,
        gzipBytes: zlib.gzipSync(body, { level: 9 }).length,
      };
    });
  const total = (kind) =>
    files
      .filter((f) => f.kind === kind)
      .reduce((acc, f) => ({ bytes: acc.bytes + f.bytes, gzipBytes: acc.gzipBytes + f.gzipBytes }), { bytes: 0, gzipBytes: 0 });
  const js = total('js');
  return {
    files,
    js,
    css: total('css'),
    budget: { jsGzipBytes: JS_BUDGET_GZIP_BYTES, withinBudget: js.gzipBytes <= JS_BUDGET_GZIP_BYTES },
  };
}

const kb = (n) => `${(n / 1024).toFixed(1)} KB`;

function main() {
  const assetsDir = fileURLToPath(new URL('../dist/assets', import.meta.url));
  if (!existsSync(assetsDir)) {
    console.error('web-app: dist/assets is missing: run npm run build -w web-app first');
    process.exit(2);
  }
  const report = sizeReport(assetsDir);
  if (process.argv.includes('--json')) {
    console.log(JSON.stringify(report));
  } else {
    for (const f of report.files) console.log(`${f.name.padEnd(32)} ${kb(f.bytes).padStart(9)}  gzip ${kb(f.gzipBytes).padStart(8)}`);
    console.log(
      `JS total  ${kb(report.js.bytes)}, gzip ${kb(report.js.gzipBytes)} (budget ${kb(JS_BUDGET_GZIP_BYTES)}: ${report.budget.withinBudget ? 'ok' : 'OVER'})`,
    );
    console.log(`CSS total ${kb(report.css.bytes)}, gzip ${kb(report.css.gzipBytes)}`);
  }
  if (process.argv.includes('--check') && !report.budget.withinBudget) process.exit(1);
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) main();
