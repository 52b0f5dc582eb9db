/**
 * Gateway benchmark (BENCHMARKS.md item 1): the same static upstreams reached directly, through the data plane
 * as the ingress gateway (80/20 VirtualService split), and through nginx with split_clients 80/20 and upstream
 * keep-alive. Throughput with `wrk -t2 -c50`, latency at a fixed ≈1000 req/s with `hey`. Every figure comes from
 * this one run; ratios are what to compare. Loopback only, bounded in time.
 *
 * Usage (after `npx tsc -b`): node mesh/dist/dataplane/bench/gateway-bench.js [--duration 8] [--out FILE]
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { promisify } from 'node:util';

const run = promisify(execFile);
const args = process.argv.slice(2);
const option = (name: string, fallback: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && args[i + 1] ? args[i + 1] : fallback;
};
const durationSeconds = Number(option('duration', '8'));
const outFile = option('out', '');
const children: ChildProcess[] = [];

function startNode(script: string, scriptArgs: string[]): Promise<number> {
  const child = spawn(process.execPath, [path.join(__dirname, script), ...scriptArgs], { stdio: ['ignore', 'pipe', 'inherit'] });
  children.push(child);
  return new Promise((resolve, reject) => {
    const lines = createInterface({ input: child.stdout! });
    lines.on('line', (line) => {
      const match = /^listening (\d+)$/.exec(line);
      if (match) resolve(Number(match[1]));
    });
    child.once('exit', (code) => reject(new Error(`${script} exited with ${code} before listening`)));
  });
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

async function waitForPort(port: number, deadlineMs = 10_000): Promise<void> {
  const deadline = Date.now() + deadlineMs;
  for (;;) {
    const open = await new Promise<boolean>((resolve) => {
      const socket = net.connect(port, '127.0.0.1', () => {
        socket.end();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (open) return;
    if (Date.now() > deadline) throw new Error(`nothing listening on ${port}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

async function which(tool: string): Promise<boolean> {
  try {
    await run('sh', ['-c', `command -v ${tool}`]);
    return true;
  } catch {
    return false;
  }
}

async function startNginx(v1: number, v2: number): Promise<number | undefined> {
  if (!(await which('nginx'))) return undefined;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dataplane-bench-nginx-'));
  const port = await freePort();
  const conf = `
worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path ${dir}/body; proxy_temp_path ${dir}/proxy; fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi; scgi_temp_path ${dir}/scgi;
  upstream web_api_v1 { server 127.0.0.1:${v1}; keepalive 64; }
  upstream web_api_v2 { server 127.0.0.1:${v2}; keepalive 64; }
  split_clients "\${request_id}" $web_api { 80% web_api_v1; * web_api_v2; }
  server {
    listen 127.0.0.1:${port};
    location /web-api/ {
      rewrite ^/web-api/(.*)$ /api/$1 break;
      proxy_pass http://$web_api;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
    }
  }
}`;
  fs.writeFileSync(path.join(dir, 'nginx.conf'), conf);
  const child = spawn('nginx', ['-c', path.join(dir, 'nginx.conf'), '-g', 'daemon off;'], { stdio: 'ignore' });
  children.push(child);
  await waitForPort(port);
  return port;
}

interface Throughput {
  requestsPerSecond: number;
  non2xx: number;
}

async function wrk(url: string): Promise<Throughput> {
  const { stdout } = await run('wrk', ['-t2', '-c50', `-d${durationSeconds}s`, url], { timeout: (durationSeconds + 30) * 1000 });
  const rps = /Requests\/sec:\s+([\d.]+)/.exec(stdout);
  const non2xx = /Non-2xx or 3xx responses:\s+(\d+)/.exec(stdout);
  return { requestsPerSecond: rps ? Number(rps[1]) : 0, non2xx: non2xx ? Number(non2xx[1]) : 0 };
}

interface Latency {
  p50Ms: number;
  p99Ms: number;
}

/** hey -c10 -q100 = about 1000 req/s. */
async function hey(url: string): Promise<Latency | undefined> {
  if (!(await which('hey'))) return undefined;
  const { stdout } = await run('hey', ['-z', `${Math.max(3, Math.round(durationSeconds / 2))}s`, '-c', '10', '-q', '100', url], {
    timeout: (durationSeconds + 30) * 1000,
  });
  const percentile = (p: number) => {
    const match = new RegExp(`${p}%+ in ([\\d.]+) secs`).exec(stdout);
    return match ? Number(match[1]) * 1000 : NaN;
  };
  return { p50Ms: percentile(50), p99Ms: percentile(99) };
}

