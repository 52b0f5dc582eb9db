import net from 'node:net';
import type { Endpoint, LoadedObject, Service, ServicePort, TcpConnectionInfo, Workload } from '../model';
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
