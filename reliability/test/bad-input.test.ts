/**
 * The bad-input corpus (reliability/corpus/*.json) replayed through the mesh's ingress gateway and directly
 * against every service process, then the live security checks on the same running mesh: listening addresses,
 * helmet headers, CORS, the admin API. Needs `npm run build`.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { MeshHandle } from '@cns/mesh';
import {
  ResultTable,
  isLoopbackAddress,
  listeningSockets,
  quantile,
  rawRequest,
  readyEndpoints,
  startStack,
  withDescendants,
  type RawResponse,
  type Stack,
} from '../src';

interface CorpusCase {
  name: string;
  service: 'articles' | 'authors' | 'web-api' | 'web-app';
  method: string;
  path: string;
  headers: Array<[string, string | null]>;
  body?: string;
  expect: '2xx' | '4xx';
  rejectedBy?: 'http-parser' | 'gateway' | 'static-server';
  via?: Array<'gateway' | 'direct'>;
  mustNotContain?: string[];
}

interface Target {
  name: string;
  port: number;
}

const corpusDir = path.resolve(__dirname, '../corpus');
const corpusFiles = fs
  .readdirSync(corpusDir)
  .filter((f) => f.endsWith('.json'))
  .sort();
const corpus: Array<CorpusCase & { file: string }> = corpusFiles.flatMap((file) =>
  (JSON.parse(fs.readFileSync(path.join(corpusDir, file), 'utf8')) as CorpusCase[]).map((c) => ({ ...c, file })),
);

/** `{{c*N}}` → N × c (keeps long values out of the JSON files). */
const expand = (text: string): string => text.replace(/\{\{(.)\*(\d+)\}\}/g, (_, ch: string, n: string) => ch.repeat(Number(n)));

/** Stack frames, source paths, module paths: nothing of the server's insides may reach a client. */
const STACK_TRACE =
  /\bat [\w$.<>]+ \(|\bat (?:async )?\/|\/(?:work|home|root|usr|app|srv)\/|node_modules|\.(?:js|ts|mjs|cjs):\d+|\bTypeError\b|\bReferenceError\b|\bSyntaxError: /;

const table = new ResultTable('bad-input-and-security');
let stack: Stack;
let mesh: MeshHandle;

beforeAll(async () => {
  stack = await startStack();
  mesh = stack.mesh;
}, 180_000);

afterAll(async () => {
  table.flush();
  await stack?.stop();
}, 60_000);

function targetsFor(c: CorpusCase): Target[] {
  const via = c.via ?? (c.service === 'web-api' ? ['gateway', 'direct'] : c.service === 'web-app' ? ['gateway'] : ['direct']);
  const targets: Target[] = [];
  if (via.includes('gateway')) targets.push({ name: 'gateway', port: Number(new URL(mesh.gatewayUrl).port) });
  if (via.includes('direct')) {
    const workloads = c.service === 'web-api' ? ['web-api-v1', 'web-api-v2'] : [c.service];
    for (const workload of workloads) for (const e of readyEndpoints(mesh, workload)) targets.push({ name: workload, port: e.port });
  }
  return targets;
}

/** What is wrong with one answer, or undefined when it is what the case expects. */
function problemWith(c: CorpusCase, target: Target, answer: RawResponse): string | undefined {
  if (answer.noAnswer) return `no answer (${answer.noAnswer})`;
  if (answer.status >= 500) return `${answer.status}: ${answer.body.slice(0, 120)}`;
  if (STACK_TRACE.test(answer.body)) return `internals in the body: ${answer.body.match(STACK_TRACE)![0]}`;
  const leaked = c.mustNotContain?.find((text) => answer.body.includes(text));
  if (leaked !== undefined) return `the body contains ${JSON.stringify(leaked)}`;
  const statusClass = `${Math.floor(answer.status / 100)}xx`;
  if (statusClass !== c.expect) return `expected ${c.expect}, got ${answer.status}: ${answer.body.slice(0, 120)}`;
  if (answer.status < 400) return undefined;
  const contentType = answer.headers['content-type'] ?? '';
  if (contentType.includes('application/json')) {
    try {
      const body = JSON.parse(answer.body) as { message?: unknown };
      return typeof body.message === 'string' && body.message !== '' ? undefined : `JSON error without a message: ${answer.body.slice(0, 120)}`;
    } catch {
      return `invalid JSON error body: ${answer.body.slice(0, 120)}`;
    }
  }
  // Who may answer without a JSON body: Node's HTTP parser (431, 400 with an empty body), the gateway's own
  // Envoy-style text replies, the static web server's pages.
  if (c.rejectedBy === 'http-parser') return undefined;
  if (c.rejectedBy === 'static-server') return undefined;
  if (c.rejectedBy === 'gateway' && target.name === 'gateway' && contentType.startsWith('text/plain') && answer.body.trim() !== '') return undefined;
  return `4xx without a JSON error body (${contentType || 'no content type'}): ${answer.body.slice(0, 120)}`;
}

async function inParallel<T, R>(items: readonly T[], concurrency: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < items.length) {
        const index = next++;
        results[index] = await fn(items[index]);
      }
    }),
  );
  return results;
}

