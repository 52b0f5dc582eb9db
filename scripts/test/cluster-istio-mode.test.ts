/**
 * The cluster-only paths in Istio mode (check's Istio / injection / gateway checks, urls from nodePorts, deploy and
 * apply refusing to start without Istio, deploy's rollout wait) against the fake API server of cluster-fake-server.ts.
 */
import path from 'node:path';
import { deployCommand } from '../src/commands';
import { BufferedOutput } from '../src/io';
import { clusterTarget, KubeClient } from '../src/kube';
import { repoRoot, useFakeCluster } from './cluster-fake-server';

describe('cluster target (fake API server, kubeconfig context "minikube")', () => {
  const { state, fake, run } = useFakeCluster();

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
});
