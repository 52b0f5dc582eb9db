/**
 * The cluster-only paths (check's Istio / injection / gateway checks, urls from nodePorts, deploy refusing to
 * start without Istio) against a small fake API server on a loopback port, reached through a kubeconfig file
 * like Minikube's: the real client library and the real kube-context code path, without a cluster.
 */
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { parse } from 'yaml';
import { main } from '../src/cli';
import { deployCommand } from '../src/commands';
import { BufferedOutput } from '../src/io';
import { clusterTarget, KubeClient } from '../src/kube';

/** What istiod writes while the gateway's LoadBalancer Service has no address (conversion.go, reportGatewayStatus). */
const PENDING_ADDRESS =
  'Assigned to service(s) web-gateway-istio.default.svc.cluster.local:80, but failed to assign to all requested addresses: ' +
  'address pending for hostname "web-gateway-istio.default.svc.cluster.local"';
const TUNNEL_HINT =
  'the LoadBalancer Service web-gateway-istio has no address yet: on Minikube run `minikube tunnel` in another terminal ' +
  '(elsewhere: a LoadBalancer implementation such as MetalLB, or annotate the Gateway networking.istio.io/service-type=NodePort)';

interface ClusterState {
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

const repoRoot = path.resolve(__dirname, '../..');
const webIngress = parse(fs.readFileSync(path.join(repoRoot, 'istio/base/virtualservice-web-ingress.yaml'), 'utf8'));
const webIngressRoute = parse(fs.readFileSync(path.join(repoRoot, 'gateway-api/base/httproute-web-ingress.yaml'), 'utf8'));
const webGateway = parse(fs.readFileSync(path.join(repoRoot, 'gateway-api/base/gateway.yaml'), 'utf8'));
const VS_PATH = '/apis/networking.istio.io/v1/namespaces/default/virtualservices/web-ingress';
const ROUTE_PATH = '/apis/gateway.networking.k8s.io/v1/namespaces/default/httproutes/web-ingress';
const GATEWAY_PATH = '/apis/gateway.networking.k8s.io/v1/namespaces/default/gateways/web-gateway';
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

describe('cluster target (fake API server, kubeconfig context "minikube")', () => {
  let dir: string;
  const savedKubeconfig = process.env.KUBECONFIG;
  let fake: ReturnType<typeof fakeApiServer>;
  const state: ClusterState = { istio: true, injection: true, gatewayReady: true, readsUntilReady: 0, gatewayApiCrds: false, gatewayProgrammed: true };

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'scripts-fake-cluster-'));
    fake = fakeApiServer(state);
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

  it('check: all prerequisites met, Minikube detected', async () => {
    const result = await run('check');
    expect(result.stderr).toEqual([]);
    expect(result.stdout).toEqual([
      expect.stringMatching(/^✓ kube context "minikube" \(http:\/\/127\.0\.0\.1:\d+\) answers \(Kubernetes API v1\.31\.0\)$/),
      '✓ Istio API networking.istio.io/v1 is served',
      '- routing: Istio API (detected: VirtualService web-ingress)',
      '✓ namespace default is labelled for sidecar injection',
      '✓ the Istio ingress gateway is running (istio-system/istio-ingressgateway)',
      '- Minikube: detected',
    ]);
    expect(result.code).toBe(0);
  });

  it('check without Istio: the plain explanation instead of "no matches for kind Gateway", exit 1', async () => {
    Object.assign(state, { istio: false, injection: false });
    const result = await run('check');
    expect(result.stdout).toContain('✗ Istio is not installed: the Gateway resource type is unknown; install Istio first');
    expect(result.stdout).toContain('✗ namespace default is not labelled for sidecar injection: kubectl label namespace default istio-injection=enabled');
    expect(result.stdout).toContain(
      '✗ the Istio ingress gateway is not installed (no Deployment istio-system/istio-ingressgateway): install Istio with the demo profile',
    );
    expect(result.code).toBe(1);
  });

