// DestinationRules: KIA0202 and KIA0209 as Kiali's NoDestinationChecker (business/checkers/destinationrules/
// no_dest_checker.go), IST0173 as istioctl's PodNotSelectedAnalyzer (pkg/config/analysis/analyzers/destinationrule/
// subset.go), duplicate subsets and traffic-policy durations as Istio's validateDestinationRule / validateTrafficPolicy
// (pkg/config/validation/validation.go).

import type { DestinationRule, LoadedObject } from '../../model';
import { isPlainObject } from '../load';
import { namespaceOf } from '../merge';
import { SCHEMA_ERROR } from '../schema';
import { asArray, containsLabels, formatLabels, labelsOf, type Index, type Report } from './context';
import { checkDuration } from './validation';

export function checkDestinationRule(loaded: LoadedObject<DestinationRule>, index: Index, report: Report): void {
  const spec = loaded.object.spec;
  const namespace = namespaceOf(loaded.object);
  const host = spec?.host;
  if (typeof host !== 'string' || host === '') return; // the schema check reports it
  if (!index.hostExists(host, namespace)) {
    report(loaded, 'KIA0202', `This host has no matching entry in the service registry (service, workload or service entries): ${host}`, ['spec', 'host']);
  }
  const service = index.serviceFor(host, namespace);
  const serviceWorkloads = service ? index.workloadsSelectedBy(labelsOf(service.object.spec?.selector), namespaceOf(service.object)) : undefined;

  checkTrafficPolicy(loaded, spec?.trafficPolicy, ['spec', 'trafficPolicy'], report);
  const seen = new Set<string>();
  asArray(spec?.subsets).forEach((subset, s) => {
    if (!isPlainObject(subset) || typeof subset.name !== 'string') return;
    if (seen.has(subset.name)) {
      report(loaded, SCHEMA_ERROR, `duplicate subset names: ${subset.name}`, ['spec', 'subsets', s, 'name']);
    }
    seen.add(subset.name);
    const labels = labelsOf(subset.labels);
    if (Object.keys(labels).length === 0) {
      report(loaded, 'KIA0209', `This subset has not labels: subset ${subset.name} selects every pod of ${host}`, ['spec', 'subsets', s], 'warning');
    } else if (serviceWorkloads && !serviceWorkloads.some((w) => containsLabels(w.podLabels, labels))) {
      report(
        loaded,
        'IST0173',
        `The Subset ${subset.name} defined in the DestinationRule ${loaded.object.metadata.name} does not select any pods (labels ${formatLabels(labels)}), which may lead to 503 UH (NoHealthyUpstream)`,
        ['spec', 'subsets', s, 'labels'],
      );
    }
    checkTrafficPolicy(loaded, subset.trafficPolicy, ['spec', 'subsets', s, 'trafficPolicy'], report);
  });
}

function checkTrafficPolicy(loaded: LoadedObject, policy: unknown, at: Array<string | number>, report: Report): void {
  if (!isPlainObject(policy)) return;
  const outlier = isPlainObject(policy.outlierDetection) ? policy.outlierDetection : undefined;
  if (outlier) {
    checkDuration(loaded, outlier.interval, [...at, 'outlierDetection', 'interval'], report);
    checkDuration(loaded, outlier.baseEjectionTime, [...at, 'outlierDetection', 'baseEjectionTime'], report);
    for (const field of ['maxEjectionPercent', 'minHealthPercent']) {
      const value = outlier[field];
      if (typeof value === 'number' && (value < 0 || value > 100)) {
        report(loaded, SCHEMA_ERROR, `outlierDetection.${field} must be in range [0, 100], got ${value}`, [...at, 'outlierDetection', field]);
      }
    }
  }
  const pool = isPlainObject(policy.connectionPool) ? policy.connectionPool : undefined;
  if (pool && isPlainObject(pool.tcp)) checkDuration(loaded, pool.tcp.connectTimeout, [...at, 'connectionPool', 'tcp', 'connectTimeout'], report);
  if (pool && isPlainObject(pool.http)) checkDuration(loaded, pool.http.idleTimeout, [...at, 'connectionPool', 'http', 'idleTimeout'], report);
}
