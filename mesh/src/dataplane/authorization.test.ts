/**
 * AuthorizationPolicy and PeerAuthentication through the real data plane on real sockets: a caller's sidecar (or
 * the gateway) routes to an endpoint, and the callee's policies decide, as its inbound sidecar would.
 */
import type { AuthorizationPolicySpec, LoadedObject, AuthorizationPolicy, PeerAuthentication, TrafficSource, HTTPRoute } from '../model';
import { destinationRule, gateway, send, service, startMesh, virtualService, workload, type MeshFixture } from './test-harness';

const webApi = workload('web-api-v1', 'web-api', 'v1');
const articles = workload('articles', 'articles', 'v1');
const authors = workload('authors', 'authors', 'v1');
const services = [service('authors', 3000), service('articles', 8080)];

function policy(name: string, spec: AuthorizationPolicySpec, namespace?: string): LoadedObject<AuthorizationPolicy> {
  return {
    object: { apiVersion: 'security.istio.io/v1', kind: 'AuthorizationPolicy', metadata: { name, namespace }, spec },
    source: { file: `istio/security/${name}.yaml` },
  };
}

function peerAuthentication(name: string, mode: 'STRICT' | 'PERMISSIVE' | 'DISABLE', selector?: Record<string, string>): LoadedObject<PeerAuthentication> {
  return {
    object: {
      apiVersion: 'security.istio.io/v1',
      kind: 'PeerAuthentication',
      metadata: { name },
      spec: { mtls: { mode }, selector: selector && { matchLabels: selector } },
    },
    source: { file: `istio/security/${name}.yaml` },
  };
}

const onlyWebApi = policy('authors', {
  selector: { matchLabels: { app: 'authors' } },
  action: 'ALLOW',
  rules: [{ from: [{ source: { principals: ['cluster.local/ns/default/sa/web-api'] } }] }],
});

let mesh: MeshFixture;
afterEach(async () => {
  await mesh?.close();
});

interface Setup {
  policies?: LoadedObject<AuthorizationPolicy>[];
  peers?: LoadedObject<PeerAuthentication>[];
  caller?: TrafficSource;
  http?: HTTPRoute[];
}

/** A sidecar (web-api's by default) in front of one authors and one articles endpoint. */
async function setup({ policies = [], peers = [], caller = { kind: 'sidecar', workload: webApi }, http }: Setup): Promise<MeshFixture> {
  mesh = await startMesh({
    replicas: [
      { id: 'authors-0', workload: authors },
      { id: 'articles-0', workload: articles },
    ],
    source: caller,
    state: {
      services,
      istio: {
        gateways: [gateway('web-gateway')],
        virtualServices: http ? [virtualService('authors', { hosts: ['authors'], http })] : [],
        destinationRules: [destinationRule('authors', { host: 'authors' })],
        authorizationPolicies: policies,
        peerAuthentications: peers,
      },
    },
  });
  return mesh;
}

const toAuthors = (path = '/api/v1/getauthor', options?: Parameters<typeof send>[2]) => send(mesh.port, `http://authors:3000${path}`, options);

