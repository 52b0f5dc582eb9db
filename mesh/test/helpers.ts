/**
 * Helpers for the whole-stack tests: a private copy of the manifests (so a test may edit istio/ files while
 * other suites run), build checks, request loops and process inspection.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export { withDescendants } from '@cns/service-kit/testing';

export const repoRoot = path.resolve(__dirname, '../..');

const BUILD_OUTPUTS = [
  'articles/dist/server.js',
  'authors/dist/server.js',
  'web-api-v1/dist/server.js',
  'web-api-v2/dist/server.js',
  'web-app/dist/index.html',
];

/** Fails with the command to run when the services are not built (the root `pretest` builds them). */
export function requireBuild(): void {
  const missing = BUILD_OUTPUTS.filter((file) => !fs.existsSync(path.join(repoRoot, file)));
  if (missing.length > 0) throw new Error(`the whole-stack tests need built services: run npm run build (missing: ${missing.join(', ')})`);
}

/**
 * A temp repo root: copies of k8s/ and istio/, links to everything the processes run. Returns its path;
 * remove it with `fs.rmSync(dir, { recursive: true, force: true })`.
 */
export function makeMeshRoot(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mesh-root-'));
  for (const copied of ['k8s', 'istio']) fs.cpSync(path.join(repoRoot, copied), path.join(dir, copied), { recursive: true });
  for (const linked of ['articles', 'authors', 'web-api', 'web-api-v1', 'web-api-v2', 'web-app', 'service-kit', 'mesh', 'node_modules', 'package.json']) {
    fs.symlinkSync(path.join(repoRoot, linked), path.join(dir, linked));
  }
  return dir;
}

export interface Answer {
  status: number;
  headers: Headers;
  body: unknown;
}

export async function get(url: string, init?: RequestInit): Promise<Answer> {
  const response = await fetch(url, { ...init, signal: AbortSignal.timeout(10_000) });
  const text = await response.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // not JSON: keep the text
  }
  return { status: response.status, headers: response.headers, body };
}

/** `count` GETs with `concurrency` in flight, answers in completion order. */
export async function many(url: string, count: number, concurrency = 16): Promise<Answer[]> {
  const answers: Answer[] = [];
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < count) {
      next += 1;
      answers.push(await get(url));
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
  return answers;
}

export { eventually } from '@cns/service-kit/testing';

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** The value of one `istio_requests_total` series whose labels include `labels` (summed over the rest). */
export function requestCount(metricsText: string, labels: Record<string, string>): number {
  let total = 0;
  for (const line of metricsText.split('\n')) {
    if (!line.startsWith('istio_requests_total{')) continue;
    if (Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`))) total += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return total;
}
