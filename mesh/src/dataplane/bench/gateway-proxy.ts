/**
 * Benchmark proxy: the data plane as the ingress gateway, with an 80/20 VirtualService split between two static
 * upstreams (the same routing the nginx baseline does with split_clients). Prints `listening <port>`.
 * Usage: node gateway-proxy.js <v1-port> <v2-port>
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Endpoint, Workload } from '../../model';
import { compileMeshConfig, createDataPlane } from '../index';

const [v1Port, v2Port] = process.argv.slice(2).map(Number);
const workload = (version: string): Workload => ({
  name: `web-api-${version}`,
  namespace: 'default',
  labels: { app: 'web-api', version },
  app: 'web-api',
  version,
  serviceAccount: 'web-api',
  replicas: 1,
});
const endpoints: Endpoint[] = [
  { id: 'web-api-v1-0', workload: workload('v1'), host: '127.0.0.1', port: v1Port, ready: true },
  { id: 'web-api-v2-0', workload: workload('v2'), host: '127.0.0.1', port: v2Port, ready: true },
];
const meta = (kind: string, name: string) => ({ apiVersion: kind === 'Service' ? 'v1' : 'networking.istio.io/v1', kind, metadata: { name } });
const source = { file: 'bench' };
const config = compileMeshConfig({
  mode: 'istio',
  workloads: endpoints.map((e) => e.workload),
  services: [{ object: { ...meta('Service', 'web-api'), spec: { selector: { app: 'web-api' }, ports: [{ name: 'http', port: 3000 }] } }, source }],
  istio: {
    gateways: [{ object: { ...meta('Gateway', 'web-gateway'), spec: { servers: [{ port: { number: 80, protocol: 'HTTP' }, hosts: ['*'] }] } }, source }],
    destinationRules: [
      {
        object: {
          ...meta('DestinationRule', 'web-api'),
          spec: { host: 'web-api', subsets: [{ name: 'v1', labels: { version: 'v1' } }, { name: 'v2', labels: { version: 'v2' } }] },
        },
        source,
      },
    ],
    virtualServices: [
      {
        object: {
          ...meta('VirtualService', 'web-ingress'),
          spec: {
            hosts: ['*'],
            gateways: ['web-gateway'],
            http: [
              {
                match: [{ uri: { prefix: '/web-api/' } }],
                rewrite: { uri: '/api/' },
                route: [
                  { destination: { host: 'web-api', subset: 'v1' }, weight: 80 },
                  { destination: { host: 'web-api', subset: 'v2' }, weight: 20 },
                ],
              },
            ],
          },
        },
        source,
      },
    ],
  },
});
let recorded = 0;
const dataPlane = createDataPlane({
  source: { kind: 'gateway', gatewayName: 'web-gateway' },
  config: () => config,
  endpoints: { endpoints: () => endpoints },
  telemetry: { record: () => void recorded++ },
});
const server = http.createServer((req, res) => dataPlane.handle(req, res));
server.keepAliveTimeout = 60_000;
server.listen(0, '127.0.0.1', () => console.log(`listening ${(server.address() as AddressInfo).port}`));
process.on('SIGTERM', () => {
  console.log(`recorded ${recorded}`);
  process.exit(0);
});