async function main(): Promise<void> {
  if (!(await which('wrk'))) {
    console.log('gateway bench skipped: wrk is not installed (apt-get install -y wrk)');
    return;
  }
  const [v1, v2] = await Promise.all([startNode('static-upstream.js', ['v1']), startNode('static-upstream.js', ['v2'])]);
  const gatewayPort = await startNode('gateway-proxy.js', [String(v1), String(v2)]);
  const nginxPort = await startNginx(v1, v2);
  const targets: Array<[string, string]> = [
    ['direct', `http://127.0.0.1:${v1}/api/v1/getmultiple`],
    ['dataplane', `http://127.0.0.1:${gatewayPort}/web-api/v1/getmultiple`],
  ];
  if (nginxPort) targets.push(['nginx', `http://127.0.0.1:${nginxPort}/web-api/v1/getmultiple`]);

  const results: Record<string, Throughput & { latency?: Latency }> = {};
  for (const [name, url] of targets) {
    await wrk(url); // warm-up: JIT, keep-alive pools
    results[name] = await wrk(url);
    results[name].latency = await hey(url);
  }
  const ratio = (a?: number, b?: number) => (a && b ? Number((a / b).toFixed(2)) : undefined);
  const added = (name: string, p: 'p50Ms' | 'p99Ms') => {
    const hop = results[name]?.latency?.[p];
    const base = results.direct.latency?.[p];
    return hop !== undefined && base !== undefined ? Number((hop - base).toFixed(2)) : undefined;
  };
  const summary = {
    measuredAt: new Date().toISOString(),
    machine: { cpus: os.cpus().length, loadAverage: os.loadavg().map((l) => Number(l.toFixed(2))), node: process.version },
    results,
    ratios: {
      dataplaneVsNginx: ratio(results.dataplane.requestsPerSecond, results.nginx?.requestsPerSecond),
      dataplaneVsDirect: ratio(results.dataplane.requestsPerSecond, results.direct.requestsPerSecond),
      nginxVsDirect: ratio(results.nginx?.requestsPerSecond, results.direct.requestsPerSecond),
    },
    addedLatencyMs: {
      dataplane: { p50: added('dataplane', 'p50Ms'), p99: added('dataplane', 'p99Ms') },
      nginx: { p50: added('nginx', 'p50Ms'), p99: added('nginx', 'p99Ms') },
    },
  };
  console.log('path        req/s    non-2xx  p50 ms  p99 ms (at ~1000 req/s)');
  for (const [name, r] of Object.entries(results)) {
    console.log(
      `${name.padEnd(10)} ${r.requestsPerSecond.toFixed(0).padStart(7)} ${String(r.non2xx).padStart(8)}  ${r.latency?.p50Ms.toFixed(2) ?? '-'}    ${r.latency?.p99Ms.toFixed(2) ?? '-'}`,
    );
  }
  console.log(`ratios: ${JSON.stringify(summary.ratios)}  added latency: ${JSON.stringify(summary.addedLatencyMs)}`);
  console.log(`load average during the run: ${summary.machine.loadAverage.join(' ')} (noisy machine: compare ratios)`);
  if (outFile) fs.writeFileSync(outFile, `${JSON.stringify(summary, null, 2)}\n`);
}

main()
  .catch((error) => {
    console.error(error);
    process.exitCode = 1;
  })
  .finally(() => {
    for (const child of children) child.kill('SIGTERM');
  });
