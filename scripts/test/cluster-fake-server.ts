/**
 * A small fake Kubernetes API server on a loopback port, reached through a kubeconfig file like Minikube's, for the
 * cluster-only paths of the scripts (check, urls, deploy, undeploy, apply with --cluster): the real client library
 * and the real kube-context code path, without a cluster. Shared by cluster-istio-mode.test.ts and
 * cluster-gateway-api-mode.test.ts; under test/, so it never reaches dist/.
 */
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { parse } from 'yaml';
import { main } from '../src/cli';
import { BufferedOutput } from '../src/io';

/** What istiod writes while the gateway's LoadBalancer Service has no address (conversion.go, reportGatewayStatus). */
export const PENDING_ADDRESS =
  'Assigned to service(s) web-gateway-istio.default.svc.cluster.local:80, but failed to assign to all requested addresses: ' +
  'address pending for hostname "web-gateway-istio.default.svc.cluster.local"';
export const TUNNEL_HINT =
  'the LoadBalancer Service web-gateway-istio has no address yet: on Minikube run `minikube tunnel` in another terminal ' +
  '(elsewhere: a LoadBalancer implementation such as MetalLB, or annotate the Gateway networking.istio.io/service-type=NodePort)';

export interface ClusterState {
  /** Reads of a workload Deployment before it reports rolled out (never, when Infinity). */
  readsUntilReady: number;
  istio: boolean;
  injection: boolean;
  gatewayReady: boolean;
  /** LoadBalancer address, as under `minikube tunnel`. */
  tunnel?: string;
  /** The Gateway API CRDs are installed (gateway.networking.k8s.io/v1 served). */
  gatewayApiCrds: boolean;
  /** GatewayClass istio: absent, or its Accepted condition's status. */
  gatewayClass?: 'True' | 'Unknown';
  /** The Programmed condition Istio writes on a Gateway once it is applied. */
  gatewayProgrammed: boolean;
}

export const repoRoot = path.resolve(__dirname, '../..');
export const webIngress = parse(fs.readFileSync(path.join(repoRoot, 'istio/base/virtualservice-web-ingress.yaml'), 'utf8'));
export const webIngressRoute = parse(fs.readFileSync(path.join(repoRoot, 'gateway-api/base/httproute-web-ingress.yaml'), 'utf8'));
export const webGateway = parse(fs.readFileSync(path.join(repoRoot, 'gateway-api/base/gateway.yaml'), 'utf8'));
export const VS_PATH = '/apis/networking.istio.io/v1/namespaces/default/virtualservices/web-ingress';
export const ROUTE_PATH = '/apis/gateway.networking.k8s.io/v1/namespaces/default/httproutes/web-ingress';
export const GATEWAY_PATH = '/apis/gateway.networking.k8s.io/v1/namespaces/default/gateways/web-gateway';
/** An Istio or Gateway API object's path (the fake stores them by path); group 1 is the API group. */
const CUSTOM_OBJECT = /^\/apis\/([^/]*(?:istio\.io|gateway\.networking\.k8s\.io))\/[^/]+\/namespaces\/default\/[^/]+\/[^/]+$/;

