/**
 * The mesh's admin server (loopback only, like Envoy's admin port 15000): Prometheus metrics, the active config,
 * the traffic graph (JSON and a live page), endpoints, each workload's own /metrics, config changes, and the
 * Kubernetes REST paths for Istio objects (kube-api.ts).
 */
import fs from 'node:fs';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import path from 'node:path';
import { EXAMPLE_TRACE_SERVICE } from '../links';
import { parseManifestText } from '../manifests/load';
import { objectKey, objectRef } from '../manifests/merge';
import type { LoadedObject } from '../model';
import { refusalReason } from './admin-access';
import { ConfigRejectedError, type ConfigStore } from './config-store';
import { handleKubeApi, statusBody, type KubeApiBackend } from './kube-api';
import type { EndpointStatus } from './supervisor';
import type { Graph, MeshTelemetry } from '../telemetry';
import { handleJaegerApi, type TraceStore } from '../telemetry/traces';

export interface AdminBackend extends KubeApiBackend {
  root: string;
  gatewayUrl: () => string;
  mode: 'istio' | 'kubernetes';
  store: ConfigStore<unknown>;
  telemetry: MeshTelemetry;
  traces: TraceStore;
  endpoints(): EndpointStatus[];
  graph(windowMs?: number): Graph;
  /** Loads a file from disk and applies it; the file is watched from then on. */
  applyFile(file: string): LoadedObject[];
  restartWorkload(name: string): Promise<void>;
}

const MAX_BODY_BYTES = 1024 * 1024;
const staticDir = path.resolve(__dirname, '../../static');

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly extra: Record<string, unknown> = {},
  ) {
    super(message);
  }
}

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

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        reject(new HttpError(413, `request body over ${MAX_BODY_BYTES} bytes`));
        req.destroy();
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body, null, 2);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text), 'cache-control': 'no-store' });
  res.end(text);
}

function sendFile(res: ServerResponse, file: string, contentType: string): void {
  const body = fs.readFileSync(file);
  res.writeHead(200, { 'content-type': contentType, 'content-length': body.length, 'cache-control': 'no-cache' });
  res.end(body);
}

function rejection(error: ConfigRejectedError): HttpError {
  return new HttpError(422, 'configuration rejected: the last good configuration stays active', {
    findings: error.findings.map((f) => ({ file: f.file, line: f.line, object: f.object, code: f.code, severity: f.severity, message: f.message })),
  });
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
  if (method === 'GET' && p === '/') {
    sendJson(res, 200, {
      mesh: 'local mesh admin',
      mode: backend.mode,
      gatewayUrl: backend.gatewayUrl(),
      links: ['/metrics', '/config', '/graph', '/graph.json', '/traces', '/api/services', `/api/traces?service=${EXAMPLE_TRACE_SERVICE}&limit=20&lookback=1h`, '/endpoints', '/workloads/<endpoint-id>/metrics', '/healthz', '/apis/networking.istio.io/v1/namespaces/default/virtualservices'],
      changes: {
        'POST /config/apply': 'body: YAML or JSON objects (or ?file=istio/traffic/web-ingress-80-20.yaml to load a file from disk and watch it)',
        'DELETE /config/objects/<Kind>/<name>': 'remove an active Istio object',
        'POST /workloads/<name>/restart': 'rolling restart of a workload',
      },
    });
    return;
  }
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
  if (method === 'GET' && p === '/config') {
    sendJson(res, 200, {
      mode: backend.mode,
      resourceVersion: backend.store.resourceVersion(),
      objects: backend.store.stored().map((s) => ({
        ref: objectRef(s.loaded.object),
        apiVersion: s.loaded.object.apiVersion,
        file: s.loaded.source.file,
        line: s.loaded.source.line,
        resourceVersion: s.resourceVersion,
        object: s.loaded.object,
      })),
    });
    return;
  }
  if (method === 'POST' && p === '/config/apply') {
    const file = url.searchParams.get('file');
    try {
      let applied: LoadedObject[];
      if (file) {
        applied = backend.applyFile(file);
      } else {
        const body = await readBody(req);
        const source = url.searchParams.get('source') ?? (req.headers['x-mesh-source-file'] as string | undefined) ?? 'admin-api';
        const parsed = parseManifestText(body, source);
        if (parsed.findings.some((f) => f.severity === 'error')) throw new ConfigRejectedError(parsed.findings);
        if (parsed.objects.length === 0) throw new HttpError(400, 'the body holds no object: send Istio objects as YAML or JSON');
        backend.apply(parsed.objects);
        applied = parsed.objects;
      }
      // Accepted with the analysis' findings about the applied objects, as kubectl prints admission warnings.
      const warnings = backend.store.lastWarnings().map((f) => ({ file: f.file, line: f.line, object: f.object, code: f.code, message: f.message }));
      sendJson(res, 200, { applied: applied.map((o) => ({ ref: objectRef(o.object), file: o.source.file })), warnings, resourceVersion: backend.store.resourceVersion() });
    } catch (error) {
      if (error instanceof ConfigRejectedError) throw rejection(error);
      throw error;
    }
    return;
  }
  const deleteMatch = /^\/config\/objects\/([A-Za-z]+)\/([^/]+)$/.exec(p);
  if (method === 'DELETE' && deleteMatch) {
    const [, kind, name] = deleteMatch;
    const target = backend.store.active().find((o) => o.object.kind === kind && o.object.metadata.name === decodeURIComponent(name));
    if (!target) throw new HttpError(404, `no active ${kind}/${name}`);
    try {
      backend.remove([objectKey(target.object)]);
    } catch (error) {
      if (error instanceof ConfigRejectedError) throw rejection(error);
      throw error;
    }
    sendJson(res, 200, { deleted: objectRef(target.object), resourceVersion: backend.store.resourceVersion() });
    return;
  }
  if (method === 'GET' && p === '/endpoints') {
    sendJson(res, 200, { endpoints: backend.endpoints() });
    return;
  }
  if (method === 'GET' && p === '/graph.json') {
    const windowSeconds = Number(url.searchParams.get('window') ?? '30');
    if (!Number.isFinite(windowSeconds) || windowSeconds <= 0) throw new HttpError(400, 'window must be a positive number of seconds');
    sendJson(res, 200, backend.graph(windowSeconds * 1000));
    return;
  }
  if (method === 'GET' && p === '/graph') {
    sendFile(res, path.join(staticDir, 'graph.html'), 'text/html; charset=utf-8');
    return;
  }
  if (method === 'GET' && p === '/traces') {
    sendFile(res, path.join(staticDir, 'traces.html'), 'text/html; charset=utf-8');
    return;
  }
  if (method === 'GET' && p === '/static/cytoscape.min.js') {
    sendFile(res, require.resolve('cytoscape/dist/cytoscape.min.js'), 'text/javascript; charset=utf-8');
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
