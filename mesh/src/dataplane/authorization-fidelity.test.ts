/**
 * AuthorizationPolicy details checked against istiod's translation (pilot/pkg/security/authz/model/generator.go,
 * builder/builder.go) and Envoy's RBAC filter (issue 23): ports of a named targetPort, hosts/notHosts, dry-run.
 */
import { gatewayApiWorkload } from '../gateway-api';
import type { AuthorizationPolicy, AuthorizationPolicySpec, LoadedObject, Service, Workload } from '../model';
import { compileAuthorization } from './authorization';
import { gateway, send, startMesh, virtualService, workload, type MeshFixture } from './test-harness';
import { createTracing, type SpanData } from './tracing';

const webApi = workload('web-api-v1', 'web-api', 'v1');
// Like this repository's Deployments: the container port is named, the Service points at the name.
const authors = { ...workload('authors', 'authors', 'v1'), containerPorts: { http: 3100 } };

const authorsService: LoadedObject<Service> = {
  object: {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: 'authors' },
    spec: { selector: { app: 'authors' }, ports: [{ name: 'http', port: 3000, targetPort: 'http' }] },
  },
  source: { file: 'k8s/authors.yaml' },
};

export function policy(name: string, spec: AuthorizationPolicySpec, annotations?: Record<string, string>): LoadedObject<AuthorizationPolicy> {
  return {
    object: { apiVersion: 'security.istio.io/v1', kind: 'AuthorizationPolicy', metadata: { name, annotations }, spec },
    source: { file: `istio/security/${name}.yaml` },
  };
}

let mesh: MeshFixture;
afterEach(async () => {
  await mesh?.close();
});

async function meshWith(policies: LoadedObject<AuthorizationPolicy>[], spans?: SpanData[]): Promise<MeshFixture> {
  const source = { kind: 'sidecar' as const, workload: webApi };
  mesh = await startMesh({
    replicas: [{ id: 'authors-0', workload: authors }],
    source,
    tracing: spans && createTracing(source, { samplingPercent: 100, sink: { onSpan: (span) => spans.push(span) } }),
    state: { services: [authorsService], istio: { gateways: [], virtualServices: [], destinationRules: [], authorizationPolicies: policies } },
  });
  return mesh;
}

type Operation = NonNullable<NonNullable<NonNullable<AuthorizationPolicySpec['rules']>[number]['to']>[number]['operation']>;
const allowTo = (operation: Operation) => policy('authors', { selector: { matchLabels: { app: 'authors' } }, rules: [{ to: [{ operation }] }] });

describe('to.operation.ports / notPorts and destination.port: the port the pod receives on (destPortGenerator)', () => {
  test.each([
    [{ ports: ['3100'] }, 200],
    [{ ports: ['3000'] }, 403],
    [{ notPorts: ['3100'] }, 403],
    [{ notPorts: ['3000'] }, 200],
  ])('a named targetPort resolves to the container port: %j → %i', async (operation, status) => {
    await meshWith([allowTo(operation)]);
    expect((await send(mesh.port, 'http://authors:3000/api')).status).toBe(status);
  });

  test('when.destination.port compares the container port too', async () => {
    await meshWith([policy('authors', { rules: [{ when: [{ key: 'destination.port', values: ['3100'] }] }] })]);
    expect((await send(mesh.port, 'http://authors:3000/api')).status).toBe(200);
  });
});

describe('to.operation.hosts / notHosts: the :authority as the callee receives it, any case (HostMatcher)', () => {
  test.each([
    [{ hosts: ['authors:3000'] }, 200],
    // The Host a caller sends carries the port: a host without it does not match (add both forms, as Istio's docs say).
    [{ hosts: ['authors'] }, 403],
    [{ hosts: ['*:3000'] }, 200],
    [{ hosts: ['*'] }, 200],
    [{ notHosts: ['AUTHORS:3000'] }, 403],
    [{ notHosts: ['other*'] }, 200],
  ])('%j → %i', async (operation, status) => {
    await meshWith([allowTo(operation)]);
    expect((await send(mesh.port, 'http://authors:3000/api')).status).toBe(status);
  });
});

