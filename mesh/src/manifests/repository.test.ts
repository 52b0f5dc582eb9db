/**
 * The repository's own k8s/ and istio/ files: zero findings for the base set and for every optional file applied
 * on top of it, the objects the other parts of the project rely on (names, labels, routes, subsets, faults), and
 * the `kubectl kustomize` renderings analyzed the same way.
 */
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { parse as parseYaml } from 'yaml';
import { describeWithTool } from '@cns/service-kit/testing';
import type { Deployment, DestinationRule, LoadedObject, Service, VirtualService } from '../model';
import { parseDuration } from '../istio';
import { analyzeManifests } from './analyze';
import { loadManifestFiles, parseManifestText } from './load';
import { mergeObjects } from './merge';
import { analyzeRepository, formatFinding } from './repository';

const root = path.resolve(__dirname, '../../..');
// The first analysis in a process compiles the Istio schemas (seconds on a busy 2-core machine).
jest.setTimeout(60_000);
const load = (...paths: string[]): LoadedObject[] => {
  const { objects, findings } = loadManifestFiles(paths, { root });
  expect(findings).toEqual([]);
  return objects;
};
const find = <T>(objects: LoadedObject[], kind: string, name: string): T => {
  const found = objects.find((o) => o.object.kind === kind && o.object.metadata.name === name);
  if (!found) throw new Error(`${kind}/${name} not found`);
  return found.object as T;
};
const base = (): LoadedObject[] => load('k8s', 'istio/base');

const OPTIONAL_FILES = [
  'istio/faults/articles-abort-100.yaml',
  'istio/faults/articles-no-fault.yaml',
  'istio/faults/authors-abort-100.yaml',
  'istio/faults/authors-abort-50.yaml',
  'istio/faults/authors-delay.yaml',
  'istio/faults/authors-no-fault.yaml',
  'istio/resilience/upstream-timeouts-retries.yaml',
  'istio/resilience/web-api-circuit-breaker.yaml',
  'istio/security/authors-deny-web-api.yaml',
  'istio/traffic/web-ingress-80-20.yaml',
  // The Gateway API set (k8s/ + gateway-api/base/) with each of its optional files.
  'gateway-api/resilience/web-api-circuit-breaker.yaml',
  'gateway-api/traffic/upstreams-v1.yaml',
  'gateway-api/traffic/web-ingress-80-20.yaml',
];

