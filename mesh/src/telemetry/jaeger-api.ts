/**
 * Jaeger's query API over the mesh's trace store (./trace-store.ts): paths and JSON as jaeger-query serves them
 * (cmd/jaeger/internal/extension/jaegerquery/internal/http_handler.go, internal/uimodel/model.go), so tools that read
 * Jaeger can read the local mesh.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { TraceStore, StoredTrace } from './trace-store';

export interface TraceSummary {
  traceID: string;
  rootService: string;
  rootOperation: string;
  startTime: number;
  duration: number;
  spans: number;
  errors: number;
  services: string[];
  /** Spans per service, as Jaeger's search results show them (`web-api.default (3)`). */
  serviceSpans: Record<string, number>;
}

// ---------------------------------------------------------------- Jaeger JSON

interface JaegerKeyValue {
  key: string;
  type: 'string' | 'bool' | 'int64' | 'float64';
  value: string | number | boolean;
}

function keyValue(key: string, value: string | number | boolean): JaegerKeyValue {
  if (typeof value === 'boolean') return { key, type: 'bool', value };
  if (typeof value === 'number') return { key, type: Number.isInteger(value) ? 'int64' : 'float64', value };
  return { key, type: 'string', value };
}

/** One trace in Jaeger's UI model: spans reference their parent (CHILD_OF), processes are numbered p1, p2, ... */
export function toJaegerTrace(trace: StoredTrace): Record<string, unknown> {
  const processIds = new Map<string, string>();
  const processes: Record<string, { serviceName: string; tags: JaegerKeyValue[] }> = {};
  const spans = [...trace.spans]
    .sort((a, b) => a.startUs - b.startUs)
    .map((span) => {
      let processID = processIds.get(span.service);
      if (!processID) {
        processID = `p${processIds.size + 1}`;
        processIds.set(span.service, processID);
        processes[processID] = { serviceName: span.service, tags: [] };
      }
      const tags = Object.entries(span.tags).map(([key, value]) => keyValue(key, value));
      tags.push(keyValue('span.kind', span.kind));
      if (span.tracestate) tags.push(keyValue('w3c.tracestate', span.tracestate));
      return {
        traceID: span.traceId,
        spanID: span.spanId,
        operationName: span.name,
        references: span.parentSpanId ? [{ refType: 'CHILD_OF', traceID: span.traceId, spanID: span.parentSpanId }] : [],
        startTime: span.startUs,
        duration: span.durationUs,
        tags,
        logs: [],
        processID,
        warnings: null,
      };
    });
  const warnings = trace.dropped > 0 ? [`${trace.dropped} spans of this trace were dropped (store bounds)`] : null;
  return { traceID: trace.traceId, spans, processes, warnings };
}

export function summarize(trace: StoredTrace): TraceSummary {
  const ids = new Set(trace.spans.map((s) => s.spanId));
  const sorted = [...trace.spans].sort((a, b) => a.startUs - b.startUs);
  const root = sorted.find((s) => !s.parentSpanId || !ids.has(s.parentSpanId)) ?? sorted[0];
  const start = sorted[0]?.startUs ?? 0;
  const end = Math.max(...trace.spans.map((s) => s.startUs + s.durationUs));
  return {
    traceID: trace.traceId,
    rootService: root?.service ?? '',
    rootOperation: root?.name ?? '',
    startTime: start,
    duration: end - start,
    spans: trace.spans.length,
    errors: trace.spans.filter((s) => s.error).length,
    services: [...new Set(trace.spans.map((s) => s.service))],
    serviceSpans: trace.spans.reduce<Record<string, number>>((counts, s) => ((counts[s.service] = (counts[s.service] ?? 0) + 1), counts), {}),
  };
}

/** `web-api` (an app, as the graph names it) matches the service `web-api.default`; a full name matches itself. */
function isService(service: string, name: string): boolean {
  return service === name || (service.startsWith(name) && service[name.length] === '.');
}

