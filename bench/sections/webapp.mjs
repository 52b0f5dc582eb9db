// Section 7 of `npm run bench`: the web app's gzipped JS and CSS.
import path from 'node:path';
import { round } from '../lib/load.mjs';
import { repoRoot } from '../lib/processes.mjs';

export async function webAppSizes() {
  const { sizeReport } = await import(path.join(repoRoot, 'web-app/scripts/size-report.mjs'));
  const report = sizeReport(path.join(repoRoot, 'web-app/dist/assets'));
  return { jsGzipKb: round(report.js.gzipBytes / 1024, 1), cssGzipKb: round(report.css.gzipBytes / 1024, 1), report };
}
