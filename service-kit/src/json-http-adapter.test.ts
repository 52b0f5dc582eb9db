import http from 'node:http';
import type { AddressInfo } from 'node:net';
import axios, { type AxiosRequestConfig } from 'axios';
import { UPSTREAM_OVERFLOW, createJsonHttpAdapter, jsonHttpAdapter } from './json-http-adapter';

interface Recorded {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** A loopback server on port 0 recording every request; `answer` writes the response. */
async function recordingServer(answer: (req: http.IncomingMessage, res: http.ServerResponse) => void) {
  const received: Recorded[] = [];
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (chunk) => (body += chunk));
    req.on('end', () => {
      received.push({ method: req.method!, url: req.url!, headers: req.headers, body });
      answer(req, res);
    });
  });
  let connections = 0;
  let closedConnections = 0;
  server.on('connection', (socket) => {
    connections++;
    socket.on('close', () => closedConnections++);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    received,
    /** TCP connections accepted, and closed, so far. */
    connections: () => connections,
    closedConnections: () => closedConnections,
    port,
    url: `http://127.0.0.1:${port}`,
    close: () => {
      server.closeAllConnections();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

const json = (status: number, body: unknown) => (_req: http.IncomingMessage, res: http.ServerResponse) => {
  res.statusCode = status;
  res.setHeader('content-type', 'application/json; charset=utf-8');
  res.end(JSON.stringify(body));
};

const agent = new http.Agent({ keepAlive: true });
afterAll(() => agent.destroy());

/** One call with the lean adapter and the same call with axios' own http adapter. */
async function both(config: AxiosRequestConfig) {
  const base: AxiosRequestConfig = { proxy: false, maxRedirects: 0, httpAgent: agent, timeout: 2000, ...config };
  const lean = await axios.request({ ...base, adapter: jsonHttpAdapter }).catch((error: unknown) => error);
  const reference = await axios.request({ ...base, adapter: 'http' }).catch((error: unknown) => error);
  return { lean, reference };
}

/** What a caller reads from an answer or an error. */
function observable(result: any) {
  if (result instanceof Error) return { error: true, code: (result as any).code, message: result.message, status: (result as any).response?.status };
  const { date, ...headers } = result.headers.toJSON();
  return {
    status: result.status,
    data: result.data,
    headers,
    contentType: result.headers.get('Content-Type'),
    formatted: Object.keys(result.headers.normalize(true).toJSON()).sort(),
  };
}

describe('jsonHttpAdapter', () => {
  it('sends the request axios sends and gives the same answer: GET, POST with a JSON body, a 404', async () => {
    const upstream = await recordingServer((req, res) =>
      req.url === '/missing' ? json(404, { error: 'not_found' })(req, res) : json(200, [{ id: 1, title: 'é' }])(req, res),
    );
    const calls: AxiosRequestConfig[] = [
      {
        baseURL: upstream.url,
        url: '/articles/v1/getmultiple?amount=5',
        headers: { 'x-request-id': 'abc', traceparent: `00-${'a'.repeat(32)}-${'b'.repeat(16)}-01` },
      },
      { baseURL: upstream.url, url: '/articles/v1/create', method: 'post', data: { title: 'T', url: 'https://x.example', author: 'Ada' } },
      { baseURL: `${upstream.url}/`, url: 'missing', validateStatus: () => true },
      { baseURL: upstream.url, url: '/missing' },
    ];
    for (const call of calls) {
      const { lean, reference } = await both(call);
      expect(observable(lean)).toEqual(observable(reference));
      const [fromLean, fromReference] = upstream.received.splice(0, 2);
      expect(fromLean).toEqual(fromReference);
    }
    await upstream.close();
  });

  it('goes through a plain-HTTP proxy like axios: absolute URL, the target as Host, proxy credentials', async () => {
    const proxy = await recordingServer(json(200, { ok: true }));
    const { lean, reference } = await both({
      baseURL: 'http://articles:8080',
      url: '/articles/v1/getone?id=3',
      proxy: { protocol: 'http', host: '127.0.0.1', port: proxy.port, auth: { username: 'mesh', password: 's3cret' } },
    });
    expect(observable(lean)).toEqual(observable(reference));
    expect(proxy.received).toHaveLength(2);
    expect(proxy.received[0]).toEqual(proxy.received[1]);
    expect(proxy.received[0]!.url).toBe('http://articles:8080/articles/v1/getone?id=3');
    expect(proxy.received[0]!.headers.host).toBe('articles:8080');
    expect(proxy.received[0]!.headers['proxy-authorization']).toBe(`Basic ${Buffer.from('mesh:s3cret').toString('base64')}`);
    await proxy.close();
  });

  it('fails like axios: timeout (ECONNABORTED), refused connection, an answer past maxContentLength', async () => {
    const silent = await recordingServer(() => undefined);
    const timedOut = await both({ baseURL: silent.url, url: '/slow', timeout: 150 });
    expect(observable(timedOut.lean)).toEqual(observable(timedOut.reference));
    expect(observable(timedOut.lean)).toMatchObject({ error: true, code: 'ECONNABORTED' });
    await silent.close();

    const closed = await recordingServer(json(200, {}));
    const closedUrl = closed.url;
    await closed.close();
    const refused = await both({ baseURL: closedUrl, url: '/x' });
    expect(observable(refused.lean)).toEqual(observable(refused.reference));
    expect(observable(refused.lean)).toMatchObject({ error: true, code: 'ECONNREFUSED' });

    const big = await recordingServer(json(200, { text: 'x'.repeat(10_000) }));
    const tooLarge = await both({ baseURL: big.url, url: '/big', maxContentLength: 1000 });
    expect(observable(tooLarge.lean)).toEqual(observable(tooLarge.reference));
    expect(observable(tooLarge.lean)).toMatchObject({ error: true, code: 'ERR_BAD_RESPONSE' });
    await big.close();
  });

  it("hands configs it does not cover (query params, a stream answer) to axios' adapter", async () => {
    const upstream = await recordingServer(json(200, { ok: true }));
    const { lean, reference } = await both({ baseURL: upstream.url, url: '/search', params: { name: 'Ada Quill', amount: 5 } });
    expect(observable(lean)).toEqual(observable(reference));
    expect(upstream.received.map((r) => r.url)).toEqual(['/search?name=Ada+Quill&amount=5', '/search?name=Ada+Quill&amount=5']);
    const streamed = await axios.request({ baseURL: upstream.url, url: '/s', proxy: false, maxRedirects: 0, responseType: 'stream', adapter: jsonHttpAdapter });
    let text = '';
    for await (const chunk of streamed.data) text += chunk;
    expect(JSON.parse(text)).toEqual({ ok: true });
    await upstream.close();
  });

  it('after a timeout lets the answer arrive on its connection and reuses that connection (no new handshake)', async () => {
    const release: Array<() => void> = [];
    const upstream = await recordingServer((req, res) => {
      if (req.url === '/slow') release.push(() => json(200, { late: true })(req, res));
      else json(200, { ok: true })(req, res);
    });
    const adapter = createJsonHttpAdapter({ lingerMs: 5000 });
    const oneSocket = new http.Agent({ keepAlive: true, maxSockets: 1 });
    const call = (url: string, timeout: number) =>
      axios.request({ baseURL: upstream.url, url, proxy: false, maxRedirects: 0, httpAgent: oneSocket, timeout, adapter });

    await expect(call('/slow', 100)).rejects.toMatchObject({ code: 'ECONNABORTED' });
    expect(adapter.inFlight()).toBe(1);
    release.forEach((answer) => answer());
    // The late answer is read and dropped; the connection goes back to the pool and serves the next call.
    expect((await call('/next', 2000)).data).toEqual({ ok: true });
    expect(upstream.connections()).toBe(1);
    expect(adapter.inFlight()).toBe(0);
    oneSocket.destroy();
    await upstream.close();
  });

  it('destroys a timed-out exchange whose answer does not come within lingerMs', async () => {
    const silent = await recordingServer(() => undefined);
    const adapter = createJsonHttpAdapter({ lingerMs: 100 });
    await expect(
      axios.request({ baseURL: silent.url, url: '/never', proxy: false, maxRedirects: 0, httpAgent: agent, timeout: 50, adapter }),
    ).rejects.toMatchObject({
      code: 'ECONNABORTED',
    });
    expect(adapter.inFlight()).toBe(1);
    await until(() => adapter.inFlight() === 0);
    expect(silent.closedConnections()).toBe(1);
    await silent.close();
  });

  it('refuses a call at once, without sending it, while maxInFlight exchanges are on the wire (timed-out ones included)', async () => {
    const held: Array<() => void> = [];
    const upstream = await recordingServer((req, res) => held.push(() => json(200, { url: req.url })(req, res)));
    const adapter = createJsonHttpAdapter({ maxInFlight: 2, lingerMs: 5000 });
    const call = (url: string, timeout = 5000) =>
      axios.request({ baseURL: upstream.url, url, proxy: false, maxRedirects: 0, httpAgent: agent, timeout, adapter });
    const first = call('/1');
    expect(await call('/2', 50).catch((error: unknown) => error)).toMatchObject({ code: 'ECONNABORTED' });
    const started = Date.now();
    const refused = await call('/3').catch((error: unknown) => error);
    expect(refused).toMatchObject({ code: UPSTREAM_OVERFLOW, message: expect.stringMatching(/limit 2/) });
    expect(Date.now() - started).toBeLessThan(50);
    await until(() => upstream.received.length === 2);
    expect(upstream.received.map((r) => r.url).sort()).toEqual(['/1', '/2']);
    held.splice(0).forEach((answer) => answer());
    expect((await first).data).toEqual({ url: '/1' });
    // Both answered (the timed-out one read and dropped): calls go out again.
    await until(() => adapter.inFlight() === 0);
    const fourth = call('/4');
    await until(() => held.length === 1);
    held.splice(0).forEach((answer) => answer());
    expect((await fourth).data).toEqual({ url: '/4' });
    await upstream.close();
  });
});

/** Resolves once `condition` holds (polled every 10 ms; jest's timeout bounds it). */
async function until(condition: () => boolean): Promise<void> {
  while (!condition()) await new Promise((resolve) => setTimeout(resolve, 10));
}
