// Shared by the web-app's jest e2e suites: build check, free ports, starting run-web-app.mjs, raw HTTP.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, rmdirSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';

import { freePort } from '@cns/test-support';
import { eventually } from '@cns/service-kit/testing';

// A port that was free a moment ago (the kernel picks it): startWebApp retries when nginx finds it taken.
export { freePort };
export { eventually, processExists, processRunning, withDescendants } from '@cns/service-kit/testing';

export const WEB_APP_DIR = path.resolve(__dirname, '..');
export const DIST = path.join(WEB_APP_DIR, 'dist');
export const RUN_WEB_APP = path.join(WEB_APP_DIR, 'local', 'run-web-app.mjs');

/**
 * Builds web-app/dist when it is missing (a fresh clone); fails with the build's output otherwise. Jest runs
 * suites in parallel workers: a lock directory makes sure only one of them runs the build (vite empties dist/).
 */
export async function ensureBuilt(): Promise<void> {
  const built = () => existsSync(path.join(DIST, 'index.html'));
  if (built()) return;
  const lock = path.join(os.tmpdir(), `cns-web-app-build-${Buffer.from(WEB_APP_DIR).toString('hex').slice(-16)}.lock`);
  try {
    mkdirSync(lock);
  } catch {
    // Another worker is building: wait for its result (or for its lock to go away if it failed).
    await eventually(() => (built() || !existsSync(lock) ? true : undefined), 180_000, 'the web-app build of another test worker');
    if (built()) return;
    return ensureBuilt();
  }
  try {
    const result = spawnSync('npm', ['run', 'build', '-w', 'web-app'], {
      cwd: path.resolve(WEB_APP_DIR, '..'),
      encoding: 'utf8',
      timeout: 120_000,
    });
    if (result.status !== 0 || !built()) {
      throw new Error(`web-app/dist is missing and \`npm run build -w web-app\` failed:\n${result.stdout}\n${result.stderr}`);
    }
  } finally {
    rmdirSync(lock);
  }
}

export interface RawResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

/** One HTTP request without any client-side decoding or path normalisation (unlike fetch). */
export function request(port: number, urlPath: string, options: { method?: string; headers?: Record<string, string> } = {}): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path: urlPath, method: options.method ?? 'GET', headers: options.headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

export interface RunningWebApp {
  port: number;
  child: ChildProcess;
  output: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  stop: () => Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/**
 * Starts `node web-app/local/run-web-app.mjs` the way the local mesh does (IPC channel, MESH_SUPERVISED=1) and waits
 * for its `{ type: 'listening', port }` message, sent once nginx (or the Node fallback) has bound the port: a
 * server that already held the picked port cannot pass for it. Retries on a fresh port when the port was taken.
 */
export async function startWebApp(env: Record<string, string> = {}): Promise<RunningWebApp> {
  for (let attempt = 1; ; attempt += 1) {
    const port = await freePort();
    const child = spawn(process.execPath, [RUN_WEB_APP], {
      env: { ...process.env, ...env, PORT: String(port), HOST: '127.0.0.1', MESH_SUPERVISED: '1' },
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    });
    let out = '';
    child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
      child.on('exit', (code, signal) => resolve({ code, signal })),
    );
    let hasExited = false;
    void exited.then(() => (hasExited = true));
    const listening = await new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(false), 10_000);
      child.once('message', (message: { type?: string; port?: number }) => {
        clearTimeout(timer);
        resolve(message.type === 'listening' && message.port === port);
      });
      void exited.then(() => {
        clearTimeout(timer);
        resolve(false);
      });
    });
    if (listening) {
      const stop = () => {
        if (!hasExited) child.kill('SIGTERM');
        return exited;
      };
      return { port, child, output: () => out, exited, stop };
    }
    if (!hasExited) child.kill('SIGKILL');
    await exited;
    if (attempt < 5 && /in use/i.test(out)) continue; // another process took the port between freePort and bind
    throw new Error(`run-web-app.mjs did not confirm its port within 10 s (or exited first):\n${out}`);
  }
}