function fakeApiServer(state: ClusterState): { server: http.Server; writes: string[]; stored: Map<string, unknown>; reads: Map<string, number> } {
  const writes: string[] = [];
  const stored = new Map<string, unknown>();
  const served = (group: string): boolean =>
    group === 'networking.istio.io' ? state.istio : group === 'gateway.networking.k8s.io' ? state.gatewayApiCrds : true;
  const json = (res: http.ServerResponse, status: number, body: unknown): void => {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  };
  const notFound = (res: http.ServerResponse, what: string): void =>
    json(res, 404, { kind: 'Status', apiVersion: 'v1', status: 'Failure', reason: 'NotFound', code: 404, message: `${what} not found` });
  const reads = new Map<string, number>();
  const server = http.createServer((req, res) => {
    const url = req.url!.split('?')[0];
    const custom = CUSTOM_OBJECT.exec(url);
    if (custom && !served(custom[1]!)) return notFound(res, url);
    if (req.method === 'PATCH' && req.headers['content-type'] === 'application/apply-patch+yaml') {
      // Server-side apply: kept (custom objects) and echoed back.
      writes.push(`${req.method} ${url}`);
      let body = '';
      req.on('data', (c) => (body += c));
      req.on('end', () => {
        if (custom) stored.set(url, { ...JSON.parse(body), metadata: { ...JSON.parse(body).metadata, generation: 1 } });
        json(res, 200, JSON.parse(body));
      });
      return;
    }
    if (req.method !== 'GET') {
      writes.push(`${req.method} ${url}`);
      if (req.method === 'DELETE' && stored.delete(url)) return json(res, 200, { kind: 'Status', status: 'Success' });
      return notFound(res, url);
    }
    if (url === GATEWAY_PATH && stored.has(url)) {
      // What Istio's gateway controller writes once it has deployed the gateway (or not yet).
      const condition = state.gatewayProgrammed
        ? { type: 'Programmed', status: 'True', reason: 'Programmed', observedGeneration: 1 }
        : { type: 'Programmed', status: 'False', reason: 'AddressNotAssigned', message: PENDING_ADDRESS, observedGeneration: 1 };
      return json(res, 200, {
        ...(stored.get(url) as object),
        status: { conditions: [{ type: 'Accepted', status: 'True', observedGeneration: 1 }, condition] },
      });
    }
    if (custom) return stored.has(url) ? json(res, 200, stored.get(url)) : notFound(res, url);
    const deployment = /^\/apis\/apps\/v1\/namespaces\/default\/deployments\/([^/]+)$/.exec(url);
    if (deployment) {
      const n = (reads.get(url) ?? 0) + 1;
      reads.set(url, n);
      const ready = n > state.readsUntilReady;
      return json(res, 200, {
        metadata: { name: deployment[1], generation: 1 },
        spec: { replicas: 1 },
        status: ready ? { observedGeneration: 1, replicas: 1, updatedReplicas: 1, availableReplicas: 1 } : { observedGeneration: 1, replicas: 1 },
      });
    }
    switch (url) {
      // Discovery, which KubernetesObjectApi needs for the plural of each kind.
      case '/api/v1':
        return json(res, 200, {
          kind: 'APIResourceList',
          groupVersion: 'v1',
          resources: [
            { name: 'services', namespaced: true, kind: 'Service', verbs: ['get', 'patch'] },
            { name: 'serviceaccounts', namespaced: true, kind: 'ServiceAccount', verbs: ['get', 'patch'] },
            { name: 'secrets', namespaced: true, kind: 'Secret', verbs: ['get', 'patch'] },
          ],
        });
      case '/apis/apps/v1':
        return json(res, 200, {
          kind: 'APIResourceList',
          groupVersion: 'apps/v1',
          resources: [
            { name: 'deployments', namespaced: true, kind: 'Deployment', verbs: ['get', 'patch'] },
            { name: 'statefulsets', namespaced: true, kind: 'StatefulSet', verbs: ['get', 'patch'] },
          ],
        });
      case '/version':
        return json(res, 200, { major: '1', minor: '31', gitVersion: 'v1.31.0' });
      case '/apis':
        return json(res, 200, {
          kind: 'APIGroupList',
          groups: [
            { name: 'apps', versions: [{ groupVersion: 'apps/v1', version: 'v1' }] },
            ...(state.istio ? [{ name: 'networking.istio.io', versions: [{ groupVersion: 'networking.istio.io/v1', version: 'v1' }] }] : []),
            ...(state.gatewayApiCrds
              ? [{ name: 'gateway.networking.k8s.io', versions: [{ groupVersion: 'gateway.networking.k8s.io/v1', version: 'v1' }] }]
              : []),
          ],
        });
      case '/api/v1/namespaces/default':
        return json(res, 200, { metadata: { name: 'default', labels: state.injection ? { 'istio-injection': 'enabled' } : {} } });
      case '/apis/apps/v1/namespaces/istio-system/deployments/istio-ingressgateway':
        if (!state.istio) return notFound(res, 'deployment istio-ingressgateway');
        return json(res, 200, {
          metadata: { name: 'istio-ingressgateway', generation: 1 },
          spec: { replicas: 1 },
          status: { observedGeneration: 1, replicas: 1, updatedReplicas: 1, availableReplicas: state.gatewayReady ? 1 : 0 },
        });
      case '/api/v1/nodes':
        return json(res, 200, {
          items: [
            {
              metadata: { name: 'minikube', labels: { 'minikube.k8s.io/name': 'minikube' } },
              status: { addresses: [{ type: 'InternalIP', address: '192.168.49.2' }] },
            },
          ],
        });
      case '/api/v1/namespaces/istio-system/services/istio-ingressgateway':
        if (!state.istio) return notFound(res, 'service istio-ingressgateway');
        return json(res, 200, {
          metadata: { name: 'istio-ingressgateway', namespace: 'istio-system' },
          spec: {
            type: 'LoadBalancer',
            ports: [
              { name: 'status-port', port: 15021, nodePort: 30521 },
              { name: 'http2', port: 80, nodePort: 31380 },
            ],
          },
          status: { loadBalancer: state.tunnel ? { ingress: [{ ip: state.tunnel }] } : {} },
        });
      case '/apis/gateway.networking.k8s.io/v1/gatewayclasses/istio':
        if (!state.gatewayApiCrds || !state.gatewayClass) return notFound(res, 'gatewayclass istio');
        return json(res, 200, {
          metadata: { name: 'istio', generation: 1 },
          spec: { controllerName: 'istio.io/gateway-controller' },
          status: {
            conditions: [
              { type: 'Accepted', status: state.gatewayClass, reason: state.gatewayClass === 'True' ? 'Accepted' : 'Pending', observedGeneration: 1 },
            ],
          },
        });
      case '/api/v1/namespaces/default/services/web-gateway-istio':
        // What Istio's gateway controller creates for Gateway web-gateway: a LoadBalancer with the listener's port.
        if (!stored.has(GATEWAY_PATH)) return notFound(res, 'service web-gateway-istio');
        return json(res, 200, {
          metadata: { name: 'web-gateway-istio', namespace: 'default' },
          spec: {
            type: 'LoadBalancer',
            ports: [
              { name: 'status-port', port: 15021, nodePort: 30921 },
              { name: 'http', port: 80, nodePort: 32080 },
            ],
          },
          status: { loadBalancer: {} },
        });
      default:
        return notFound(res, url);
    }
  });
  return { server, writes, stored, reads };
}

