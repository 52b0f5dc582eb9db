/**
 * The TCP proxy of a sidecar's outbound listener for one TCP Service port (Envoy's tcp_proxy network filter,
 * `source/common/tcp_proxy/tcp_proxy.cc`): each downstream connection is routed (a mesh VirtualService `tcp` rule or
 * the Service's cluster), given an endpoint by the same upstream layer as HTTP (`./upstream/cluster-manager.ts`: the
 * DestinationRule's subsets, load balancer, `connectionPool.tcp.maxConnections` and outlier detection), checked
 * against the callee's AuthorizationPolicies (its network RBAC filter), then piped both ways.
 *
 * As `Filter::initializeUpstreamConnection` and `onUpstreamEvent`: no such cluster → closed (NC); the cluster's
 * connection circuit breaker full → closed at once (UO, no queue); no healthy endpoint → closed (UH); connect
 * failure → closed (UF) and a connect failure for outlier detection; connected → a success for outlier detection.
 * Istio sets no `max_connect_attempts`, so a failed connect is not retried.
 */
import net from 'node:net';
import type { Endpoint, TcpConnectionInfo, TcpConnectionTelemetry, TelemetrySink, Workload } from '../model';
import { serviceFqdn, workloadPrincipal } from '../istio';
import { peerPrincipal } from './authorization';
import type { CompiledCluster, CompiledMeshConfig } from './config';
import { ClusterManager, type EndpointSource, type UpstreamHost } from './upstream/cluster-manager';
import { xxHash64 } from './upstream/hashing';
import { pickWeighted } from './weighted';

export interface TcpProxyOptions {
  /** The calling workload (its sidecar's outbound listener). */
  source: Workload;
  service: { name: string; namespace: string };
  /** The Service port the listener stands for. */
  port: number;
  /** `postgres:5432` as the caller writes it (for the log line). */
  address: string;
  /** Read per connection: the runtime swaps configs at run time. */
  config: () => CompiledMeshConfig;
  endpoints: EndpointSource;
  telemetry: TelemetrySink;
  random?: () => number;
  now?: () => number;
  /** A line for the mesh log (a denied connection, when the decision changes). */
  log?: (line: string) => void;
  /**
   * The upstream layer of the proxy this listener belongs to (its sidecar's `DataPlane.clusters`): Envoy has one
   * cluster manager per proxy, so circuit breakers and outlier detection count across all its listeners. Without
   * one the listener has its own (closed with it).
   */
  clusters?: ClusterManager;
}

export interface TcpProxy {
  /** Not yet listening: the caller binds it. */
  server: net.Server;
  /** Stops listening and cuts the connections still open (the mesh is stopping). */
  close(): Promise<void>;
}