function hasHop(trace: StoredTrace, from: string | undefined, to: string | undefined): boolean {
  const byId = new Map(trace.spans.map((s) => [s.spanId, s]));
  return trace.spans.some((span) => {
    if (to && !isService(span.service, to)) return false;
    const parent = span.parentSpanId ? byId.get(span.parentSpanId) : undefined;
    if (!parent || parent.service === span.service) return false;
    return !from || isService(parent.service, from);
  });
}

// ---------------------------------------------------------------- query API

class QueryError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

function send(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), 'cache-control': 'no-store' });
  res.end(text);
}

function structured(data: unknown, total: number, limit = 0): Record<string, unknown> {
  return { data, total, limit, offset: 0, errors: null };
}

const DURATION_UNITS: Record<string, number> = { ns: 1e-3, us: 1, µs: 1, ms: 1e3, s: 1e6, m: 60e6, h: 3600e6, d: 86400e6 };

/** Go-style durations as Jaeger takes them (`1h`, `2d`, `1.5s`, `100ms`), in microseconds. */
export function parseDurationUs(text: string, name: string): number {
  const re = /(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h|d)/gy;
  let total = 0;
  let matched = 0;
  let m: RegExpExecArray | null;
  while ((m = re.exec(text)) !== null) {
    total += Number(m[1]) * DURATION_UNITS[m[2]];
    matched = re.lastIndex;
  }
  if (text === '' || matched !== text.length)
    throw new QueryError(400, `unable to parse param '${name}': '${text}' is not a duration such as 1h, 30m, 2d or 100ms`);
  return total;
}

function parseTags(url: URL): Record<string, string> {
  const tags: Record<string, string> = {};
  const json = url.searchParams.get('tags');
  if (json) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(json);
    } catch {
      throw new QueryError(400, `unable to parse param 'tags': not a JSON object such as {"error":"true"}`);
    }
    if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed))
      throw new QueryError(400, `unable to parse param 'tags': not a JSON object such as {"error":"true"}`);
    for (const [key, value] of Object.entries(parsed)) tags[key] = String(value);
  }
  for (const tag of url.searchParams.getAll('tag')) {
    const colon = tag.indexOf(':');
    if (colon <= 0) throw new QueryError(400, `malformed 'tag' parameter '${tag}': expected key:value`);
    tags[tag.slice(0, colon)] = tag.slice(colon + 1);
  }
  return tags;
}

function positiveInt(url: URL, name: string, fallback: number): number {
  const raw = url.searchParams.get(name);
  if (raw === null || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 0) throw new QueryError(400, `unable to parse param '${name}': '${raw}' is not a whole number`);
  return value;
}

function search(store: TraceStore, url: URL): { traces: StoredTrace[]; limit: number } {
  const service = url.searchParams.get('service');
  if (!service) throw new QueryError(400, "parameter 'service' is required");
  const operation = url.searchParams.get('operation') || undefined;
  const tags = parseTags(url);
  const tagEntries = Object.entries(tags);
  const limit = positiveInt(url, 'limit', 20) || 20;
  const nowUs = Date.now() * 1000;
  const endUs = url.searchParams.has('end') ? positiveInt(url, 'end', nowUs) : nowUs;
  const lookback = url.searchParams.get('lookback');
  const startUs = url.searchParams.has('start')
    ? positiveInt(url, 'start', 0)
    : lookback && lookback !== 'custom'
      ? endUs - parseDurationUs(lookback, 'lookback')
      : endUs - 3600e6;
  const minDuration = url.searchParams.get('minDuration') ? parseDurationUs(url.searchParams.get('minDuration')!, 'minDuration') : undefined;
  const maxDuration = url.searchParams.get('maxDuration') ? parseDurationUs(url.searchParams.get('maxDuration')!, 'maxDuration') : undefined;

  const found: StoredTrace[] = [];
  for (const trace of store.all()) {
    if (found.length >= limit) break;
    const hit = trace.spans.some(
      (span) =>
        span.service === service &&
        (operation === undefined || span.name === operation) &&
        span.startUs >= startUs &&
        span.startUs <= endUs &&
        (minDuration === undefined || span.durationUs >= minDuration) &&
        (maxDuration === undefined || span.durationUs <= maxDuration) &&
        tagEntries.every(([key, value]) => (key === 'span.kind' ? span.kind === value : key in span.tags && String(span.tags[key]) === value)),
    );
    if (hit) found.push(trace);
  }
  return { traces: found, limit };
}

