/**
 * Where the proxies' finished spans go: always the in-memory trace store (Jaeger API on the admin port), and over
 * OTLP/HTTP too when `OTEL_EXPORTER_OTLP_(TRACES_)ENDPOINT` is set.
 */
import type { SpanData, SpanSink } from '../model';
import { OtlpSpanExport, otlpTracesUrl } from './otlp-export';
import { TraceStore, type TraceStoreOptions } from './trace-store';

export interface SpanPipeline {
  traces: TraceStore;
  /** Where spans are also exported, if anywhere. */
  otlpUrl?: string;
  sink: SpanSink;
  /** Sends the spans still queued for OTLP, bounded so a dead collector cannot hold the stop. */
  flush(): Promise<void>;
}

/** Throws (with a message naming the setting) on bad store bounds or an OTLP endpoint that is not an http(s) URL. */
export function createSpanPipeline(
  storeOptions: TraceStoreOptions | undefined,
  log: (message: string) => void,
  env: NodeJS.ProcessEnv = process.env,
): SpanPipeline {
  const traces = new TraceStore(storeOptions);
  const otlpUrl = otlpTracesUrl(env);
  const otlp = otlpUrl ? new OtlpSpanExport(otlpUrl, log) : undefined;
  const sink: SpanSink = otlp
    ? {
        onSpan: (span: SpanData) => {
          traces.onSpan(span);
          otlp.onSpan(span);
        },
      }
    : traces;
  const flush = async (): Promise<void> => {
    if (!otlp) return;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([otlp.shutdown().catch(() => undefined), new Promise<void>((resolve) => (timer = setTimeout(resolve, 3000)))]);
    clearTimeout(timer);
  };
  return { traces, otlpUrl, sink, flush };
}
