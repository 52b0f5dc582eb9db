/**
 * The mesh's trace store: the last traces in memory, bounded in count and in bytes. Jaeger's query API over it is
 * ./jaeger-api.ts.
 */
import type { SpanData, SpanSink } from '../model';

export interface TraceStoreOptions {
  /** Traces kept (oldest dropped first). Default env MESH_TRACE_MAX_TRACES, else 1000. */
  maxTraces?: number;
  /** Approximate bytes of span data kept. Default env MESH_TRACE_MAX_BYTES, else 16 MiB. */
  maxBytes?: number;
  /** Spans kept per trace; later ones are counted in the trace's warnings. Default 2000. */
  maxSpansPerTrace?: number;
}

export interface StoredTrace {
  traceId: string;
  spans: SpanData[];
  bytes: number;
  dropped: number;
}

/** Rough in-memory size of a span: its strings plus a fixed overhead per field. */
function spanBytes(span: SpanData): number {
  let bytes = 200 + span.traceId.length + span.spanId.length + (span.parentSpanId?.length ?? 0) + span.name.length + span.service.length;
  for (const key in span.tags) bytes += 40 + key.length + String(span.tags[key]).length;
  return bytes;
}

function envInt(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 1) throw new Error(`${name}=${raw} is not a positive whole number`);
  return value;
}

export class TraceStore implements SpanSink {
  readonly maxTraces: number;
  readonly maxBytes: number;
  readonly maxSpansPerTrace: number;
  /** Insertion order = order of the latest span: the first entry is the one to drop. */
  private readonly traces = new Map<string, StoredTrace>();
  private bytes = 0;

  constructor(options: TraceStoreOptions = {}) {
    this.maxTraces = options.maxTraces ?? envInt('MESH_TRACE_MAX_TRACES', 1000);
    this.maxBytes = options.maxBytes ?? envInt('MESH_TRACE_MAX_BYTES', 16 * 1024 * 1024);
    this.maxSpansPerTrace = options.maxSpansPerTrace ?? 2000;
  }

  onSpan(span: SpanData): void {
    let trace = this.traces.get(span.traceId);
    if (trace) {
      this.traces.delete(span.traceId);
    } else {
      trace = { traceId: span.traceId, spans: [], bytes: 0, dropped: 0 };
    }
    this.traces.set(span.traceId, trace);
    if (trace.spans.length >= this.maxSpansPerTrace) {
      trace.dropped++;
      return;
    }
    const size = spanBytes(span);
    trace.spans.push(span);
    trace.bytes += size;
    this.bytes += size;
    this.evict(trace);
  }

  private evict(keep: StoredTrace): void {
    // Checked before iterating: under the bounds (every span but a few) no iterator is made.
    if (this.traces.size <= this.maxTraces && this.bytes <= this.maxBytes) return;
    for (const [id, trace] of this.traces) {
      if (this.traces.size <= this.maxTraces && this.bytes <= this.maxBytes) return;
      if (trace === keep) {
        // The newest trace alone is over the byte bound: drop its oldest spans instead.
        while (this.bytes > this.maxBytes && trace.spans.length > 1) {
          const removed = trace.spans.shift()!;
          const size = spanBytes(removed);
          trace.bytes -= size;
          this.bytes -= size;
          trace.dropped++;
        }
        return;
      }
      this.traces.delete(id);
      this.bytes -= trace.bytes;
    }
  }

  stats(): { traces: number; spans: number; bytes: number; maxTraces: number; maxBytes: number } {
    let spans = 0;
    for (const trace of this.traces.values()) spans += trace.spans.length;
    return { traces: this.traces.size, spans, bytes: this.bytes, maxTraces: this.maxTraces, maxBytes: this.maxBytes };
  }

  get(traceId: string): StoredTrace | undefined {
    const id = traceId.toLowerCase();
    return this.traces.get(id.length === 16 ? `0000000000000000${id}` : id);
  }

  /** Newest first. */
  all(): StoredTrace[] {
    return [...this.traces.values()].reverse();
  }

  services(): string[] {
    const names = new Set<string>();
    for (const trace of this.traces.values()) for (const span of trace.spans) names.add(span.service);
    return [...names].sort();
  }

  operations(service: string): Array<{ name: string; spanKind: string }> {
    const seen = new Map<string, string>();
    for (const trace of this.traces.values())
      for (const span of trace.spans) if (span.service === service) seen.set(`${span.name}\u0000${span.kind}`, span.kind);
    return [...seen.keys()].map((key) => ({ name: key.split('\u0000')[0], spanKind: seen.get(key)! })).sort((a, b) => a.name.localeCompare(b.name));
  }
}