/**
 * Registers the hooks of one describe block: the fake listening for the whole block with KUBECONFIG pointing at it,
 * and before each test a cluster with Istio, injection, a ready gateway and istio/base's VirtualService web-ingress.
 */
export function useFakeCluster(): {
  state: ClusterState;
  fake: ReturnType<typeof fakeApiServer>;
  run: (...argv: string[]) => Promise<{ code: number; stdout: string[]; stderr: string[] }>;
} {
  let dir: string;
  const savedKubeconfig = process.env.KUBECONFIG;
  const state: ClusterState = { istio: true, injection: true, gatewayReady: true, readsUntilReady: 0, gatewayApiCrds: false, gatewayProgrammed: true };
  const fake = fakeApiServer(state);

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'scripts-fake-cluster-'));
    await new Promise<void>((resolve) => fake.server.listen(0, '127.0.0.1', resolve));
    const { port } = fake.server.address() as AddressInfo;
    const config = path.join(dir, 'config');
    fs.writeFileSync(
      config,
      `apiVersion: v1\nkind: Config\nclusters:\n- name: minikube\n  cluster:\n    server: http://127.0.0.1:${port}\n    insecure-skip-tls-verify: true\n` +
        'users:\n- name: minikube\n  user: {}\ncontexts:\n- name: minikube\n  context: {cluster: minikube, user: minikube}\ncurrent-context: minikube\n',
    );
    process.env.KUBECONFIG = config;
  });

  afterAll(async () => {
    if (savedKubeconfig === undefined) delete process.env.KUBECONFIG;
    else process.env.KUBECONFIG = savedKubeconfig;
    await new Promise<void>((resolve) => fake.server.close(() => resolve()));
    fs.rmSync(dir, { recursive: true, force: true });
  });

  beforeEach(() => {
    Object.assign(state, {
      istio: true,
      injection: true,
      gatewayReady: true,
      tunnel: undefined,
      readsUntilReady: 0,
      gatewayApiCrds: false,
      gatewayClass: undefined,
      gatewayProgrammed: true,
    });
    fake.writes.length = 0;
    // Every test counts its own reads towards readsUntilReady, whatever ran before it.
    fake.reads.clear();
    // istio/base deployed: the ingress VirtualService.
    fake.stored.clear();
    fake.stored.set(VS_PATH, webIngress);
  });

  async function run(...argv: string[]): Promise<{ code: number; stdout: string[]; stderr: string[] }> {
    const io = new BufferedOutput();
    const code = await main([...argv, '--cluster'], io, {});
    return { code, stdout: io.stdout, stderr: io.stderr };
  }

  return { state, fake, run };
}
