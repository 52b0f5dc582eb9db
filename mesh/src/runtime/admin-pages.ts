/** What a browser reads from the admin server: the index, the graph (JSON and page), the trace page and its script. */
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
  if (method === 'GET' && p === '/static/cytoscape.min.js') {
    sendFile(res, require.resolve('cytoscape/dist/cytoscape.min.js'), 'text/javascript; charset=utf-8');
    return true;
  }
  return false;
}
