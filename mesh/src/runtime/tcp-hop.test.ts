import { compileAuthorization } from '../dataplane/authorization';
import type { AuthorizationPolicy, AuthorizationPolicySpec, LoadedObject, Service, ServicePort } from '../model';
import { rewriteEnv, tcpTargetsIn } from './tcp-hop';

const service = (name: string, ports: ServicePort[]): LoadedObject<Service> => ({
  object: { apiVersion: 'v1', kind: 'Service', metadata: { name }, spec: { selector: { app: name }, ports } },
  source: { file: 'k8s/test.yaml' },
});
const postgres = service('postgres', [{ name: 'tcp-postgres', port: 5432 }]);
const articles = service('articles', [{ name: 'http', port: 8080 }]);

it('finds the TCP Service ports an env names and rewrites them to the hop, leaving HTTP URLs and user names alone', () => {
  const env = { DATABASE_URL: 'postgres://articles:pw@postgres:5432/articles', OTHER: 'http://articles:8080', NOT: 'postgres:54321' };
  const targets = tcpTargetsIn(env, [postgres, articles], 'default');
  expect(targets.map((t) => t.address)).toEqual(['postgres:5432']);
  expect(rewriteEnv(env, [{ target: targets[0]!, address: '127.0.0.1:40000' }])).toEqual({ DATABASE_URL: 'postgres://articles:pw@127.0.0.1:40000/articles' });
});

// ---- AuthorizationPolicy on TCP hops (the callee's network RBAC filter)

const postgresTarget = { namespace: 'default', labels: { app: 'postgres', version: 'v1' } };
const principal = (sa: string): string => `cluster.local/ns/default/sa/${sa}`;
const policy = (name: string, spec: AuthorizationPolicySpec): LoadedObject<AuthorizationPolicy> => ({
  object: { apiVersion: 'security.istio.io/v1', kind: 'AuthorizationPolicy', metadata: { name }, spec },
  source: { file: `istio/security/${name}.yaml` },
});
const selectPostgres = { matchLabels: { app: 'postgres' } };
const httpRequest = (sa: string, path: string) => ({ principal: principal(sa), method: 'GET', path, host: 'postgres', port: 5432, header: () => undefined });

it('compiles policies for a TCP port as istiod does: an ALLOW rule with HTTP-only fields is dropped, a DENY rule loses only them', () => {
  const allowWithMethods = compileAuthorization(
    [
      policy('pg', {
        selector: selectPostgres,
        action: 'ALLOW',
        rules: [{ from: [{ source: { principals: [principal('articles')] } }], to: [{ operation: { methods: ['GET'] } }] }],
      }),
    ],
    [],
    'default',
  );
  // Over HTTP the rule allows articles' GET; on a TCP connection the rule cannot be expressed, so nothing is allowed.
  expect(allowWithMethods.check(postgresTarget, httpRequest('articles', '/'))).toEqual({ allowed: true });
  expect(allowWithMethods.checkConnection(postgresTarget, { principal: principal('articles'), port: 5432 })).toEqual({ allowed: false, policy: 'none' });

  const denyAdminPath = compileAuthorization(
    [
      policy('pg', {
        selector: selectPostgres,
        action: 'DENY',
        rules: [{ to: [{ operation: { paths: ['/admin'], ports: ['5432'] } }], when: [{ key: 'request.headers[x-debug]', values: ['1'] }] }],
      }),
    ],
    [],
    'default',
  );
  // HTTP: only /admin with the header is denied. TCP: paths and the header condition are dropped, ports stays.
  expect(denyAdminPath.check(postgresTarget, httpRequest('articles', '/'))).toEqual({ allowed: true });
  expect(denyAdminPath.checkConnection(postgresTarget, { principal: principal('articles'), port: 5432 })).toEqual({
    allowed: false,
    policy: 'ns[default]-policy[pg]-rule[0]',
  });
  expect(denyAdminPath.checkConnection(postgresTarget, { principal: principal('articles'), port: 5433 })).toEqual({ allowed: true });

  const byPrincipal = compileAuthorization(
    [
      policy('pg', {
        selector: selectPostgres,
        action: 'ALLOW',
        rules: [{ from: [{ source: { principals: [principal('articles')] } }], to: [{ operation: { ports: ['5432'] } }] }],
      }),
    ],
    [],
    'default',
  );
  expect(byPrincipal.checkConnection(postgresTarget, { principal: principal('articles'), port: 5432 })).toEqual({ allowed: true });
  expect(byPrincipal.checkConnection(postgresTarget, { principal: principal('web-api'), port: 5432 })).toEqual({ allowed: false, policy: 'none' });
  expect(byPrincipal.checkConnection(postgresTarget, { principal: undefined, port: 5432 })).toEqual({ allowed: false, policy: 'none' });
});