describe("the repository's manifests", () => {
  it('have zero findings: base, every optional file on top of the base, every Dockerfile', () => {
    const result = analyzeRepository({ root });
    expect(result.findings.map(formatFinding)).toEqual([]);
    expect(result.overlays).toEqual(OPTIONAL_FILES);
    expect(result.dockerfiles).toEqual(['articles', 'authors', 'web-api-v1', 'web-api-v2', 'web-app'].map((d) => `${d}/Dockerfile`));
  });

  it.each(OPTIONAL_FILES)('%s combined with the base has zero findings', (file) => {
    const set = file.startsWith('gateway-api/') ? load('k8s', 'gateway-api/base') : base();
    expect(analyzeManifests(mergeObjects(set, load(file))).map(formatFinding)).toEqual([]);
  });

  it('define the five Deployments with app/version labels, the fixed ports, env and service accounts', () => {
    const objects = base();
    const expected = [
      ['articles', 'articles', 'v1', 'articles:1', 8080, 'articles'],
      ['authors', 'authors', 'v1', 'authors:1', 3000, 'authors'],
      ['web-api-v1', 'web-api', 'v1', 'web-api:1', 9080, 'web-api'],
      ['web-api-v2', 'web-api', 'v2', 'web-api:2', 9080, 'web-api'],
      ['web-app', 'web-app', 'v1', 'web-app:1', 8080, 'web-app'],
    ] as const;
    for (const [name, app, version, image, port, serviceAccount] of expected) {
      const deployment = find<Deployment>(objects, 'Deployment', name);
      const pod = deployment.spec!.template;
      // app.kubernetes.io/version is Istio's canonical revision (telemetry, Kiali): the same value as `version`.
      expect(pod.metadata.labels).toMatchObject({ app, version, 'app.kubernetes.io/name': app, 'app.kubernetes.io/version': version });
      expect(deployment.metadata.labels).toMatchObject({ version, 'app.kubernetes.io/version': version });
      expect(pod.spec.serviceAccountName).toBe(serviceAccount);
      const [container] = pod.spec.containers;
      expect(container).toMatchObject({ image, imagePullPolicy: 'IfNotPresent', ports: [{ name: 'http', containerPort: port }] });
      const env = Object.fromEntries((container!.env ?? []).map((e) => [e.name, e.value]));
      if (app !== 'web-app') {
        expect(env.PORT).toBe(String(port));
        // The grace period must outlast the shutdown delay plus the drain.
        const budgetMs = Number(env.SHUTDOWN_DELAY_MS) + Number(env.DRAIN_TIMEOUT_MS);
        expect(pod.spec.terminationGracePeriodSeconds! * 1000).toBeGreaterThan(budgetMs);
      }
      // The sidecar must carry the app's calls until the app has drained (Istio's default drain is 5 s), and
      // stop before the kubelet's SIGKILL; it starts before the app.
      const appShutdownMs =
        app === 'web-app'
          ? Number((container as unknown as { lifecycle: { preStop: { exec: { command: string[] } } } }).lifecycle.preStop.exec.command[1]) * 1000
          : Number(env.SHUTDOWN_DELAY_MS) + Number(env.DRAIN_TIMEOUT_MS);
      const proxyConfig = parseYaml(pod.metadata.annotations!['proxy.istio.io/config']!) as Record<string, any>;
      expect(proxyConfig).toEqual({
        terminationDrainDuration: expect.any(String),
        holdApplicationUntilProxyStarts: true,
        proxyMetadata: { EXIT_ON_ZERO_ACTIVE_CONNECTIONS: 'true' },
      });
      expect(parseDuration(proxyConfig.terminationDrainDuration)!).toBeGreaterThan(appShutdownMs);
      expect(parseDuration(proxyConfig.terminationDrainDuration)!).toBeLessThan(pod.spec.terminationGracePeriodSeconds! * 1000);
      if (app === 'web-api') expect(env).toMatchObject({ ARTICLES_URL: 'http://articles:8080', AUTHORS_URL: 'http://authors:3000' });
      const raw = container as unknown as Record<string, any>;
      expect(raw.securityContext).toMatchObject({
        runAsNonRoot: true,
        readOnlyRootFilesystem: true,
        allowPrivilegeEscalation: false,
        capabilities: { drop: ['ALL'] },
      });
      expect(raw.livenessProbe.httpGet.path).toBe('/healthz');
      expect(raw.readinessProbe.httpGet.path).toBe('/readyz');
      expect(raw.resources).toEqual({ requests: expect.any(Object), limits: expect.any(Object) });
      expect((deployment.spec as unknown as Record<string, any>).strategy.rollingUpdate.maxUnavailable).toBe(0);
    }
  });

  it('define the four Services with a selector on app only and a named http port', () => {
    const objects = base();
    for (const [name, port] of [
      ['articles', 8080],
      ['authors', 3000],
      ['web-api', 9080],
      ['web-app', 80],
    ] as const) {
      const service = find<Service>(objects, 'Service', name);
      expect(service.spec!.selector).toEqual({ app: name });
      expect(service.spec!.ports).toEqual([{ name: 'http', appProtocol: 'http', port, targetPort: 'http' }]);
    }
  });

  it('route the ingress in the documented order: openapi, getmultiple and create to v1, everything else to web-app', () => {
    const ingress = find<VirtualService>(base(), 'VirtualService', 'web-ingress');
    expect(ingress.spec!.hosts).toEqual(['*']);
    expect(ingress.spec!.gateways).toEqual(['web-gateway']);
    const summary = ingress.spec!.http!.map((rule) => ({
      match: rule.match?.map((m) => m.uri),
      to: rule.route!.map((r) => `${r.destination.host}${r.destination.subset ? `/${r.destination.subset}` : ''}`),
    }));
    expect(summary).toEqual([
      { match: [{ prefix: '/openapi/ui' }, { exact: '/openapi' }], to: ['web-api'] },
      { match: [{ prefix: '/web-api/v1/getmultiple' }], to: ['web-api/v1'] },
      { match: [{ prefix: '/web-api/v1/create' }], to: ['web-api/v1'] },
      { match: [{ prefix: '/' }], to: ['web-app'] },
    ]);
  });

  it('has an 80/20 variant that differs from the base only in the getmultiple destinations', () => {
    const baseIngress = find<VirtualService>(base(), 'VirtualService', 'web-ingress');
    const canary = find<VirtualService>(load('istio/traffic/web-ingress-80-20.yaml'), 'VirtualService', 'web-ingress');
    const getmultiple = canary.spec!.http![1]!;
    expect(getmultiple.route!.map((r) => [r.destination.subset, r.weight])).toEqual([
      ['v1', 80],
      ['v2', 20],
    ]);
    const withoutSplit = structuredClone(canary);
    withoutSplit.spec!.http![1]!.route = baseIngress.spec!.http![1]!.route;
    expect(withoutSplit).toEqual(baseIngress);
  });

  it('define subsets by version and keep them in the circuit-breaker variant', () => {
    const objects = base();
    const subsets = (dr: DestinationRule): unknown => dr.spec!.subsets!.map((s) => [s.name, s.labels]);
    expect(subsets(find(objects, 'DestinationRule', 'web-api'))).toEqual([
      ['v1', { version: 'v1' }],
      ['v2', { version: 'v2' }],
    ]);
    for (const host of ['articles', 'authors', 'web-app']) {
      expect(subsets(find(objects, 'DestinationRule', host))).toEqual([['v1', { version: 'v1' }]]);
    }
    const breaker = find<DestinationRule>(load('istio/resilience/web-api-circuit-breaker.yaml'), 'DestinationRule', 'web-api');
    expect(subsets(breaker)).toEqual(subsets(find(objects, 'DestinationRule', 'web-api')));
    expect(breaker.spec!.trafficPolicy).toMatchObject({
      connectionPool: { tcp: { maxConnections: expect.any(Number) }, http: { http1MaxPendingRequests: expect.any(Number) } },
      outlierDetection: { consecutive5xxErrors: 3, interval: '1s', baseEjectionTime: '30s', maxEjectionPercent: 100 },
    });
  });

  it('have faults that differ from the no-fault and resilience VirtualServices only by the fault', () => {
    const resilience = load('istio/resilience/upstream-timeouts-retries.yaml');
    const faults: Record<string, [string, unknown]> = {
      'authors-abort-50.yaml': ['authors', { abort: { httpStatus: 500, percentage: { value: 50 } } }],
      'authors-abort-100.yaml': ['authors', { abort: { httpStatus: 500, percentage: { value: 100 } } }],
      'articles-abort-100.yaml': ['articles', { abort: { httpStatus: 500, percentage: { value: 100 } } }],
      'authors-delay.yaml': ['authors', { delay: { fixedDelay: '3s', percentage: { value: 100 } } }],
    };
    for (const [file, [host, fault]] of Object.entries(faults)) {
      const vs = find<VirtualService>(load(`istio/faults/${file}`), 'VirtualService', host);
      expect(vs.spec!.gateways).toBeUndefined(); // mesh-internal: applies to web-api's calls
      expect(vs.spec!.http).toHaveLength(1);
      expect(vs.spec!.http![0]!.fault).toEqual(fault);
      const { fault: _removed, ...rest } = vs.spec!.http![0]!;
      const noFault = find<VirtualService>(load(`istio/faults/${host}-no-fault.yaml`), 'VirtualService', host);
      expect(rest).toEqual(noFault.spec!.http![0]);
      expect(noFault).toEqual(find<VirtualService>(resilience, 'VirtualService', host));
    }
    // The delay outlasts web-api's upstream timeout; the mesh gives up before web-api does, retries included.
    const webApi = find<Deployment>(base(), 'Deployment', 'web-api-v1').spec!.template.spec.containers[0]!;
    const upstreamTimeoutMs = Number(webApi.env!.find((e) => e.name === 'UPSTREAM_TIMEOUT_MS')!.value);
    const delay = find<VirtualService>(load('istio/faults/authors-delay.yaml'), 'VirtualService', 'authors').spec!.http![0]!;
    expect(parseDuration(delay.fault!.delay!.fixedDelay!)!).toBeGreaterThan(upstreamTimeoutMs);
    for (const host of ['articles', 'authors']) {
      const route = find<VirtualService>(resilience, 'VirtualService', host).spec!.http![0]!;
      expect(parseDuration(route.timeout!)!).toBeLessThan(upstreamTimeoutMs);
      const { attempts, perTryTimeout, retryOn } = route.retries!;
      expect(retryOn).toEqual(expect.any(String));
      expect((attempts! + 1) * parseDuration(perTryTimeout!)!).toBeLessThanOrEqual(parseDuration(route.timeout!)!);
    }
  });

  it('allow only web-api to call articles and authors, and only the ingress gateway to call web-app and web-api', () => {
    const objects = base();
    expect(find<{ spec: { mtls: { mode: string } } }>(objects, 'PeerAuthentication', 'default').spec.mtls.mode).toBe('STRICT');
    const callers = (name: string): unknown => {
      const policy = find<{ spec: any }>(objects, 'AuthorizationPolicy', name).spec;
      expect(policy.action).toBe('ALLOW');
      expect(policy.selector.matchLabels).toEqual({ app: name });
      return policy.rules.flatMap((r: any) => r.from.flatMap((f: any) => f.source.principals));
    };
    expect(callers('articles')).toEqual(['cluster.local/ns/default/sa/web-api']);
    expect(callers('authors')).toEqual(['cluster.local/ns/default/sa/web-api']);
    const gateway = 'cluster.local/ns/istio-system/sa/istio-ingressgateway-service-account';
    expect(callers('web-api')).toEqual([gateway]);
    expect(callers('web-app')).toEqual([gateway]);
  });
});

