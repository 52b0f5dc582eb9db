// The web-app's server behaviour, checked against the REAL nginx running web-app/nginx.conf (the image's file,
// rendered by run-web-app.mjs) and against the Node fallback server, with ONE assertion table so the two stay
// equivalent. Needs web-app/dist (built here when missing).
import { describeWithTool } from '@cns/service-kit/testing';
import { spawn } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import {
  DIST,
  RUN_WEB_APP,
  WEB_APP_DIR,
  ensureBuilt,
  freePort,
  processExists,
  request,
  startWebApp,
  eventually,
  type RawResponse,
  type RunningWebApp,
} from './helpers';

const IMMUTABLE = 'public, max-age=31536000, immutable';
/** A mesh admin on a port other than the default 15000. */
const MESH_ADMIN_URL = 'http://localhost:15123';

/** The JS and CSS files index.html asks for: what a browser would load next. */
function assetsOfIndex(): { js: string; css: string; index: Buffer } {
  const index = readFileSync(path.join(DIST, 'index.html'));
  const js = /<script[^>]+src="(\/assets\/[^"]+\.js)"/.exec(index.toString())?.[1];
  const css = /<link[^>]+href="(\/assets\/[^"]+\.css)"/.exec(index.toString())?.[1];
  if (!js || !css) throw new Error('dist/index.html does not reference a JS and a CSS file under /assets/');
  return { js, css, index };
}

const distFile = (urlPath: string) => readFileSync(path.join(DIST, urlPath));
const gunzip = (r: RawResponse) => zlib.gunzipSync(r.body);

function expectIndexHtml(r: RawResponse, index: Buffer): void {
  expect(r.status).toBe(200);
  expect(r.headers['content-type']).toBe('text/html; charset=utf-8');
  expect(r.headers['cache-control']).toBe('no-cache');
  expect(r.body.equals(index)).toBe(true);
}

function expectSecurityHeaders(r: RawResponse): void {
  expect(r.headers['x-content-type-options']).toBe('nosniff');
  expect(r.headers['x-frame-options']).toBe('DENY');
  expect(r.headers['referrer-policy']).toBe('strict-origin-when-cross-origin');
  const csp = String(r.headers['content-security-policy']);
  expect(csp).toContain("default-src 'self'");
  expect(csp).toContain("script-src 'self'");
  expect(csp).toContain("frame-ancestors 'none'");
  expect(csp).not.toContain('unsafe-inline');
}

interface Case {
  name: string;
  check: (port: number) => Promise<void>;
}

