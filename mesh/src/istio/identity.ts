/**
 * Workload identity: the SPIFFE URI a workload's mTLS certificate carries and the principal AuthorizationPolicy
 * `source.principals` compare (the URI without `spiffe://`; istio/istio pilot/pkg/security/authz/model
 * generator.go srcPrincipalGenerator), derived from one place; and the ids a single-cluster install reports.
 */

/** Istio's default trust domain (meshConfig.trustDomain). */
export const TRUST_DOMAIN = 'cluster.local';
/** Policies without a selector in this namespace apply to the whole mesh (meshConfig.rootNamespace). */
export const ROOT_NAMESPACE = 'istio-system';
/** The ingress gateway's ServiceAccount (its pods run as it in istio-system). */
export const GATEWAY_SERVICE_ACCOUNT = 'istio-ingressgateway-service-account';
/** `global.multiCluster.clusterName` / CLUSTER_ID default of a single-cluster install. */
export const CLUSTER_ID = 'Kubernetes';
/** meshConfig.meshId default: the trust domain. */
export const MESH_ID = TRUST_DOMAIN;

/** The principal AuthorizationPolicy compares: `cluster.local/ns/<namespace>/sa/<service account>`. */
export function workloadPrincipal(namespace: string, serviceAccount: string): string {
  return `${TRUST_DOMAIN}/ns/${namespace}/sa/${serviceAccount}`;
}

/** The SPIFFE URI of the same identity, as the certificate (and Istio's telemetry) carries it. */
export function spiffeId(namespace: string, serviceAccount: string): string {
  return `spiffe://${workloadPrincipal(namespace, serviceAccount)}`;
}

/** The ingress gateway's principal. */
export const GATEWAY_PRINCIPAL = workloadPrincipal(ROOT_NAMESPACE, GATEWAY_SERVICE_ACCOUNT);
