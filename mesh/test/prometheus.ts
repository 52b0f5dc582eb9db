/**
 * A real Prometheus (Debian's `prometheus` package) for the telemetry tests: started on a free loopback port with a
 * scrape config for the mesh admin, queried through its HTTP API.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { eventually } from '@cns/service-kit/testing';
import { freePort } from '../src/net';

export interface PrometheusServer {
  url: string;
  scrapeIntervalSeconds: number;
  /** Instant query; the result vector (`[]` when empty). Throws with Prometheus' error text on a bad query. */
  query(promql: string, time?: number): Promise<Array<{ metric: Record<string, string>; value: number }>>;
  stop(): Promise<void>;
}

/**
 * The repository's scrape config (mesh/prometheus.yml, what `npm run prometheus` uses) aimed at `target` and
 * scraping every `intervalSeconds`.
 */
export function scrapeConfig(target: string, intervalSeconds: number): string {
  const repoConfig = fs.readFileSync(path.resolve(__dirname, '../prometheus.yml'), 'utf8');
  // Either YAML quote style (Prettier writes double quotes in YAML).
  const config = repoConfig
    .replace(/(['"])127\.0\.0\.1:15000\1/, `"${target}"`)
    .replace(/^(\s*(scrape|evaluation)_interval:) \S+$/gm, `$1 ${intervalSeconds}s`);
  if (!config.includes(`"${target}"`)) throw new Error('mesh/prometheus.yml no longer targets 127.0.0.1:15000');
  return config;
}

/**
 * Starts prometheus scraping `target` (host:port). Prometheus cannot listen on port 0, so a free port is picked
 * and, should another process take it first (EADDRINUSE), the start is retried on a new one.
 */
export async function startPrometheus(target: string, intervalSeconds = 1): Promise<PrometheusServer> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mesh-prometheus-'));
  const configFile = path.join(dir, 'prometheus.yml');
  fs.writeFileSync(configFile, scrapeConfig(target, intervalSeconds));
  let lastError = '';
  for (let attempt = 0; attempt < 5; attempt++) {
    const port = await freePort();
    const child = spawn(
      'prometheus',
      [`--config.file=${configFile}`, `--storage.tsdb.path=${path.join(dir, `data-${attempt}`)}`, `--web.listen-address=127.0.0.1:${port}`, '--log.level=warn'],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    let stderr = '';
    child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    const url = `http://127.0.0.1:${port}`;
    const ready = await waitReady(url, child, 30_000);
    if (ready) return server(url, intervalSeconds, child, exited, dir);
    await stopChild(child, exited);
    lastError = stderr.trim().split('\n').slice(-3).join('\n');
    if (!/address already in use/i.test(stderr)) break;
  }
  fs.rmSync(dir, { recursive: true, force: true });
  throw new Error(`prometheus did not start: ${lastError || 'no output'}`);
}

/** True once prometheus answers /-/ready; false when it exited first (e.g. its port was taken) or timed out. */
async function waitReady(url: string, child: ChildProcess, timeoutMs: number): Promise<boolean> {
  const outcome = await eventually(
    async () => {
      if (child.exitCode !== null || child.signalCode !== null) return 'exited';
      try {
        return (await fetch(`${url}/-/ready`, { signal: AbortSignal.timeout(1000) })).ok ? 'ready' : undefined;
      } catch {
        return undefined; // not listening yet
      }
    },
    timeoutMs,
    'prometheus ready',
    100,
  ).catch(() => 'timeout');
  return outcome === 'ready';
}

async function stopChild(child: ChildProcess, exited: Promise<void>): Promise<void> {
  if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(timer);
}

function server(url: string, scrapeIntervalSeconds: number, child: ChildProcess, exited: Promise<void>, dir: string): PrometheusServer {
  return {
    url,
    scrapeIntervalSeconds,
    async query(promql, time) {
      const params = new URLSearchParams({ query: promql });
      if (time !== undefined) params.set('time', String(time));
      const response = await fetch(`${url}/api/v1/query?${params}`, { signal: AbortSignal.timeout(10_000) });
      const body = (await response.json()) as {
        status: string;
        error?: string;
        data?: { result: Array<{ metric: Record<string, string>; value: [number, string] }> };
      };
      if (body.status !== 'success') throw new Error(`prometheus rejected ${promql}: ${body.error}`);
      return body.data!.result.map((r) => ({ metric: r.metric, value: Number(r.value[1]) }));
    },
    async stop() {
      await stopChild(child, exited);
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