describeWithTool('kubectl', 'kubectl kustomize renderings', () => {
  const render = (dir: string): LoadedObject[] => {
    const text = execFileSync('kubectl', ['kustomize', path.join(root, dir)], { encoding: 'utf8' });
    const { objects, findings } = parseManifestText(text, `kubectl kustomize ${dir}`);
    expect(findings).toEqual([]);
    return objects;
  };

  it('k8s renders the five Deployments and the postgres StatefulSet with their labels and the five Services, and analyzes clean together with istio/base', () => {
    const workloads = render('k8s');
    const deployments = workloads.filter((o) => o.object.kind === 'Deployment').map((o) => o.object as Deployment);
    const statefulSets = workloads.filter((o) => o.object.kind === 'StatefulSet').map((o) => o.object as Deployment);
    expect(statefulSets.map((d) => [d.metadata.name, d.spec!.template.metadata.labels!.app, d.spec!.template.metadata.labels!.version])).toEqual([
      ['postgres', 'postgres', 'v1'],
    ]);
    expect(deployments.map((d) => [d.metadata.name, d.spec!.template.metadata.labels!.app, d.spec!.template.metadata.labels!.version]).sort()).toEqual([
      ['articles', 'articles', 'v1'],
      ['authors', 'authors', 'v1'],
      ['web-api-v1', 'web-api', 'v1'],
      ['web-api-v2', 'web-api', 'v2'],
      ['web-app', 'web-app', 'v1'],
    ]);
    for (const d of [...deployments, ...statefulSets]) {
      const labels = d.spec!.template.metadata.labels!;
      expect(labels['app.kubernetes.io/name']).toBe(labels.app);
      expect(labels['app.kubernetes.io/version']).toBe(labels.version);
    }
    expect(
      workloads
        .filter((o) => o.object.kind === 'Service')
        .map((o) => o.object.metadata.name)
        .sort(),
    ).toEqual(['articles', 'authors', 'postgres', 'web-api', 'web-app']);
    const all = [...workloads, ...render('istio/base')];
    expect(analyzeManifests(all).map(formatFinding)).toEqual([]);
  });

  it.each(['k8s', 'istio/base'])('%s renders the same objects as reading its files (kustomization.yaml lists every file)', (dir) => {
    const key = (o: LoadedObject): string => `${o.object.kind}/${o.object.metadata.name}`;
    expect(render(dir).map(key).sort()).toEqual(load(dir).map(key).sort());
  });
});
