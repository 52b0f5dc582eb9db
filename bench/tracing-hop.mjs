#!/usr/bin/env node
// Tracing's CPU per sidecar hop, in-process: the mesh's tracer (start, inject, attempt, end, finish: the caller's
// client span and the callee's server span) with the mesh's TraceStore as the sink, as web-api's author calls of one
// getmultiple (six hops sharing a trace). 5 rounds of 200,000 hops after 50,000 warm-up, process.cpuUsage.
//
//   node bench/tracing-hop.mjs [CHECKOUT]      (built: mesh/dist; default this checkout)
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';

const require = createRequire(import.meta.url);
const root = path.resolve(process.argv[2] ?? path.join(path.dirname(new URL(import.meta.url).pathname), '..'));
const { createTracing } = require(`${root}/mesh/dist/dataplane/tracing.js`);
// The trace store moved from runtime/ to telemetry/ in the issue-21 re-cut; an older checkout has it in runtime/.
const tracesModule = ['telemetry/traces.js', 'runtime/traces.js'].map((file) => `${root}/mesh/dist/${file}`).find((file) => existsSync(file));
const { TraceStore } = require(tracesModule);
const store = new TraceStore();
const wl = {
  name: 'web-api-v1',
  namespace: 'default',
  labels: { app: 'web-api', version: 'v1' },
  app: 'web-api',
  version: 'v1',
  serviceAccount: 'web-api',
  replicas: 1,
};
const target = {
  name: 'authors-v1',
  namespace: 'default',
  labels: { app: 'authors', version: 'v1' },
  app: 'authors',
  version: 'v1',
  serviceAccount: 'authors',
  replicas: 1,
};
const tracing = createTracing({ kind: 'sidecar', workload: wl }, { samplingPercent: 100, sink: store });
const endpoint = { id: 'authors-v1-0', workload: target, host: '127.0.0.1', port: 40001, ready: true };
const cluster = { key: 'outbound|3000||authors.default.svc.cluster.local', serviceFqdn: 'authors.default.svc.cluster.local' };
const destination = { cluster, weight: 100 };
const route = { kind: 'route', destinations: [destination], name: 'authors', virtualService: 'authors' };
const block = { tracePath: '/*' };
const hex = (n) => [...Array(n)].map(() => '0123456789abcdef'[Math.floor(Math.random() * 16)]).join('');
function hop(i) {
  // Each getmultiple's author calls share one trace (web-api forwards the headers it got).
  const traceId = traceIds[((i / 6) | 0) % traceIds.length];
  const req = {
    headers: {
      host: 'authors:3000',
      'user-agent': 'axios/1.13.2',
      accept: 'application/json, text/plain, */*',
      'x-request-id': 'c0ffee00-1111-2222-3333-444455556666',
      traceparent: `00-${traceId}-a1b2c3d4e5f60718-01`,
      'x-b3-traceid': traceId,
      'x-b3-spanid': 'a1b2c3d4e5f60718',
      'x-b3-sampled': '1',
    },
    socket: { remoteAddress: '127.0.0.1' },
    method: 'GET',
  };
  const trace = tracing.start(req);
  const headers = [
    'user-agent',
    'axios/1.13.2',
    'accept',
    'application/json, text/plain, */*',
    'x-request-id',
    'c0ffee00-1111-2222-3333-444455556666',
    'traceparent',
    req.headers.traceparent,
    'x-b3-traceid',
    traceId,
    'x-b3-spanid',
    'a1b2c3d4e5f60718',
    'x-b3-sampled',
    '1',
    'host',
    'authors:3000',
    'x-forwarded-proto',
    'http',
  ];
  trace.inject(headers, '/api/v1/getauthor?name=Ada%20Quill');
  const attempt = trace.attempt(endpoint, cluster.key);
  attempt.end(200);
  trace.finish({
    status: 200,
    flags: '-',
    route,
    block,
    destination,
    port: 3000,
    authority: 'authors:3000',
    path: '/api/v1/getauthor?name=Ada%20Quill',
    method: 'GET',
  });
}
let traceIds = Array.from({ length: 4096 }, () => hex(32));
const N = 200_000;
for (let i = 0; i < 50_000; i++) hop(i);
const results = [];
for (let r = 0; r < 5; r++) {
  traceIds = Array.from({ length: 4096 }, () => hex(32));
  const t0 = process.cpuUsage();
  for (let i = 0; i < N; i++) hop(i);
  const t = process.cpuUsage(t0);
  results.push(((t.user + t.system) / N).toFixed(2));
}
console.log(`${root}: µs of CPU per sidecar hop (tracing + trace store), 5 rounds × ${N}: ${results.join(' ')}`);