describe('AuthorizationPolicy at the destination', () => {
  test('no policy: every caller is allowed', async () => {
    await setup({ caller: { kind: 'sidecar', workload: articles } });
    expect((await toAuthors()).status).toBe(200);
  });

  test("ALLOW from web-api: web-api passes, another workload gets Envoy's 403 without reaching authors", async () => {
    await setup({ policies: [onlyWebApi] });
    expect((await toAuthors()).status).toBe(200);
    await mesh.close();

    await setup({ policies: [onlyWebApi], caller: { kind: 'sidecar', workload: articles } });
    const denied = await toAuthors();
    expect(denied.status).toBe(403);
    expect(denied.text).toBe('RBAC: access denied');
    expect(denied.headers['content-type']).toBe('text/plain');
    expect(mesh.upstream('authors-0').hits).toBe(0);
    // Envoy's RBAC filter sets no response flag; the reason is in the response code details.
    expect(mesh.records.at(-1)).toMatchObject({
      sourceWorkload: 'articles',
      destinationWorkload: 'authors',
      destinationServiceName: 'authors',
      responseCode: 403,
      responseFlags: '-',
      responseCodeDetails: 'rbac_access_denied_matched_policy[none]',
    });
  });

  test('the gateway has its own identity: an ALLOW for the ingress gateway admits it and nobody else', async () => {
    const fromGateway = policy('authors', {
      selector: { matchLabels: { app: 'authors' } },
      rules: [{ from: [{ source: { principals: ['cluster.local/ns/istio-system/sa/istio-ingressgateway-service-account'] } }] }],
    });
    mesh = await startMesh({
      replicas: [{ id: 'authors-0', workload: authors }],
      state: {
        services,
        istio: {
          gateways: [gateway('web-gateway')],
          virtualServices: [virtualService('edge', { hosts: ['*'], gateways: ['web-gateway'], http: [{ route: [{ destination: { host: 'authors' } }] }] })],
          destinationRules: [],
          authorizationPolicies: [fromGateway],
        },
      },
    });
    expect((await mesh.get('/')).status).toBe(200);
    await mesh.close();
    await setup({ policies: [fromGateway] });
    expect((await toAuthors()).status).toBe(403);
  });

  test('DENY is checked before ALLOW and names the matched rule', async () => {
    const deny = policy('authors-deny-web-api', {
      selector: { matchLabels: { app: 'authors' } },
      action: 'DENY',
      rules: [{ to: [{ operation: { paths: ['/admin*'] } }] }, { from: [{ source: { principals: ['cluster.local/ns/default/sa/web-api'] } }] }],
    });
    await setup({ policies: [onlyWebApi, deny] });
    expect((await toAuthors()).status).toBe(403);
    expect(mesh.records.at(-1)?.responseCodeDetails).toBe('rbac_access_denied_matched_policy[ns[default]-policy[authors-deny-web-api]-rule[1]]');
  });

  test('empty rules: ALLOW without rules allows nothing, DENY without rules denies nothing, rules: [{}] matches all', async () => {
    const selector = { matchLabels: { app: 'authors' } };
    await setup({ policies: [policy('deny-nothing', { selector, action: 'DENY' })] });
    expect((await toAuthors()).status).toBe(200);
    await mesh.close();
    await setup({ policies: [policy('allow-nothing', { selector })] });
    expect((await toAuthors()).status).toBe(403);
    await mesh.close();
    await setup({ policies: [policy('allow-nothing', { selector }), policy('allow-all', { selector, rules: [{}] })] });
    expect((await toAuthors()).status).toBe(200);
    await mesh.close();
    await setup({ policies: [policy('deny-all', { selector, action: 'DENY', rules: [{}] }), policy('allow-all', { selector, rules: [{}] })] });
    expect((await toAuthors()).status).toBe(403);
  });

  test('selector: a policy for articles does not touch authors; one in istio-system without selector covers the mesh', async () => {
    await setup({ policies: [policy('articles', { selector: { matchLabels: { app: 'articles' } } })] });
    expect((await toAuthors()).status).toBe(200);
    expect((await send(mesh.port, 'http://articles:8080/')).status).toBe(403);
    await mesh.close();
    await setup({ policies: [policy('deny-all', { action: 'DENY', rules: [{}] }, 'istio-system')] });
    expect((await toAuthors()).status).toBe(403);
    await mesh.close();
    // A namespace-wide policy elsewhere does not apply to the default namespace.
    await setup({ policies: [policy('deny-all', { action: 'DENY', rules: [{}] }, 'other')] });
    expect((await toAuthors()).status).toBe(200);
  });

  test('to.operation: methods, exact/prefix/suffix/* paths, notPaths, ports (the target port) and hosts (any case)', async () => {
    const allow = (operation: NonNullable<NonNullable<AuthorizationPolicySpec['rules']>[number]['to']>[number]['operation']) =>
      policy('authors', { selector: { matchLabels: { app: 'authors' } }, rules: [{ to: [{ operation }] }] });
    const cases: Array<[Parameters<typeof allow>[0], string, string, number]> = [
      [{ methods: ['GET'] }, 'GET', '/x', 200],
      [{ methods: ['GET'] }, 'POST', '/x', 403],
      [{ paths: ['/api/v1/getauthor'] }, 'GET', '/api/v1/getauthor?name=a', 200],
      [{ paths: ['/api/v1/getauthor'] }, 'GET', '/api/v1/getauthors', 403],
      [{ paths: ['/api/*'] }, 'GET', '/api/v1/x', 200],
      [{ paths: ['/api/*'] }, 'GET', '/apix', 403],
      [{ paths: ['*/health'] }, 'GET', '/a/health', 200],
      [{ paths: ['*'] }, 'GET', '/', 200],
      [{ notPaths: ['/admin*'] }, 'GET', '/admin/x', 403],
      [{ notPaths: ['/admin*'] }, 'GET', '/public', 200],
      [{ ports: ['3000'] }, 'GET', '/', 200],
      [{ ports: ['8080'] }, 'GET', '/', 403],
      [{ hosts: ['AUTHORS:3000'] }, 'GET', '/', 200],
      [{ hosts: ['authors.example'] }, 'GET', '/', 403],
      [{ hosts: ['authors*'] }, 'GET', '/', 200],
    ];
    for (const [operation, method, path, expected] of cases) {
      await setup({ policies: [allow(operation)] });
      const res = await toAuthors(path, { method });
      expect({ operation, method, path, status: res.status }).toEqual({ operation, method, path, status: expected });
      await mesh.close();
    }
  });

  test('from.source: namespaces, notNamespaces, notPrincipals, and prefix/suffix principals', async () => {
    const allow = (source: NonNullable<NonNullable<AuthorizationPolicySpec['rules']>[number]['from']>[number]['source']) =>
      policy('authors', { selector: { matchLabels: { app: 'authors' } }, rules: [{ from: [{ source }] }] });
    const cases: Array<[Parameters<typeof allow>[0], number]> = [
      [{ namespaces: ['default'] }, 200],
      [{ namespaces: ['istio-system'] }, 403],
      [{ notNamespaces: ['default'] }, 403],
      [{ principals: ['*'] }, 200],
      [{ principals: ['cluster.local/ns/default/*'] }, 200],
      [{ principals: ['*/sa/web-api'] }, 200],
      [{ principals: ['*/sa/articles'] }, 403],
      [{ notPrincipals: ['cluster.local/ns/default/sa/web-api'] }, 403],
      [{ principals: ['*'], notPrincipals: ['*/sa/articles'] }, 200],
      // No JWT in the local mesh: a requestPrincipals rule never matches.
      [{ requestPrincipals: ['*'] }, 403],
    ];
    for (const [source, expected] of cases) {
      await setup({ policies: [allow(source)] });
      const res = await toAuthors();
      expect({ source, status: res.status }).toEqual({ source, status: expected });
      await mesh.close();
    }
  });

  test('when request.headers[...]: values match one comma-separated element, notValues exclude, * asks for presence', async () => {
    await setup({
      policies: [
        policy('authors', {
          selector: { matchLabels: { app: 'authors' } },
          rules: [{ when: [{ key: 'request.headers[X-User]', values: ['alice', 'team-*'], notValues: ['mallory'] }] }],
        }),
      ],
    });
    const as = (value?: string) => toAuthors('/', { headers: value === undefined ? {} : { 'x-user': value } });
    expect((await as('alice')).status).toBe(200);
    expect((await as('bob,alice')).status).toBe(200);
    expect((await as('team-blue')).status).toBe(200);
    expect((await as('bob')).status).toBe(403);
    expect((await as('alice,mallory')).status).toBe(403);
    expect((await as()).status).toBe(403);
    await mesh.close();

    await setup({
      policies: [
        policy('authors', {
          selector: { matchLabels: { app: 'authors' } },
          action: 'DENY',
          rules: [{ when: [{ key: 'request.headers[x-debug]', values: ['*'] }] }],
        }),
      ],
    });
    expect((await toAuthors('/', { headers: { 'x-debug': '' } })).status).toBe(403);
    expect((await toAuthors('/')).status).toBe(200);
  });

  test('the callee sees the request as forwarded: rewritten path and route header operations', async () => {
    const http: HTTPRoute[] = [
      { rewrite: { uri: '/internal/' }, headers: { request: { set: { 'x-role': 'admin' } } }, route: [{ destination: { host: 'authors' } }] },
    ];
    const denyInternalAdmin = policy('authors', {
      selector: { matchLabels: { app: 'authors' } },
      action: 'DENY',
      rules: [{ to: [{ operation: { paths: ['/internal/*'] } }], when: [{ key: 'request.headers[x-role]', values: ['admin'] }] }],
    });
    await setup({ policies: [denyInternalAdmin], http });
    expect((await toAuthors('/x')).status).toBe(403);
  });

  test('CUSTOM: no ext_authz provider is configured locally, so matching requests are denied as istiod does for a bad provider', async () => {
    await setup({
      policies: [
        policy('ext', {
          selector: { matchLabels: { app: 'authors' } },
          action: 'CUSTOM',
          provider: { name: 'opa' },
          rules: [{ to: [{ operation: { paths: ['/private'] } }] }],
        }),
      ],
    });
    expect((await toAuthors('/public')).status).toBe(200);
    expect((await toAuthors('/private')).status).toBe(403);
    expect(mesh.records.at(-1)?.responseCodeDetails).toBe(
      'rbac_access_denied_matched_policy[istio-ext-authz-ns[default]-policy[ext]-rule[0]-deny-due-to-bad-CUSTOM-action]',
    );
  });

  test('AUDIT never changes the decision', async () => {
    await setup({ policies: [policy('audit', { selector: { matchLabels: { app: 'authors' } }, action: 'AUDIT', rules: [{}] })] });
    expect((await toAuthors()).status).toBe(200);
  });

  test('a 403 from the callee is an upstream answer: retried only when retryOn lists 403, then URX', async () => {
    const http: HTTPRoute[] = [{ retries: { attempts: 2, retryOn: '403' }, route: [{ destination: { host: 'authors' } }] }];
    await setup({ policies: [policy('authors', { selector: { matchLabels: { app: 'authors' } } })], http });
    const res = await toAuthors();
    expect(res.status).toBe(403);
    expect(mesh.records.at(-1)).toMatchObject({ responseCode: 403, responseFlags: 'URX' });
  });

  test('PeerAuthentication DISABLE on the callee: plaintext carries no principal, so principal rules no longer match', async () => {
    await setup({ policies: [onlyWebApi], peers: [peerAuthentication('default', 'STRICT')] });
    expect((await toAuthors()).status).toBe(200);
    await mesh.close();
    await setup({ policies: [onlyWebApi], peers: [peerAuthentication('default', 'STRICT'), peerAuthentication('authors', 'DISABLE', { app: 'authors' })] });
    expect((await toAuthors()).status).toBe(403);
  });
});