/** One table, run against nginx and against the Node fallback. */
const behaviour: Case[] = [
  {
    name: 'GET / serves index.html, revalidated on every visit (no-cache)',
    check: async (port) => expectIndexHtml(await request(port, '/'), assetsOfIndex().index),
  },
  {
    name: 'the hashed JS that index.html loads: 200, JavaScript, cached for a year, immutable',
    check: async (port) => {
      const { js } = assetsOfIndex();
      const r = await request(port, js);
      expect(r.status).toBe(200);
      expect(r.headers['content-type']).toMatch(/^application\/javascript/);
      expect(r.headers['cache-control']).toBe(IMMUTABLE);
      expect(r.body.equals(distFile(js))).toBe(true);
    },
  },
  {
    name: 'the hashed CSS: 200, text/css, immutable',
    check: async (port) => {
      const { css } = assetsOfIndex();
      const r = await request(port, css);
      expect(r.status).toBe(200);
      expect(r.headers['content-type']).toMatch(/^text\/css/);
      expect(r.headers['cache-control']).toBe(IMMUTABLE);
    },
  },
  {
    name: 'gzip for JS, CSS and HTML when the client accepts it; the decoded body is the file',
    check: async (port) => {
      const { js, css, index } = assetsOfIndex();
      for (const [urlPath, expected] of [
        [js, distFile(js)],
        [css, distFile(css)],
        ['/', index],
      ] as const) {
        const r = await request(port, urlPath, { headers: { 'accept-encoding': 'gzip, deflate, br' } });
        expect([urlPath, r.headers['content-encoding']]).toEqual([urlPath, 'gzip']);
        expect(r.headers.vary).toMatch(/accept-encoding/i);
        expect(gunzip(r).equals(expected)).toBe(true);
        expect(r.body.length).toBeLessThan(expected.length);
      }
    },
  },
  {
    name: 'no gzip when the client does not ask for it',
    check: async (port) => {
      const r = await request(port, assetsOfIndex().js);
      expect(r.headers['content-encoding']).toBeUndefined();
    },
  },
  {
    name: 'SPA fallback: client-side routes get index.html (no-cache)',
    check: async (port) => {
      const { index } = assetsOfIndex();
      for (const route of ['/some/route', '/articles/42/edit?tab=authors', '/web-app']) {
        expectIndexHtml(await request(port, route), index);
      }
    },
  },
  {
    name: 'a missing asset is a 404, not index.html, and is not cached as immutable',
    check: async (port) => {
      for (const urlPath of ['/assets/missing.js', '/assets/index-00000000.css', '/assets/']) {
        const r = await request(port, urlPath);
        expect([urlPath, r.status]).toEqual([urlPath, 404]);
        expect(r.body.toString()).not.toContain('<div id="app">');
        expect(r.headers['cache-control']).not.toBe(IMMUTABLE);
      }
    },
  },
  {
    name: 'files in the build root are served as files (favicon.svg)',
    check: async (port) => {
      const r = await request(port, '/favicon.svg');
      expect(r.status).toBe(200);
      expect(r.headers['content-type']).toMatch(/^image\/svg\+xml/);
      expect(r.headers['cache-control']).toBe('no-cache');
      expect(r.body.equals(distFile('favicon.svg'))).toBe(true);
    },
  },
  {
    name: '/healthz and /readyz answer 200 JSON that is never cached',
    check: async (port) => {
      for (const [urlPath, status] of [
        ['/healthz', 'ok'],
        ['/readyz', 'ready'],
      ]) {
        const r = await request(port, urlPath!);
        expect(r.status).toBe(200);
        expect(r.headers['content-type']).toMatch(/^application\/json/);
        expect(r.headers['cache-control']).toBe('no-store');
        expect(JSON.parse(r.body.toString())).toEqual({ status });
      }
    },
  },
  {
    name: '/mesh-admin.json names the admin the mesh gave (MESH_ADMIN_URL), and the CSP names no admin port',
    check: async (port) => {
      const r = await request(port, '/mesh-admin.json');
      expect(r.status).toBe(200);
      expect(r.headers['content-type']).toMatch(/^application\/json/);
      expect(JSON.parse(r.body.toString())).toEqual({ adminUrl: MESH_ADMIN_URL });
      expect(String(r.headers['content-security-policy'])).toContain("connect-src 'self';");
    },
  },
  {
    name: 'security headers on pages, assets, health checks and 404s',
    check: async (port) => {
      for (const urlPath of ['/', assetsOfIndex().js, '/healthz', '/assets/missing.js', '/some/route']) {
        expectSecurityHeaders(await request(port, urlPath));
      }
    },
  },
  {
    name: 'no server version token',
    check: async (port) => {
      for (const urlPath of ['/', '/assets/missing.js']) {
        const server = (await request(port, urlPath)).headers.server;
        if (server !== undefined) expect(server).not.toMatch(/\d/);
      }
    },
  },
  {
    name: 'HEAD / answers like GET without a body; POST / is 405',
    check: async (port) => {
      const head = await request(port, '/', { method: 'HEAD' });
      expect(head.status).toBe(200);
      expect(head.headers['cache-control']).toBe('no-cache');
      expect(head.body.length).toBe(0);
      expect((await request(port, '/', { method: 'POST' })).status).toBe(405);
    },
  },
  {
    name: 'never serves outside the root: paths climbing above it are 400',
    check: async (port) => {
      for (const urlPath of ['/../package.json', '/assets/../../package.json', '/assets/%2e%2e/%2e%2e/package.json']) {
        const r = await request(port, urlPath);
        expect([urlPath, r.status]).toEqual([urlPath, 400]);
      }
      // A `..` that stays inside the root is resolved like nginx does.
      expect((await request(port, '/some/../assets/missing.js')).status).toBe(404);
    },
  },
];

function describeBehaviour(server: 'nginx' | 'node'): void {
  let app: RunningWebApp | undefined;
  beforeAll(async () => {
    await ensureBuilt();
    app = await startWebApp({ WEB_APP_SERVER: server, MESH_ADMIN_URL });
  });
  afterAll(async () => {
    await app?.stop();
  });
  it.each(behaviour)('$name', async ({ check }) => {
    await check(app!.port);
  });
}

