// The data plane as the ingress gateway, alone, in its own process (so /proc figures are its own): a Gateway
// and a VirtualService splitting /web-api/ 80/20 between two static upstreams (subsets v1/v2 by label), with
// the mesh's real telemetry (Istio metrics) recording every request — what the local mesh's gateway does.
// Prints `listening <port>`. Usage: node gateway-proxy.mjs <v1-port> <v2-port> [--no-telemetry]
import http from 'node:http';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const { compileMeshConfig, createDataPlane } = require('../mesh/dist/dataplane/index.js');
const { MeshTelemetry } = require('../mesh/dist/telemetry/index.js');

const [v1Port, v2Port] = process.argv.slice(2, 4).map(Number);
// --no-telemetry: a no-op sink instead, to see what the Istio metrics cost per request.
const withTelemetry = !process.argv.includes('--no-telemetry');
const workload = (version) => ({
  name: `web-api-${version}`,
  namespace: 'default',
  labels: { app: 'web-api', version },
  app: 'web-api',
  version,
  serviceAccount: 'web-api',
  replicas: 1,
});
const endpoints = [
  { id: 'web-api-v1-0', workload: workload('v1'), host: '127.0.0.1', port: v1Port, ready: true },
  { id: 'web-api-v2-0', workload: workload('v2'), host: '127.0.0.1', port: v2Port, ready: true },
];
const object = (kind, name, spec) => ({
  object: { apiVersion: kind === 'Service' ? 'v1' : 'networking.istio.io/v1', kind, metadata: { name, namespace: 'default' }, spec },
  source: { file: 'bench/gateway-proxy.mjs' },
});
const config = compileMeshConfig({
  mode: 'istio',
  namespace: 'default',
  workloads: endpoints.map((e) => e.workload),
  services: [object('Service', 'web-api', { selector: { app: 'web-api' }, ports: [{ name: 'http', port: 9080 }] })],
  istio: {
    gateways: [
      object('Gateway', 'web-gateway', {
        selector: { istio: 'ingressgateway' },
        servers: [{ port: { number: 80, name: 'http', protocol: 'HTTP' }, hosts: ['*'] }],
      }),
    ],
    destinationRules: [
      object('DestinationRule', 'web-api', {
        host: 'web-api',
        subsets: [
          { name: 'v1', labels: { version: 'v1' } },
          { name: 'v2', labels: { version: 'v2' } },
        ],
      }),
    ],
    virtualServices: [
      object('VirtualService', 'web-ingress', {
        hosts: ['*'],
        gateways: ['web-gateway'],
        http: [
          {
            name: 'web-api-getmultiple',
            match: [{ uri: { prefix: '/web-api/' } }],
            route: [
              { destination: { host: 'web-api', subset: 'v1', port: { number: 9080 } }, weight: 80 },
              { destination: { host: 'web-api', subset: 'v2', port: { number: 9080 } }, weight: 20 },
            ],
          },
        ],
      }),
    ],
  },
});
const dataPlane = createDataPlane({
  source: { kind: 'gateway', gatewayName: 'web-gateway' },
  config: () => config,
  endpoints: { endpoints: () => endpoints },
  telemetry: withTelemetry ? new MeshTelemetry('default') : { record() {} },
});
const server = http.createServer((req, res) => dataPlane.handle(req, res));
server.keepAliveTimeout = 65_000;
server.headersTimeout = 66_000;
server.listen(0, '127.0.0.1', () => console.log(`listening ${server.address().port}`));
process.on('SIGTERM', () => {
  server.close();
  server.closeAllConnections();
  void dataPlane.close().finally(() => process.exit(0));
});
