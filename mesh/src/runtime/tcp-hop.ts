/**
 * Outbound TCP hops, the runtime side: like the outbound listener Istio's sidecar opens for each TCP Service port, a
 * workload gets a loopback listener (the data plane's TCP proxy, `../dataplane/tcp-proxy.ts`) for every
 * `<service>:<port>` of a TCP Service that its env names (e.g. articles' `DATABASE_URL=postgres://…@postgres:5432/articles`);
 * the mesh rewrites that host:port in the env to the listener.
 */
import { serviceHostForms } from '../istio';
import type { LoadedObject, Service, ServicePort } from '../model';

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
