/**
 * Istio's canonical service and revision of a workload, as the sidecar injector derives them from the pod labels
 * (istio/istio pkg/kube/labels CanonicalService): telemetry labels, trace tags and Kiali's versions all use them.
 */

export const CANONICAL_NAME_LABEL = 'service.istio.io/canonical-name';
export const CANONICAL_REVISION_LABEL = 'service.istio.io/canonical-revision';

/** `service.istio.io/canonical-name`, `app.kubernetes.io/name`, `app`, else `fallback` (the workload name). */
export function canonicalServiceOf(labels: Readonly<Record<string, string>>, fallback: string): string {
  return labels[CANONICAL_NAME_LABEL] ?? labels['app.kubernetes.io/name'] ?? labels.app ?? fallback;
}

/** The labels the canonical revision is read from, in order; `latest` when none is set. */
export const REVISION_LABELS = [CANONICAL_REVISION_LABEL, 'app.kubernetes.io/version', 'version'] as const;

/** `service.istio.io/canonical-revision`, `app.kubernetes.io/version`, `version`, else `latest`. */
export function canonicalRevisionOf(labels: Readonly<Record<string, string>>): string {
  for (const key of REVISION_LABELS) if (labels[key] !== undefined) return labels[key]!;
  return 'latest';
}
