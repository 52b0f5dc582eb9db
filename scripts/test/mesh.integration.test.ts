/**
 * Every command against a real local mesh over real HTTP, through @kubernetes/client-node: the same code path a
 * Minikube user runs, with the mesh's admin server standing in for the API server.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { seededRandom, startMesh } from '@cns/mesh';
import { forPeople } from '@cns/mesh/links';
import { binomialBounds } from '@cns/service-kit/testing';
import { main } from '../src/cli';
import { BufferedOutput } from '../src/io';
import { KubeClient, meshTarget, type IstioObject } from '../src/kube';

const repoRoot = path.resolve(__dirname, '../..');
const BUILD_OUTPUTS = ['articles/dist/server.js', 'authors/dist/server.js', 'web-api-v1/dist/server.js', 'web-api-v2/dist/server.js'];

describe('scripts against a running local mesh', () => {
  let mesh: Awaited<ReturnType<typeof startMesh>>;
  let env: NodeJS.ProcessEnv;
  let client: KubeClient;
  let tmp: string;

  /** Runs one command line in-process, as `npm run NAME -- ARGS` would. */
  async function run(...argv: string[]): Promise<{ code: number; stdout: string[]; stderr: string[] }> {
    const io = new BufferedOutput();
    const code = await main(argv, io, env);
    return { code, stdout: io.stdout, stderr: io.stderr };
  }

  /** Name and resourceVersion of every Istio object: equal before and after means nothing changed. */
  async function configSnapshot(): Promise<string[]> {
    const kinds = ['Gateway', 'VirtualService', 'DestinationRule'];
    const lists = await Promise.all(kinds.map((kind) => client.listIstio('networking.istio.io/v1', kind)));
    return lists
      .flat()
      .map((o) => `${o.kind}/${o.metadata.name}@${String(o.metadata.resourceVersion)}`)
      .sort();
  }

  async function getMultiple(): Promise<Array<{ authorName?: string; authorBlog?: string }>> {
    const response = await fetch(`${mesh.gatewayUrl}/web-api/v1/getmultiple`, { signal: AbortSignal.timeout(10_000) });
    expect(response.status).toBe(200);
    const articles = (await response.json()) as Array<{ authorBlog?: string }>;
    expect(articles.length).toBeGreaterThan(0); // so that `every` below cannot pass on an empty list
    return articles;
  }

  beforeAll(async () => {
    const missing = BUILD_OUTPUTS.filter((f) => !fs.existsSync(path.join(repoRoot, f)));
    if (missing.length) throw new Error(`these tests need built services: run npm run build (missing: ${missing.join(', ')})`);
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'scripts-mesh-'));
    mesh = await startMesh({
      gatewayPort: 0,
      adminPort: 0,
      watch: false,
      random: seededRandom(6), // the mesh's own generator: fewer surprises between runs
      log: () => undefined,
      output: () => undefined,
    });
    // Only the admin URL is given: the gateway URL must be found by the scripts themselves.
    env = { MESH_ADMIN_URL: mesh.adminUrl, PATH: process.env.PATH };
    client = await KubeClient.create(await meshTarget(mesh.adminUrl));
  }, 120_000);

  afterAll(async () => {
    await mesh?.stop();
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  }, 60_000);

  it('check: every prerequisite of the local mesh passes', async () => {
    const result = await run('check');
    expect(result.stderr).toEqual([]);
    expect(result.code).toBe(0);
    expect(result.stdout[0]).toBe(`✓ local mesh at ${mesh.adminUrl} answers (Kubernetes API v1.32.0-local-mesh)`);
    expect(result.stdout.some((l) => l.startsWith('✓ workloads ready: '))).toBe(true);
    expect(result.stdout.some((l) => l.startsWith('✗'))).toBe(false);
  });

  it('urls: prints every URL of the banner, with localhost, and they answer', async () => {
    const result = await run('urls');
    expect(result.code).toBe(0);
    const app = forPeople(mesh.gatewayUrl);
    const admin = forPeople(mesh.adminUrl);
    const curl = result.stdout.find((l) => l.startsWith('getmultiple '));
    expect(curl).toBe(`getmultiple    curl ${app}/web-api/v1/getmultiple`);
    const url = curl!.split(' ').at(-1)!;
    expect((await fetch(url, { signal: AbortSignal.timeout(10_000) })).status).toBe(200);
    expect(result.stdout).toContain(`Swagger UI     ${app}/openapi/ui`);
    for (const label of ['Traffic graph', 'Traces', 'Metrics', 'Endpoints', 'Config']) {
      const line = result.stdout.find((l) => l.startsWith(`${label} `));
      expect(line).toContain(admin);
      const page = line!.split(/\s+/).find((word) => word.startsWith('http://'))!;
      expect((await fetch(page, { signal: AbortSignal.timeout(10_000) })).status).toBe(200);
    }
    // The Jaeger query link answers with traces of the service the spans name.
    const jaeger = /Jaeger query API: (\S+)\)/.exec(result.stdout.join('\n'))![1];
    await fetch(url, { signal: AbortSignal.timeout(10_000) });
    const traces = (await (await fetch(jaeger, { signal: AbortSignal.timeout(10_000) })).json()) as { data: unknown[] };
    expect(traces.data.length).toBeGreaterThan(0);
  });

  it('traffic 80 20: the split read back is 80/20 and 2000 getmultiple requests land on v2 by its weight (± 4 σ)', async () => {
    const result = await run('traffic', '80', '20');
    expect(result.stderr).toEqual([]);
    expect(result.code).toBe(0);
    expect(result.stdout[0]).toMatch(/^getmultiple: v1 80 %, v2 20 % {2}\(VirtualService web-ingress, local mesh at /);

    const vs = (await client.getIstio('networking.istio.io/v1', 'VirtualService', 'web-ingress')) as IstioObject & {
      spec: { http: Array<{ name?: string; route: Array<{ destination: { subset?: string }; weight?: number }> }> };
    };
    const route = vs.spec.http.find((r) => r.name === 'web-api-getmultiple')!;
    expect(route.route.map((d) => [d.destination.subset, d.weight])).toEqual([
      ['v1', 80],
      ['v2', 20],
    ]);
    // The other routes are untouched.
    expect(vs.spec.http.map((r) => r.name)).toEqual(['openapi', 'web-api-getmultiple', 'web-api-create', 'web-app']);

    const load = await run('load', '--count', '2000', '--rate', '0', '--concurrency', '16', '--duration', '0');
    expect(load.code).toBe(0);
    // Nearly all succeed; on a starved CPU a few may hit web-api's upstream deadline (503), which says nothing
    // about the split.
    const ok = Number(/200: (\d+)/.exec(load.stdout.find((l) => l.startsWith('status codes:'))!)?.[1]);
    expect(ok).toBeGreaterThanOrEqual(1900);
    const versions = load.stdout.find((l) => l.startsWith('web-api versions:'))!;
    const [, v1Count, v2Count] = /v1 [\d.]+ % \((\d+)\), v2 [\d.]+ % \((\d+)\)/.exec(versions) ?? [];
    const answered = Number(v1Count) + Number(v2Count);
    expect(answered).toBeGreaterThanOrEqual(1900);
    // Binomial(answered, p) with p from the weights read back from the mesh.
    const p = route.route.find((d) => d.destination.subset === 'v2')!.weight! / route.route.reduce((sum, d) => sum + (d.weight ?? 0), 0);
    const { low, high } = binomialBounds(answered, p);
    expect(Number(v2Count)).toBeGreaterThanOrEqual(low);
    expect(Number(v2Count)).toBeLessThanOrEqual(high);
  }, 480_000); // 2000 requests through the mesh: ~25 s on an idle machine, minutes on a busy one

  it('traffic 100 0 puts every request back on v1', async () => {
    expect((await run('traffic', '100', '0')).stdout[0]).toMatch(/^getmultiple: v1 100 %, v2 0 %/);
    const load = await run('load', '-n', '60', '-r', '0', '-c', '8');
    expect(load.stdout).toContainEqual(expect.stringMatching(/^web-api versions: v1 100\.0 % \(\d+\)$/));
  }, 60_000);

  it('traffic 120 -20: a one-line message, exit 1, nothing changed', async () => {
    const before = await configSnapshot();
    const result = await run('traffic', '120', '-20');
    expect(result.code).toBe(1);
    expect(result.stdout).toEqual([]);
    expect(result.stderr).toEqual([
      'error: invalid split: v1 weight "120" is not an integer from 0 to 100; v2 weight "-20" is not an integer from 0 to 100 (e.g. `traffic 80 20`)',
    ]);
    expect(await configSnapshot()).toEqual(before);
  });

  it('apply -f with a missing file: a one-line message, exit 1, nothing changed', async () => {
    const before = await configSnapshot();
    const missing = path.join(tmp, 'no-such-fault.yaml');
    // The good file first: nothing of it may be applied when a later file is missing.
    const result = await run('apply', '-f', path.join(repoRoot, 'istio/faults/authors-abort-100.yaml'), missing);
    expect(result.code).toBe(1);
    expect(result.stderr).toEqual([`error: ${missing}: no such file`]);
    expect(await configSnapshot()).toEqual(before);
  });

  it('apply -f with invalid YAML: names file and line, exit 1, nothing changed', async () => {
    const before = await configSnapshot();
    const broken = path.join(tmp, 'broken.yaml');
    fs.writeFileSync(broken, 'apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata:\n  name: authors\n spec: [\n');
    const result = await run('apply', '-f', broken);
    expect(result.code).toBe(1);
    expect(result.stderr).toHaveLength(1);
    expect(result.stderr[0]).toMatch(new RegExp(`^error: ${broken}:\\d+: CNS0001 YAML syntax error: `));
    expect(await configSnapshot()).toEqual(before);
  });

  it('apply -f with a duration Istio refuses: refused before sending, nothing changed', async () => {
    const before = await configSnapshot();
    const typo = path.join(tmp, 'typo.yaml');
    const text = fs.readFileSync(path.join(repoRoot, 'istio/faults/authors-abort-100.yaml'), 'utf8');
    fs.writeFileSync(typo, text.replace('timeout: 900ms', 'timeout: 900 ms'));
    const result = await run('apply', '-f', typo);
    expect(result.code).toBe(1);
    expect(result.stderr).toHaveLength(1);
    expect(result.stderr[0]).toMatch(/IST0106 .*invalid duration "900 ms"/);
    expect(await configSnapshot()).toEqual(before);
  });

  it('apply -f with a subset no DestinationRule defines: applied as a cluster would, with a Warning line', async () => {
    const typo = path.join(tmp, 'subset-typo.yaml');
    const text = fs.readFileSync(path.join(repoRoot, 'istio/faults/authors-abort-100.yaml'), 'utf8');
    fs.writeFileSync(typo, text.replace('subset: v1', 'subset: v9'));
    const result = await run('apply', '-f', typo);
    expect(result.code).toBe(0);
    expect(result.stderr).toEqual([expect.stringMatching(/^Warning: .*subset-typo\.yaml:\d+: VirtualService\/authors: KIA1107 .*v9/)]);
    expect(await client.getIstio('networking.istio.io/v1', 'VirtualService', 'authors')).toBeDefined();
    expect((await run('remove', '-f', typo)).code).toBe(0);
  });

  it('the mesh itself rejects an invalid object sent through the client: 422 with its findings, one line', async () => {
    const before = await configSnapshot();
    const bad: IstioObject = {
      apiVersion: 'networking.istio.io/v1',
      kind: 'VirtualService',
      metadata: { name: 'authors' },
      spec: { hosts: ['authors'], http: [{ route: [{ destination: { host: 'authors', subset: 'v1' }, weight: -1 }] }] },
    };
    await expect(client.applyIstio(bad)).rejects.toThrow(/^applying VirtualService authors: .*weight -1 < 0.*\(HTTP 422\)$/);
    expect(await configSnapshot()).toEqual(before);
  });

  it('apply -f a fault file changes the responses; remove -f takes it away again', async () => {
    // Healthy: author details arrive (`some`, not `every`: one lookup may miss web-api's deadline on a busy CPU).
    expect((await getMultiple()).some((a) => a.authorBlog)).toBe(true);

    const fault = path.join(repoRoot, 'istio/faults/authors-abort-100.yaml');
    const applied = await run('apply', '-f', fault);
    expect(applied.stderr).toEqual([]);
    expect(applied.code).toBe(0);
    expect(applied.stdout).toEqual([expect.stringMatching(/^applied VirtualService\/authors {2}\(.*authors-abort-100\.yaml:\d+\)$/)]);
    // Every call to authors fails: getmultiple still answers, without author details.
    expect((await getMultiple()).every((a) => a.authorBlog === '')).toBe(true);

    const removed = await run('remove', '-f', fault);
    expect(removed.code).toBe(0);
    expect(removed.stdout).toEqual(['deleted VirtualService/authors']);
    expect(await client.getIstio('networking.istio.io/v1', 'VirtualService', 'authors')).toBeUndefined();
    expect((await getMultiple()).some((a) => a.authorBlog)).toBe(true);
  }, 60_000);

  it('remove -f of a file that replaced a base object restores the base object instead of deleting it', async () => {
    const file = path.join(repoRoot, 'istio/traffic/web-ingress-80-20.yaml');
    expect((await run('apply', '-f', file)).code).toBe(0);
    const removed = await run('remove', '-f', file);
    expect(removed.stdout).toEqual(['restored VirtualService/web-ingress from istio/base']);
    expect((await run('traffic', '100', '0')).code).toBe(0); // still there to patch
  });

  it('--gateway-api on a mesh started without it: check names the missing Services, deploy refuses over istio/base, nothing changed', async () => {
    const before = await configSnapshot();
    const check = await run('check', '--gateway-api');
    expect(check.stdout).toContain(
      '✗ the local mesh has no Service web-api-v1, web-api-v2, authors-v1, articles-v1 (gateway-api/base): it was started without --gateway-api; ' +
        'restart it with `npm start -- --gateway-api`',
    );
    expect(check.code).toBe(1);
    const deploy = await run('deploy', '--gateway-api');
    expect(deploy.stderr).toEqual([
      'error: VirtualService web-ingress (istio/base) is deployed and the HTTPRoute web-ingress would route the same hosts (never both for one host): ' +
        'run `npm run undeploy` first, then `npm run deploy -- --gateway-api`',
    ]);
    expect(deploy.code).toBe(1);
    expect(await configSnapshot()).toEqual(before);
  });

  it('undeploy removes every Istio object, deploy brings the app back and prints its URLs', async () => {
    const undeploy = await run('undeploy');
    expect(undeploy.stderr).toEqual([]);
    expect(undeploy.code).toBe(0);
    expect(await configSnapshot()).toEqual([]);
    expect((await fetch(`${mesh.gatewayUrl}/web-api/v1/getmultiple`)).status).toBe(404);

    const deploy = await run('deploy', '--timeout', '60');
    expect(deploy.code).toBe(0);
    expect(deploy.stdout).toContain('applied VirtualService/web-ingress');
    expect(deploy.stdout).toContain(`getmultiple    curl ${forPeople(mesh.gatewayUrl)}/web-api/v1/getmultiple`);
    expect(await getMultiple()).not.toHaveLength(0);
  }, 120_000);

  it('traffic when web-ingress is missing says to deploy first', async () => {
    await client.deleteIstio('networking.istio.io/v1', 'VirtualService', 'web-ingress');
    try {
      const result = await run('traffic', '80', '20');
      expect(result.code).toBe(1);
      expect(result.stderr).toEqual([`error: VirtualService web-ingress not found on the local mesh at ${mesh.adminUrl}: run \`npm run deploy\` first`]);
    } finally {
      expect((await run('deploy', '--timeout', '60')).code).toBe(0);
    }
  }, 60_000);
});