describe('istio.io/dry-run: shadow rules, evaluated and counted, never enforced (builder.go isDryRun, Envoy rbac_filter.cc)', () => {
  const dryRun = { 'istio.io/dry-run': 'true' };
  const denyPath = (annotations?: Record<string, string>) =>
    policy(
      'deny-admin',
      { selector: { matchLabels: { app: 'authors' } }, action: 'DENY', rules: [{ to: [{ operation: { paths: ['/admin*'] } }] }] },
      annotations,
    );
  const allowOthers = (annotations?: Record<string, string>) =>
    policy('only-articles', { action: 'ALLOW', rules: [{ from: [{ source: { principals: ['*/sa/articles'] } }] }] }, annotations);

  test('a dry-run DENY lets the request through and counts shadow_denied with the matching rule', async () => {
    await meshWith([denyPath(dryRun)]);
    expect((await send(mesh.port, 'http://authors:3000/admin/x')).status).toBe(200);
    expect((await send(mesh.port, 'http://authors:3000/public')).status).toBe(200);
    expect(mesh.rbacShadow.map((e) => [e.pod, e.port, e.protocol, ...e.results.map((r) => [r.statPrefix, r.result, r.policy])])).toEqual([
      ['authors-0', 3100, 'http', ['istio_dry_run_deny_', 'denied', 'ns[default]-policy[deny-admin]-rule[0]']],
      ['authors-0', 3100, 'http', ['istio_dry_run_deny_', 'allowed', undefined]],
    ]);
  });

  test('a lone dry-run ALLOW does not turn the workload into allow-list mode; it counts shadow_denied', async () => {
    await meshWith([allowOthers(dryRun)]);
    expect((await send(mesh.port, 'http://authors:3000/x')).status).toBe(200);
    expect(mesh.rbacShadow.at(-1)?.results).toEqual([{ statPrefix: 'istio_dry_run_allow_', result: 'denied', policy: undefined }]);
  });

  test("enforced policies still decide; the DENY filter's shadow rules run before its own rules, the ALLOW filter is never reached", async () => {
    await meshWith([denyPath(), allowOthers(dryRun), policy('shadow-deny-all', { action: 'DENY', rules: [{}] }, dryRun)]);
    expect((await send(mesh.port, 'http://authors:3000/admin')).status).toBe(403);
    expect(mesh.rbacShadow.at(-1)?.results).toEqual([
      { statPrefix: 'istio_dry_run_deny_', result: 'denied', policy: 'ns[default]-policy[shadow-deny-all]-rule[0]' },
    ]);
  });

  test.each([
    ['True', 200],
    ['1', 200],
    ['false', 403],
    // Not a Go boolean: istiod logs the parse error and enforces the policy.
    ['yes', 403],
  ])('annotation value %s → %i', async (value, status) => {
    await meshWith([denyPath({ 'istio.io/dry-run': value })]);
    expect((await send(mesh.port, 'http://authors:3000/admin')).status).toBe(status);
  });

  test('TCP connections get the same shadow verdicts, rules generated for TCP (an HTTP-only ALLOW rule is dropped)', () => {
    const authorizer = compileAuthorization(
      [policy('pg', { action: 'ALLOW', rules: [{ to: [{ operation: { paths: ['/x'] } }] }, { from: [{ source: { namespaces: ['default'] } }] }] }, dryRun)],
      [],
      'default',
    );
    const target = { namespace: 'default', labels: { app: 'postgres' } };
    expect(authorizer.enforces(target)).toBe(true);
    expect(authorizer.checkConnection(target, { principal: 'cluster.local/ns/default/sa/articles', port: 5432 })).toEqual({
      allowed: true,
      shadow: [{ statPrefix: 'istio_dry_run_allow_', result: 'allowed', policy: 'ns[default]-policy[pg]-rule[1]' }],
    });
    expect(authorizer.checkConnection(target, { principal: undefined, port: 5432 })).toEqual({
      allowed: true,
      shadow: [{ statPrefix: 'istio_dry_run_allow_', result: 'denied', policy: undefined }],
    });
  });

  test("the callee's inbound span carries istio.authorization.dry_run.* tags (tracing.go optionalPolicyTags)", async () => {
    const spans: SpanData[] = [];
    await meshWith([denyPath(dryRun)], spans);
    await send(mesh.port, 'http://authors:3000/admin');
    const inbound = spans.find((s) => s.kind === 'server')!;
    expect(inbound.tags).toMatchObject({
      'istio.authorization.dry_run.deny_policy.name': 'ns[default]-policy[deny-admin]-rule[0]',
      'istio.authorization.dry_run.deny_policy.result': 'denied',
    });
    expect(inbound.tags['istio.authorization.dry_run.allow_policy.result']).toBeUndefined();
  });
});

