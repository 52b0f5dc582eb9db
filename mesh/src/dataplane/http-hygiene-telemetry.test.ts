/**
 * Conformance table, part 2c: the proxy's HTTP hygiene (server and forwarding headers, request and response bodies,
 * disconnects, odd config) and the gateway's telemetry, through real HTTP.
 */
import { createServiceApp } from '@cns/service-kit';
import { until } from '@cns/service-kit/testing';
import { articles, authors, authorsRoute, failFirst, holdable, services, startResilienceMesh, type Setup } from './resilience-fixture';
import { gateway, send, startMesh, virtualService, type MeshFixture } from './test-harness';

let mesh: MeshFixture;
afterEach(async () => {
  await mesh?.close();
});

/** Starts the shared gateway mesh (./resilience-fixture.ts) as this file's `mesh`, closed after each test. */
async function setup(options: Setup) {
  mesh = await startResilienceMesh(options);
  return mesh;
}

describe('HTTP hygiene and telemetry', () => {
  test("server header: the gateway writes istio-envoy over the upstream's own, a sidecar writes envoy, local replies too", async () => {
    await setup({ http: [{ match: [{ uri: { prefix: '/api' } }], route: [authorsRoute], headers: { response: { set: { server: 'custom' } } } }] });
    mesh.upstream('authors-0').behaviour = (req, res) => {
      req.resume();
      res.writeHead(200, { server: 'Express', 'content-type': 'text/plain' }).end('ok');
    };
    expect((await mesh.get('/api')).headers.server).toBe('istio-envoy');
    expect((await mesh.get('/missing')).headers.server).toBe('istio-envoy');
    await mesh.close();
    mesh = await startMesh({
      replicas: [{ id: 'authors-0', workload: authors }],
      source: { kind: 'sidecar', workload: articles },
      state: { services },
    });
    expect((await send(mesh.port, 'http://authors:3000/')).headers.server).toBe('envoy');
  });

  test("x-request-id: the gateway replaces a client's (every client is external), a sidecar keeps it; trace headers and XFF", async () => {
    await setup({});
    const fresh = (await mesh.get('/', { headers: { traceparent: '00-abc-def-01', te: 'trailers', 'proxy-connection': 'keep-alive' } })).json();
    expect(fresh.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
    expect(fresh.headers.traceparent).toBe('00-abc-def-01');
    expect(fresh.headers['x-forwarded-for']).toBe('127.0.0.1');
    expect(fresh.headers['x-forwarded-proto']).toBe('http');
    expect(fresh.headers.te).toBeUndefined();
    expect(fresh.headers['proxy-connection']).toBeUndefined();
    const edge = (await mesh.get('/', { headers: { 'x-request-id': 'req-1', 'x-forwarded-for': '10.0.0.1', 'x-envoy-external-address': '6.6.6.6' } })).json();
    expect(edge.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
    expect(edge.headers['x-forwarded-for']).toBe('10.0.0.1, 127.0.0.1');
    expect(edge.headers['x-envoy-external-address']).toBe('127.0.0.1');
    await mesh.close();
    mesh = await startMesh({ replicas: [{ id: 'authors-0', workload: authors }], source: { kind: 'sidecar', workload: articles }, state: { services } });
    const kept = (await send(mesh.port, 'http://authors:3000/', { headers: { 'x-request-id': 'req-1' } })).json();
    expect(kept.headers['x-request-id']).toBe('req-1');
    expect(kept.headers['x-envoy-external-address']).toBeUndefined();
  });

  test('gateway telemetry: source istio-ingressgateway, destination the workload that answered', async () => {
    await setup({});
    await mesh.get('/');
    expect(mesh.records).toEqual([
      expect.objectContaining({
        reporter: 'source',
        sourceWorkload: 'istio-ingressgateway',
        sourceApp: 'istio-ingressgateway',
        destinationWorkload: 'authors',
        destinationApp: 'authors',
        destinationVersion: 'v1',
        destinationService: 'authors.default.svc.cluster.local',
        destinationServiceName: 'authors',
        responseCode: 200,
        responseFlags: '-',
        virtualService: 'edge',
      }),
    ]);
    expect(mesh.records[0].durationMs).toBeGreaterThan(0);
  });

  test('responses carry x-envoy-upstream-service-time; a closed data plane answers 503 without crashing', async () => {
    await setup({});
    const res = await mesh.get('/');
    expect(res.headers['x-envoy-upstream-service-time']).toMatch(/^\d+$/);
    await mesh.dataPlane.close();
    const closed = await mesh.get('/');
    expect(closed.status).toBe(503);
    expect(closed.text).toBe('proxy is shutting down');
  });

  test('request bodies are forwarded (fixed length, chunked, expect: 100-continue) and a retry replays them', async () => {
    await setup({ maxRequestBodyBytes: 1024, http: [{ retries: { attempts: 1, retryOn: '5xx' }, route: [authorsRoute] }] });
    mesh.upstream('authors-0').behaviour = failFirst(1, 503); // the retry must replay the body
    const json = await mesh.get('/', { method: 'POST', body: '{"a":1}', headers: { 'content-type': 'application/json' } });
    expect(json.json()).toMatchObject({ method: 'POST', body: '{"a":1}', headers: { 'content-length': '7' } });
    expect(mesh.upstream('authors-0').hits).toBe(2);
    const chunked = await mesh.get('/', { method: 'PUT', body: 'second', onRequest: (req) => req.write('first-') });
    expect(chunked.json().body).toBe('first-second');
    const expecting = await mesh.get('/', { method: 'POST', body: 'z'.repeat(800), headers: { expect: '100-continue' } });
    expect(expecting.json().body).toBe('z'.repeat(800));
    // Beyond the retry buffer the body still goes through, in full.
    const large = await mesh.get('/', { method: 'POST', body: 'x'.repeat(2000) });
    expect(large.status).toBe(200);
    expect(large.json().body).toBe('x'.repeat(2000));
  });

  test('request bodies stream: the service sees the first bytes before the client has sent the rest', async () => {
    await setup({});
    let received = 0;
    mesh.upstream('authors-0').behaviour = (req, res) => {
      req.on('data', (chunk: Buffer) => (received += chunk.length));
      req.on('end', () => res.writeHead(200, { 'content-type': 'text/plain' }).end(String(received)));
    };
    let finish: () => void = () => undefined;
    const answer = mesh.get('/', {
      method: 'POST',
      headers: { 'content-type': 'application/octet-stream' },
      onRequest: (req) => {
        req.write(Buffer.alloc(1000, 1));
        finish = () => req.end(Buffer.alloc(500, 2));
      },
      hold: true,
    });
    await until(() => received === 1000, 5_000, 'the first chunk at the service');
    finish();
    expect((await answer).text).toBe('1500');
  });

  test('a body larger than the buffer reaches the service, whose own limit answers with its JSON 413', async () => {
    await setup({});
    // A real service-kit app (express.json with a 2 MiB limit), as authors runs it.
    const app = createServiceApp({
      service: 'authors',
      bodyLimit: '2mb',
      routes: (routes) => routes.post('/api/v1/things', (_req, res) => res.status(201).json({ ok: true })),
    });
    let received = 0;
    mesh.upstream('authors-0').behaviour = (req, res) => {
      req.on('data', (chunk: Buffer) => (received += chunk.length));
      app(req, res);
    };
    const body = JSON.stringify({ name: 'n'.repeat(3 * 1024 * 1024) });
    const res = await mesh.get('/api/v1/things', { method: 'POST', body, headers: { 'content-type': 'application/json' } });
    expect(res.status).toBe(413);
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    expect(res.json()).toMatchObject({ error: 'payload_too_large' });
    expect(received).toBeGreaterThan(1024 * 1024); // far past the proxy's 1 MiB buffer
    expect(mesh.records.at(-1)).toMatchObject({ responseCode: 413, responseFlags: '-' });
  });

  test('a retry policy buffers only up to the limit: a larger body is not retried', async () => {
    const http = [{ retries: { attempts: 2, retryOn: '5xx' }, route: [authorsRoute] }];
    await setup({ maxRequestBodyBytes: 1024, http });
    mesh.upstream('authors-0').behaviour = failFirst(1, 503);
    const small = await mesh.get('/', { method: 'POST', body: 's'.repeat(1024) });
    expect(small.status).toBe(200);
    expect(mesh.upstream('authors-0').hits).toBe(2);
    await mesh.close();

    await setup({ maxRequestBodyBytes: 1024, http });
    mesh.upstream('authors-0').behaviour = failFirst(1, 503);
    const large = await mesh.get('/', { method: 'POST', body: 'l'.repeat(1025) });
    expect(large.status).toBe(503);
    expect(mesh.upstream('authors-0').hits).toBe(1);
    expect(mesh.records.at(-1)).toMatchObject({ responseCode: 503, responseFlags: '-' });
  });

  test('HEAD keeps the length and sends no body; chunked and large responses stream through', async () => {
    await setup({});
    const head = await mesh.get('/', { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(Number(head.headers['content-length'])).toBeGreaterThan(0);
    expect(head.text).toBe('');
    const big = 'y'.repeat(5 * 1024 * 1024);
    mesh.upstream('authors-0').behaviour = (req, res) => {
      req.resume();
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.write('part1-');
      res.write(big);
      res.end('-end');
    };
    const streamed = await mesh.get('/');
    expect(streamed.headers['transfer-encoding']).toBe('chunked');
    expect(streamed.text.length).toBe(big.length + 10);
    expect(streamed.text.endsWith('-end')).toBe(true);
  });

  test('a client that disconnects cancels the upstream request (flag DC) and the proxy carries on', async () => {
    await setup({});
    const hold = holdable();
    mesh.upstream('authors-0').behaviour = hold.behaviour;
    const aborted = mesh.get('/', { onRequest: (req) => void until(() => mesh.upstream('authors-0').active === 1).then(() => req.destroy()) });
    await expect(aborted).rejects.toThrow();
    await until(() => mesh.upstream('authors-0').cancelled === 1, 2000, 'upstream cancel');
    await until(() => mesh.records.length === 1);
    expect(mesh.records[0]).toMatchObject({ responseCode: 0, responseFlags: 'DC' });
    hold.release();
    expect((await mesh.get('/')).status).toBe(200);
  });

  test('the config is read per request: a swapped config applies to the next request', async () => {
    await setup({});
    expect((await mesh.get('/')).json().id).toBe('authors-0');
    mesh.setState({
      istio: {
        gateways: [gateway('web-gateway')],
        virtualServices: [virtualService('edge', { hosts: ['*'], gateways: ['web-gateway'], http: [{ route: [{ destination: { host: 'articles' } }] }] })],
        destinationRules: [],
      },
    });
    expect((await mesh.get('/')).json().id).toBe('articles-0');
  });

  test('an upstream header Node cannot forward gives 502, not a crash', async () => {
    await setup({ http: [{ route: [authorsRoute], headers: { response: { set: { 'x-bad': 'line\nbreak' } } } }] });
    const res = await mesh.get('/');
    expect(res.status).toBe(502);
    expect(mesh.records.at(-1)?.responseFlags).toBe('UPE');
    expect((await mesh.get('/')).status).toBe(502);
  });

  test('odd but valid config never crashes the proxy', async () => {
    await setup({
      http: [
        { match: [{ uri: { regex: '(' } }], route: [authorsRoute] }, // unparseable regex: never matches
        { match: [{}], route: [] },
        {
          match: [{ uri: { prefix: '/weights' } }],
          route: [
            { destination: { host: 'authors' }, weight: 0 },
            { destination: { host: 'articles' }, weight: 0 },
          ],
        },
        { route: [{ destination: { host: 'nosuch' } }] },
      ],
    });
    expect((await mesh.get('/(')).status).toBe(503);
    expect((await mesh.get('/weights')).status).toBe(503);
    expect((await send(mesh.port, '/', { headers: { host: '' } })).status).toBe(503);
  });
});
