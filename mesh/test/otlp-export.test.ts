/**
 * OTLP/HTTP export with OpenTelemetry's exporter: spans from a real data plane (in its own process, see
 * fixtures/otlp) reach a real HTTP receiver started here, which decodes the OTLP JSON the exporter sends (resource
 * service.name per proxy, ids, parents, kinds, times, attributes, error status).
 */
import http from 'node:http';
import type net from 'node:net';
import path from 'node:path';
import { spawnNode } from '@cns/service-kit/testing';
import { OtlpSpanExport, otlpTracesUrl } from '../src/telemetry/otlp-export';

interface OtlpAttribute {
  key: string;
  value: { stringValue?: string; boolValue?: boolean; intValue?: string | number; doubleValue?: number };
}
interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: number;
  startTimeUnixNano: string;
  endTimeUnixNano: string;
  attributes: OtlpAttribute[];
  status: { code?: number };
}
interface OtlpRequest {
  resourceSpans: Array<{ resource: { attributes: OtlpAttribute[] }; scopeSpans: Array<{ scope: { name: string }; spans: OtlpSpan[] }> }>;
}

const TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';
const PARENT = '00f067aa0ba902b7';
let receiver: http.Server;
let receiverUrl: string;
const received: Array<{ path: string; contentType: string; body: OtlpRequest }> = [];

beforeAll(async () => {
  receiver = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      received.push({
        path: req.url ?? '',
        contentType: String(req.headers['content-type']),
        body: JSON.parse(Buffer.concat(chunks).toString()) as OtlpRequest,
      });
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  receiverUrl = `http://127.0.0.1:${(receiver.address() as net.AddressInfo).port}`;
});
afterEach(() => {
  received.length = 0;
});
afterAll(async () => {
  receiver.closeAllConnections();
  await new Promise((resolve) => receiver.close(resolve));
});

const attr = (attributes: OtlpAttribute[], key: string) => {
  const v = attributes.find((a) => a.key === key)?.value;
  return v?.stringValue ?? v?.boolValue ?? v?.intValue ?? v?.doubleValue;
};

test('the standard variables name the endpoint; /v1/traces is appended to the base one', () => {
  expect(otlpTracesUrl({})).toBeUndefined();
  expect(otlpTracesUrl({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://localhost:4318/' })).toBe('http://localhost:4318/v1/traces');
  expect(otlpTracesUrl({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://a:4318', OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://b:4318/custom' })).toBe(
    'http://b:4318/custom',
  );
  expect(() => new OtlpSpanExport('localhost:4318')).toThrow(/must be http:\/\/ or https:\/\//);
  expect(() => new OtlpSpanExport('not a url')).toThrow(/is not a URL/);
});

/** Runs the fixture process against `endpoint`; resolves with its stdout lines once it exited. */
async function runFixture(endpoint: string): Promise<string[]> {
  const proc = spawnNode(path.join(__dirname, 'fixtures/otlp/send-traced-request.ts'), {
    tsx: true,
    env: { OTEL_EXPORTER_OTLP_ENDPOINT: endpoint, TEST_TRACEPARENT: `00-${TRACE}-${PARENT}-01` },
  });
  const code = await proc.exited;
  if (code !== 0) throw new Error(`fixture exited with ${code}: ${proc.stderr()}`);
  return proc.stdoutLines;
}

test('spans of a proxied request reach an OTLP/HTTP receiver as OTLP JSON', async () => {
  const lines = await runFixture(receiverUrl);
  expect(lines).toContain('status 503');
  expect(lines.filter((l) => l.startsWith('log '))).toEqual([]);

  expect(received.length).toBeGreaterThan(0);
  expect(received[0].path).toBe('/v1/traces');
  expect(received[0].contentType).toMatch(/application\/json/);
  const spans = new Map<string, { service: string; span: OtlpSpan; scope: string }>();
  for (const request of received) {
    for (const rs of request.body.resourceSpans) {
      const serviceName = String(attr(rs.resource.attributes, 'service.name'));
      for (const ss of rs.scopeSpans) for (const span of ss.spans) spans.set(span.spanId, { service: serviceName, span, scope: ss.scope.name });
    }
  }
  // Gateway server span, its router span (Istio's default retries do not retry a 503 answer), authors' server span.
  expect(spans.size).toBe(3);
  const all = [...spans.values()];
  const edge = all.find((s) => s.span.parentSpanId === PARENT)!;
  const router = all.find((s) => s.span.parentSpanId === edge.span.spanId)!;
  const callee = all.find((s) => s.span.parentSpanId === router.span.spanId)!;
  expect([edge.service, edge.span.kind, edge.span.name]).toEqual(['istio-ingressgateway.istio-system', 2, 'authors.default.svc.cluster.local:3000/*']);
  expect([router.service, router.span.kind, router.span.name]).toEqual([
    'istio-ingressgateway.istio-system',
    3,
    'router outbound|3000||authors.default.svc.cluster.local egress',
  ]);
  expect([callee.service, callee.span.kind]).toEqual(['authors.default', 2]);
  for (const { span, scope } of all) {
    expect(span.traceId).toBe(TRACE);
    expect(scope).toBe('@cns/mesh');
    expect(BigInt(span.endTimeUnixNano)).toBeGreaterThanOrEqual(BigInt(span.startTimeUnixNano));
    expect(Number(BigInt(span.startTimeUnixNano) / 1_000_000n)).toBeGreaterThan(Date.now() - 60_000);
    // Every span is a 503 here: status ERROR (2) and Envoy's tags.
    expect(span.status.code).toBe(2);
    expect(attr(span.attributes, 'http.status_code')).toBe('503');
    expect(attr(span.attributes, 'error')).toBe(true);
  }
  expect(attr(edge.span.attributes, 'upstream_cluster')).toBe('outbound|3000||authors.default.svc.cluster.local');
}, 30_000);

test('an unreachable collector is logged once and never breaks traffic', async () => {
  const dead = http.createServer();
  await new Promise<void>((resolve) => dead.listen(0, '127.0.0.1', resolve));
  const deadUrl = `http://127.0.0.1:${(dead.address() as net.AddressInfo).port}`;
  await new Promise((resolve) => dead.close(resolve));
  const lines = await runFixture(deadUrl);
  expect(lines).toContain('status 503');
  const logs = lines.filter((l) => l.startsWith('log '));
  expect(logs).toHaveLength(1);
  expect(logs[0]).toContain(`OTLP trace export to ${deadUrl}/v1/traces failed`);
}, 30_000);
