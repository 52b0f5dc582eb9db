/**
 * Istio's standard metric labels of one (source workload, destination service, answering workload) triple, for both
 * reporters, following istio/proxy's istio_stats filter. How each label is derived is in ./README.md (Labels).
 */
import { canonicalRevisionOf, canonicalServiceOf, CLUSTER_ID, spiffeId } from '../istio';
import type { Workload } from '../model';

export const UNKNOWN = 'unknown';

/** Istio's canonical service: `service.istio.io/canonical-name`, `app.kubernetes.io/name`, `app`, else the workload name. */
export function canonicalService(workload: Workload): string {
  return canonicalServiceOf(workload.labels, workload.name);
}

/** Istio's canonical revision: `service.istio.io/canonical-revision`, `app.kubernetes.io/version`, `version`, else `latest`. */
export function canonicalRevision(workload: Workload): string {
  return canonicalRevisionOf(workload.labels);
}

/** The workload's SPIFFE identity as its mTLS certificate carries it. */
export function principalOf(workload: Workload): string {
  return spiffeId(workload.namespace, workload.serviceAccount);
}

/** Prometheus text-format label value escaping. */
export function escapeLabel(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

function renderLabels(pairs: ReadonlyArray<readonly [string, string]>): string {
  return pairs.map(([name, value]) => `${name}="${escapeLabel(value)}"`).join(',');
}

/** Everything but the outcome labels, for one reporter of one (source, service, destination) triple. */
export interface ReporterLabels {
  /** Rendered labels before response_code (HTTP) / response_flags (TCP). */
  peers: string;
  connectionSecurityPolicy: string;
}

/** The destination Service of a triple, as the route named it. */
export interface ServiceRef {
  /** FQDN, `unknown` when no route named one. */
  service: string;
  serviceName: string;
  serviceNamespace?: string;
}

/**
 * The peer labels of both reporters: the source reporter knows the destination from the upstream endpoint's
 * metadata, principals from the upstream mTLS certificates, and reports `connection_security_policy="unknown"`; the
 * destination reporter reports `mutual_tls` or `none`. No destination reporter without an answering workload.
 */
export function reporterLabels(
  source: Workload,
  { service, serviceName, serviceNamespace }: ServiceRef,
  destination: Workload | undefined,
  mtls: boolean,
): { source: ReporterLabels; destination?: ReporterLabels } {
  const sourcePrincipal = mtls ? principalOf(source) : UNKNOWN;
  const destinationPrincipal = mtls && destination ? principalOf(destination) : UNKNOWN;
  const peers: Array<[string, string]> = [
    ['source_workload', source.name],
    ['source_workload_namespace', source.namespace],
    ['source_principal', sourcePrincipal],
    ['source_app', source.labels.app ?? UNKNOWN],
    ['source_version', source.labels.version ?? UNKNOWN],
    ['source_canonical_service', canonicalService(source)],
    ['source_canonical_revision', canonicalRevision(source)],
    ['source_cluster', CLUSTER_ID],
    ['destination_workload', destination?.name ?? UNKNOWN],
    ['destination_workload_namespace', destination?.namespace ?? UNKNOWN],
    ['destination_principal', destinationPrincipal],
    ['destination_app', destination?.labels.app ?? UNKNOWN],
    ['destination_version', destination?.labels.version ?? UNKNOWN],
    ['destination_service', service],
    ['destination_service_name', serviceName],
    // The source reporter takes the namespace from the peer (unknown without one); the destination its own.
    ['destination_service_namespace', destination ? (serviceNamespace ?? destination.namespace) : UNKNOWN],
    ['destination_canonical_service', destination ? canonicalService(destination) : UNKNOWN],
    ['destination_canonical_revision', destination ? canonicalRevision(destination) : 'latest'],
    ['destination_cluster', destination ? CLUSTER_ID : UNKNOWN],
  ];
  return {
    source: { peers: renderLabels([['reporter', 'source'], ...peers]), connectionSecurityPolicy: UNKNOWN },
    destination: destination
      ? { peers: renderLabels([['reporter', 'destination'], ...peers]), connectionSecurityPolicy: mtls ? 'mutual_tls' : 'none' }
      : undefined,
  };
}
