/**
 * Outbound TCP hops: like the outbound listener Istio's sidecar opens for each TCP Service port (Envoy's
 * tcp_proxy), a loopback listener per (calling workload, Service port) that forwards each connection to a ready
 * replica behind the Service and reports it as `istio_tcp_*` metrics and a TCP edge of the graph.
 *
 * A workload gets a hop for every `<service>:<port>` of a TCP Service that its env names (e.g. articles'
 * `DATABASE_URL=postgres://…@postgres:5432/articles`); the mesh rewrites that host:port in the env to the hop.
 */
import net from 'node:net';
import { podPort, type Authorizer } from '../dataplane/authorization';
import { serviceFqdn, serviceHostForms, workloadPrincipal } from '../istio';
import type { Endpoint, LoadedObject, Service, ServicePort, TelemetrySink, Workload } from '../model';

/** Istio picks TCP for a port named `tcp`/`tcp-*` or with `appProtocol: tcp` (and for unnamed ports, as opaque). */
export function isTcpPort(port: ServicePort): boolean {
  const protocol = port.appProtocol ?? port.name?.split('-')[0] ?? '';
  return protocol.toLowerCase() === 'tcp';
}

export interface TcpHopTarget {
  service: LoadedObject<Service>;
  port: ServicePort;
  /** `postgres:5432` as the env writes it. */
  address: string;
}

/** The TCP Service ports an env names as `host:port` (`postgres:5432`, also `postgres.default.svc.cluster.local:5432`). */
export function tcpTargetsIn(env: Record<string, string>, services: readonly LoadedObject<Service>[], namespace: string): TcpHopTarget[] {
  const text = Object.values(env).join(' ');
  const targets: TcpHopTarget[] = [];
  for (const service of services) {
    const name = service.object.metadata.name;
    const ns = service.object.metadata.namespace ?? namespace;
    for (const port of service.object.spec?.ports ?? []) {
      if (!isTcpPort(port)) continue;
      for (const host of serviceHostForms(name, ns)) {
        const address = `${host}:${port.port}`;
        if (new RegExp(`(^|[@/\\s])${address.replace(/[.]/g, '\\.')}(?![0-9])`).test(text)) targets.push({ service, port, address });
      }
    }
  }
  return targets;
}

/** Replaces each target's `host:port` in the env values with the hop's loopback address. */
export function rewriteEnv(env: Record<string, string>, hops: ReadonlyArray<{ target: TcpHopTarget; address: string }>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(env)) {
    let rewritten = value;
    for (const { target, address } of hops) {
      rewritten = rewritten.replace(new RegExp(`(^|[@/\\s])${target.address.replace(/[.]/g, '\\.')}(?![0-9])`, 'g'), `$1${address}`);
    }
    if (rewritten !== value) out[key] = rewritten;
  }
  return out;
}

export interface TcpHopOptions {
  source: Workload;
  target: TcpHopTarget;
  namespace: string;
  endpoints: () => readonly Endpoint[];
  telemetry: TelemetrySink;
  /** The AuthorizationPolicies in force now (the config may change while the hop listens); none: allow all. */
  authorizer?: () => Authorizer;
  /** A line for the mesh log (a denied connection, when the decision changes). */
  log?: (line: string) => void;
}

export interface TcpHop {
  /** Not yet listening: the caller binds it. */
  server: net.Server;
  /** Stops listening and cuts the connections still open (the mesh is stopping). */
  close(): Promise<void>;
}

/** A listener that proxies to the Service's ready replicas, round robin. */
export function createTcpHop(options: TcpHopOptions): TcpHop {
  const { source, target, namespace, telemetry } = options;
  const service = target.service.object;
  const selector = service.spec?.selector ?? {};
  const serviceNamespace = service.metadata.namespace ?? namespace;
  const fqdn = serviceFqdn(service.metadata.name, serviceNamespace);
  const principal = workloadPrincipal(source.namespace, source.serviceAccount);
  let lastDenied: string | undefined;
  let next = 0;
  const open = new Set<net.Socket>();
  const server = net.createServer((client) => {
    open.add(client);
    client.once('close', () => open.delete(client));
    const ready = options
      .endpoints()
      .filter((e) => e.ready && Object.entries(selector).every(([k, v]) => e.workload.labels[k] === v));
    const info = { source, destinationService: fqdn, destinationServiceName: service.metadata.name, destinationServiceNamespace: serviceNamespace };
    if (ready.length === 0) {
      // Envoy: no healthy upstream (UH), the downstream connection is closed at once.
      telemetry.tcpConnection?.(info).close('UH');
      client.destroy();
      return;
    }
    const endpoint = ready[next++ % ready.length]!;
    const record = telemetry.tcpConnection?.({ ...info, destination: endpoint.workload });
    const authorizer = options.authorizer?.();
    const policyTarget = { namespace: endpoint.workload.namespace, labels: endpoint.workload.labels };
    if (authorizer?.enforces(policyTarget)) {
      // The callee receives on the Service's targetPort (a named one resolved against its pod): what
      // destination.port / ports in a policy compare with.
      const targetPort = podPort(target.port.targetPort, target.port.port, endpoint.workload);
      const peer = authorizer.mtlsMode(policyTarget, targetPort) === 'DISABLE' ? undefined : principal;
      const decision = authorizer.checkConnection(policyTarget, { principal: peer, port: targetPort });
      if (!decision.allowed) {
        // Envoy's network RBAC filter on the callee decides on the connection's first bytes and closes it without
        // flushing (connection termination details rbac_access_denied_matched_policy[...]); no upstream connection.
        const details = `rbac_access_denied_matched_policy[${decision.policy}]`;
        if (lastDenied !== details) options.log?.(`${source.name} → ${target.address} (TCP) denied by AuthorizationPolicy: ${details}`);
        lastDenied = details;
        let closed = false;
        const close = (): void => {
          if (closed) return;
          closed = true;
          record?.close('-');
          client.destroy();
        };
        client.once('data', (chunk: Buffer) => {
          record?.received(chunk.length);
          close();
        });
        client.once('error', close);
        client.once('close', close);
        return;
      }
      lastDenied = undefined;
    }
    const upstream = net.connect({ host: endpoint.host, port: endpoint.port });
    open.add(upstream);
    let connected = false;
    let finished = false;
    const finish = (flags: string): void => {
      if (finished) return;
      finished = true;
      record?.close(flags);
      client.destroy();
      upstream.destroy();
    };
    client.pause();
    upstream.once('connect', () => {
      connected = true;
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
  });
  return {
    server,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of open) socket.destroy();
        if (!server.listening) return resolve();
        server.close(() => resolve());
      }),
  };
}