describe('AuthorizationPolicy on the ingress gateway', () => {
  test('a policy in istio-system selecting the gateway pods applies before routing; outside callers have no principal', async () => {
    const http: HTTPRoute[] = [{ route: [{ destination: { host: 'authors' } }] }];
    mesh = await startMesh({
      replicas: [{ id: 'authors-0', workload: authors }],
      state: {
        services,
        istio: {
          gateways: [gateway('web-gateway')],
          virtualServices: [virtualService('edge', { hosts: ['*'], gateways: ['web-gateway'], http })],
          destinationRules: [],
          authorizationPolicies: [
            policy(
              'ingress-deny-admin',
              { selector: { matchLabels: { istio: 'ingressgateway' } }, action: 'DENY', rules: [{ to: [{ operation: { paths: ['/admin*'] } }] }] },
              'istio-system',
            ),
            policy(
              'ingress-mtls-only',
              { selector: { matchLabels: { istio: 'ingressgateway' } }, action: 'DENY', rules: [{ from: [{ source: { principals: ['cluster.local/*'] } }] }] },
              'istio-system',
            ),
          ],
        },
      },
    });
    expect((await mesh.get('/public')).status).toBe(200);
    const denied = await mesh.get('/admin/users');
    expect(denied.status).toBe(403);
    expect(denied.text).toBe('RBAC: access denied');
    expect(mesh.upstream('authors-0').hits).toBe(1);
    expect(mesh.records.at(-1)).toMatchObject({
      responseCode: 403,
      responseFlags: '-',
      responseCodeDetails: 'rbac_access_denied_matched_policy[ns[istio-system]-policy[ingress-deny-admin]-rule[0]]',
    });
  });
});