export function createTcpProxy(options: TcpProxyOptions): TcpProxy {
  const { source, service, port, telemetry } = options;
  const random = options.random ?? Math.random;
  const ownClusters = options.clusters === undefined;
  const clusters = options.clusters ?? new ClusterManager({ endpoints: options.endpoints, random, now: options.now ?? Date.now });
  const fqdn = serviceFqdn(service.name, service.namespace);
  const info: TcpConnectionInfo = { source, destinationService: fqdn, destinationServiceName: service.name, destinationServiceNamespace: service.namespace };
  const principal = workloadPrincipal(source.namespace, source.serviceAccount);
  const open = new Set<net.Socket>();
  let lastDenied: string | undefined;

  /** Envoy's network RBAC filter on the callee: the matched policy id when it denies the connection. */
  const denied = (config: CompiledMeshConfig, endpoint: Endpoint, cluster: CompiledCluster): string | undefined => {
    const authorizer = config.authorization;
    const target = { namespace: endpoint.workload.namespace, labels: endpoint.workload.labels };
    if (!authorizer?.enforces(target)) return undefined;
    // The callee receives on the Service's targetPort (a named one resolved against its pod): policies' ports.
    const targetPort = cluster.podPort(endpoint.workload);
    const decision = authorizer.checkConnection(target, { principal: peerPrincipal(authorizer, target, targetPort, principal), port: targetPort });
    if (decision.shadow) telemetry.rbacShadow?.({ workload: endpoint.workload, pod: endpoint.id, port: targetPort, protocol: 'tcp', results: decision.shadow });
    return decision.allowed ? undefined : decision.policy;
  };

  const server = net.createServer((client) => {
    open.add(client);
    client.once('close', () => open.delete(client));
    client.on('error', () => undefined);
    const config = options.config();
    const route = config.tcpRoute(fqdn, port);
    const destination = pickWeighted(route.destinations, route.totalWeight, random);
    const refuse = (flags: string): void => {
      telemetry.tcpConnection?.(info).close(flags);
      client.destroy();
    };
    if (!destination?.cluster.exists) return refuse(destination ? 'NC' : 'UH');
    const cluster = clusters.get(destination.cluster);
    if (!cluster.acquireConnection()) return refuse('UO');
    // Envoy's tcp_proxy hashes only the source IP; other hash policies find nothing to hash (a random endpoint).
    const hash = cluster.config.policy.hash?.source === 'sourceIp' && client.remoteAddress ? xxHash64(client.remoteAddress) : undefined;
    const host = cluster.open(undefined, hash);
    if (!host) return refuse('UH');
    const record = telemetry.tcpConnection?.({ ...info, destination: host.endpoint.workload });
    const policy = denied(config, host.endpoint, cluster.config);
    if (policy !== undefined) {
      const details = `rbac_access_denied_matched_policy[${policy}]`;
      if (lastDenied !== details) options.log?.(`${source.name} → ${options.address} (TCP) denied by AuthorizationPolicy: ${details}`);
      lastDenied = details;
      return closeOnFirstBytes(client, host, record);
    }
    lastDenied = undefined;
    pipe(client, host, record, open);
  });
  return {
    server,
    close: async () => {
      for (const socket of open) socket.destroy();
      if (ownClusters) await clusters.close();
      if (!server.listening) return;
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/**
 * Envoy's network RBAC filter on the callee decides on the connection's first bytes and closes it without flushing
 * (connection termination details rbac_access_denied_matched_policy[...]); no connection reaches the workload.
 */
function closeOnFirstBytes(client: net.Socket, host: UpstreamHost, record: TcpConnectionTelemetry | undefined): void {
  let closed = false;
  const close = (): void => {
    if (closed) return;
    closed = true;
    host.release();
    record?.close('-');
    client.destroy();
  };
  client.once('data', (chunk: Buffer) => {
    record?.received(chunk.length);
    close();
  });
  client.once('error', close);
  client.once('close', close);
}

/** Connects to the chosen endpoint and pipes both ways with back-pressure; the slot is held until both sides close. */
function pipe(client: net.Socket, host: UpstreamHost, record: TcpConnectionTelemetry | undefined, open: Set<net.Socket>): void {
  const upstream = net.connect({ host: host.endpoint.host, port: host.endpoint.port });
  open.add(upstream);
  let connected = false;
  let finished = false;
  const finish = (flags: string): void => {
    if (finished) return;
    finished = true;
    if (!connected && flags === 'UF') host.report('localFailure');
    host.release();
    record?.close(flags);
    client.destroy();
    upstream.destroy();
  };
  client.pause();
  upstream.once('connect', () => {
    connected = true;
    host.report('success');
    client.resume();
  });
  client.on('data', (chunk: Buffer) => {
    record?.received(chunk.length);
    if (!upstream.write(chunk)) client.pause();
  });
  upstream.on('drain', () => client.resume());
  upstream.on('data', (chunk: Buffer) => {
    record?.sent(chunk.length);
    if (!client.write(chunk)) upstream.pause();
  });
  client.on('drain', () => upstream.resume());
  client.once('end', () => upstream.end());
  upstream.once('end', () => client.end());
  // UF: the upstream connection failed; UC: upstream connection termination (here: reset mid-stream).
  upstream.once('error', () => finish(connected ? 'UC' : 'UF'));
  client.once('error', () => finish('-'));
  upstream.once('close', () => finish(connected ? '-' : 'UF'));
  client.once('close', () => finish('-'));
  upstream.once('close', () => open.delete(upstream));
}
