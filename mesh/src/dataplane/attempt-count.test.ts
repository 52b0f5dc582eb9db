/**
 * x-envoy-attempt-count: Istio sets include_request_attempt_count on every gateway and sidecar-outbound virtual host
 * (pilot/pkg/networking/util/proxy_headers.go GetProxyHeadersFromProxyConfig, used by gateway.go and httproute.go),
 * so Envoy's router writes the try number on each upstream request. The callee's inbound virtual host does not set
 * it and the connection manager does not strip it, so the application sees the caller's value.
 */
import type { HTTPRoute, TrafficSource } from '../model';
import { seededRandom } from './random';
import { gateway, send, service, startMesh, virtualService, workload, type MeshFixture, type UpstreamBehaviour } from './test-harness';

const authors = workload('authors', 'authors', 'v1');
const webApi = workload('web-api-v1', 'web-api', 'v1');

let mesh: MeshFixture;
afterEach(async () => {
  await mesh?.close();
});

async function start(http: HTTPRoute[], source?: TrafficSource): Promise<MeshFixture> {
  mesh = await startMesh({
    replicas: [
      { id: 'authors-0', workload: authors },
      { id: 'web-api-v1-0', workload: webApi },
    ],
    source,
    random: seededRandom(11),
    state: {
      services: [service('authors', 3000)],
      istio: {
        gateways: [gateway('web-gateway')],
        virtualServices:
          http.length === 0 ? [] : [virtualService('authors', { hosts: source ? ['authors'] : ['*'], gateways: source ? undefined : ['web-gateway'], http })],
        destinationRules: [],
      },
    },
  });
  return mesh;
}

/** Answers 503 to the first `failures` tries, recording the attempt count every try saw. */
function failingFirst(failures: number, seen: string[]): UpstreamBehaviour {
  return (req, res) => {
    req.resume();
    seen.push(String(req.headers['x-envoy-attempt-count']));
    res.writeHead(seen.length <= failures ? 503 : 200).end();
  };
}

test('each try carries its number; a client-sent value is overwritten', async () => {
  await start([{ retries: { attempts: 3, retryOn: '5xx' }, route: [{ destination: { host: 'authors' } }] }]);
  const seen: string[] = [];
  mesh.upstream('authors-0').behaviour = failingFirst(2, seen);
  const res = await mesh.get('/', { headers: { 'x-envoy-attempt-count': '7' } });
  expect(res.status).toBe(200);
  expect(seen).toEqual(['1', '2', '3']);
});

test('a route header operation cannot set it: the router writes it last', async () => {
  await start([{ headers: { request: { set: { 'x-envoy-attempt-count': '9' } } }, route: [{ destination: { host: 'authors' } }] }]);
  const res = await mesh.get('/');
  expect(res.json().headers['x-envoy-attempt-count']).toBe('1');
});

test('a sidecar sends it too, also on the default route of a Service without VirtualService', async () => {
  await start([], { kind: 'sidecar', workload: webApi });
  const res = await send(mesh.port, 'http://authors:3000/api');
  expect(res.json().headers['x-envoy-attempt-count']).toBe('1');
});
