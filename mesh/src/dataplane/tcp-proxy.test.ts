import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { parseAllDocuments } from 'yaml';
import type {
  AuthorizationPolicy,
  DestinationRule,
  DestinationRuleSpec,
  Endpoint,
  IstioConfig,
  K8sObject,
  LoadedObject,
  PeerAuthentication,
  Service,
  TcpConnectionInfo,
  VirtualService,
  VirtualServiceSpec,
  Workload,
} from '../model';
import { compileMeshConfig, type CompiledMeshConfig } from './config';
import { createTcpProxy, type TcpProxy } from './tcp-proxy';
import { ClusterManager } from './upstream/cluster-manager';

const workload = (name: string, version = 'v1', app = name): Workload => ({
  name: `${name}-${version}`,
  namespace: 'default',
  labels: { app, version },
  app,
  version,
  serviceAccount: name,
  replicas: 1,
});
const postgres: LoadedObject<Service> = {
  object: {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: 'postgres' },
    spec: { selector: { app: 'postgres' }, ports: [{ name: 'tcp-postgres', port: 5432 }] },
  },
  source: { file: 'k8s/test.yaml' },
};
const loaded = <T extends K8sObject>(object: T): LoadedObject<T> => ({ object, source: { file: 'istio/test.yaml' } });
const destinationRule = (spec: DestinationRuleSpec): LoadedObject<DestinationRule> =>
  loaded({ apiVersion: 'networking.istio.io/v1', kind: 'DestinationRule', metadata: { name: 'postgres' }, spec });
const virtualService = (spec: VirtualServiceSpec): LoadedObject<VirtualService> =>
  loaded({ apiVersion: 'networking.istio.io/v1', kind: 'VirtualService', metadata: { name: 'postgres' }, spec });

function meshConfig(istio: Partial<IstioConfig> = {}): CompiledMeshConfig {
  return compileMeshConfig({
    istio: { gateways: [], virtualServices: [], destinationRules: [], ...istio },
    services: [postgres],
    workloads: [],
    mode: 'istio',
    namespace: 'default',
  });
}

