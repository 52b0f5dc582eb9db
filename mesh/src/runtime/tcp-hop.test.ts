import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { parseAllDocuments } from 'yaml';
import { compileAuthorization } from '../dataplane/authorization';
import type { AuthorizationPolicy, AuthorizationPolicySpec, Endpoint, K8sObject, LoadedObject, PeerAuthentication, Service, ServicePort, TcpConnectionInfo, Workload } from '../model';
import { createTcpHop, rewriteEnv, tcpTargetsIn } from './tcp-hop';

const workload = (name: string, app = name): Workload => ({ name, namespace: 'default', labels: { app, version: 'v1' }, app, version: 'v1', serviceAccount: name, replicas: 1 });
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

it('forwards bytes both ways to a ready replica and reports them; with none ready it closes at once (UH)', async () => {
  const echo = net.createServer((socket) => socket.pipe(socket)).listen(0, '127.0.0.1');
  await new Promise((resolve) => echo.once('listening', resolve));
  const endpoint: Endpoint = { id: 'postgres-0', workload: workload('postgres'), host: '127.0.0.1', port: (echo.address() as net.AddressInfo).port, ready: true };
  const events: string[] = [];
  const infos: TcpConnectionInfo[] = [];
  const telemetry = {
    record: () => {},
    tcpConnection: (info: TcpConnectionInfo) => {
      infos.push(info);
      return { received: (n: number) => events.push(`received ${n}`), sent: (n: number) => events.push(`sent ${n}`), close: (f = '-') => events.push(`close ${f}`) };
    },
  };
  const [target] = tcpTargetsIn({ URL: 'postgres://u:p@postgres:5432/db' }, [postgres], 'default');
  let endpoints: Endpoint[] = [endpoint];
  const hop = createTcpHop({ source: workload('articles'), target: target!, namespace: 'default', endpoints: () => endpoints, telemetry });
  await new Promise<void>((resolve) => hop.server.listen(0, '127.0.0.1', resolve));
  const port = (hop.server.address() as net.AddressInfo).port;
  try {
    const client = net.connect(port, '127.0.0.1');
    client.write('hello');
    const echoed = await new Promise<string>((resolve) => client.once('data', (d) => resolve(d.toString())));
    expect(echoed).toBe('hello');
    client.end();
    await new Promise((resolve) => client.once('close', resolve));
    const deadline = Date.now() + 5000;
    while (!events.includes('close -') && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
    expect(events).toEqual(['received 5', 'sent 5', 'close -']);
    expect(infos[0]).toMatchObject({ destinationService: 'postgres.default.svc.cluster.local', destinationServiceName: 'postgres', destination: { name: 'postgres' }, source: { name: 'articles' } });

    endpoints = [{ ...endpoint, ready: false }];
    const refused = net.connect(port, '127.0.0.1');
    await new Promise((resolve) => refused.once('close', resolve));
    expect(events.at(-1)).toBe('close UH');
  } finally {
    await hop.close();
    echo.close();
  }
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
    [policy('pg', { selector: selectPostgres, action: 'ALLOW', rules: [{ from: [{ source: { principals: [principal('articles')] } }], to: [{ operation: { methods: ['GET'] } }] }] })],
    [],
    'default',
  );
  // Over HTTP the rule allows articles' GET; on a TCP connection the rule cannot be expressed, so nothing is allowed.
  expect(allowWithMethods.check(postgresTarget, httpRequest('articles', '/'))).toEqual({ allowed: true });
  expect(allowWithMethods.checkConnection(postgresTarget, { principal: principal('articles'), port: 5432 })).toEqual({ allowed: false, policy: 'none' });

  const denyAdminPath = compileAuthorization(
    [policy('pg', { selector: selectPostgres, action: 'DENY', rules: [{ to: [{ operation: { paths: ['/admin'], ports: ['5432'] } }], when: [{ key: 'request.headers[x-debug]', values: ['1'] }] }] })],
    [],
    'default',
  );
  // HTTP: only /admin with the header is denied. TCP: paths and the header condition are dropped, ports stays.
  expect(denyAdminPath.check(postgresTarget, httpRequest('articles', '/'))).toEqual({ allowed: true });
  expect(denyAdminPath.checkConnection(postgresTarget, { principal: principal('articles'), port: 5432 })).toEqual({ allowed: false, policy: 'ns[default]-policy[pg]-rule[0]' });
  expect(denyAdminPath.checkConnection(postgresTarget, { principal: principal('articles'), port: 5433 })).toEqual({ allowed: true });

  const byPrincipal = compileAuthorization([policy('pg', { selector: selectPostgres, action: 'ALLOW', rules: [{ from: [{ source: { principals: [principal('articles')] } }], to: [{ operation: { ports: ['5432'] } }] }] })], [], 'default');
  expect(byPrincipal.checkConnection(postgresTarget, { principal: principal('articles'), port: 5432 })).toEqual({ allowed: true });
  expect(byPrincipal.checkConnection(postgresTarget, { principal: principal('web-api'), port: 5432 })).toEqual({ allowed: false, policy: 'none' });
  expect(byPrincipal.checkConnection(postgresTarget, { principal: undefined, port: 5432 })).toEqual({ allowed: false, policy: 'none' });
});