/** Pids whose parent is `pid` (read from /proc: no ps needed). */
function childPids(pid: number): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      // Fields after the command name (which may contain spaces) start after the last ')'.
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === pid) pids.push(Number(entry));
    } catch {
      // the process ended while we looked
    }
  }
  return pids;
}

describeWithTool('nginx', 'web-app served by the real nginx (web-app/nginx.conf)', () => {
  describeBehaviour('nginx');

  describe('process lifecycle', () => {
    beforeAll(() => ensureBuilt());

    it('says which nginx serves, and SIGTERM stops nginx gracefully leaving no process or temp dir behind', async () => {
      const app = await startWebApp({ WEB_APP_SERVER: 'nginx' });
      const line = app.output();
      expect(line).toMatch(/^web-app: serving web-app\/dist with nginx \d+\.\d+\.\d+ on http:\/\/127\.0\.0\.1:\d+/);
      const runDir = /\(logs in ([^)]+)\)/.exec(line)?.[1];
      expect(runDir).toBeDefined();
      const master = Number(readFileSync(path.join(runDir!, 'nginx.pid'), 'utf8').trim());
      expect(childPids(app.child.pid!)).toEqual([master]);
      const workers = await eventually(
        () => {
          const w = childPids(master);
          return w.length > 0 ? w : undefined;
        },
        10_000,
        'nginx workers',
      );

      const { code, signal } = await app.stop();
      expect({ code, signal }).toEqual({ code: 0, signal: null });
      for (const pid of [master, ...workers]) expect([pid, processExists(pid)]).toEqual([pid, false]);
      expect(existsSync(runDir!)).toBe(false);
    });

    it('stops nginx when the process that started it dies without a signal (no orphaned nginx)', async () => {
      const port = await freePort();
      const dir = mkdtempSync(path.join(os.tmpdir(), 'web-app-orphan-'));
      const log = path.join(dir, 'out.log');
      // An intermediate shell starts run-web-app in the background, then exits when its stdin closes:
      // run-web-app is re-parented, as when a supervisor is SIGKILLed.
      const shell = spawn('sh', ['-c', 'node "$0" >"$1" 2>&1 & echo $!; read _', RUN_WEB_APP, log], {
        env: { ...process.env, PORT: String(port), WEB_APP_SERVER: 'nginx' },
        stdio: ['pipe', 'pipe', 'inherit'],
      });
      let wrapper = 0;
      try {
        wrapper = Number(await new Promise<string>((resolve) => shell.stdout.once('data', (d: Buffer) => resolve(d.toString()))));
        const runDir = await eventually(() => /\(logs in ([^)]+)\)/.exec(existsSync(log) ? readFileSync(log, 'utf8') : '')?.[1], 10_000, 'the start-up line');
        await eventually(async () => ((await request(port, '/healthz').catch(() => undefined))?.status === 200 ? true : undefined), 10_000, 'web-app /healthz');
        const master = Number(readFileSync(path.join(runDir, 'nginx.pid'), 'utf8').trim());

        shell.stdin.end(); // the shell exits; nobody will ever send run-web-app a signal
        await eventually(() => (!processExists(wrapper) && !processExists(master) ? true : undefined), 10_000, 'run-web-app and nginx to exit');
        expect(readFileSync(log, 'utf8')).toMatch(/parent process \d+ is gone; stopping/);
        expect(existsSync(runDir)).toBe(false);
      } finally {
        shell.kill();
        if (wrapper && processExists(wrapper)) process.kill(wrapper, 'SIGTERM'); // only when the test failed
        rmSync(dir, { recursive: true, force: true });
      }
    });

    it('a client holding a request open cannot stall the shutdown past the drain deadline', async () => {
      const app = await startWebApp({ WEB_APP_SERVER: 'nginx', WEB_APP_DRAIN_MS: '300' });
      // Half a request: nginx's graceful QUIT waits for it (up to client_header_timeout, 60 s).
      const socket = net.connect(app.port, '127.0.0.1');
      await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
      socket.write('GET / HTTP/1.1\r\nHost: x\r\n');
      try {
        const started = Date.now();
        expect(await app.stop()).toEqual({ code: 0, signal: null });
        expect(Date.now() - started).toBeLessThan(10_000);
      } finally {
        socket.destroy();
      }
    });

    it("exits with nginx's exit code and shows nginx's error log when the port is taken, never confirming it to the mesh", async () => {
      const blocker = net.createServer();
      await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
      const port = (blocker.address() as net.AddressInfo).port;
      try {
        const child = spawn(process.execPath, [RUN_WEB_APP], {
          env: { ...process.env, PORT: String(port), WEB_APP_SERVER: 'nginx', MESH_SUPERVISED: '1' },
          stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
        });
        const messages: unknown[] = [];
        child.on('message', (message) => messages.push(message));
        let out = '';
        child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
        child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
        const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
        expect(code).toBe(1);
        expect(out).toMatch(/Address already in use/);
        // The local mesh picked that port: it must not take the blocker for nginx (it moves the replica instead).
        expect(messages).toEqual([]);
      } finally {
        blocker.close();
      }
    });
  });
});

