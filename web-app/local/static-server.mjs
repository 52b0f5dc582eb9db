// A Node static server with the same behaviour as web-app/nginx.conf, for machines without nginx.
// It reads the security headers from nginx.conf itself, so the two cannot drift apart silently;
// web-app/e2e/nginx.test.ts runs one assertion table against both.
import { createReadStream, readFileSync, statSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import zlib from 'node:zlib';
import { meshAdminAnswer } from './nginx-conf.mjs';

export const NGINX_CONF_PATH = fileURLToPath(new URL('../nginx.conf', import.meta.url));

const TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.htm': 'text/html; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.txt': 'text/plain; charset=utf-8',
  '.js': 'application/javascript; charset=utf-8',
  '.mjs': 'application/javascript; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.webmanifest': 'application/manifest+json',
  '.svg': 'image/svg+xml; charset=utf-8',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.webp': 'image/webp',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
};
/** Same list as nginx's gzip_types (text/html is always compressed by nginx). */
const GZIP_TYPES = /^(text\/(html|css|plain)|application\/(javascript|json|manifest\+json)|image\/svg\+xml)/;
const GZIP_MIN_LENGTH = 256;
const IMMUTABLE = 'public, max-age=31536000, immutable';

/** The `add_header NAME "VALUE" always;` lines of nginx.conf: the headers every response carries. */
export function securityHeadersFrom(confText) {
  const headers = {};
  for (const m of confText.matchAll(/^\s*add_header\s+([A-Za-z-]+)\s+"([^"]*)"\s+always;/gm)) {
    headers[m[1]] = m[2];
  }
  if (Object.keys(headers).length === 0) throw new Error('nginx.conf: no `add_header ... always;` lines found');
  return headers;
}

/** True when `..` segments would leave the root (path.normalize would silently clamp them at `/`). */
function climbsAboveRoot(urlPath) {
  let depth = 0;
  for (const segment of urlPath.split('/')) {
    if (segment === '..') depth -= 1;
    else if (segment !== '' && segment !== '.') depth += 1;
    if (depth < 0) return true;
  }
  return false;
}

function fileAt(root, urlPath) {
  const full = path.join(root, urlPath);
  if (full !== root && !full.startsWith(root + path.sep)) return undefined;
  try {
    const st = statSync(full);
    return st.isFile() ? { full, size: st.size, mtime: st.mtime } : undefined;
  } catch {
    return undefined;
  }
}

/**
 * @param {{ root: string, confText?: string, adminUrl?: string }} opts  root: absolute path of the built app;
 *   adminUrl: the local mesh's admin, answered at /mesh-admin.json as nginx-conf.mjs writes it into nginx's copy
 * @returns {http.Server} not yet listening
 */
export function createStaticServer({ root, confText = readFileSync(NGINX_CONF_PATH, 'utf8'), adminUrl }) {
  const meshAdmin = Buffer.from(`${meshAdminAnswer(adminUrl)}\n`);
  const security = securityHeadersFrom(confText);
  /** Gzipped bodies by file path and mtime: the build is immutable while we run, so compress once. */
  const gzipCache = new Map();

  function send(req, res, status, headers, body) {
    res.writeHead(status, { ...security, ...headers, 'content-length': body.length });
    res.end(req.method === 'HEAD' ? undefined : body);
  }

  function notFound(req, res, status = 404, text = 'Not Found') {
    const body = Buffer.from(`<html><head><title>${status} ${text}</title></head><body><h1>${status} ${text}</h1></body></html>\n`);
    send(req, res, status, { 'content-type': 'text/html; charset=utf-8' }, body);
  }

  function serveFile(req, res, file, cacheControl) {
    const type = TYPES[path.extname(file.full).toLowerCase()] ?? 'application/octet-stream';
    const headers = {
      'content-type': type,
      'cache-control': cacheControl,
      'last-modified': file.mtime.toUTCString(),
    };
    const compressible = GZIP_TYPES.test(type) && file.size >= GZIP_MIN_LENGTH;
    if (compressible) headers.vary = 'Accept-Encoding';
    if (compressible && /\bgzip\b/.test(String(req.headers['accept-encoding'] ?? ''))) {
      const key = `${file.full}:${file.mtime.getTime()}`;
      let gz = gzipCache.get(key);
      if (!gz) {
        gz = zlib.gzipSync(readFileSync(file.full), { level: 5 });
        gzipCache.set(key, gz);
      }
      send(req, res, 200, { ...headers, 'content-encoding': 'gzip' }, gz);
      return;
    }
    res.writeHead(200, { ...security, ...headers, 'content-length': file.size });
    if (req.method === 'HEAD') res.end();
    else createReadStream(file.full).pipe(res);
  }

  return http.createServer((req, res) => {
    let urlPath;
    try {
      // The raw path, not new URL(): WHATWG URL parsing would quietly resolve `..` segments nginx rejects.
      urlPath = decodeURIComponent((req.url ?? '/').split(/[?#]/, 1)[0]);
    } catch {
      notFound(req, res, 400, 'Bad Request');
      return;
    }
    // nginx answers 400 to a path that climbs above the root, and never serves outside it.
    if (!urlPath.startsWith('/') || urlPath.includes('\0') || climbsAboveRoot(urlPath)) {
      notFound(req, res, 400, 'Bad Request');
      return;
    }
    urlPath = path.posix.normalize(urlPath); // like nginx: /a/../assets/x is /assets/x
    if (urlPath === '/healthz' || urlPath === '/readyz') {
      const body = Buffer.from(urlPath === '/healthz' ? '{"status":"ok"}\n' : '{"status":"ready"}\n');
      send(req, res, 200, { 'content-type': 'application/json', 'cache-control': 'no-store' }, body);
      return;
    }
    if (urlPath === '/mesh-admin.json') {
      send(req, res, 200, { 'content-type': 'application/json', 'cache-control': 'no-cache' }, meshAdmin);
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      notFound(req, res, 405, 'Not Allowed');
      return;
    }
    if (urlPath.startsWith('/assets/')) {
      const file = fileAt(root, urlPath);
      if (file) serveFile(req, res, file, IMMUTABLE);
      else notFound(req, res);
      return;
    }
    const file = fileAt(root, urlPath) ?? fileAt(root, '/index.html');
    if (file) serveFile(req, res, file, 'no-cache');
    else notFound(req, res);
  });
}