  it('check with the gateway not yet available', async () => {
    state.gatewayReady = false;
    const result = await run('check');
    expect(result.stdout).toContain('✗ the Istio ingress gateway is not ready: istio-ingressgateway 1/1 updated, 0/1 available');
    expect(result.code).toBe(1);
  });

  it('deploy without Istio stops before sending anything', async () => {
    state.istio = false;
    const result = await run('deploy');
    expect(result.stderr).toEqual(['error: Istio is not installed: the Gateway resource type is unknown; install Istio first']);
    expect(result.code).toBe(1);
    expect(fake.writes).toEqual([]);
  });

  it('apply without Istio stops before sending anything', async () => {
    state.istio = false;
    const result = await run('apply', '-f', path.join(repoRoot, 'istio/faults/authors-delay.yaml'));
    expect(result.stderr).toEqual(['error: Istio is not installed: the Gateway resource type is unknown; install Istio first']);
    expect(fake.writes).toEqual([]);
  });

  it('urls: node IP + the http2 nodePort, the Kiali command and the minikube tunnel hint', async () => {
    const result = await run('urls');
    expect(result.code).toBe(0);
    expect(result.stdout.slice(0, 3)).toEqual([
      'Web app:      http://192.168.49.2:31380/',
      'getmultiple:  curl -s http://192.168.49.2:31380/web-api/v1/getmultiple',
      'Swagger UI:   http://192.168.49.2:31380/openapi/ui',
    ]);
    // Where the port comes from: the ingress gateway Service's nodePort is random, read from the Service.
    expect(result.stdout[3]).toBe('Gateway:      node minikube InternalIP + nodePort 31380 of port http2');
    expect(result.stdout.some((l) => l.startsWith('Kiali:        istioctl dashboard kiali'))).toBe(true);
    expect(result.stdout.some((l) => l.includes('minikube tunnel'))).toBe(true);
  });

  it('urls under `minikube tunnel`: the LoadBalancer address (EXTERNAL-IP), no tunnel hint', async () => {
    state.tunnel = '10.98.12.34';
    const { stdout } = await run('urls');
    expect(stdout[1]).toBe('getmultiple:  curl -s http://10.98.12.34/web-api/v1/getmultiple');
    expect(stdout[3]).toBe('Gateway:      LoadBalancer address 10.98.12.34 (EXTERNAL-IP of istio-system/istio-ingressgateway), port 80');
    expect(stdout.some((l) => l.includes('minikube tunnel'))).toBe(false);
  });

  it('urls without the ingress gateway Service: says to install Istio, exit 1', async () => {
    state.istio = false;
    const result = await run('urls');
    expect(result.stdout[0]).toBe('No gateway URL: Service istio-system/istio-ingressgateway not found: install Istio with the demo profile');
    expect(result.code).toBe(1);
  });

  it('deploy: server-side applies k8s/ and istio/base/, waits for every rollout, prints the URLs', async () => {
    state.readsUntilReady = 2; // each Deployment reports rolled out on its third read
    const io = new BufferedOutput();
    const client = await KubeClient.create(await clusterTarget());
    expect(await deployCommand(client, { timeoutSec: 30, intervalMs: 10, env: {} }, io)).toBe(0);
    expect(fake.writes).toEqual(
      expect.arrayContaining([
        'PATCH /api/v1/namespaces/default/serviceaccounts/web-api',
        'PATCH /api/v1/namespaces/default/services/web-api',
        'PATCH /apis/apps/v1/namespaces/default/deployments/web-api-v2',
        'PATCH /api/v1/namespaces/default/secrets/postgres-credentials',
        'PATCH /apis/apps/v1/namespaces/default/statefulsets/postgres',
        'PATCH /apis/networking.istio.io/v1/namespaces/default/virtualservices/web-ingress',
        'PATCH /apis/networking.istio.io/v1/namespaces/default/destinationrules/web-api',
      ]),
    );
    // Subsets exist before the VirtualService that names them.
    expect(fake.writes.indexOf('PATCH /apis/networking.istio.io/v1/namespaces/default/destinationrules/web-api')).toBeLessThan(
      fake.writes.indexOf('PATCH /apis/networking.istio.io/v1/namespaces/default/virtualservices/web-ingress'),
    );
    expect(io.stderr.filter((l) => l.startsWith('rolled out: '))).toHaveLength(5);
    expect(io.stdout).toContain('all 5 deployments rolled out');
    expect(io.stdout).toContain('getmultiple:  curl -s http://192.168.49.2:31380/web-api/v1/getmultiple');
  });

