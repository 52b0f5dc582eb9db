/**
 * `traffic V1 V2` in Gateway API mode: the getmultiple rule of the HTTPRoute `web-ingress` (gateway-api/base),
 * found by its path match (rule names only exist in newer CRDs), gets `backendRefs` to the Services `web-api-v1`
 * and `web-api-v2` with the weights. Pure functions, no I/O; the command is in commands/traffic.ts.
 */
import type { HTTPRoute, HTTPRouteRule, HTTPBackendRef } from '@cns/mesh/gateway-api';
import { UserError } from './errors';
import type { JsonPatchOp } from './kube';
import { SPLIT_SUBSETS, type ActiveShare, type Split } from './traffic';

export const INGRESS_HTTPROUTE = 'web-ingress';
export const HTTPROUTE_API_VERSION = 'gateway.networking.k8s.io/v1';

const mentionsGetMultiple = (rule: HTTPRouteRule): boolean =>
  (rule.name ?? '').includes('getmultiple') || (rule.matches ?? []).some((m) => (m.path?.value ?? '').includes('getmultiple'));

/** The rule of `web-ingress` that serves getmultiple. */
export function findGetMultipleRule(route: HTTPRoute): { index: number; rule: HTTPRouteRule } {
  const rules = route.spec?.rules ?? [];
  const index = rules.findIndex(mentionsGetMultiple);
  if (index < 0) throw new UserError(`HTTPRoute ${route.metadata.name} has no getmultiple rule (no rule whose path match contains "getmultiple")`);
  const rule = rules[index]!;
  if (!rule.backendRefs?.length) throw new UserError(`the getmultiple rule of HTTPRoute ${route.metadata.name} has no backendRefs to weigh`);
  return { index, rule };
}

/** `web-api-v1` → `v1`: the version Service a backendRef names (as gateway-api/base/services-versions.yaml). */
function subsetOf(ref: HTTPBackendRef): string {
  return /-(v\d+)$/.exec(ref.name)?.[1] ?? '(all)';
}

/** One backendRef per version with a weight above 0, each keeping port and filters of an existing ref. */
export function splitBackendRefs(rule: HTTPRouteRule, split: Split): HTTPBackendRef[] {
  const existing = rule.backendRefs ?? [];
  const template = existing[0]!;
  const base = template.name.replace(/-v\d+$/, '');
  return SPLIT_SUBSETS.filter((subset) => split[subset] > 0).map((subset) => {
    const current = existing.find((ref) => subsetOf(ref) === subset);
    return { ...(current ?? { name: `${base}-${subset}`, port: template.port }), weight: split[subset] };
  });
}

/**
 * The JSON patch that sets the split. The `test` op on the rule's matches makes the server refuse it when the rule
 * at that index is no longer the getmultiple rule (a concurrent edit), instead of overwriting another rule.
 */
export function buildRouteSplitPatch(route: HTTPRoute, split: Split): JsonPatchOp[] {
  const { index, rule } = findGetMultipleRule(route);
  return [
    { op: 'test', path: `/spec/rules/${index}/matches`, value: rule.matches ?? [] },
    { op: 'replace', path: `/spec/rules/${index}/backendRefs`, value: splitBackendRefs(rule, split) },
  ];
}

/** The share each version gets now (weights are relative; the CRD's default weight is 1). */
export function activeRouteSplit(route: HTTPRoute): ActiveShare[] {
  const refs = findGetMultipleRule(route).rule.backendRefs ?? [];
  const weightOf = (ref: HTTPBackendRef): number => ref.weight ?? 1;
  const total = refs.reduce((sum, ref) => sum + weightOf(ref), 0);
  const shares = new Map<string, { weight: number; percent: number }>();
  for (const ref of refs) {
    const subset = subsetOf(ref);
    const weight = (shares.get(subset)?.weight ?? 0) + weightOf(ref);
    shares.set(subset, { weight, percent: total > 0 ? (100 * weight) / total : 0 });
  }
  for (const subset of SPLIT_SUBSETS) if (!shares.has(subset)) shares.set(subset, { weight: 0, percent: 0 });
  return [...shares].map(([subset, share]) => ({ subset, ...share }));
}

/** Whether every parent's conditions report the route's current generation (istiod has processed the change). */
export function statusCaughtUp(route: HTTPRoute & { status?: { parents?: Array<{ conditions?: Array<{ observedGeneration?: number }> }> } }): boolean {
  const generation = route.metadata.generation;
  const parents = route.status?.parents ?? [];
  if (generation === undefined || parents.length === 0) return false;
  return parents.every((p) => (p.conditions ?? []).length > 0 && (p.conditions ?? []).every((c) => (c.observedGeneration ?? 0) >= generation));
}