describe('bad input corpus', () => {
  it('has at least 200 cases across every public route', () => {
    expect(corpus.length).toBeGreaterThanOrEqual(200);
    for (const route of [
      '/articles/v1/getmultiple',
      '/articles/v1/getone',
      '/articles/v1/create',
      '/api/v1/getauthor',
      '/api/v1/getauthors',
      '/web-api/v1/getmultiple',
      '/web-api/v1/create',
      '/openapi',
    ]) {
      expect(corpus.filter((c) => c.path.startsWith(route)).length).toBeGreaterThanOrEqual(3);
    }
  });

  it(
    'every answer is the expected 2xx or a 4xx with a message; 0 × 5xx, no stack traces, every process alive and healthy',
    () =>
      table.run('bad input corpus (gateway + direct)', async (row) => {
        const pidsBefore = new Map(mesh.endpoints().map((e) => [e.id, e.pid]));
        const runs = corpus.flatMap((c) => targetsFor(c).map((target) => ({ c, target })));
        const started = performance.now();
        const results = await inParallel(runs, 4, async ({ c, target }) => {
          const t0 = performance.now();
          const answer = await rawRequest('127.0.0.1', target.port, {
            method: c.method,
            path: expand(c.path),
            headers: c.headers.map(([name, value]): [string, string | null] => [name, value === null ? null : expand(value)]),
            body: c.body === undefined ? undefined : expand(c.body),
          });
          return { c, target, answer, ms: performance.now() - t0, problem: problemWith(c, target, answer) };
        });
        const problems = results.filter((r) => r.problem).map((r) => `${r.c.file} "${r.c.name}" via ${r.target.name}: ${r.problem}`);
        row.requests = results.length;
        row.failures = problems.length;
        row.p99Ms = quantile(
          results.map((r) => r.ms),
          0.99,
        );
        const byStatus = new Map<number, number>();
        for (const r of results) byStatus.set(r.answer.status, (byStatus.get(r.answer.status) ?? 0) + 1);
        row.note = `${corpus.length} cases in ${Math.round((performance.now() - started) / 1000)} s; statuses ${[...byStatus]
          .sort(([a], [b]) => a - b)
          .map(([s, n]) => `${s}×${n}`)
          .join(' ')}`;
        expect(problems).toEqual([]);

        // No process crashed or restarted, and each still answers its probe.
        const after = mesh.endpoints();
        expect(after.map((e) => [e.id, e.pid, e.restarts, e.ready])).toEqual([...pidsBefore].map(([id, pid]) => [id, pid, 0, true]));
        // postgres speaks the Postgres protocol, not HTTP: its readiness (a session) is in `ready` above.
        for (const endpoint of after.filter((e) => e.app !== 'postgres')) {
          const health = await fetch(`http://127.0.0.1:${endpoint.port}/healthz`);
          expect(health.status).toBe(200);
        }
        const [front] = await Promise.all([fetch(`${mesh.gatewayUrl}/web-api/v1/getmultiple`)]);
        expect(front.status).toBe(200);
      }),
    120_000,
  );
});