/** The project's own istio/base/security.yaml, as `npm start` and the cluster apply it. */
function projectSecurity(): { policies: LoadedObject<AuthorizationPolicy>[]; peers: LoadedObject<PeerAuthentication>[] } {
  const file = path.resolve(__dirname, '../../../istio/base/security.yaml');
  const objects = parseAllDocuments(fs.readFileSync(file, 'utf8'))
    .map((doc) => doc.toJS() as K8sObject | null)
    .filter((object): object is K8sObject => !!object?.kind)
    .map((object) => ({ object, source: { file: 'istio/base/security.yaml' } }));
  return {
    policies: objects.filter((o) => o.object.kind === 'AuthorizationPolicy') as LoadedObject<AuthorizationPolicy>[],
    peers: objects.filter((o) => o.object.kind === 'PeerAuthentication') as LoadedObject<PeerAuthentication>[],
  };
}

it("enforces the project's postgres policy on the hop: articles reaches the database, another workload is closed on its first bytes", async () => {
  let accepted = 0;
  const echo = net.createServer((socket) => {
    accepted += 1;
    socket.pipe(socket);
  }).listen(0, '127.0.0.1');
  await new Promise((resolve) => echo.once('listening', resolve));
  const endpoint: Endpoint = { id: 'postgres-0', workload: workload('postgres'), host: '127.0.0.1', port: (echo.address() as net.AddressInfo).port, ready: true };
  const { policies, peers } = projectSecurity();
  const authorizer = compileAuthorization(policies, peers, 'default');
  const events: string[] = [];
  const logs: string[] = [];
  const telemetry = {
    record: () => {},
    tcpConnection: () => ({ received: (n: number) => events.push(`received ${n}`), sent: (n: number) => events.push(`sent ${n}`), close: (f = '-') => events.push(`close ${f}`) }),
  };
  const [target] = tcpTargetsIn({ URL: 'postgres://u:p@postgres:5432/db' }, [postgres], 'default');
  const hopFor = async (source: Workload) => {
    const hop = createTcpHop({ source, target: target!, namespace: 'default', endpoints: () => [endpoint], telemetry, authorizer: () => authorizer, log: (line) => logs.push(line) });
    await new Promise<void>((resolve) => hop.server.listen(0, '127.0.0.1', resolve));
    return { hop, port: (hop.server.address() as net.AddressInfo).port };
  };
  const fromArticles = await hopFor(workload('articles'));
  const fromWebApi = await hopFor(workload('web-api'));
  try {
    const allowed = net.connect(fromArticles.port, '127.0.0.1');
    allowed.write('startup');
    expect(await new Promise<string>((resolve) => allowed.once('data', (d) => resolve(d.toString())))).toBe('startup');
    allowed.destroy();
    expect(accepted).toBe(1);
    const deadline = Date.now() + 5000;
    while (!events.includes('close -') && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
    expect(events).toEqual(['received 7', 'sent 7', 'close -']);

    events.length = 0;
    const denied = net.connect(fromWebApi.port, '127.0.0.1');
    const received: Buffer[] = [];
    denied.on('data', (d) => received.push(d));
    denied.on('error', () => {});
    denied.write('startup');
    await new Promise((resolve) => denied.once('close', resolve));
    expect(Buffer.concat(received).length).toBe(0);
    expect(accepted).toBe(1);
    expect(events).toEqual(['received 7', 'close -']);
    expect(logs).toEqual(['web-api → postgres:5432 (TCP) denied by AuthorizationPolicy: rbac_access_denied_matched_policy[none]']);
  } finally {
    await fromArticles.hop.close();
    await fromWebApi.hop.close();
    echo.close();
  }
});
