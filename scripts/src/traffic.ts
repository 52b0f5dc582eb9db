/**
 * The getmultiple split between web-api subsets v1 and v2: argument validation, the JSON patch that sets it on
 * the `web-ingress` VirtualService, and the split read back from an object. Pure functions, no I/O.
 */
import type { HTTPRoute, HTTPRouteDestination, VirtualService } from '@cns/mesh/model';
import { UserError } from './errors';
import type { JsonPatchOp } from './kube';

export const INGRESS_VIRTUAL_SERVICE = 'web-ingress';
export const VIRTUAL_SERVICE_API_VERSION = 'networking.istio.io/v1';
export const SPLIT_SUBSETS = ['v1', 'v2'] as const;

export interface Split {
  v1: number;
  v2: number;
}

/** `traffic V1 V2`: integers 0–100 each, not both 0 (Istio weights are relative; a total of 0 is invalid). */
export function parseSplit(v1Text: string, v2Text: string): Split {
  const problems: string[] = [];
  const parse = (text: string, subset: string): number => {
    const value = /^\d{1,3}$/.test(text.trim()) ? Number(text.trim()) : NaN;
    if (!Number.isInteger(value) || value > 100) {
      problems.push(`${subset} weight "${text}" is not an integer from 0 to 100`);
    }
    return value;
  };
  const split = { v1: parse(v1Text, 'v1'), v2: parse(v2Text, 'v2') };
  if (problems.length === 0 && split.v1 + split.v2 === 0) {
    problems.push('the weights add up to 0, so no request would have a destination');
  }
  if (problems.length > 0) {
    throw new UserError(`invalid split: ${problems.join('; ')} (e.g. \`traffic 80 20\`)`);
  }
  return split;
}

function mentionsGetMultiple(route: HTTPRoute): boolean {
  if (route.name?.includes('getmultiple')) return true;
  return (route.match ?? []).some((m) => [m.uri?.exact, m.uri?.prefix, m.uri?.regex].some((v) => v?.includes('getmultiple')));
}

/** The HTTP route of `web-ingress` that serves getmultiple, by its name or its URI match. */
export function findGetMultipleRoute(vs: VirtualService): { index: number; route: HTTPRoute } {
  const http = vs.spec?.http ?? [];
  const index = http.findIndex(mentionsGetMultiple);
  if (index < 0) {
    throw new UserError(`VirtualService ${vs.metadata.name} has no getmultiple route (no http route named or matching "getmultiple")`);
  }
  const route = http[index]!;
  if (!route.route?.length) {
    throw new UserError(`the getmultiple route of VirtualService ${vs.metadata.name} has no destinations to weigh`);
  }
  return { index, route };
}

/**
 * The destinations for a split: one per subset with a weight above 0, keeping host, port and per-destination
 * headers of the existing entries. A single destination carries no weight (as in the base manifest).
 */
export function splitDestinations(route: HTTPRoute, split: Split): HTTPRouteDestination[] {
  const existing = route.route ?? [];
  const template = existing[0]!.destination;
  const destinations = SPLIT_SUBSETS.filter((subset) => split[subset] > 0).map((subset): HTTPRouteDestination => {
    const current = existing.find((d) => d.destination.subset === subset);
    const base: HTTPRouteDestination = current ? { ...current, destination: { ...current.destination } } : { destination: { ...template, subset } };
    return { ...base, weight: split[subset] };
  });
  if (destinations.length === 1) delete destinations[0]!.weight;
  return destinations;
}

/**
 * A JSON patch that sets the split. The `test` op makes the server refuse the patch if the route at that index
 * changed since it was read (a concurrent edit), instead of overwriting another route.
 */
export function buildSplitPatch(vs: VirtualService, split: Split): JsonPatchOp[] {
  const { index, route } = findGetMultipleRoute(vs);
  const ops: JsonPatchOp[] = [];
  if (route.name !== undefined) ops.push({ op: 'test', path: `/spec/http/${index}/name`, value: route.name });
  ops.push({ op: 'replace', path: `/spec/http/${index}/route`, value: splitDestinations(route, split) });
  return ops;
}

export interface ActiveShare {
  subset: string;
  weight: number;
  percent: number;
}

/** The share each subset of the getmultiple route gets now (weights are relative; a lone destination gets all). */
export function activeSplit(vs: VirtualService): ActiveShare[] {
  const { route } = findGetMultipleRoute(vs);
  const destinations = route.route ?? [];
  const weightOf = (d: HTTPRouteDestination): number => (destinations.length === 1 ? 100 : (d.weight ?? 0));
  const total = destinations.reduce((sum, d) => sum + weightOf(d), 0);
  const shares = new Map<string, { weight: number; percent: number }>();
  for (const d of destinations) {
    const subset = d.destination.subset ?? '(all)';
    const previous = shares.get(subset) ?? { weight: 0, percent: 0 };
    const weight = previous.weight + weightOf(d);
    shares.set(subset, { weight, percent: total > 0 ? (100 * weight) / total : 0 });
  }
  for (const subset of SPLIT_SUBSETS) if (!shares.has(subset)) shares.set(subset, { weight: 0, percent: 0 });
  return [...shares].map(([subset, share]) => ({ subset, ...share }));
}

export function formatPercent(value: number): string {
  return Number.isInteger(value) ? `${value} %` : `${value.toFixed(1)} %`;
}

/** `getmultiple: v1 80 %, v2 20 %`. */
export function formatSplit(shares: ActiveShare[]): string {
  return `getmultiple: ${shares.map((s) => `${s.subset} ${formatPercent(s.percent)}`).join(', ')}`;
}
