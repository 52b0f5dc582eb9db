/**
 * Optional export of the mesh's spans over OTLP/HTTP (JSON) with OpenTelemetry's own exporter and batch processor,
 * so a user's Jaeger, Tempo or collector receives them. On when `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` or
 * `OTEL_EXPORTER_OTLP_ENDPOINT` is set (the standard variables; `/v1/traces` is appended to the latter, as the
 * OpenTelemetry SDKs do). The exporter's other standard variables (`OTEL_EXPORTER_OTLP_HEADERS`, `_TIMEOUT`,
 * `OTEL_BSP_*`) apply as usual.
 */
import { SpanKind, SpanStatusCode, TraceFlags, createTraceState, type HrTime } from '@opentelemetry/api';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes, type Resource } from '@opentelemetry/resources';
import { BatchSpanProcessor, type ReadableSpan, type SpanExporter } from '@opentelemetry/sdk-trace-base';
import { ATTR_SERVICE_NAME } from '@opentelemetry/semantic-conventions';
import type { SpanData, SpanSink } from '../model';

const SCOPE = { name: '@cns/mesh', version: '1.0.0' };

function hrTime(us: number): HrTime {
  return [Math.floor(us / 1e6), Math.round((us % 1e6) * 1000)];
}

/** The endpoint the standard variables name, or undefined when export is off. */
export function otlpTracesUrl(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const traces = env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT?.trim();
  if (traces) return traces;
  const base = env.OTEL_EXPORTER_OTLP_ENDPOINT?.trim();
  if (!base) return undefined;
  return `${base.replace(/\/+$/, '')}/v1/traces`;
}

export class OtlpSpanExport implements SpanSink {
  private readonly processor: BatchSpanProcessor;
  private readonly resources = new Map<string, Resource>();
  private lastFailureLog = 0;

  constructor(
    readonly url: string,
    log: (message: string) => void = () => undefined,
    options: { scheduledDelayMillis?: number } = {},
  ) {
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      throw new Error(`OTLP endpoint '${url}' is not a URL (set OTEL_EXPORTER_OTLP_ENDPOINT to e.g. http://localhost:4318)`);
    }
    if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw new Error(`OTLP endpoint '${url}' must be http:// or https:// (OTLP/HTTP)`);
    const exporter = new OTLPTraceExporter({ url });
    // Failures are reported by the batch processor to OpenTelemetry's silent default handler: say so, at most every 30 s.
    const reporting: SpanExporter = {
      export: (spans, done) =>
        exporter.export(spans, (result) => {
          if (result.code !== 0 && Date.now() - this.lastFailureLog > 30_000) {
            this.lastFailureLog = Date.now();
            log(`OTLP trace export to ${url} failed: ${result.error?.message ?? 'unknown error'} (spans stay on the admin's /traces)`);
          }
          done(result);
        }),
      shutdown: () => exporter.shutdown(),
      forceFlush: () => exporter.forceFlush(),
    };
    this.processor = new BatchSpanProcessor(reporting, { scheduledDelayMillis: options.scheduledDelayMillis ?? 1000 });
  }

  onSpan(span: SpanData): void {
    this.processor.onEnd(this.toReadable(span));
  }

  forceFlush(): Promise<void> {
    return this.processor.forceFlush();
  }

  shutdown(): Promise<void> {
    return this.processor.shutdown();
  }

  private resource(service: string): Resource {
    let resource = this.resources.get(service);
    if (!resource) {
      resource = resourceFromAttributes({ [ATTR_SERVICE_NAME]: service });
      this.resources.set(service, resource);
    }
    return resource;
  }

  private toReadable(span: SpanData): ReadableSpan {
    const traceState = span.tracestate ? createTraceState(span.tracestate) : undefined;
    const context = { traceId: span.traceId, spanId: span.spanId, traceFlags: TraceFlags.SAMPLED, traceState };
    return {
      name: span.name,
      kind: span.kind === 'server' ? SpanKind.SERVER : SpanKind.CLIENT,
      spanContext: () => context,
      parentSpanContext: span.parentSpanId ? { traceId: span.traceId, spanId: span.parentSpanId, traceFlags: TraceFlags.SAMPLED, isRemote: true } : undefined,
      startTime: hrTime(span.startUs),
      endTime: hrTime(span.startUs + span.durationUs),
      duration: hrTime(span.durationUs),
      status: span.error ? { code: SpanStatusCode.ERROR } : { code: SpanStatusCode.UNSET },
      attributes: span.tags,
      links: [],
      events: [],
      ended: true,
      resource: this.resource(span.service),
      instrumentationScope: SCOPE,
      droppedAttributesCount: 0,
      droppedEventsCount: 0,
      droppedLinksCount: 0,
    };
  }
}
