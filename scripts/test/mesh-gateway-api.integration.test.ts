/**
 * `npm start -- --gateway-api` end to end: the whole app from k8s/ + gateway-api/base with real processes, routed
 * by the Gateway API Gateway and HTTPRoute through the local mesh, driven by the scripts over the mesh's
 * Kubernetes REST (what a Minikube user runs) and read with kubectl.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { seededRandom, startMesh } from '@cns/mesh';
import { forPeople } from '@cns/mesh/links';
import { binomialBounds, describeWithTool } from '@cns/service-kit/testing';
import { main } from '../src/cli';
import { BufferedOutput } from '../src/io';
import { KubeClient, meshTarget } from '../src/kube';

const repoRoot = path.resolve(__dirname, '../..');
const BUILD_OUTPUTS = ['articles/dist/server.js', 'authors/dist/server.js', 'web-api-v1/dist/server.js', 'web-api-v2/dist/server.js'];

describe('npm start -- --gateway-api', () => {
  let mesh: Awaited<ReturnType<typeof startMesh>>;
  let env: NodeJS.ProcessEnv;
  let client: KubeClient;

  async function run(...argv: string[]): Promise<{ code: number; stdout: string[]; stderr: string[] }> {
    const io = new BufferedOutput();
    const code = await main(argv, io, env);
    return { code, stdout: io.stdout, stderr: io.stderr };
  }

  beforeAll(async () => {
    const missing = BUILD_OUTPUTS.filter((f) => !fs.existsSync(path.join(repoRoot, f)));
    if (missing.length) throw new Error(`these tests need built services: run npm run build (missing: ${missing.join(', ')})`);
    mesh = await startMesh({
      gatewayApi: true,
      gatewayPort: 0,
      adminPort: 0,
      watch: false,
      random: seededRandom(9),
      log: () => undefined,
      output: () => undefined,
    });
    env = { MESH_ADMIN_URL: mesh.adminUrl, PATH: process.env.PATH };
    client = await KubeClient.create(await meshTarget(mesh.adminUrl));
  }, 120_000);

  afterAll(async () => {
    await mesh?.stop();
  }, 60_000);

  it('routes getmultiple to web-api v1 only, and the rest of the app through the HTTPRoute', async () => {
    const versions = new Set<string>();
    for (let i = 0; i < 20; i++) {
      const response = await fetch(`${mesh.gatewayUrl}/web-api/v1/getmultiple`, { signal: AbortSignal.timeout(10_000) });
      expect(response.status).toBe(200);
      versions.add(response.headers.get('x-web-api-version') ?? '');
    }
    expect([...versions]).toEqual(['v1']);
    expect((await fetch(`${mesh.gatewayUrl}/openapi`, { signal: AbortSignal.timeout(10_000) })).status).toBe(200);
    expect((await fetch(`${mesh.gatewayUrl}/`, { signal: AbortSignal.timeout(10_000) })).headers.get('content-type')).toMatch(/text\/html/);
  }, 60_000);

  it('the gateway reports as web-gateway-istio with its own identity; destination_service is the version Service', async () => {
    const metrics = await (await fetch(`${mesh.adminUrl}/metrics`, { signal: AbortSignal.timeout(10_000) })).text();
    const line = metrics
      .split('\n')
      .find(
        (l) => l.startsWith('istio_requests_total{reporter="source",source_workload="web-gateway-istio"') && l.includes('destination_workload="web-api-v1"'),
      );
    expect(line).toContain('source_principal="spiffe://cluster.local/ns/default/sa/web-gateway-istio"');
    expect(line).toContain('destination_service="web-api-v1.default.svc.cluster.local"');
    expect(line).toContain('destination_canonical_service="web-api"');
    expect(line).toContain('destination_canonical_revision="v1"');
  });

  it('traffic 80 20 patches the HTTPRoute weights; v2 gets its share within binomial bounds', async () => {
    const result = await run('traffic', '80', '20');
    expect(result.stderr).toEqual([]);
    expect(result.code).toBe(0);
    expect(result.stdout[0]).toMatch(/^getmultiple: v1 80 %, v2 20 % {2}\(HTTPRoute web-ingress, local mesh at /);
    const route = (await client.getIstio('gateway.networking.k8s.io/v1', 'HTTPRoute', 'web-ingress')) as unknown as {
      spec: { rules: Array<{ backendRefs: Array<{ name: string; weight?: number }> }> };
    };
    expect(route.spec.rules[1].backendRefs.map((b) => [b.name, b.weight])).toEqual([
      ['web-api-v1', 80],
      ['web-api-v2', 20],
    ]);

    const load = await run('load', '--count', '800', '--rate', '0', '--concurrency', '8', '--duration', '0');
    expect(load.code).toBe(0);
    const versions = load.stdout.find((l) => l.startsWith('web-api versions:'))!;
    const [, v1Count, v2Count] = /v1 [\d.]+ % \((\d+)\), v2 [\d.]+ % \((\d+)\)/.exec(versions) ?? [];
    const answered = Number(v1Count) + Number(v2Count);
    expect(answered).toBeGreaterThanOrEqual(760);
    const { low, high } = binomialBounds(answered, 0.2);
    expect(Number(v2Count)).toBeGreaterThanOrEqual(low);
    expect(Number(v2Count)).toBeLessThanOrEqual(high);
  }, 480_000);

  describeWithTool('kubectl', 'kubectl', () => {
    it('reads the route status like a cluster: Accepted, ResolvedRefs, observedGeneration = generation', async () => {
      const out = await new Promise<string>((resolve, reject) =>
        execFile(
          'kubectl',
          ['--server', mesh.adminUrl, 'get', 'httproute', 'web-ingress', '-o', 'json'],
          { env: { ...process.env, KUBECONFIG: '/dev/null', HOME: os.tmpdir() }, timeout: 20_000 },
          (error, stdout) => (error ? reject(error) : resolve(stdout)),
        ),
      );
      const route = JSON.parse(out) as {
        metadata: { generation: number };
        status: { parents: Array<{ controllerName: string; conditions: Array<{ type: string; status: string; observedGeneration: number }> }> };
      };
      const parent = route.status.parents[0];
      expect(parent.controllerName).toBe('istio.io/gateway-controller');
      expect(parent.conditions.map((c) => `${c.type}=${c.status}@${c.observedGeneration === route.metadata.generation}`)).toEqual([
        'Accepted=True@true',
        'ResolvedRefs=True@true',
      ]);
    });
  });

  it('apply -f / remove -f take the Gateway API files: the 80/20 HTTPRoute, the per-version circuit breaker', async () => {
    const applied = await run(
      'apply',
      '-f',
      path.join(repoRoot, 'gateway-api/traffic/web-ingress-80-20.yaml'),
      '-f',
      path.join(repoRoot, 'gateway-api/resilience/web-api-circuit-breaker.yaml'),
    );
    expect(applied.stderr).toEqual([]);
    expect(applied.stdout).toEqual(
      expect.arrayContaining([expect.stringMatching(/^applied HTTPRoute\/web-ingress/), expect.stringMatching(/^applied DestinationRule\/web-api-v1/)]),
    );
    const removed = await run('remove', '-f', path.join(repoRoot, 'gateway-api/resilience/web-api-circuit-breaker.yaml'));
    expect(removed.stdout).toEqual(['deleted DestinationRule/web-api-v2', 'deleted DestinationRule/web-api-v1']);
  }, 60_000);

  it('traffic 100 0 puts getmultiple back on v1', async () => {
    expect((await run('traffic', '100', '0')).stdout[0]).toMatch(/^getmultiple: v1 100 %, v2 0 %/);
    const load = await run('load', '-n', '40', '-r', '0', '-c', '4');
    expect(load.stdout).toContainEqual(expect.stringMatching(/^web-api versions: v1 100\.0 % \(\d+\)$/));
  }, 60_000);

  it('check (detected from the HTTPRoute): Gateway API object counts, Gateway web-gateway Programmed, workloads ready', async () => {
    const result = await run('check');
    expect(result.stderr).toEqual([]);
    expect(result.stdout).toEqual(
      expect.arrayContaining([
        '- routing: Kubernetes Gateway API (detected: HTTPRoute web-ingress, no VirtualService web-ingress)',
        '✓ Gateway API gateway.networking.k8s.io/v1 is served',
        '✓ GatewayClass istio is Accepted (controller istio.io/gateway-controller)',
        '✓ Gateway API objects in namespace default: 1 Gateway, 1 HTTPRoute, 0 ReferenceGrants',
        '✓ Gateway web-gateway is Programmed',
      ]),
    );
    expect(result.stdout.filter((l) => l.startsWith('✗'))).toEqual([]);
    expect(result.code).toBe(0);
  });

  it('urls: the getmultiple path of the HTTPRoute, and config/apply names the gateway-api/ traffic file', async () => {
    const result = await run('urls');
    expect(result.code).toBe(0);
    expect(result.stdout).toContain(`getmultiple    curl ${forPeople(mesh.gatewayUrl)}/web-api/v1/getmultiple`);
    const config = result.stdout.find((l) => l.startsWith('Config '));
    expect(config).toContain('config/apply?file=gateway-api/traffic/web-ingress-80-20.yaml');
  });

  it('undeploy then deploy --gateway-api: the routes go and come back, the Gateway is Programmed again', async () => {
    const undeployed = await run('undeploy');
    expect(undeployed.code).toBe(0);
    expect(undeployed.stdout).toEqual(expect.arrayContaining(['deleted HTTPRoute/web-ingress', 'deleted Gateway/web-gateway']));
    expect((await fetch(`${mesh.gatewayUrl}/web-api/v1/getmultiple`, { signal: AbortSignal.timeout(10_000) })).status).toBe(404);
    // Nothing deployed: without the flag the scripts would take the Istio mode.
    expect((await run('check')).stdout).toContain('- routing: Istio API (nothing deployed yet; --gateway-api for the Gateway API)');

    const deployed = await run('deploy', '--gateway-api', '--timeout', '60');
    expect(deployed.stderr.filter((l) => !l.startsWith('rolled out: '))).toEqual([]);
    expect(deployed.code).toBe(0);
    expect(deployed.stdout[0]).toBe('routing: Kubernetes Gateway API, gateway-api/base (--gateway-api)');
    expect(deployed.stdout.indexOf('applied Gateway/web-gateway')).toBeLessThan(deployed.stdout.indexOf('applied HTTPRoute/web-ingress'));
    expect(deployed.stdout).toContain('Gateway web-gateway is Programmed');
    const response = await fetch(`${mesh.gatewayUrl}/web-api/v1/getmultiple`, { signal: AbortSignal.timeout(10_000) });
    expect([response.status, response.headers.get('x-web-api-version')]).toEqual([200, 'v1']);
  }, 120_000);
});