/** A database stand-in that echoes and counts its connections. */
async function echoServer(): Promise<{ server: net.Server; port: number; accepted: () => number }> {
  let accepted = 0;
  const server = net.createServer((socket) => {
    accepted += 1;
    socket.on('error', () => undefined);
    socket.pipe(socket);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, port: (server.address() as net.AddressInfo).port, accepted: () => accepted };
}

/** A port nothing listens on (connect fails with ECONNREFUSED). */
async function deadPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

const endpointOf = (id: string, port: number, version = 'v1'): Endpoint => ({
  id,
  workload: workload('postgres', version),
  host: '127.0.0.1',
  port,
  ready: true,
});

/** Telemetry that logs events and lets a test await the next connection close. */
function recordingTelemetry() {
  const events: string[] = [];
  const infos: TcpConnectionInfo[] = [];
  const waiters: Array<(flags: string) => void> = [];
  return {
    events,
    infos,
    nextClose: () => new Promise<string>((resolve) => waiters.push(resolve)),
    sink: {
      record: () => {},
      tcpConnection: (info: TcpConnectionInfo) => {
        infos.push(info);
        return {
          received: (n: number) => events.push(`received ${n}`),
          sent: (n: number) => events.push(`sent ${n}`),
          close: (flags = '-') => {
            events.push(`close ${flags}`);
            waiters.shift()?.(flags);
          },
        };
      },
    },
  };
}

interface Started {
  proxy: TcpProxy;
  port: number;
}

async function startProxy(options: {
  config: () => CompiledMeshConfig;
  endpoints: () => Endpoint[];
  telemetry: ReturnType<typeof recordingTelemetry>;
  source?: Workload;
  log?: (line: string) => void;
  clusters?: ClusterManager;
}): Promise<Started> {
  const proxy = createTcpProxy({
    source: options.source ?? workload('articles'),
    service: { name: 'postgres', namespace: 'default' },
    port: 5432,
    address: 'postgres:5432',
    config: options.config,
    endpoints: { endpoints: options.endpoints },
    telemetry: options.telemetry.sink,
    log: options.log,
    clusters: options.clusters,
  });
  await new Promise<void>((resolve) => proxy.server.listen(0, '127.0.0.1', resolve));
  return { proxy, port: (proxy.server.address() as net.AddressInfo).port };
}

/** Connects, sends `text`, resolves with the echo. */
async function roundTrip(port: number, text: string): Promise<{ socket: net.Socket; echoed: string }> {
  const socket = net.connect(port, '127.0.0.1');
  socket.on('error', () => undefined);
  socket.write(text);
  const echoed = await new Promise<string>((resolve) => {
    socket.once('data', (d) => resolve(d.toString()));
    socket.once('close', () => resolve(''));
  });
  return { socket, echoed };
}

it('forwards bytes both ways to a ready replica and reports them; with none ready it closes at once (UH)', async () => {
  const db = await echoServer();
  const telemetry = recordingTelemetry();
  const endpoint = endpointOf('postgres-0', db.port);
  let endpoints = [endpoint];
  const config = meshConfig();
  const { proxy, port } = await startProxy({ config: () => config, endpoints: () => endpoints, telemetry });
  try {
    const closed = telemetry.nextClose();
    const { socket, echoed } = await roundTrip(port, 'hello');
    expect(echoed).toBe('hello');
    socket.end();
    expect(await closed).toBe('-');
    expect(telemetry.events).toEqual(['received 5', 'sent 5', 'close -']);
    expect(telemetry.infos[0]).toMatchObject({
      destinationService: 'postgres.default.svc.cluster.local',
      destinationServiceName: 'postgres',
      destination: { name: 'postgres-v1' },
      source: { name: 'articles-v1' },
    });

    endpoints = [{ ...endpoint, ready: false }];
    const refused = telemetry.nextClose();
    await roundTrip(port, 'x');
    expect(await refused).toBe('UH');
  } finally {
    await proxy.close();
    db.server.close();
  }
});

it('applies connectionPool.tcp.maxConnections of the DestinationRule: a connection beyond it is closed at once (UO), one after a close gets through', async () => {
  const db = await echoServer();
  const telemetry = recordingTelemetry();
  const config = meshConfig({ destinationRules: [destinationRule({ host: 'postgres', trafficPolicy: { connectionPool: { tcp: { maxConnections: 1 } } } })] });
  const { proxy, port } = await startProxy({ config: () => config, endpoints: () => [endpointOf('postgres-0', db.port)], telemetry });
  try {
    const first = await roundTrip(port, 'one');
    expect(first.echoed).toBe('one');
    const overflow = telemetry.nextClose();
    const second = await roundTrip(port, 'two');
    expect(second.echoed).toBe('');
    expect(await overflow).toBe('UO');
    expect(db.accepted()).toBe(1);

    const firstClosed = telemetry.nextClose();
    first.socket.end();
    expect(await firstClosed).toBe('-');
    const third = await roundTrip(port, 'three');
    expect(third.echoed).toBe('three');
    third.socket.destroy();
    expect(db.accepted()).toBe(2);
  } finally {
    await proxy.close();
    db.server.close();
  }
});

it("counts maxConnections per proxy, as Envoy's one cluster manager per proxy does: two listeners of one sidecar share the limit", async () => {
  const db = await echoServer();
  const telemetry = recordingTelemetry();
  const config = meshConfig({ destinationRules: [destinationRule({ host: 'postgres', trafficPolicy: { connectionPool: { tcp: { maxConnections: 1 } } } })] });
  const endpoints = () => [endpointOf('postgres-0', db.port)];
  const clusters = new ClusterManager({ endpoints: { endpoints }, random: Math.random, now: Date.now });
  const first = await startProxy({ config: () => config, endpoints, telemetry, clusters });
  const second = await startProxy({ config: () => config, endpoints, telemetry, clusters });
  try {
    const open = await roundTrip(first.port, 'one');
    expect(open.echoed).toBe('one');
    const overflow = telemetry.nextClose();
    expect((await roundTrip(second.port, 'two')).echoed).toBe('');
    expect(await overflow).toBe('UO');
    expect(db.accepted()).toBe(1);
    open.socket.destroy();
  } finally {
    await Promise.all([first.proxy.close(), second.proxy.close()]);
    await clusters.close();
    db.server.close();
  }
});

it('routes to the subset a VirtualService tcp rule names, with the labels its DestinationRule gives it', async () => {
  const v1 = await echoServer();
  const v2 = await echoServer();
  const telemetry = recordingTelemetry();
  const config = meshConfig({
    destinationRules: [
      destinationRule({
        host: 'postgres',
        subsets: [
          { name: 'v1', labels: { version: 'v1' } },
          { name: 'v2', labels: { version: 'v2' } },
        ],
      }),
    ],
    virtualServices: [
      virtualService({ hosts: ['postgres'], tcp: [{ match: [{ port: 5432 }], route: [{ destination: { host: 'postgres', subset: 'v2' } }] }] }),
    ],
  });
  const endpoints = [endpointOf('postgres-v1-0', v1.port, 'v1'), endpointOf('postgres-v2-0', v2.port, 'v2')];
  const { proxy, port } = await startProxy({ config: () => config, endpoints: () => endpoints, telemetry });
  try {
    for (const text of ['a', 'b', 'c', 'd']) {
      const { socket, echoed } = await roundTrip(port, text);
      expect(echoed).toBe(text);
      socket.destroy();
    }
    expect([v1.accepted(), v2.accepted()]).toEqual([0, 4]);
    expect(telemetry.infos.map((i) => i.destination?.version)).toEqual(['v2', 'v2', 'v2', 'v2']);
  } finally {
    await proxy.close();
    v1.server.close();
    v2.server.close();
  }
});

it('closes a connection at once (NC) when the tcp rule names a subset no DestinationRule defines, and a rule for another port does not apply', async () => {
  const db = await echoServer();
  const telemetry = recordingTelemetry();
  const endpoints = [endpointOf('postgres-0', db.port)];
  const route = (port: number) =>
    virtualService({ hosts: ['postgres'], tcp: [{ match: [{ port }], route: [{ destination: { host: 'postgres', subset: 'v3' } }] }] });
  let config = meshConfig({ virtualServices: [route(5432)] });
  const { proxy, port } = await startProxy({ config: () => config, endpoints: () => endpoints, telemetry });
  try {
    const refused = telemetry.nextClose();
    expect((await roundTrip(port, 'x')).echoed).toBe('');
    expect(await refused).toBe('NC');
    expect(db.accepted()).toBe(0);

    config = meshConfig({ virtualServices: [route(5433)] });
    const { socket, echoed } = await roundTrip(port, 'y');
    expect(echoed).toBe('y');
    socket.destroy();
    expect(db.accepted()).toBe(1);
  } finally {
    await proxy.close();
    db.server.close();
  }
});

it('ejects an endpoint whose connect fails (outlier detection) and sends later connections to the healthy one, round robin otherwise', async () => {
  const healthy = await echoServer();
  const dead = await deadPort();
  const outlier = { consecutive5xxErrors: 1, interval: '10s', baseEjectionTime: '60s', maxEjectionPercent: 100 };
  const endpoints = [endpointOf('postgres-0', dead), endpointOf('postgres-1', healthy.port)];
  const run = async (spec: DestinationRuleSpec): Promise<string[]> => {
    const telemetry = recordingTelemetry();
    const config = meshConfig({ destinationRules: [destinationRule(spec)] });
    const { proxy, port } = await startProxy({ config: () => config, endpoints: () => endpoints, telemetry });
    const outcomes: string[] = [];
    try {
      for (let i = 0; i < 4; i++) {
        const closed = telemetry.nextClose();
        const { socket, echoed } = await roundTrip(port, 'q');
        socket.destroy();
        const flags = await closed;
        outcomes.push(echoed === 'q' ? 'ok' : flags);
      }
    } finally {
      await proxy.close();
    }
    return outcomes;
  };
  try {
    // ROUND_ROBIN alone alternates, so every other connection fails to connect (UF).
    expect(await run({ host: 'postgres', trafficPolicy: { loadBalancer: { simple: 'ROUND_ROBIN' } } })).toEqual(['UF', 'ok', 'UF', 'ok']);
    // With outlier detection the first connect failure ejects the endpoint for baseEjectionTime.
    expect(await run({ host: 'postgres', trafficPolicy: { loadBalancer: { simple: 'ROUND_ROBIN' }, outlierDetection: outlier } })).toEqual([
      'UF',
      'ok',
      'ok',
      'ok',
    ]);
  } finally {
    healthy.server.close();
  }
});

/** The project's own istio/base/security.yaml, as `npm start` and the cluster apply it. */
function projectSecurity(): Pick<IstioConfig, 'authorizationPolicies' | 'peerAuthentications'> {
  const file = path.resolve(__dirname, '../../../istio/base/security.yaml');
  const objects = parseAllDocuments(fs.readFileSync(file, 'utf8'))
    .map((doc) => doc.toJS() as K8sObject | null)
    .filter((object): object is K8sObject => !!object?.kind)
    .map((object) => ({ object, source: { file: 'istio/base/security.yaml' } }));
  return {
    authorizationPolicies: objects.filter((o) => o.object.kind === 'AuthorizationPolicy') as LoadedObject<AuthorizationPolicy>[],
    peerAuthentications: objects.filter((o) => o.object.kind === 'PeerAuthentication') as LoadedObject<PeerAuthentication>[],
  };
}

it("enforces the project's postgres policy on the hop: articles reaches the database, another workload is closed on its first bytes", async () => {
  const db = await echoServer();
  const endpoint = endpointOf('postgres-0', db.port);
  const config = meshConfig(projectSecurity());
  const telemetry = recordingTelemetry();
  const logs: string[] = [];
  const start = (source: Workload) => startProxy({ config: () => config, endpoints: () => [endpoint], telemetry, source, log: (line) => logs.push(line) });
  const fromArticles = await start({ ...workload('articles'), name: 'articles' });
  const fromWebApi = await start({ ...workload('web-api'), name: 'web-api' });
  try {
    const closed = telemetry.nextClose();
    const allowed = await roundTrip(fromArticles.port, 'startup');
    expect(allowed.echoed).toBe('startup');
    allowed.socket.destroy();
    expect(await closed).toBe('-');
    expect(db.accepted()).toBe(1);
    expect(telemetry.events).toEqual(['received 7', 'sent 7', 'close -']);

    telemetry.events.length = 0;
    const deniedClosed = telemetry.nextClose();
    const denied = await roundTrip(fromWebApi.port, 'startup');
    expect(denied.echoed).toBe('');
    expect(await deniedClosed).toBe('-');
    expect(db.accepted()).toBe(1);
    expect(telemetry.events).toEqual(['received 7', 'close -']);
    expect(logs).toEqual(['web-api → postgres:5432 (TCP) denied by AuthorizationPolicy: rbac_access_denied_matched_policy[none]']);
  } finally {
    await fromArticles.proxy.close();
    await fromWebApi.proxy.close();
    db.server.close();
  }
});
