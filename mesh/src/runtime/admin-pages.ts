/** What a browser reads from the admin server: the index, the graph (JSON and page), the trace page and their scripts. */
import fs from 'node:fs';
import type { ServerResponse } from 'node:http';
import path from 'node:path';
import { EXAMPLE_TRACE_SERVICE } from '../links';
import { HttpError, sendFile, sendJson, type AdminBackend } from './admin-http';

const staticDir = path.resolve(__dirname, '../../static');

/** Answers `method p` when it is a page route; false otherwise. */
export function handlePage(backend: AdminBackend, method: string, p: string, url: URL, res: ServerResponse): boolean {
  if (method === 'GET' && p === '/') {
    sendJson(res, 200, {
      mesh: 'local mesh admin',
      mode: backend.mode,
      gatewayUrl: backend.gatewayUrl(),
      links: [
        '/metrics',
        '/config',
        '/graph',
        '/graph.json',
        '/traces',
        '/api/services',
        `/api/traces?service=${EXAMPLE_TRACE_SERVICE}&limit=20&lookback=1h`,
        '/endpoints',
        '/workloads/<endpoint-id>/metrics',
        '/healthz',
        '/apis/networking.istio.io/v1/namespaces/default/virtualservices',
      ],
      changes: {
        'POST /config/apply': 'body: YAML or JSON objects (or ?file=istio/traffic/web-ingress-80-20.yaml to load a file from disk and watch it)',
        'DELETE /config/objects/<Kind>/<name>': 'remove an active Istio object',
        'POST /workloads/<name>/restart': 'rolling restart of a workload',
      },
    });
    return true;
  }
  if (method === 'GET' && p === '/graph.json') {
    const windowSeconds = Number(url.searchParams.get('window') ?? '30');
    if (!Number.isFinite(windowSeconds) || windowSeconds <= 0) throw new HttpError(400, 'window must be a positive number of seconds');
    sendJson(res, 200, backend.graph(windowSeconds * 1000));
    return true;
  }
  if (method === 'GET' && p === '/graph') {
    sendFile(res, path.join(staticDir, 'graph.html'), 'text/html; charset=utf-8');
    return true;
  }
  if (method === 'GET' && p === '/traces') {
    sendFile(res, path.join(staticDir, 'traces.html'), 'text/html; charset=utf-8');
    return true;
  }
  const script = method === 'GET' ? staticScript(p) : undefined;
  if (script) {
    sendFile(res, script, 'text/javascript; charset=utf-8');
    return true;
  }
  return false;
}

/** The browser libraries the pages load, served from node_modules (no CDN: the admin works offline). */
const BROWSER_LIBRARIES: Readonly<Record<string, [pkg: string, file: string]>> = {
  '/static/cytoscape.min.js': ['cytoscape', 'dist/cytoscape.min.js'],
  '/static/cytoscape-dagre.min.js': ['cytoscape-dagre', 'dist/cytoscape-dagre.min.js'],
};

/** A file of an installed package, found as Node finds the package (its `exports` may not list the browser build). */
function packageFile(pkg: string, file: string): string {
  for (const dir of require.resolve.paths(pkg) ?? []) {
    const candidate = path.join(dir, pkg, file);
    if (fs.existsSync(candidate)) return candidate;
  }
  throw new Error(`${pkg}/${file} is not installed: run npm install`);
}

/** `/static/NAME.js`: a library above, or a script of mesh/static/ itself (a plain name, nothing else). */
function staticScript(urlPath: string): string | undefined {
  const library = BROWSER_LIBRARIES[urlPath];
  if (library) return packageFile(...library);
  const own = /^\/static\/([a-z][a-z0-9-]*\.js)$/.exec(urlPath)?.[1];
  return own && fs.existsSync(path.join(staticDir, own)) ? path.join(staticDir, own) : undefined;
}
