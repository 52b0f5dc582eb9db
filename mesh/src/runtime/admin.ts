/**
 * The mesh's admin server (loopback only, like Envoy's admin port 15000). Every request passes the access guard
 * (admin-access.ts) first; then the Jaeger query API (../telemetry/jaeger-api.ts), the Kubernetes REST paths
 * (kube-api.ts), the pages (admin-pages.ts), the config routes (admin-config.ts) and the routes below: health,
 * Prometheus metrics, endpoints, a workload's own /metrics and its rolling restart.
 */
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import { handleJaegerApi } from '../telemetry/jaeger-api';
import { refusalReason } from './admin-access';
import { handleConfigRoute } from './admin-config';
import { HttpError, readBody, sendJson, type AdminBackend } from './admin-http';
import { handlePage } from './admin-pages';
import { handleKubeApi, statusBody } from './kube-api';
import type { EndpointStatus } from './supervisor';

export type { AdminBackend } from './admin-http';
export { isLoopback, isLoopbackHost } from './admin-access';

export function createAdminServer(backend: AdminBackend): http.Server {
  // No Host at all is answered by the checks below (403 JSON), not by Node's bare 400.
  const server = http.createServer({ requireHostHeader: false }, (req, res) => {
    void handle(backend, req, res).catch((error: unknown) => {
      const status = error instanceof HttpError ? error.status : 500;
      const extra = error instanceof HttpError ? error.extra : {};
      if (!res.headersSent) sendJson(res, status, { error: (error as Error).message, ...extra });
      else res.destroy();
    });
  });
  server.keepAliveTimeout = 30_000;
  server.requestTimeout = 60_000;
  return server;
}

async function handle(backend: AdminBackend, req: IncomingMessage, res: ServerResponse): Promise<void> {
  // Before any route: loopback client, loopback Host (DNS rebinding), no cross-site change (admin-access.ts).
  const refused = refusalReason(req);
  if (refused) {
    // kubectl and @kubernetes/client-node show a Status object's message; everyone else reads `error`.
    sendJson(res, 403, { error: refused, ...statusBody(403, 'Forbidden', refused) });
    return;
  }
  const url = new URL(req.url ?? '/', 'http://admin.local');
  const method = req.method ?? 'GET';
  // Jaeger's query paths live under /api too: they go first, the Kubernetes API has no such resources.
  if (handleJaegerApi(backend.traces, req, res, url)) return;
  if (await handleKubeApi(backend, req, res, url, () => readBody(req))) return;

  const p = url.pathname;
  if (handlePage(backend, method, p, url, res)) return;
  if (await handleConfigRoute(backend, method, p, url, req, res)) return;
  if (method === 'GET' && (p === '/healthz' || p === '/readyz')) {
    sendJson(res, 200, { status: 'ok' });
    return;
  }
  if (method === 'GET' && p === '/metrics') {
    const text = await backend.telemetry.metrics();
    res.writeHead(200, { 'content-type': backend.telemetry.registry.contentType });
    res.end(text);
    return;
  }
  if (method === 'GET' && p === '/endpoints') {
    sendJson(res, 200, { endpoints: backend.endpoints() });
    return;
  }
  const restartMatch = /^\/workloads\/([^/]+)\/restart$/.exec(p);
  if (method === 'POST' && restartMatch) {
    const name = decodeURIComponent(restartMatch[1]);
    if (!backend.endpoints().some((e) => e.workload === name)) throw new HttpError(404, `no workload named "${name}"`);
    await backend.restartWorkload(name);
    sendJson(res, 200, { restarted: name, endpoints: backend.endpoints().filter((e) => e.workload === name) });
    return;
  }
  const metricsMatch = /^\/workloads\/([^/]+)\/metrics$/.exec(p);
  if (method === 'GET' && metricsMatch) {
    const id = decodeURIComponent(metricsMatch[1]);
    const endpoint = backend.endpoints().find((e) => e.id === id) ?? backend.endpoints().find((e) => e.workload === id);
    if (!endpoint) throw new HttpError(404, `no endpoint or workload "${id}" (see /endpoints)`);
    await proxyMetrics(endpoint, res);
    return;
  }
  throw new HttpError(404, `no admin route ${method} ${p} (see GET /)`);
}

function proxyMetrics(endpoint: EndpointStatus, res: ServerResponse): Promise<void> {
  return new Promise((resolve, reject) => {
    const upstream = http.get({ host: endpoint.host, port: endpoint.port, path: '/metrics', timeout: 5000 }, (response) => {
      res.writeHead(response.statusCode ?? 502, { 'content-type': response.headers['content-type'] ?? 'text/plain' });
      response.pipe(res);
      response.on('end', () => resolve());
      response.on('error', reject);
    });
    upstream.on('timeout', () => upstream.destroy(new Error('timeout')));
    upstream.on('error', (error) => reject(new HttpError(502, `${endpoint.id} did not answer /metrics: ${error.message}`)));
  });
}
