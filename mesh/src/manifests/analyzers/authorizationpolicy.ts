// AuthorizationPolicies: CNS0106 a selector matching no workload, as Kiali's WorkloadSelectorChecker
// (business/checkers/authorization/workload_selector_checker.go); CNS0107 a principal naming an undefined
// ServiceAccount, as Kiali's PrincipalsChecker (business/checkers/authorization/principals_checker.go).

import type { LoadedObject } from '../../model';
import { isPlainObject } from '../load';
import { namespaceOf } from '../merge';
import { asArray, formatLabels, labelsOf, type Index, type Report } from './context';

export function checkAuthorizationPolicy(loaded: LoadedObject, index: Index, report: Report): void {
  const spec = isPlainObject(loaded.object.spec) ? loaded.object.spec : {};
  const namespace = namespaceOf(loaded.object);
  const selector = isPlainObject(spec.selector) ? labelsOf(spec.selector.matchLabels) : {};
  if (Object.keys(selector).length > 0 && index.workloadsSelectedBy(selector, namespace).length === 0) {
    report(loaded, 'CNS0106', `selector ${formatLabels(selector)} matches no workload: the policy has no effect`, ['spec', 'selector']);
  }
  asArray(spec.rules).forEach((rule, r) => {
    if (!isPlainObject(rule)) return;
    asArray(rule.from).forEach((from, f) => {
      const source = isPlainObject(from) && isPlainObject(from.source) ? from.source : undefined;
      asArray(source?.principals).forEach((principal, p) => {
        const match = typeof principal === 'string' ? /^[^/]+\/ns\/([^/]+)\/sa\/([^/]+)$/.exec(principal) : null;
        // Only namespaces these manifests define can be checked (istio-system belongs to the Istio install).
        if (match && index.namespaces.has(match[1]!) && !index.serviceAccounts.has(`${match[1]}/${match[2]}`)) {
          report(loaded, 'CNS0107', `principal ${principal} names ServiceAccount ${match[2]}, which no manifest defines`, [
            'spec',
            'rules',
            r,
            'from',
            f,
            'source',
            'principals',
            p,
          ]);
        }
      });
    });
  });
}
