/** Rollout status of Deployments, as `kubectl rollout status` judges it. Pure functions. */

export interface DeploymentLike {
  metadata?: { name?: string; generation?: number };
  spec?: { replicas?: number };
  status?: {
    observedGeneration?: number;
    replicas?: number;
    updatedReplicas?: number;
    availableReplicas?: number;
    readyReplicas?: number;
  };
}

/** Done when the controller saw the latest spec and every desired replica is updated and available. */
export function rolloutDone(deployment: DeploymentLike): boolean {
  const desired = deployment.spec?.replicas ?? 1;
  const status = deployment.status ?? {};
  const generation = deployment.metadata?.generation;
  if (generation !== undefined && (status.observedGeneration ?? 0) < generation) return false;
  return (
    (status.updatedReplicas ?? 0) >= desired &&
    (status.availableReplicas ?? 0) >= desired &&
    // old replicas still terminating count in status.replicas
    (status.replicas ?? desired) <= desired
  );
}

/** `web-api-v2 1/2 updated, 0/2 available`, for timeouts. */
export function rolloutState(deployment: DeploymentLike): string {
  const desired = deployment.spec?.replicas ?? 1;
  const s = deployment.status ?? {};
  return `${deployment.metadata?.name ?? '?'} ${s.updatedReplicas ?? 0}/${desired} updated, ${s.availableReplicas ?? 0}/${desired} available`;
}