describe('security of the running mesh', () => {
  it('backends listen on 127.0.0.1 only; the gateway and admin port bind loopback too', () =>
    table.run('listening sockets: loopback only', async (row) => {
      const endpoints = mesh.endpoints();
      const pids = withDescendants(endpoints.map((e) => e.pid!));
      const backendSockets = listeningSockets(pids);
      const meshSockets = listeningSockets([process.pid]);
      const gatewayPort = Number(new URL(mesh.gatewayUrl).port);
      const adminPort = Number(new URL(mesh.adminUrl).port);
      row.requests = backendSockets.length + meshSockets.length;
      const exposed = [...backendSockets, ...meshSockets].filter((s) => !isLoopbackAddress(s.address));
      row.failures = exposed.length;
      row.note = `${backendSockets.length} backend sockets on ${[...new Set(backendSockets.map((s) => s.address))].join(', ')}`;
      // Every endpoint's port is among its process tree's sockets (the check sees what it should).
      for (const e of endpoints) expect(backendSockets.map((s) => s.port)).toContain(e.port);
      expect(meshSockets.map((s) => s.port)).toEqual(expect.arrayContaining([gatewayPort, adminPort]));
      expect(exposed).toEqual([]);
    }));

  it('security headers per answer (API list on JSON, helmet on pages and 404s) and no x-powered-by on every service (direct and through the gateway), CORS closed', () =>
    table.run('security headers + CORS closed', async (row) => {
      const problems: string[] = [];
      const evil = 'https://evil.example';
      const targets = [
        // HTTP services only (postgres is a TCP workload).
        ...mesh
          .endpoints()
          .filter((e) => e.app !== 'postgres')
          .map((e) => ({
            name: e.id,
            url: `http://127.0.0.1:${e.port}`,
            paths: e.app === 'web-app' ? ['/', '/no/such/page'] : ['/healthz', '/no/such/route'],
            node: e.app !== 'web-app',
          })),
        { name: 'gateway → web-api', url: mesh.gatewayUrl, paths: ['/web-api/v1/getmultiple', '/web-api/v1/getmultiple/no-such-route'], node: true },
        { name: 'gateway → web-app', url: mesh.gatewayUrl, paths: ['/', '/no/such/page'], node: false },
      ];
      for (const target of targets) {
        for (const p of target.paths) {
          const response = await fetch(`${target.url}${p}`, { headers: { origin: evil } });
          await response.arrayBuffer();
          row.requests++;
          const h = response.headers;
          const expectHeader = (name: string, test: (v: string) => boolean) => {
            const value = h.get(name);
            if (value === null || !test(value)) problems.push(`${target.name} ${p}: ${name} = ${value}`);
          };
          if (h.get('x-powered-by') !== null) problems.push(`${target.name} ${p}: x-powered-by ${h.get('x-powered-by')}`);
          if (h.get('access-control-allow-origin') !== null) problems.push(`${target.name} ${p}: CORS open (${h.get('access-control-allow-origin')})`);
          expectHeader('x-content-type-options', (v) => v === 'nosniff');
          expectHeader('x-frame-options', (v) => /deny|sameorigin/i.test(v));
          expectHeader('referrer-policy', (v) => v !== '');
          // service-kit/README.md "Security headers": a JSON API answer (the first path of a Node target) runs
          // nothing in a browser (default-src 'none'); a page or a 404 a browser shows gets helmet's set.
          const apiAnswer = target.node && p === target.paths[0];
          expectHeader('content-security-policy', (v) => v.includes(apiAnswer ? "default-src 'none'" : "default-src 'self'"));
          if (target.node) {
            // helmet's defaults beyond what nginx sets.
            expectHeader('strict-transport-security', (v) => v.includes('max-age'));
            expectHeader('cross-origin-resource-policy', (v) => v === 'same-origin');
            if (!apiAnswer) expectHeader('cross-origin-opener-policy', (v) => v === 'same-origin');
          }
        }
        // A CORS preflight from a foreign origin gets no allow headers.
        const preflight = await fetch(`${target.url}${target.paths[0]}`, {
          method: 'OPTIONS',
          headers: { origin: evil, 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type' },
        });
        await preflight.arrayBuffer();
        row.requests++;
        for (const name of ['access-control-allow-origin', 'access-control-allow-methods', 'access-control-allow-credentials']) {
          if (preflight.headers.get(name) !== null) problems.push(`${target.name} preflight: ${name} = ${preflight.headers.get(name)}`);
        }
      }
      row.failures = problems.length;
      expect(problems).toEqual([]);
    }));

  it('the admin API refuses objects Istio validation refuses (422 with findings) and keeps the last good config', () =>
    table.run('admin API rejects invalid objects', async (row) => {
      const invalid = JSON.stringify({
        apiVersion: 'networking.istio.io/v1',
        kind: 'VirtualService',
        metadata: { name: 'web-ingress' },
        spec: { hosts: ['*'], gateways: ['web-gateway'], http: [{ route: [{ destination: { host: 'web-api', subset: 'v2' }, weight: -1 }] }] },
      });
      const response = await fetch(`${mesh.adminUrl}/config/apply`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: invalid });
      const body = (await response.json()) as { findings?: Array<{ message: string }> };
      const after = await fetch(`${mesh.gatewayUrl}/web-api/v1/getmultiple`);
      await after.arrayBuffer();
      row.requests = 2;
      row.failures = (response.status === 422 ? 0 : 1) + (after.status === 200 ? 0 : 1);
      row.note = body.findings?.[0]?.message.slice(0, 80);
      expect(response.status).toBe(422);
      expect(body.findings?.length).toBeGreaterThan(0);
      expect(after.status).toBe(200);
      expect(after.headers.get('x-web-api-version')).toBe('v1');
    }));
});