describe('web-app served by the Node fallback server (same assertions as nginx)', () => {
  describeBehaviour('node');

  it('says it uses the Node fallback, and stops on SIGTERM with exit code 0', async () => {
    await ensureBuilt();
    const app = await startWebApp({ WEB_APP_SERVER: 'node' });
    expect(app.output()).toMatch(/^web-app: serving web-app\/dist with the Node fallback server/);
    expect(await app.stop()).toEqual({ code: 0, signal: null });
  });
});

/** Under the local mesh (IPC channel, MESH_SUPERVISED=1): the server confirms its port once it has bound it. */
function describeConfirmsPort(server: 'nginx' | 'node'): void {
  it(`confirms its port to the local mesh over IPC once ${server} has bound it`, async () => {
    await ensureBuilt();
    const port = await freePort();
    const child = spawn(process.execPath, [RUN_WEB_APP], {
      env: { ...process.env, PORT: String(port), HOST: '127.0.0.1', WEB_APP_SERVER: server, MESH_SUPERVISED: '1' },
      stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
    });
    const exited = new Promise((resolve) => child.once('exit', resolve));
    try {
      const message = await new Promise((resolve, reject) => {
        child.once('message', resolve);
        child.once('exit', (code) => reject(new Error(`run-web-app.mjs exited (${code}) before confirming its port`)));
      });
      expect(message).toEqual({ type: 'listening', port });
      // Bound by the time it says so: the first request is answered, no retry needed.
      expect((await request(port, '/healthz')).status).toBe(200);
    } finally {
      child.kill('SIGTERM');
      await exited;
    }
  });
}

describeWithTool('nginx', 'web-app under the local mesh, nginx', () => describeConfirmsPort('nginx'));
describe('web-app under the local mesh, Node fallback', () => describeConfirmsPort('node'));

describe('run-web-app.mjs start-up errors', () => {
  const run = (env: Record<string, string | undefined>, script = RUN_WEB_APP) =>
    new Promise<{ code: number | null; out: string }>((resolve) => {
      const child = spawn(process.execPath, [script], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      child.stdout.on('data', (d: Buffer) => (out += d.toString()));
      child.stderr.on('data', (d: Buffer) => (out += d.toString()));
      child.on('exit', (code) => resolve({ code, out }));
    });

  it('refuses to start without PORT', async () => {
    const { code, out } = await run({ PORT: '' });
    expect(code).toBe(2);
    expect(out).toContain('PORT is required');
  });

  it('refuses a PORT that is not a port number', async () => {
    const { code, out } = await run({ PORT: '80a' });
    expect(code).toBe(2);
    expect(out).toContain('PORT must be a port number');
  });

  it('says to run the build when web-app/dist is missing', async () => {
    // A copy of the web-app's local runner without a dist folder next to it.
    const dir = mkdtempSync(path.join(os.tmpdir(), 'web-app-nodist-'));
    try {
      mkdirSync(path.join(dir, 'local'));
      for (const f of readdirSync(path.join(WEB_APP_DIR, 'local')).filter((f) => f.endsWith('.mjs'))) {
        copyFileSync(path.join(WEB_APP_DIR, 'local', f), path.join(dir, 'local', f));
      }
      copyFileSync(path.join(WEB_APP_DIR, 'nginx.conf'), path.join(dir, 'nginx.conf'));
      const { code, out } = await run({ PORT: String(await freePort()) }, path.join(dir, 'local', 'run-web-app.mjs'));
      expect(code).toBe(2);
      expect(out).toContain('run npm run build');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