  it('deploy gives up at --timeout naming what it still waits for', async () => {
    state.readsUntilReady = Infinity;
    const client = await KubeClient.create(await clusterTarget());
    await expect(deployCommand(client, { timeoutSec: 1, intervalMs: 50, env: {} }, new BufferedOutput())).rejects.toThrow(
      /^timed out after 1 s waiting for: articles 0\/1 updated, 0\/1 available; .*web-api-v2 0\/1 updated, 0\/1 available/,
    );
  });

  describe('Gateway API mode (gateway-api/)', () => {
    /** The CRDs installed, Istio's GatewayClass accepted; `deployed`: gateway-api/base applied instead of istio/base. */
    function gatewayApiCluster(deployed: boolean): void {
      Object.assign(state, { gatewayApiCrds: true, gatewayClass: 'True' });
      fake.stored.delete(VS_PATH);
      if (deployed) {
        fake.stored.set(ROUTE_PATH, webIngressRoute);
        fake.stored.set(GATEWAY_PATH, { ...webGateway, metadata: { ...webGateway.metadata, generation: 1 } });
      }
    }

    it('check (detected): CRDs, GatewayClass istio, injection, Gateway web-gateway Programmed and its Deployment instead of istio-ingressgateway', async () => {
      gatewayApiCluster(true);
      const result = await run('check');
      expect(result.stdout).toEqual([
        expect.stringMatching(/^✓ kube context "minikube" .* answers/),
        '✓ Istio API networking.istio.io/v1 is served',
        '- routing: Kubernetes Gateway API (detected: HTTPRoute web-ingress, no VirtualService web-ingress)',
        '✓ Gateway API gateway.networking.k8s.io/v1 is served',
        '✓ GatewayClass istio is Accepted (controller istio.io/gateway-controller)',
        '✓ namespace default is labelled for sidecar injection',
        '✓ Gateway web-gateway is Programmed',
        '✓ the gateway Deployment default/web-gateway-istio is rolled out',
        '- Minikube: detected',
      ]);
      expect(result.code).toBe(0);
    });

    it('check --gateway-api without the CRDs: the install command of the pinned version, exit 1', async () => {
      const result = await run('check', '--gateway-api');
      expect(result.stdout).toContain(
        '✗ the Gateway API is not installed on the kube context "minikube" (' +
          `${result.stdout[0]!.split('(')[1]!.split(')')[0]}): gateway.networking.k8s.io/v1 is not served; install its CRDs (v1.1.0, the version Istio 1.22 supports): ` +
          'kubectl apply -f https://github.com/kubernetes-sigs/gateway-api/releases/download/v1.1.0/standard-install.yaml',
      );
      expect(result.stdout.some((l) => l.includes('GatewayClass') || l.includes('istio-ingressgateway'))).toBe(false);
      expect(result.code).toBe(1);
    });

    it('check --gateway-api before deploy: GatewayClass not accepted fails, the Gateway is only "not deployed yet"', async () => {
      gatewayApiCluster(false);
      state.gatewayClass = 'Unknown';
      const result = await run('check', '--gateway-api');
      expect(result.stdout).toContain('✗ GatewayClass istio is not Accepted: Accepted Unknown (Pending)');
      expect(result.stdout).toContain('- Gateway web-gateway: not deployed yet (`npm run deploy -- --gateway-api --cluster`)');
      expect(result.code).toBe(1);
    });

    it('check: a Gateway Istio has not programmed fails with its reason', async () => {
      gatewayApiCluster(true);
      state.gatewayProgrammed = false;
      const result = await run('check');
      expect(result.stdout).toContain(`✗ Gateway web-gateway is not Programmed: Programmed False (AddressNotAssigned: ${PENDING_ADDRESS}); ${TUNNEL_HINT}`);
      expect(result.code).toBe(1);
    });

    it('check names a mixed state (VirtualService and HTTPRoute web-ingress both deployed)', async () => {
      gatewayApiCluster(true);
      fake.stored.set(VS_PATH, webIngress);
      const result = await run('check');
      expect(result.stdout).toContain('- routing: Istio API (detected: VirtualService web-ingress (and an HTTPRoute web-ingress))');
      expect(result.stdout).toContain(
        '✗ both a VirtualService web-ingress (istio/base) and an HTTPRoute web-ingress (gateway-api/) are deployed: they route the same hosts ' +
          'on port 80 (never both for one host); run `npm run undeploy -- --cluster` (deletes both), then deploy one of them',
      );
      expect(result.code).toBe(1);
    });

    it('deploy --gateway-api: k8s/ + gateway-api/base (Gateway before HTTPRoute), waits for 6 rollouts and Programmed, URLs from web-gateway-istio', async () => {
      gatewayApiCluster(false);
      state.readsUntilReady = 1;
      const result = await run('deploy', '--gateway-api');
      expect(result.code).toBe(0);
      expect(fake.writes).toEqual(
        expect.arrayContaining([
          'PATCH /apis/apps/v1/namespaces/default/deployments/web-api-v1',
          'PATCH /api/v1/namespaces/default/services/web-api-v1',
          'PATCH /api/v1/namespaces/default/services/web-api-v2',
          `PATCH ${GATEWAY_PATH}`,
          `PATCH ${ROUTE_PATH}`,
          'PATCH /apis/networking.istio.io/v1/namespaces/default/destinationrules/articles',
        ]),
      );
      expect(fake.writes.indexOf(`PATCH ${GATEWAY_PATH}`)).toBeLessThan(fake.writes.indexOf(`PATCH ${ROUTE_PATH}`));
      // Nothing of istio/base's routing: no Istio Gateway, no VirtualService.
      expect(fake.writes.filter((w) => /networking\.istio\.io\/v1\/namespaces\/default\/(gateways|virtualservices)\//.test(w))).toEqual([]);
      expect(result.stdout[0]).toBe('routing: Kubernetes Gateway API, gateway-api/base (--gateway-api)');
      expect(result.stderr).toContainEqual(expect.stringMatching(/^rolled out: web-gateway-istio \(\d\/6\)$/));
      expect(result.stdout).toEqual(
        expect.arrayContaining([
          'all 6 deployments rolled out',
          'Gateway web-gateway is Programmed',
          'getmultiple:  curl -s http://192.168.49.2:32080/web-api/v1/getmultiple',
          'Gateway:      node minikube InternalIP + nodePort 32080 of port http',
        ]),
      );
    });

    it('deploy --gateway-api gives up at --timeout when the Gateway never gets Programmed', async () => {
      gatewayApiCluster(false);
      state.gatewayProgrammed = false;
      const result = await run('deploy', '--gateway-api', '--timeout', '1');
      // The hint comes once while waiting, and again in the final error.
      expect(result.stderr.filter((line) => line.startsWith('waiting for Gateway web-gateway'))).toEqual([
        `waiting for Gateway web-gateway to be Programmed: ${TUNNEL_HINT}`,
      ]);
      expect(result.stderr.at(-1)).toBe(
        `error: timed out after 1 s waiting for Gateway web-gateway to be Programmed: Programmed False (AddressNotAssigned: ${PENDING_ADDRESS}); ${TUNNEL_HINT} (kubectl describe gateway web-gateway)`,
      );
      expect(result.code).toBe(1);
    }, 15_000);

    it('deploy --gateway-api over istio/base is refused before anything is sent, saying to undeploy first', async () => {
      Object.assign(state, { gatewayApiCrds: true, gatewayClass: 'True' }); // istio/base's VirtualService is deployed
      const result = await run('deploy', '--gateway-api');
      expect(result.stderr).toEqual([
        'error: VirtualService web-ingress (istio/base) is deployed and the HTTPRoute web-ingress would route the same hosts (never both for one host): ' +
          'run `npm run undeploy -- --cluster` first, then `npm run deploy -- --gateway-api --cluster`',
      ]);
      expect(result.code).toBe(1);
      expect(fake.writes).toEqual([]);
    });

    it('deploy in a mixed state is refused in either mode', async () => {
      gatewayApiCluster(true);
      fake.stored.set(VS_PATH, webIngress);
      for (const args of [['deploy'], ['deploy', '--gateway-api']]) {
        const result = await run(...args);
        expect(result.stderr).toEqual([expect.stringMatching(/^error: both a VirtualService web-ingress \(istio\/base\) and an HTTPRoute web-ingress/)]);
      }
      expect(fake.writes).toEqual([]);
    });

    it('deploy --gateway-api without the CRDs: the install command, nothing sent', async () => {
      fake.stored.delete(VS_PATH);
      const result = await run('deploy', '--gateway-api');
      expect(result.stderr).toEqual([
        expect.stringMatching(/gateway\.networking\.k8s\.io\/v1 is not served; install its CRDs .*v1\.1\.0\/standard-install\.yaml$/),
      ]);
      expect(fake.writes).toEqual([]);
    });

    it('undeploy (detected): the HTTPRoute before the Gateway, the gateway-api/ Services and the workloads; not the VirtualService web-ingress', async () => {
      gatewayApiCluster(true);
      const result = await run('undeploy');
      expect(result.code).toBe(0);
      expect(result.stdout[0]).toBe('routing: Kubernetes Gateway API (detected: HTTPRoute web-ingress, no VirtualService web-ingress)');
      expect(result.stdout).toEqual(expect.arrayContaining(['deleted HTTPRoute/web-ingress', 'deleted Gateway/web-gateway']));
      expect(fake.writes.indexOf(`DELETE ${ROUTE_PATH}`)).toBeLessThan(fake.writes.indexOf(`DELETE ${GATEWAY_PATH}`));
      expect(fake.writes).toEqual(
        expect.arrayContaining([
          'DELETE /api/v1/namespaces/default/services/web-api-v2',
          'DELETE /apis/apps/v1/namespaces/default/deployments/web-api-v1',
          'DELETE /apis/networking.istio.io/v1/namespaces/default/virtualservices/authors', // istio/faults apply in this mode
        ]),
      );
      expect(fake.writes).not.toContain(`DELETE ${VS_PATH}`);
      expect([...fake.stored.keys()]).toEqual([]);
    });

    it('undeploy in a mixed state deletes both routes', async () => {
      gatewayApiCluster(true);
      fake.stored.set(VS_PATH, webIngress);
      const result = await run('undeploy');
      expect(result.stdout[0]).toBe('routing: Istio API and Kubernetes Gateway API (detected: VirtualService web-ingress (and an HTTPRoute web-ingress))');
      expect(result.stdout).toEqual(expect.arrayContaining(['deleted VirtualService/web-ingress', 'deleted HTTPRoute/web-ingress']));
    });

    it('urls (detected): the web-gateway-istio Service and the paths of the HTTPRoute matches', async () => {
      gatewayApiCluster(true);
      const moved = structuredClone(webIngressRoute);
      for (const rule of moved.spec.rules) for (const match of rule.matches ?? []) match.path.value = match.path.value.replace(/^\/web-api/, '/api');
      fake.stored.set(ROUTE_PATH, moved);
      const { stdout, code } = await run('urls');
      expect(code).toBe(0);
      expect(stdout[1]).toBe('getmultiple:  curl -s http://192.168.49.2:32080/api/v1/getmultiple');
      expect(stdout[3]).toBe('Gateway:      node minikube InternalIP + nodePort 32080 of port http');
    });

    it('urls --gateway-api before deploy: no gateway Service yet, says why', async () => {
      gatewayApiCluster(false);
      const result = await run('urls', '--gateway-api');
      expect(result.stdout).toEqual(['No gateway URL: Service default/web-gateway-istio not found: is the Gateway programmed? (kubectl get gateway)']);
      expect(result.code).toBe(1);
    });
  });
});
