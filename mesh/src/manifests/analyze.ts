/**
 * Whole-set analysis of Kubernetes + Istio objects, modelled on `istioctl analyze` and Kiali's validations:
 * schema errors, then every cross-reference between Deployments, Services, Gateways, VirtualServices,
 * DestinationRules, ServiceAccounts and AuthorizationPolicies. Codes and texts follow istioctl (IST*) and Kiali
 * (KIA*); checks neither has use project codes (CNS*).
 *
 * One file per analyzer family in analyzers/ (as istioctl's pkg/config/analysis/analyzers/ and Kiali's
 * business/checkers/ are cut); this file runs them in order and owns what applying does with the findings.
 *
 * The input must already be one consistent set (a base with optional files applied through `mergeObjects`):
 * two objects with the same identity are reported, not merged.
 */
import type { Finding, LoadedObject } from '../model';
import { istioKindOf } from '../istio';
import { SCHEMA_ERROR, validateSchema } from './schema';
import { checkAuthorizationPolicy } from './analyzers/authorizationpolicy';
import { Index, reporter } from './analyzers/context';
import { checkDestinationRule } from './analyzers/destinationrule';
import { checkDestinationRuleOverlap } from './analyzers/destinationrule-overlap';
import { checkDuplicates } from './analyzers/duplicates';
import { checkService } from './analyzers/service';
import { checkVirtualService } from './analyzers/virtualservice';
import { checkVirtualServiceOverlap } from './analyzers/virtualservice-overlap';
import { checkWorkload } from './analyzers/workload';
import { checkRoutingOverlap } from '../gateway-api/analyze';

export { FINDING_CODES, type FindingCode } from './analyzers/codes';
export { checkDuplicates } from './analyzers/duplicates';

/**
 * The findings Istio's API server itself refuses an object for (the CRD schema and the validating webhook,
 * istio/istio pkg/config/validation): IST0106, plus objects that cannot be read at all. Everything else is what
 * `istioctl analyze` / Kiali report about a set of objects; a cluster accepts such objects, so the running mesh
 * applies them and shows these findings as warnings (`npm run lint:manifests` still fails on them).
 */
const REFUSED_ON_APPLY: ReadonlySet<string> = new Set([SCHEMA_ERROR, 'CNS0001', 'CNS0002', 'CNS0301', 'CNS0302']);

export function refusedOnApply(finding: Finding): boolean {
  return finding.severity === 'error' && REFUSED_ON_APPLY.has(finding.code);
}

/**
 * Schema validation plus every cross-reference check over one set of objects (Kubernetes and Istio together).
 * Findings are sorted by file, line and code.
 */
export function analyzeManifests(objects: LoadedObject[]): Finding[] {
  const findings: Finding[] = [];
  const schemaBroken = new Set<LoadedObject>();
  for (const loaded of objects) {
    const schemaFindings = validateSchema(loaded);
    if (schemaFindings.some((f) => f.severity === 'error')) schemaBroken.add(loaded);
    findings.push(...schemaFindings);
  }
  findings.push(...checkDuplicates(objects));

  const index = new Index(objects);
  const report = reporter(findings);
  for (const workload of index.workloads) checkWorkload(workload, index, report);
  for (const service of index.services.values()) checkService(service, index, report);
  for (const vs of index.virtualServices) checkVirtualService(vs, index, report);
  checkVirtualServiceOverlap(index, report);
  for (const dr of index.destinationRules) checkDestinationRule(dr, index, report);
  checkDestinationRuleOverlap(index, report);
  findings.push(...checkRoutingOverlap(objects));
  for (const loaded of objects) {
    if (istioKindOf(loaded.object)?.kind === 'AuthorizationPolicy') {
      checkAuthorizationPolicy(loaded, index, report);
    }
  }
  return sortFindings(dedupe(findings));
}

function dedupe(findings: Finding[]): Finding[] {
  const seen = new Set<string>();
  return findings.filter((f) => {
    const key = `${f.code}|${f.file}|${f.line}|${f.object}|${f.message}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

export function sortFindings(findings: Finding[]): Finding[] {
  return [...findings].sort((a, b) => a.file.localeCompare(b.file) || (a.line ?? 0) - (b.line ?? 0) || a.code.localeCompare(b.code));
}
