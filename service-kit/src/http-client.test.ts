import http from 'node:http';
import type { AddressInfo } from 'node:net';
import request from 'supertest';
import { createServiceApp } from './app';
import { createHttpClient } from './http-client';
import { createLogger } from './logger';

interface Recorded {
  url: string;
  headers: http.IncomingHttpHeaders;
}

/** A loopback server on port 0 that records each request and answers `{ ok: true }` (or never, if `hang`). */
async function recordingServer(options: { hang?: boolean } = {}) {
  const received: Recorded[] = [];
  const server = http.createServer((req, res) => {
    received.push({ url: req.url!, headers: req.headers });
    if (options.hang) return;
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ ok: true }));
  });
  let connections = 0;
  server.on('connection', () => connections++);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    received,
    /** TCP connections accepted so far. */
    connections: () => connections,
    port,
    url: `http://127.0.0.1:${port}`,
    close: () => {
      server.closeAllConnections();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

const proxyVariables = ['HTTP_PROXY', 'http_proxy', 'NO_PROXY', 'no_proxy'] as const;
const savedEnv = Object.fromEntries(proxyVariables.map((name) => [name, process.env[name]]));
afterEach(() => {
  for (const name of proxyVariables) {
    if (savedEnv[name] === undefined) delete process.env[name];
    else process.env[name] = savedEnv[name];
  }
});
beforeEach(() => {
  for (const name of proxyVariables) delete process.env[name];
});

describe('createHttpClient', () => {
  it('forwards the incoming trace headers on upstream calls made while handling a request', async () => {
    const upstream = await recordingServer();
    const client = createHttpClient({ baseURL: upstream.url, timeoutMs: 1000 });
    const app = createServiceApp({
      service: 'caller',
      routes(router) {
        router.get('/call', async (_req, res) => {
          // Two hops in a row: the context must survive awaits.
          await client.get('/first');
          const answer = await client.get('/second');
          res.json(answer.data);
        });
      },
    });
    const incoming = {
      'x-request-id': 'req-42',
      traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
      tracestate: 'congo=t61rcWkgMzE',
      'x-b3-traceid': '80f198ee56343ba864fe8b2a57d3eff7',
      'x-b3-spanid': 'e457b5a2e4d86bd1',
      'x-b3-parentspanid': '05e3ac9a4f6e3b90',
      'x-b3-sampled': '1',
      'x-b3-flags': '1',
      b3: '80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-1',
      'x-ot-span-context': 'abc;def;1',
      'end-user': 'jason',
      'user-agent': 'istio-demo-browser/1.0',
    };
    await request(app).get('/call').set(incoming).expect(200, { ok: true });
    expect(upstream.received).toHaveLength(2);
    for (const call of upstream.received) {
      for (const [name, value] of Object.entries(incoming)) expect(call.headers[name]).toBe(value);
    }
    // Headers that are not trace context stay behind.
    await request(app).get('/call').set('authorization', 'Bearer x').set('cookie', 'a=b').expect(200);
    const last = upstream.received.at(-1)!;
    expect(last.headers.authorization).toBeUndefined();
    expect(last.headers.cookie).toBeUndefined();
    await upstream.close();
  });

  it('sends the generated x-request-id upstream when the caller sent none', async () => {
    const upstream = await recordingServer();
    const client = createHttpClient({ baseURL: upstream.url, timeoutMs: 1000 });
    const app = createServiceApp({
      service: 'caller',
      routes(router) {
        router.get('/call', async (_req, res) => {
          res.json((await client.get('/x')).data);
        });
      },
    });
    const res = await request(app).get('/call').expect(200);
    expect(res.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
    expect(upstream.received[0]!.headers['x-request-id']).toBe(res.headers['x-request-id']);
    await upstream.close();
  });

  it('goes through the proxy named in HTTP_PROXY, keeping the in-cluster URL', async () => {
    const proxy = await recordingServer();
    process.env.HTTP_PROXY = proxy.url;
    const client = createHttpClient({ baseURL: 'http://articles:8080', timeoutMs: 1000 });
    const answer = await client.get('/articles/v1/getmultiple', { params: { amount: 5 } });
    expect(answer.data).toEqual({ ok: true });
    expect(proxy.received).toHaveLength(1);
    // A forward proxy receives the absolute-form URL and the original Host.
    expect(proxy.received[0]!.url).toBe('http://articles:8080/articles/v1/getmultiple?amount=5');
    expect(proxy.received[0]!.headers.host).toBe('articles:8080');
    await proxy.close();
  });

  it('bypasses the proxy for hosts listed in NO_PROXY', async () => {
    const proxy = await recordingServer();
    const upstream = await recordingServer();
    process.env.HTTP_PROXY = proxy.url;
    process.env.NO_PROXY = 'localhost,127.0.0.1';
    const client = createHttpClient({ baseURL: upstream.url, timeoutMs: 1000 });
    await client.get('/direct');
    expect(proxy.received).toHaveLength(0);
    expect(upstream.received.map((r) => r.url)).toEqual(['/direct']);
    await Promise.all([proxy.close(), upstream.close()]);
  });

  it('reads the proxy settings once, when the client is made', async () => {
    const proxy = await recordingServer();
    const upstream = await recordingServer();
    const direct = createHttpClient({ baseURL: upstream.url, timeoutMs: 1000 });
    process.env.HTTP_PROXY = proxy.url;
    const proxied = createHttpClient({ baseURL: 'http://articles:8080', timeoutMs: 1000 });
    delete process.env.HTTP_PROXY;
    await direct.get('/a');
    await proxied.get('/b');
    expect(upstream.received.map((r) => r.url)).toEqual(['/a']);
    expect(proxy.received.map((r) => r.url)).toEqual(['http://articles:8080/b']);
    await Promise.all([proxy.close(), upstream.close()]);
  });

  it('reuses one keep-alive connection for calls in a row', async () => {
    const upstream = await recordingServer();
    const client = createHttpClient({ baseURL: upstream.url, timeoutMs: 1000 });
    for (let i = 0; i < 5; i++) await client.get(`/call-${i}`);
    expect(upstream.received).toHaveLength(5);
    expect(upstream.connections()).toBe(1);
    await upstream.close();
  });

  it('gives up after its timeout instead of hanging', async () => {
    const upstream = await recordingServer({ hang: true });
    const client = createHttpClient({ baseURL: upstream.url, timeoutMs: 200 });
    const started = Date.now();
    await expect(client.get('/slow')).rejects.toMatchObject({ code: 'ECONNABORTED' });
    expect(Date.now() - started).toBeLessThan(5000);
    await upstream.close();
  });
});

describe('trace headers from the caller', () => {
  const afterCleanup: Array<() => Promise<void>> = [];
  afterEach(async () => {
    await Promise.all(afterCleanup.splice(0).map((close) => close()));
  });

  it('forwards and logs only values in their formats, capped; a bad x-request-id is replaced', async () => {
    const upstream = await recordingServer();
    const client = createHttpClient({ baseURL: upstream.url, timeoutMs: 1000 });
    const lines: Array<Record<string, unknown>> = [];
    const app = createServiceApp({
      service: 'caller',
      logger: createLogger({ service: 'caller', level: 'info', destination: { write: (line: string) => void lines.push(JSON.parse(line)) } }),
      routes(router) {
        router.get('/call', async () => {
          await client.get('/x');
          throw new Error('to get an error line with the request context');
        });
      },
    });
    const hostile = {
      'x-request-id': 'r'.repeat(1000),
      traceparent: `00-${'a'.repeat(32)}-${'b'.repeat(16)}-01-${'x'.repeat(2000)}`,
      'x-b3-traceid': 'z'.repeat(64),
      'x-b3-spanid': 'not-hex!',
      'x-b3-sampled': 'maybe',
      b3: `${'c'.repeat(32)}-${'d'.repeat(16)}-1${'e'.repeat(2000)}`,
      'end-user': 'u'.repeat(300),
      tracestate: 't'.repeat(600),
    };
    afterCleanup.push(() => upstream.close());
    const res = await request(app).get('/call').set(hostile).expect(500);
    const sent = upstream.received[0]!.headers;
    for (const name of Object.keys(hostile)) if (name !== 'x-request-id') expect(sent[name]).toBeUndefined();
    expect(res.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
    expect(sent['x-request-id']).toBe(res.headers['x-request-id']);
    const errorLine = lines.find((l) => l.msg === 'unhandled error')!;
    expect(errorLine).toMatchObject({ requestId: res.headers['x-request-id'] });
    expect(errorLine.traceId).toBeUndefined();
    expect(JSON.stringify(lines).length).toBeLessThan(5000);

    // The same headers in their formats are kept, and the trace id is logged.
    const valid = {
      'x-request-id': 'req-9',
      'x-b3-traceid': 'a'.repeat(32),
      'x-b3-spanid': 'b'.repeat(16),
      'x-b3-sampled': '1',
      b3: `${'a'.repeat(32)}-${'b'.repeat(16)}-1`,
      'end-user': 'jason',
    };
    await request(app).get('/call').set(valid).expect(500);
    const kept = upstream.received[1]!.headers;
    for (const [name, value] of Object.entries(valid)) expect(kept[name]).toBe(value);
    expect(lines.filter((l) => l.msg === 'unhandled error').at(-1)).toMatchObject({ requestId: 'req-9', traceId: 'a'.repeat(32) });
  });
});
