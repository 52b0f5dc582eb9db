#!/usr/bin/env node
/**
 * `npm start`: runs the whole app locally from k8s/ and istio/ with Istio routing semantics, in the foreground.
 * Ctrl-C (SIGINT) or SIGTERM stops every child process; a second signal exits at once.
 */
import { Command, InvalidArgumentError } from 'commander';
import { MeshStartError, startMesh } from './runtime/mesh';
import { adminLinks, formatLinks, forPeople, gatewayLinks } from './links';

const port = (value: string): number => {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new InvalidArgumentError('not a port number (0-65535)');
  return n;
};

const percent = (value: string): number => {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || n < 0 || n > 100) throw new InvalidArgumentError('not a percentage (0-100)');
  return n;
};

const useColor = process.stdout.isTTY && !process.env.NO_COLOR;
const palette = [36, 33, 35, 32, 34, 91, 96];
const colorOf = new Map<string, number>();
const tint = (text: string, id: string): string => {
  if (!useColor) return text;
  const workload = id.replace(/-\d+$/, '');
  if (!colorOf.has(workload)) colorOf.set(workload, palette[colorOf.size % palette.length]);
  return `\x1b[${colorOf.get(workload)}m${text}\x1b[0m`;
};

/** Service logs are pino JSON lines; on a terminal show `level msg` plus the interesting fields. */
function pretty(line: string): string {
  if (!useColor || !line.startsWith('{')) return line;
  try {
    const entry = JSON.parse(line) as Record<string, unknown>;
    const levels: Record<number, string> = { 10: 'trace', 20: 'debug', 30: 'info', 40: 'warn', 50: 'error', 60: 'fatal' };
    const level = levels[entry.level as number] ?? String(entry.level ?? '');
    const { msg, level: _l, time: _t, pid: _p, hostname: _h, service: _s, ...rest } = entry;
    const extras = Object.entries(rest)
      .map(([k, v]) => `${k}=${typeof v === 'object' ? JSON.stringify(v) : String(v)}`)
      .join(' ');
    return `${level.padEnd(5)} ${String(msg ?? '')}${extras ? `  ${extras}` : ''}`;
  } catch {
    return line;
  }
}

async function main(): Promise<void> {
  const program = new Command()
    .name('mesh')
    .description('Run the app locally from k8s/ and istio/ with Istio routing semantics')
    .option('--no-istio', 'plain Kubernetes Service behaviour: no Istio objects (env MESH_NO_ISTIO=1)')
    .option('--gateway-port <port>', 'ingress gateway port (env GATEWAY_PORT, default 8080)', port)
    .option('--admin-port <port>', 'admin port: metrics, graph, config API (env MESH_ADMIN_PORT, default 15000)', port)
    .option('--istio <paths...>', 'Istio files or folders active at start (default istio/base, or gateway-api/base with --gateway-api)')
    .option('--gateway-api', 'route with the Kubernetes Gateway API: gateway-api/base instead of istio/base (Gateway, HTTPRoute)')
    .option('--no-watch', 'do not reload changed Istio files')
    .option('--root <dir>', 'repository root (default: the repository of this mesh)')
    .option('--data-dir <dir>', 'where the postgres workload keeps its data (env MESH_DATA_DIR, default <root>/.data; npm run db:reset empties it)')
    .option('--trace-sampling <percent>', 'percentage of new traces recorded, 0-100 (env MESH_TRACE_SAMPLING, default 100)', percent)
    .parse();
  const opts = program.opts<{
    istio: boolean;
    gatewayApi?: boolean;
    gatewayPort?: number;
    adminPort?: number;
    istioPaths?: string[];
    watch: boolean;
    root?: string;
    dataDir?: string;
    traceSampling?: number;
  }>();
  // commander maps both --no-istio and --istio <paths> to `istio`: an array means paths were given.
  const raw = program.opts() as { istio: boolean | string[] };
  const istioEnabled = raw.istio !== false && process.env.MESH_NO_ISTIO !== '1';
  const istioPaths = Array.isArray(raw.istio) ? raw.istio : undefined;

  const mesh = await startMesh({
    root: opts.root,
    // Kept across restarts, unlike startMesh()'s default temporary folder.
    dataDir: opts.dataDir ?? (process.env.MESH_DATA_DIR || '.data'),
    gatewayPort: opts.gatewayPort,
    adminPort: opts.adminPort,
    istio: istioEnabled,
    istioPaths,
    gatewayApi: opts.gatewayApi === true,
    watch: opts.watch,
    traceSampling: opts.traceSampling,
    // On a terminal every line is shown prefixed and readable; otherwise (a pipe, a file, a bench) the services
    // write their JSON lines straight to stdout and the mesh's thread never touches them.
    output: process.stdout.isTTY ? (id, line) => process.stdout.write(`${tint(`[${id}]`, id)} ${pretty(line)}\n`) : undefined,
  });

  let signals = 0;
  const shutdown = (signal: string): void => {
    signals += 1;
    if (signals > 1) {
      process.stderr.write(`[mesh] ${signal} again: exiting now\n`);
      process.exit(130); // the 'exit' handler SIGKILLs the children
    }
    process.stderr.write(`[mesh] ${signal}: stopping every process (Ctrl-C again to force)\n`);
    void mesh.stop().then(() => process.exit(0));
  };
  process.on('SIGINT', () => shutdown('SIGINT'));
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGHUP', () => shutdown('SIGHUP'));

  const links = [
    ...gatewayLinks(forPeople(mesh.gatewayUrl)),
    ...adminLinks(forPeople(mesh.adminUrl), opts.gatewayApi ? 'gateway-api' : 'istio').map((link) =>
      link.label === 'Traces' && mesh.otlpTracesUrl ? { ...link, note: `${link.note}; also sent to ${mesh.otlpTracesUrl} (OTLP/HTTP)` } : link,
    ),
  ];
  const server = mesh.webAppServer();
  const lines = [
    '',
    `Local mesh running (${routingLine(mesh.mode, istioPaths, opts.gatewayApi === true)})`,
    ...formatLinks(links),
    `  web-app        served by ${server === 'nginx' ? 'nginx (web-app/nginx.conf)' : server === 'node' ? 'the Node fallback server (nginx not installed)' : 'an unknown server'}`,
    'Ctrl-C stops everything.',
    '',
  ];
  process.stdout.write(lines.join('\n') + '\n');
}

main().catch((error: unknown) => {
  if (error instanceof MeshStartError) process.stderr.write(`[mesh] cannot start: ${error.message}\n`);
  else process.stderr.write(`[mesh] cannot start: ${(error as Error).stack ?? String(error)}\n`);
  process.exit(1);
});

/** How the banner names the routing in use: the API and the folders it comes from. */
function routingLine(mode: string, istioPaths: string[] | undefined, gatewayApi: boolean): string {
  if (mode !== 'istio') return 'no Istio: plain Kubernetes Services';
  if (gatewayApi) return `Kubernetes Gateway API routing: ${(istioPaths ?? ['gateway-api/base']).join(', ')}`;
  return `Istio routing: ${(istioPaths ?? ['istio/base']).join(', ')}`;
}
