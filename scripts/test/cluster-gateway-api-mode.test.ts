/**
 * The cluster-only paths in Kubernetes Gateway API mode (gateway-api/: check, deploy, undeploy and urls, detected or
 * --gateway-api, and the mixed state with istio/base) against the fake API server of cluster-fake-server.ts.
 */
import {
  GATEWAY_PATH,
  PENDING_ADDRESS,
  ROUTE_PATH,
  TUNNEL_HINT,
  useFakeCluster,
  VS_PATH,
  webGateway,
  webIngress,
  webIngressRoute,
} from './cluster-fake-server';

describe('cluster target (fake API server, kubeconfig context "minikube")', () => {
  const { state, fake, run } = useFakeCluster();

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
