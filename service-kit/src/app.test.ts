import http from 'node:http';
import type { AddressInfo } from 'node:net';
import request from 'supertest';
import { createServiceApp } from './app';
import { MAX_JSON_DEPTH, jsonDepth } from './json-depth';
import { BadRequestError, NotFoundError } from './errors';
import { createLogger } from './logger';

/** A logger whose lines land in `lines` (parsed), synchronously. */
function capturingLogger() {
  const lines: Array<Record<string, unknown>> = [];
  const logger = createLogger({ service: 'test-service', level: 'info', destination: { write: (line: string) => void lines.push(JSON.parse(line)) } });
  return { lines, logger };
}

/** Value of the first sample of `name` whose labels include `labels` (label order does not matter). */
function sampleValue(exposition: string, name: string, labels: Record<string, string>): number | undefined {
  for (const line of exposition.split('\n')) {
    const match = /^([a-z_]+)\{(.*)\} (\S+)$/.exec(line);
    if (!match || match[1] !== name) continue;
    const present = new Map([...match[2]!.matchAll(/([a-z_]+)="([^"]*)"/g)].map((m) => [m[1], m[2]]));
    if (Object.entries(labels).every(([k, v]) => present.get(k) === v)) return Number(match[3]);
  }
  return undefined;
}

function buildApp(options: { ready?: () => boolean } = {}) {
  return createServiceApp({
    service: 'test-service',
    responseHeaders: { 'x-service-version': 'v9' },
    readinessChecks: options.ready ? [{ name: 'store', check: options.ready }] : [],
    routes(app) {
      app.get('/things/:id', (req, res) => {
        if (req.params.id === 'missing') throw new NotFoundError('no thing with id missing');
        res.json({ id: req.params.id });
      });
      app.post('/things', (req, res) => {
        if (typeof req.body?.name !== 'string') throw new BadRequestError('name: required', 'name');
        res.status(201).json({ name: req.body.name });
      });
      app.get('/boom', () => {
        throw new Error('secret internal detail');
      });
      app.get('/boom-async', async () => {
        await Promise.resolve();
        throw new TypeError('async detail');
      });
    },
  });
}

describe('createServiceApp', () => {
  it('answers /healthz and /readyz with JSON', async () => {
    const app = buildApp();
    await request(app).get('/healthz').expect(200, { status: 'ok' });
    await request(app).get('/readyz').expect(200, { status: 'ready' });
  });

  it('fails /readyz when a readiness check fails or throws, naming it', async () => {
    let ready = false;
    const app = buildApp({ ready: () => ready });
    await request(app)
      .get('/readyz')
      .expect(503, { status: 'not ready', failing: ['store'] });
    ready = true;
    await request(app).get('/readyz').expect(200);
    const throwing = buildApp({
      ready: () => {
        throw new Error('x');
      },
    });
    await request(throwing).get('/readyz').expect(503);
  });

  it('fails /readyz once shutdown began, while /healthz stays 200', async () => {
    const app = buildApp();
    app.readiness.beginShutdown();
    await request(app)
      .get('/readyz')
      .expect(503, { status: 'not ready', failing: ['shutting-down'] });
    await request(app).get('/healthz').expect(200);
  });

  it('counts requests by route template, method and status in /metrics', async () => {
    const app = buildApp();
    await request(app).get('/things/1').expect(200);
    await request(app).get('/things/2').expect(200);
    await request(app).get('/things/missing').expect(404);
    await request(app).get('/nowhere/at/all').expect(404);
    const res = await request(app).get('/metrics').expect(200);
    expect(res.headers['content-type']).toMatch(/^text\/plain/);
    expect(sampleValue(res.text, 'http_requests_total', { route: '/things/:id', method: 'GET', status_code: '200' })).toBe(2);
    expect(sampleValue(res.text, 'http_requests_total', { route: '/things/:id', method: 'GET', status_code: '404' })).toBe(1);
    expect(sampleValue(res.text, 'http_requests_total', { route: 'unmatched', method: 'GET', status_code: '404' })).toBe(1);
    expect(sampleValue(res.text, 'http_request_duration_seconds_count', { route: '/things/:id', status_code: '200' })).toBe(2);
    expect(sampleValue(res.text, 'http_requests_total', { service: 'test-service', route: '/things/:id', status_code: '200' })).toBe(2);
    expect(res.text).toContain('process_cpu_user_seconds_total');
    // Raw URLs never become label values.
    expect(res.text).not.toContain('/things/1"');
  });

  it('answers unknown routes with 404 JSON', async () => {
    const res = await request(buildApp()).get('/nope').expect(404);
    expect(res.body).toEqual({ error: 'not_found', message: 'no route for GET /nope' });
  });

  it('turns typed errors into JSON with their status and field', async () => {
    const app = buildApp();
    await request(app).get('/things/missing').expect(404, { error: 'not_found', message: 'no thing with id missing' });
    await request(app).post('/things').send({}).expect(400, { error: 'bad_request', message: 'name: required', field: 'name' });
    await request(app).post('/things').send({ name: 'x' }).expect(201, { name: 'x' });
  });

  it('answers malformed JSON with 400 and an oversized body with 413, both JSON', async () => {
    const app = buildApp();
    const malformed = await request(app).post('/things').set('content-type', 'application/json').send('{"name": ').expect(400);
    expect(malformed.body).toEqual({ error: 'bad_request', message: 'request body is not valid JSON' });
    const big = await request(app)
      .post('/things')
      .send({ name: 'x'.repeat(20_000) })
      .expect(413);
    expect(big.body).toEqual({ error: 'payload_too_large', message: 'request body is too large' });
  });

  it('hides unexpected errors (sync and async) behind a generic 500 without a stack trace', async () => {
    const app = buildApp();
    for (const path of ['/boom', '/boom-async']) {
      const res = await request(app).get(path).expect(500);
      expect(res.body).toEqual({ error: 'internal', message: 'internal server error' });
      expect(res.text).not.toMatch(/detail|at .*\.ts/);
    }
  });

  it('generates an x-request-id when absent and echoes one that was sent', async () => {
    const app = buildApp();
    const generated = await request(app).get('/things/1');
    expect(generated.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
    const echoed = await request(app).get('/things/1').set('x-request-id', 'abc-123');
    expect(echoed.headers['x-request-id']).toBe('abc-123');
  });

  it('sets the API security headers and configured headers on JSON answers, and no etag or x-powered-by', async () => {
    const res = await request(buildApp()).get('/things/1').expect(200);
    expect(res.headers['x-content-type-options']).toBe('nosniff');
    expect(res.headers['content-security-policy']).toBe("default-src 'none'; frame-ancestors 'none'");
    expect(res.headers['x-frame-options']).toBe('DENY');
    expect(res.headers['strict-transport-security']).toContain('max-age=');
    expect(res.headers['cross-origin-resource-policy']).toBe('same-origin');
    expect(res.headers['referrer-policy']).toBe('no-referrer');
    expect(res.headers['x-service-version']).toBe('v9');
    expect(res.headers['x-powered-by']).toBeUndefined();
    expect(res.headers.etag).toBeUndefined();
  });

  it("gives 404s and errors, which a browser may show, helmet's browser headers", async () => {
    const app = buildApp();
    for (const [path, status] of [
      ['/nope', 404],
      ['/things/missing', 404],
      ['/boom', 500],
    ] as const) {
      const res = await request(app).get(path).expect(status);
      expect(res.headers['content-security-policy']).toContain("default-src 'self'");
      expect(res.headers['content-security-policy']).not.toContain('upgrade-insecure-requests');
      expect(res.headers['cross-origin-opener-policy']).toBe('same-origin');
      expect(res.headers['x-content-type-options']).toBe('nosniff');
      expect(res.headers['x-frame-options']).toBe('SAMEORIGIN');
      expect(res.headers['x-service-version']).toBe('v9');
    }
  });

  it('writes one access line per request only when the access log is on; warnings always', async () => {
    for (const accessLog of [true, false]) {
      const { lines, logger } = capturingLogger();
      const app = createServiceApp({
        service: 'test-service',
        logger,
        accessLog,
        routes(router) {
          router.get('/warn', (_req, res) => {
            logger.warn('upstream slow');
            res.json({ ok: true });
          });
        },
      });
      await request(app).get('/warn').set('x-request-id', 'req-7').expect(200);
      const access = lines.filter((l) => l.msg === 'request');
      expect(access).toEqual(accessLog ? [expect.objectContaining({ method: 'GET', path: '/warn', route: '/warn', status: 200, requestId: 'req-7' })] : []);
      expect(lines.filter((l) => l.msg === 'upstream slow')).toEqual([expect.objectContaining({ level: 40, requestId: 'req-7' })]);
    }
  });

  it('refuses JSON nested deeper than MAX_JSON_DEPTH with 400 JSON, before any handler runs', async () => {
    const app = buildApp();
    const nested = (depth: number) => `{"name":${'['.repeat(depth - 1)}${']'.repeat(depth - 1)}}`;
    for (const depth of [MAX_JSON_DEPTH + 1, 5000]) {
      const res = await request(app).post('/things').set('content-type', 'application/json').send(nested(depth));
      expect(res.status).toBe(400);
      expect(res.body).toEqual({ error: 'bad_request', message: `body: nested deeper than ${MAX_JSON_DEPTH} levels`, field: 'body' });
    }
    // At the limit the body reaches the handler (which wants a string name: its own 400).
    await request(app)
      .post('/things')
      .set('content-type', 'application/json')
      .send(nested(MAX_JSON_DEPTH))
      .expect(400, { error: 'bad_request', message: 'name: required', field: 'name' });
    // Brackets inside strings are text, not nesting.
    await request(app)
      .post('/things')
      .send({ name: `${'['.repeat(1000)}\\"{{{` })
      .expect(201);
  });

  it('counts JSON depth ignoring strings and escaped quotes', () => {
    const depth = (text: string) => jsonDepth(Buffer.from(text));
    expect(depth('1')).toBe(0);
    expect(depth('{"a":[1,{"b":[]}]}')).toBe(4);
    expect(depth('{"a":"[[[[\\"[[[","b":{}}')).toBe(2);
    expect(depth('"é[["')).toBe(0);
  });

  it('counts and logs requests the client aborts, with status 499', async () => {
    const { lines, logger } = capturingLogger();
    let started!: () => void;
    const handlerStarted = new Promise<void>((resolve) => (started = resolve));
    const app = createServiceApp({
      service: 'test-service',
      logger,
      routes(router) {
        router.get('/slow', () => started()); // never answers
      },
    });
    const server = http.createServer(app);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    const client = http.get({ host: '127.0.0.1', port, path: '/slow', agent: false });
    client.on('error', () => undefined);
    await handlerStarted;
    client.destroy();
    // Poll (at most 5 s) for the server to notice the closed connection.
    let count: number | undefined;
    for (const deadline = Date.now() + 5000; count !== 1 && Date.now() < deadline;) {
      count = sampleValue((await request(app).get('/metrics')).text, 'http_requests_total', { route: '/slow', status_code: '499' });
      if (count !== 1) await new Promise((resolve) => setTimeout(resolve, 20));
    }
    expect(count).toBe(1);
    expect(lines.filter((l) => l.msg === 'request aborted by client')).toEqual([
      expect.objectContaining({ method: 'GET', path: '/slow', status: 499, responseFlags: 'DC' }),
    ]);
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
});
