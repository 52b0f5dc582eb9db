/**
 * The mesh without Istio objects (`--no-istio`): plain Kubernetes Service behaviour spreads getmultiple over
 * both web-api versions. Also: a taken port gives a clear message, and the CLI stops every child on SIGTERM.
 * Needs `npm run build`.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import type net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { startMesh, type MeshHandle } from '../src';
import { eventually, get, isAlive, many, repoRoot, requireBuild, withDescendants } from './helpers';

describe('a taken port', () => {
  let blocker: http.Server;
  let takenPort: number;

  beforeAll(async () => {
    blocker = http.createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    takenPort = (blocker.address() as net.AddressInfo).port;
  });
  afterAll(() => new Promise((resolve) => blocker.close(resolve)));

  it('fails start-up with the port and the variable to set, before starting any process', async () => {
    const output: string[] = [];
    await expect(startMesh({ gatewayPort: takenPort, adminPort: 0, log: () => undefined, output: (id) => output.push(id) })).rejects.toThrow(
      `port ${takenPort} is in use: set GATEWAY_PORT (or --gateway-port)`,
    );
    await expect(startMesh({ gatewayPort: 0, adminPort: takenPort, log: () => undefined, output: (id) => output.push(id) })).rejects.toThrow(
      `port ${takenPort} is in use: set MESH_ADMIN_PORT (or --admin-port)`,
    );
    expect(output).toEqual([]);
  });
});

describe('mesh with --no-istio', () => {
  let mesh: MeshHandle;

  beforeAll(async () => {
    requireBuild();
    mesh = await startMesh({ istio: false, gatewayPort: 0, adminPort: 0, log: () => undefined, output: () => undefined, probe: { startupTimeoutMs: 90_000 } });
  }, 180_000);
  afterAll(() => mesh?.stop(), 60_000);

  it('spreads getmultiple over web-api v1 and v2 like a plain Kubernetes Service', async () => {
    expect(mesh.mode).toBe('kubernetes');
    const answers = await many(`${mesh.gatewayUrl}/web-api/v1/getmultiple`, 200, 8);
    expect(answers.every((a) => a.status === 200)).toBe(true);
    const v2 = answers.filter((a) => a.headers.get('x-web-api-version') === 'v2').length;
    // Even spread over two pods: far from all-v1 (what the v1-only VirtualService gives).
    expect(v2).toBeGreaterThan(60);
    expect(v2).toBeLessThan(140);
    expect((await get(`${mesh.adminUrl}/config`)).body).toMatchObject({ mode: 'kubernetes' });
  });
});

describe('the CLI (npm start)', () => {
  it('prints the URLs, and SIGTERM stops every child process', async () => {
    requireBuild();
    // Without jest's marker in the environment the services log as they do for a user.
    // Its database in a folder of its own, not the repository's .data/ a developer's npm start uses.
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'cli-data-'));
    fs.chmodSync(dataDir, 0o711);
    const env: NodeJS.ProcessEnv = { ...process.env, MESH_DATA_DIR: dataDir };
    delete env.JEST_WORKER_ID;
    const cli = spawn(process.execPath, [path.join(repoRoot, 'mesh/dist/cli.js'), '--gateway-port', '0', '--admin-port', '0', '--no-watch'], {
      cwd: repoRoot,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const lines: string[] = [];
    readline.createInterface({ input: cli.stdout! }).on('line', (line) => lines.push(line));
    readline.createInterface({ input: cli.stderr! }).on('line', (line) => lines.push(line));
    const exited = new Promise<number | null>((resolve) => cli.once('exit', (code) => resolve(code)));
    try {
      await eventually(
        () =>
          lines.some((l) => l.includes('Ctrl-C stops everything'))
            ? true
            : lines.some((l) => l.includes('cannot start'))
              ? Promise.reject(new Error(lines.join('\n')))
              : undefined,
        120_000,
        'start-up',
      );
      const text = lines.join('\n');
      const app = /App\s+(http:\/\/localhost:\d+)\//.exec(text)?.[1];
      const admin = /Traffic graph\s+(http:\/\/localhost:\d+)\/graph/.exec(text)?.[1];
      expect(text).toMatch(/getmultiple\s+curl http:\/\/localhost:\d+\/web-api\/v1\/getmultiple/);
      expect(text).toMatch(/Swagger UI\s+http:\/\/localhost:\d+\/openapi\/ui/);
      expect(text).toMatch(/Metrics\s+http:\/\/localhost:\d+\/metrics/);
      expect(text).toMatch(/web-app\s+served by (nginx|the Node fallback server)/);
      // Not a terminal: the services write their JSON lines straight to the CLI's stdout, naming their replica.
      expect(text).toMatch(/^\{.*"pod":"articles-0".*\}$/m);
      expect((await get(`${app!.replace('localhost', '127.0.0.1')}/web-api/v1/getmultiple`)).status).toBe(200);
      const endpoints = ((await get(`${admin!.replace('localhost', '127.0.0.1')}/endpoints`)).body as { endpoints: Array<{ pid: number }> }).endpoints;
      const pids = withDescendants(endpoints.map((e) => e.pid));
      expect(pids.length).toBeGreaterThanOrEqual(5);

      cli.kill('SIGTERM');
      expect(await exited).toBe(0);
      expect(pids.filter(isAlive)).toEqual([]);
    } finally {
      if (cli.exitCode === null) cli.kill('SIGKILL');
      await exited;
      fs.rmSync(dataDir, { recursive: true, force: true });
    }
  }, 180_000);
});