/**
 * Serves Jaeger's query paths; false when the path is not one of them. `GET /api/traces/summary` (a mesh
 * addition for the trace page) lists recent traces without their spans (`service`, `operation`, `minDuration`, `errors=true`, and `from`/`to`
 * for the traces crossing one edge of the graph; there an app name `web-api` stands for `web-api.<namespace>`).
 */
export function handleJaegerApi(store: TraceStore, req: IncomingMessage, res: ServerResponse, url: URL): boolean {
  const p = url.pathname;
  if (!(
    p === '/api/services' ||
    p === '/api/operations' ||
    p === '/api/traces' ||
    p.startsWith('/api/traces/') ||
    /^\/api\/services\/[^/]+\/operations$/.test(p)
  ))
    return false;
  try {
    if (req.method !== 'GET') throw new QueryError(405, `${req.method} is not supported on ${p}: the trace API is read-only`);
    if (p === '/api/services') {
      const services = store.services();
      send(res, 200, structured(services, services.length));
      return true;
    }
    const opsMatch = /^\/api\/services\/([^/]+)\/operations$/.exec(p);
    if (opsMatch) {
      const names = [...new Set(store.operations(decodeURIComponent(opsMatch[1])).map((o) => o.name))];
      send(res, 200, structured(names, names.length));
      return true;
    }
    if (p === '/api/operations') {
      const service = url.searchParams.get('service');
      if (!service) throw new QueryError(400, "parameter 'service' is required");
      const kind = url.searchParams.get('spanKind');
      const operations = store.operations(service).filter((o) => !kind || o.spanKind === kind);
      send(res, 200, structured(operations, operations.length));
      return true;
    }
    if (p === '/api/traces') {
      const { traces, limit } = search(store, url);
      send(res, 200, structured(traces.map(toJaegerTrace), traces.length, limit));
      return true;
    }
    if (p === '/api/traces/summary') {
      const service = url.searchParams.get('service') || undefined;
      const errorsOnly = url.searchParams.get('errors') === 'true';
      // An edge of the graph: a span of `to` whose parent span is one of `from` (a hop between the two).
      const from = url.searchParams.get('from') || undefined;
      const to = url.searchParams.get('to') || undefined;
      // As Jaeger's search: a span named `operation` (of `service` when given); the trace lasting at least minDuration.
      const operation = url.searchParams.get('operation') || undefined;
      const minDuration = url.searchParams.get('minDuration') ? parseDurationUs(url.searchParams.get('minDuration')!, 'minDuration') : undefined;
      const limit = positiveInt(url, 'limit', 50) || 50;
      const rows: TraceSummary[] = [];
      for (const trace of store.all()) {
        if (rows.length >= limit) break;
        if (service && !trace.spans.some((s) => isService(s.service, service))) continue;
        if (operation && !trace.spans.some((s) => s.name === operation && (!service || isService(s.service, service)))) continue;
        if (errorsOnly && !trace.spans.some((s) => s.error)) continue;
        if ((from || to) && !hasHop(trace, from, to)) continue;
        const summary = summarize(trace);
        if (minDuration !== undefined && summary.duration < minDuration) continue;
        rows.push(summary);
      }
      send(res, 200, { ...structured(rows, rows.length, limit), store: store.stats() });
      return true;
    }
    const id = decodeURIComponent(p.slice('/api/traces/'.length));
    if (!/^([0-9a-fA-F]{16}|[0-9a-fA-F]{32})$/.test(id)) throw new QueryError(400, `'${id.slice(0, 64)}' is not a trace id (16 or 32 hex digits)`);
    const trace = store.get(id);
    if (!trace) throw new QueryError(404, 'trace not found');
    send(res, 200, structured([toJaegerTrace(trace)], 1));
    return true;
  } catch (error) {
    if (!(error instanceof QueryError)) throw error;
    send(res, error.status, { data: null, total: 0, limit: 0, offset: 0, errors: [{ code: error.status, msg: error.message }] });
    return true;
  }
}