test("the reported policy is the first matching name, as Envoy keeps an RBAC filter's policies in a name-ordered map", async () => {
  await meshWith([policy('z-deny', { action: 'DENY', rules: [{}] }), policy('a-deny', { action: 'DENY', rules: [{}] })]);
  await send(mesh.port, 'http://authors:3000/x');
  expect(mesh.records.at(-1)?.responseCodeDetails).toBe('rbac_access_denied_matched_policy[ns[default]-policy[a-deny]-rule[0]]');
});

describe('policies on the ingress gateway itself (selector istio: ingressgateway in istio-system)', () => {
  const onGateway = (name: string, spec: AuthorizationPolicySpec, annotations?: Record<string, string>): LoadedObject<AuthorizationPolicy> => {
    const loaded = policy(name, { selector: { matchLabels: { istio: 'ingressgateway' } }, ...spec }, annotations);
    loaded.object.metadata.namespace = 'istio-system';
    return loaded;
  };
  async function gatewayMesh(policies: LoadedObject<AuthorizationPolicy>[], gatewayWorkload?: Workload): Promise<MeshFixture> {
    mesh = await startMesh({
      replicas: [{ id: 'authors-0', workload: authors }],
      source: { kind: 'gateway', gatewayName: 'web-gateway', workload: gatewayWorkload },
      state: {
        services: [authorsService],
        istio: {
          gateways: [gateway('web-gateway')],
          virtualServices: [virtualService('ingress', { hosts: ['*'], gateways: ['web-gateway'], http: [{ route: [{ destination: { host: 'authors' } }] }] })],
          destinationRules: [],
          authorizationPolicies: policies,
        },
      },
    });
    return mesh;
  }

  test.each([
    // istioctl's demo profile maps the gateway Service's port 80 to the pod's 8080, where the listener binds.
    [['8080'], 200],
    [['80'], 403],
  ])('ports %j → %i', async (ports, status) => {
    await gatewayMesh([onGateway('gw-ports', { action: 'ALLOW', rules: [{ to: [{ operation: { ports } }] }] })]);
    expect((await mesh.get('/api')).status).toBe(status);
  });

  test.each([
    // A Gateway API gateway's Service keeps the listener port: the pod receives on 80 (extractServicePorts).
    [['80'], 200],
    [['8080'], 403],
  ])('a Gateway API gateway (web-gateway-istio), policy attached by targetRef: ports %j → %i', async (ports, status) => {
    const toGateway = { group: 'gateway.networking.k8s.io', kind: 'Gateway', name: 'web-gateway' };
    const attached = policy('gw-api', { targetRefs: [toGateway], action: 'ALLOW', rules: [{ to: [{ operation: { ports } }] }] });
    await gatewayMesh([attached], gatewayApiWorkload('web-gateway', 'default'));
    expect((await mesh.get('/api')).status).toBe(status);
  });

  test("a dry-run policy on the gateway is counted on the gateway's listener (outbound_0.0.0.0_8080)", async () => {
    await gatewayMesh([onGateway('gw-dry', { action: 'DENY', rules: [{}] }, { 'istio.io/dry-run': 'true' })]);
    expect((await mesh.get('/api')).status).toBe(200);
    expect(mesh.rbacShadow).toEqual([
      expect.objectContaining({
        pod: 'istio-ingressgateway',
        port: 8080,
        direction: 'outbound',
        results: [{ statPrefix: 'istio_dry_run_deny_', result: 'denied', policy: 'ns[istio-system]-policy[gw-dry]-rule[0]' }],
      }),
    ]);
  });
});

