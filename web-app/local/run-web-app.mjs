#!/usr/bin/env node
// Runs the web-app Deployment on this machine (the local mesh's command for it): the built app in web-app/dist,
// served by the real nginx with the image's nginx.conf when nginx is installed, else by a Node static server
// with the same behaviour.
//   PORT (required)     port to listen on
//   HOST                address to listen on (default 127.0.0.1)
//   WEB_APP_SERVER      `nginx` or `node` to force one; default: nginx when on PATH
//   WEB_APP_DRAIN_MS    how long SIGTERM waits for open requests before cutting them (default 8000)
//   MESH_ADMIN_URL      the local mesh's admin (set by the mesh), answered at /mesh-admin.json for the app's links
import { spawn, spawnSync } from 'node:child_process';
import { accessSync, constants, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { checkAdminUrl, renderNginxConf } from './nginx-conf.mjs';
import { NGINX_CONF_PATH, createStaticServer } from './static-server.mjs';

/** How long a graceful stop may take before open connections are cut (below Kubernetes' default 30 s). */
const DRAIN_DEADLINE_MS = Number(process.env.WEB_APP_DRAIN_MS) || 8000;
const DIST = fileURLToPath(new URL('../dist', import.meta.url));

function fail(message, code = 2) {
  console.error(`web-app: ${message}`);
  process.exit(code);
}

/** nginx on PATH, or Debian's /usr/sbin/nginx (not on a normal user's PATH). */
function findNginx() {
  const dirs = [...(process.env.PATH ?? '').split(path.delimiter), '/usr/sbin'];
  for (const dir of dirs) {
    if (!dir) continue;
    const candidate = path.join(dir, 'nginx');
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}

function readConfig() {
  const rawPort = process.env.PORT;
  if (!rawPort) fail('PORT is required (e.g. PORT=8080 node web-app/local/run-web-app.mjs)');
  const port = Number(rawPort);
  if (!Number.isInteger(port) || port < 1 || port > 65535) fail(`PORT must be a port number from 1 to 65535, got "${rawPort}"`);
  const host = process.env.HOST || '127.0.0.1';
  const server = process.env.WEB_APP_SERVER || 'auto';
  if (!['auto', 'nginx', 'node'].includes(server)) fail(`WEB_APP_SERVER must be nginx or node, got "${server}"`);
  if (!existsSync(path.join(DIST, 'index.html'))) {
    fail(`${DIST} has no build: run npm run build (or npm run build -w web-app) first`);
  }
  const adminUrl = process.env.MESH_ADMIN_URL || undefined;
  if (adminUrl) {
    try {
      checkAdminUrl(adminUrl);
    } catch (error) {
      fail(/** @type {Error} */ (error).message);
    }
  }
  return { port, host, server, adminUrl };
}

/**
 * Stops the server when the process that started us goes away (we get re-parented): a supervisor that crashed
 * or was SIGKILLed must not leave nginx holding its port on a shared machine.
 */
function stopWhenOrphaned(stop) {
  const parent = process.ppid;
  if (parent <= 1) return; // started by init (or already orphaned): nothing to watch
  const timer = setInterval(() => {
    if (process.ppid !== parent) {
      clearInterval(timer);
      console.error(`web-app: parent process ${parent} is gone; stopping`);
      stop();
    }
  }, 500);
  timer.unref();
}

/**
 * Tells the local mesh (MESH_SUPERVISED=1, started with an IPC channel) that the server has bound its port: the
 * mesh picked the port, and until this message whatever else holds it must not pass the readiness probe for us.
 */
function reportListening(port) {
  if (process.env.MESH_SUPERVISED === '1' && process.send) process.send({ type: 'listening', port });
}

function runNginx(nginx, { host, port, adminUrl }) {
  // `nginx -v` prints "nginx version: nginx/1.22.1" on stderr.
  const probe = spawnSync(nginx, ['-v'], { encoding: 'utf8' });
  const version = `${probe.stderr}${probe.stdout}`.trim().replace(/^nginx version:\s*nginx\//, '') || 'nginx (version unknown)';
  const runDir = mkdtempSync(path.join(os.tmpdir(), 'web-app-nginx-'));
  const confPath = path.join(runDir, 'nginx.conf');
  writeFileSync(confPath, renderNginxConf(readFileSync(NGINX_CONF_PATH, 'utf8'), { host, port, root: DIST, runDir, adminUrl }));
  const errorLog = path.join(runDir, 'error.log');

  // -e: nginx logs start-up problems there before it has read error_log from the config.
  const child = spawn(nginx, ['-p', runDir, '-c', confPath, '-e', errorLog, '-g', 'daemon off;'], {
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  let stopping = false;
  const stop = () => {
    if (stopping) {
      child.kill('SIGTERM'); // a second signal: fast shutdown
      return;
    }
    stopping = true;
    child.kill('SIGQUIT'); // graceful: finish in-flight requests, then exit
    // A client holding a request open must not keep nginx alive past a supervisor's kill deadline (which would
    // SIGKILL us and orphan nginx): switch to a fast shutdown after a while.
    setTimeout(() => child.kill('SIGTERM'), DRAIN_DEADLINE_MS).unref();
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  stopWhenOrphaned(stop);

  child.on('spawn', () => {
    console.log(`web-app: serving web-app/dist with nginx ${version} on http://${host}:${port} (logs in ${runDir})`);
  });
  // nginx writes its pid file only after it has bound its listeners (a taken port: no pid file, and it exits).
  const pidFile = path.join(runDir, 'nginx.pid');
  const bound = setInterval(() => {
    if (!existsSync(pidFile)) return;
    clearInterval(bound);
    reportListening(port);
  }, 20);
  child.on('error', (err) => {
    rmSync(runDir, { recursive: true, force: true });
    fail(`could not start nginx: ${err.message}`, 1);
  });
  child.on('exit', (code, signal) => {
    clearInterval(bound);
    const exitCode = code ?? (signal ? 128 + (os.constants.signals[signal] ?? 0) : 1);
    if (exitCode !== 0 && existsSync(errorLog)) {
      process.stderr.write(`web-app: nginx exited with ${code ?? signal}; its error log:\n${readFileSync(errorLog, 'utf8')}`);
    }
    rmSync(runDir, { recursive: true, force: true });
    process.exit(exitCode);
  });
}

function runNode({ host, port, adminUrl }, reason) {
  const server = createStaticServer({ root: DIST, adminUrl });
  server.on('error', (err) => fail(`could not listen on ${host}:${port}: ${err.message}`, 1));
  server.listen(port, host, () => {
    console.log(`web-app: serving web-app/dist with the Node fallback server (${reason}) on http://${host}:${port}`);
    reportListening(port);
  });
  let stopping = false;
  const stop = () => {
    if (stopping) process.exit(0);
    stopping = true;
    server.close(() => process.exit(0));
    server.closeIdleConnections();
    setTimeout(() => server.closeAllConnections(), DRAIN_DEADLINE_MS).unref();
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  stopWhenOrphaned(stop);
}

const config = readConfig();
const nginx = config.server === 'node' ? undefined : findNginx();
if (config.server === 'nginx' && !nginx) fail('WEB_APP_SERVER=nginx but nginx is not installed (apt-get install -y nginx)');
if (nginx) runNginx(nginx, config);
else runNode(config, config.server === 'node' ? 'WEB_APP_SERVER=node' : 'nginx not found');
