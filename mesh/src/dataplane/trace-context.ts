/**
 * Trace context on the wire: W3C Trace Context and B3 (single and multi-header) read from a request, the trace
 * headers stripped from and found in the upstream request's flat header list, and random span/trace ids.
 */
import { randomFillSync } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

/** Trace headers the mesh reads and rewrites; the services forward the same list (service-kit/context.ts). */
const TRACE_HEADERS = new Set(['traceparent', 'tracestate', 'x-b3-traceid', 'x-b3-spanid', 'x-b3-parentspanid', 'x-b3-sampled', 'x-b3-flags', 'b3']);

// ---------------------------------------------------------------- ids

const idPool = Buffer.allocUnsafe(4096);
let idOffset = idPool.length;
const ZERO_IDS: Record<8 | 16, string> = { 8: '0'.repeat(16), 16: '0'.repeat(32) };

/** Random non-zero hex id of `bytes` bytes, from a pooled buffer (one getrandom call per 256 span ids). */
export function randomId(bytes: 8 | 16): string {
  for (;;) {
    if (idOffset + bytes > idPool.length) {
      randomFillSync(idPool);
      idOffset = 0;
    }
    const id = idPool.toString('hex', idOffset, idOffset + bytes);
    idOffset += bytes;
    if (id !== ZERO_IDS[bytes]) return id;
  }
}

// ---------------------------------------------------------------- context

export interface TraceContext {
  traceId: string;
  /** The caller's span id, when it sent one. */
  parentId?: string;
  /** undefined: the caller made no decision. */
  sampled?: boolean;
  tracestate?: string;
  /** The caller used the single `b3` header: it is written back in that form too. */
  b3Single: boolean;
}

const HEX16 = /^[0-9a-f]{16}$/;
const TRACEPARENT = /^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}(?:-.*)?$/;
const HEX_TRACE = /^([0-9a-f]{16}|[0-9a-f]{32})$/;
const ZERO = /^0+$/;

export function first(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

/** A 64-bit B3 trace id is left-padded to W3C's 128 bits (as Envoy and the OpenTelemetry B3 propagator do). */
function traceId128(id: string): string {
  return id.length === 16 ? `0000000000000000${id}` : id;
}

/** W3C Trace Context (version 00 and future versions read as 00), then B3 single, then B3 multi-header. */
export function readTraceContext(headers: IncomingMessage['headers']): TraceContext | { sampled: boolean } | undefined {
  const traceparent = first(headers.traceparent)?.trim().toLowerCase();
  // version-traceid-parentid-flags[-future]: fixed offsets 0, 3, 36, 53; tested once, then sliced.
  if (traceparent && TRACEPARENT.test(traceparent)) {
    const version = traceparent.slice(0, 2);
    const traceId = traceparent.slice(3, 35);
    const parentId = traceparent.slice(36, 52);
    if (version !== 'ff' && !(version === '00' && traceparent.length > 55) && traceId !== ZERO_IDS[16] && parentId !== ZERO_IDS[8]) {
      const tracestate = first(headers.tracestate);
      return { traceId, parentId, sampled: (parseInt(traceparent.slice(53, 55), 16) & 1) === 1, tracestate: tracestate || undefined, b3Single: false };
    }
  }
  const b3 = first(headers.b3)?.trim().toLowerCase();
  if (b3) {
    if (b3 === '0' || b3 === '1' || b3 === 'd') return { sampled: b3 !== '0' };
    const [traceId, spanId, sampling] = b3.split('-');
    if (traceId && spanId && HEX_TRACE.test(traceId) && HEX16.test(spanId) && !ZERO.test(traceId)) {
      return { traceId: traceId128(traceId), parentId: spanId, sampled: sampling === undefined ? undefined : sampling !== '0', b3Single: true };
    }
  }
  const b3TraceId = first(headers['x-b3-traceid'])?.trim().toLowerCase();
  const b3Sampled = first(headers['x-b3-sampled'])?.trim().toLowerCase();
  const debug = first(headers['x-b3-flags']) === '1';
  const sampled = debug ? true : b3Sampled === undefined ? undefined : b3Sampled === '1' || b3Sampled === 'true';
  if (b3TraceId && HEX_TRACE.test(b3TraceId) && !ZERO.test(b3TraceId)) {
    const spanId = first(headers['x-b3-spanid'])?.trim().toLowerCase();
    return { traceId: traceId128(b3TraceId), parentId: spanId && HEX16.test(spanId) ? spanId : undefined, sampled, b3Single: false };
  }
  return sampled === undefined ? undefined : { sampled };
}

/** Removes every trace header from a flat [name, value, ...] list in one pass. */
export function stripTraceHeaders(headers: string[]): void {
  let out = 0;
  for (let i = 0; i < headers.length; i += 2) {
    if (TRACE_HEADERS.has(headers[i].toLowerCase())) continue;
    headers[out] = headers[i];
    headers[out + 1] = headers[i + 1];
    out += 2;
  }
  headers.length = out;
}

export function headerValue(headers: string[], name: string): string | undefined {
  for (let i = 0; i < headers.length; i += 2) if (headers[i].length === name.length && headers[i].toLowerCase() === name) return headers[i + 1];
  return undefined;
}