describe('from.source.serviceAccounts / trustDomains and their when keys (generator.go srcServiceAccountGenerator, srcTrustDomainGenerator)', () => {
  // The caller is web-api-v1, ServiceAccount web-api in default: cluster.local/ns/default/sa/web-api.
  test.each([
    [{ serviceAccounts: ['web-api'] }, 200],
    [{ serviceAccounts: ['default/web-api'] }, 200],
    [{ serviceAccounts: ['other/web-api'] }, 403],
    // Not a prefix: the SA name must end the identity (or be followed by /...).
    [{ serviceAccounts: ['web'] }, 403],
    [{ notServiceAccounts: ['web-api'] }, 403],
    [{ trustDomains: ['cluster.local'] }, 200],
    [{ trustDomains: ['*.local'] }, 200],
    [{ trustDomains: ['*'] }, 200],
    [{ trustDomains: ['example.org'] }, 403],
    [{ notTrustDomains: ['cluster.local'] }, 403],
  ])('%j → %i', async (source, status) => {
    await meshWith([policy('authors', { selector: { matchLabels: { app: 'authors' } }, rules: [{ from: [{ source }] }] })]);
    expect((await send(mesh.port, 'http://authors:3000/api')).status).toBe(status);
  });

  test('when source.serviceAccount / source.trustDomain', async () => {
    await meshWith([
      policy('authors', {
        rules: [
          {
            when: [
              { key: 'source.serviceAccount', values: ['default/web-api'] },
              { key: 'source.trustDomain', notValues: ['example.org'] },
            ],
          },
        ],
      }),
    ]);
    expect((await send(mesh.port, 'http://authors:3000/api')).status).toBe(200);
  });
});

describe('targetRef(s): Gateway API policy attachment (policyattachment.go ShouldAttachPolicy)', () => {
  const denyAll = (extra: Partial<AuthorizationPolicySpec>) => policy('deny-all', { action: 'DENY', rules: [{}], ...extra });
  const toGateway = { group: 'gateway.networking.k8s.io', kind: 'Gateway', name: 'web-gateway' };

  test('a sidecar ignores a policy with a targetRef, even without a selector', async () => {
    await meshWith([denyAll({ targetRefs: [toGateway] })]);
    expect((await send(mesh.port, 'http://authors:3000/api')).status).toBe(200);
    await mesh.close();
    await meshWith([denyAll({ targetRef: toGateway })]);
    expect((await send(mesh.port, 'http://authors:3000/api')).status).toBe(200);
  });

  test('a Gateway API gateway pod takes the policies naming it, and selector policies', () => {
    const gatewayPod = { namespace: 'default', labels: { 'gateway.networking.k8s.io/gateway-name': 'web-gateway', 'istio.io/gateway-name': 'web-gateway' } };
    const check = (spec: Partial<AuthorizationPolicySpec>) =>
      compileAuthorization([denyAll(spec)], [], 'default').check(gatewayPod, {
        principal: undefined,
        method: 'GET',
        path: '/',
        host: 'x',
        port: 80,
        header: () => undefined,
      }).allowed;
    expect(check({ targetRefs: [toGateway] })).toBe(false);
    expect(check({ targetRefs: [{ ...toGateway, name: 'other' }] })).toBe(true);
    expect(check({ targetRefs: [{ ...toGateway, kind: 'Service' }] })).toBe(true);
    expect(check({ selector: { matchLabels: { 'gateway.networking.k8s.io/gateway-name': 'web-gateway' } } })).toBe(false);
    expect(check({})).toBe(false);
  });
});
