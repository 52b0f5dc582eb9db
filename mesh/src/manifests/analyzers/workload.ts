// Workloads (Deployment, StatefulSet, ...): selector vs template labels, ServiceAccount, Secret and probe references,
// canonical revision, container hardening. Project codes (CNS01xx): istioctl's deployment analyzers
// (pkg/config/analysis/analyzers/deployment/services.go, pod.go) check a workload against its Services and sidecar
// instead; CNS0111 follows istio/istio pkg/kube/labels (canonical revision).

import type { LoadedObject } from '../../model';
import { REVISION_LABELS } from '../../istio';
import { isPlainObject } from '../load';
import { asArray, labelsOf, type Index, type Report, type Workload } from './context';

export function checkWorkload(workload: Workload, index: Index, report: Report): void {
  const { loaded } = workload;
  const spec = loaded.object.spec;
  const matchLabels = labelsOf(spec?.selector?.matchLabels);
  for (const [key, value] of Object.entries(matchLabels)) {
    if (workload.podLabels[key] !== value) {
      const actual = key in workload.podLabels ? `${key}=${workload.podLabels[key]}` : `no ${key} label`;
      report(loaded, 'CNS0101', `spec.selector does not match spec.template.metadata.labels: selector wants ${key}=${value}, the template has ${actual}`, [
        'spec',
        'selector',
        'matchLabels',
        key,
      ]);
    }
  }

  // Istio's canonical revision (istio_requests_total's *_canonical_revision, Kiali's versions) takes
  // service.istio.io/canonical-revision, then app.kubernetes.io/version, then version (istio/istio
  // pkg/kube/labels); DestinationRule subsets select on version. Two different values split one version in two.
  const labels = workload.podLabels;
  const revisionLabel = REVISION_LABELS.filter((k) => k !== 'version').find((k) => k in labels);
  if (revisionLabel && labels.version !== undefined && labels[revisionLabel] !== labels.version) {
    report(
      loaded,
      'CNS0111',
      `pod labels version=${labels.version} and ${revisionLabel}=${labels[revisionLabel]} differ: Istio telemetry and Kiali report ${labels[revisionLabel]} (the canonical revision) where subsets select ${labels.version}`,
      ['spec', 'template', 'metadata', 'labels', revisionLabel],
      'warning',
    );
  }

  const podSpec = spec?.template?.spec as Record<string, unknown> | undefined;
  const serviceAccount = podSpec?.serviceAccountName;
  if (typeof serviceAccount === 'string' && serviceAccount !== 'default' && !index.serviceAccounts.has(`${workload.namespace}/${serviceAccount}`)) {
    report(loaded, 'CNS0103', `serviceAccountName ${serviceAccount} names no ServiceAccount in the manifests`, [
      'spec',
      'template',
      'spec',
      'serviceAccountName',
    ]);
  }

  if (loaded.object.kind === 'StatefulSet') {
    const serviceName = (spec as Record<string, unknown> | undefined)?.serviceName;
    if (typeof serviceName === 'string' && !index.services.has(`${serviceName}.${workload.namespace}`)) {
      report(loaded, 'CNS0113', `serviceName ${serviceName} names no Service in the manifests (the StatefulSet's pods get no DNS names)`, [
        'spec',
        'serviceName',
      ]);
    }
  }

  workload.containers.forEach((container, c) => {
    checkContainerReferences(workload, container, c, index, report);
    checkContainerHardening(loaded, container as unknown as Record<string, unknown>, c, podSpec, report);
  });
}

/** A container's Secret keys in env (CNS0112) and the named ports its probes use (CNS0104). */
function checkContainerReferences(workload: Workload, container: Workload['containers'][number], c: number, index: Index, report: Report): void {
  const { loaded } = workload;
  asArray(container.env).forEach((variable, e) => {
    const ref = isPlainObject(variable) && isPlainObject(variable.valueFrom) ? variable.valueFrom.secretKeyRef : undefined;
    if (!isPlainObject(ref) || ref.optional === true || typeof ref.name !== 'string') return;
    const keys = index.secretKeys.get(`${workload.namespace}/${ref.name}`);
    const problem = !keys
      ? `names Secret ${ref.name}, which is not in the manifests`
      : !keys.has(String(ref.key))
        ? `names key ${String(ref.key)}, which Secret ${ref.name} does not have (keys: ${[...keys].join(', ')})`
        : undefined;
    if (problem) {
      report(loaded, 'CNS0112', `container ${container.name} env ${String((variable as Record<string, unknown>).name)} ${problem}: the pod would not start`, [
        'spec',
        'template',
        'spec',
        'containers',
        c,
        'env',
        e,
        'valueFrom',
        'secretKeyRef',
      ]);
    }
  });
  const portNames = new Set(asArray(container.ports).map((p) => (isPlainObject(p) ? p.name : undefined)));
  for (const probe of ['livenessProbe', 'readinessProbe', 'startupProbe'] as const) {
    const port = (container as unknown as Record<string, { httpGet?: { port?: unknown } } | undefined>)[probe]?.httpGet?.port;
    if (typeof port === 'string' && !portNames.has(port)) {
      report(loaded, 'CNS0104', `container ${container.name} ${probe} uses port ${port}, which no container port is named`, [
        'spec',
        'template',
        'spec',
        'containers',
        c,
        probe,
        'httpGet',
        'port',
      ]);
    }
  }
}

/**
 * The project's rules for every container (k8s/README.md), as warnings: a hardened securityContext, requests
 * and limits, liveness and readiness probes. Runs as warnings so that the local mesh still accepts a minimal
 * Deployment, while `npm run lint:manifests` and the tests hold the repository's own files to them.
 */
function checkContainerHardening(
  loaded: LoadedObject,
  container: Record<string, unknown>,
  c: number,
  podSpec: Record<string, unknown> | undefined,
  report: Report,
): void {
  const at = ['spec', 'template', 'spec', 'containers', c];
  const name = String(container.name);
  const security = isPlainObject(container.securityContext) ? container.securityContext : {};
  const podSecurity = podSpec && isPlainObject(podSpec.securityContext) ? podSpec.securityContext : {};
  const capabilities = isPlainObject(security.capabilities) ? security.capabilities : {};
  const missing: string[] = [];
  if (security.runAsNonRoot !== true && podSecurity.runAsNonRoot !== true) missing.push('runAsNonRoot: true');
  if (security.readOnlyRootFilesystem !== true) missing.push('readOnlyRootFilesystem: true');
  if (security.allowPrivilegeEscalation !== false) missing.push('allowPrivilegeEscalation: false');
  if (!asArray(capabilities.drop).includes('ALL')) missing.push('capabilities.drop: [ALL]');
  if (missing.length > 0) {
    report(loaded, 'CNS0108', `container ${name} securityContext lacks ${missing.join(', ')}`, [...at, 'securityContext'], 'warning');
  }
  const resources = isPlainObject(container.resources) ? container.resources : {};
  const absent = (['requests', 'limits'] as const).filter((k) => !isPlainObject(resources[k]) || Object.keys(resources[k] as object).length === 0);
  if (absent.length > 0) {
    report(loaded, 'CNS0109', `container ${name} has no resources.${absent.join(' or resources.')}`, [...at, 'resources'], 'warning');
  }
  const probes = (['livenessProbe', 'readinessProbe'] as const).filter((probe) => !isPlainObject(container[probe]));
  if (probes.length > 0) {
    report(loaded, 'CNS0110', `container ${name} has no ${probes.join(' and no ')}`, at, 'warning');
  }
}
