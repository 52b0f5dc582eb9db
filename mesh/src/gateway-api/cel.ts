/**
 * The CEL rules (`x-kubernetes-validations`) of the Gateway API v1.1.0 CRDs, written out: the API server runs them
 * after the OpenAPI schema (schema.ts) and refuses the object with the rule's message.
 */
import type { HTTPRoute, HTTPRouteFilter, HTTPRouteRule, KubeGateway } from './kinds';

export interface Violation {
  path: Array<string | number>;
  message: string;
}

const PATH_CHARS = /^(?:[-A-Za-z0-9/._~!$&'()*+,;=:@]|[%][0-9a-fA-F]{2})+$/;

function pathValueRules(type: string | undefined, value: string | undefined, at: Array<string | number>, out: Violation[]): void {
  if ((type !== 'Exact' && type !== 'PathPrefix') || value === undefined) return;
  const fail = (message: string) => out.push({ path: at, message });
  if (!value.startsWith('/')) fail("value must be an absolute path and start with '/' when type one of ['Exact', 'PathPrefix']");
  if (value.includes('//')) fail("must not contain '//' when type one of ['Exact', 'PathPrefix']");
  if (value.includes('/./')) fail("must not contain '/./' when type one of ['Exact', 'PathPrefix']");
  if (value.includes('/../')) fail("must not contain '/../' when type one of ['Exact', 'PathPrefix']");
  if (/%2f/i.test(value)) fail("must not contain '%2f' or '%2F' when type one of ['Exact', 'PathPrefix']");
  if (value.includes('#')) fail("must not contain '#' when type one of ['Exact', 'PathPrefix']");
  if (value.endsWith('/..')) fail("must not end with '/..' when type one of ['Exact', 'PathPrefix']");
  if (value.endsWith('/.')) fail("must not end with '/.' when type one of ['Exact', 'PathPrefix']");
  if (!PATH_CHARS.test(value))
    fail("must only contain valid characters (matching ^(?:[-A-Za-z0-9/._~!$&'()*+,;=:@]|[%][0-9a-fA-F]{2})+$) for types ['Exact', 'PathPrefix']");
}

const FILTER_FIELDS: Record<string, keyof HTTPRouteFilter> = {
  RequestHeaderModifier: 'requestHeaderModifier',
  ResponseHeaderModifier: 'responseHeaderModifier',
  RequestMirror: 'requestMirror',
  RequestRedirect: 'requestRedirect',
  URLRewrite: 'urlRewrite',
  ExtensionRef: 'extensionRef' as keyof HTTPRouteFilter,
};

function filterRules(filters: HTTPRouteFilter[] | undefined, at: Array<string | number>, out: Violation[]): void {
  if (!filters) return;
  filters.forEach((filter, i) => {
    for (const [type, field] of Object.entries(FILTER_FIELDS)) {
      const present = (filter as unknown as Record<string, unknown>)[field] !== undefined;
      if (present && filter.type !== type) out.push({ path: [...at, i], message: `filter.${field} must be nil if the filter.type is not ${type}` });
      if (!present && filter.type === type) out.push({ path: [...at, i], message: `filter.${field} must be specified for ${type} filter.type` });
    }
    for (const modifier of [filter.requestRedirect?.path, filter.urlRewrite?.path]) {
      if (!modifier) continue;
      if (modifier.replaceFullPath !== undefined && modifier.type !== 'ReplaceFullPath')
        out.push({ path: [...at, i], message: "replaceFullPath must be specified when type is set to 'ReplaceFullPath'" });
      if (modifier.type === 'ReplaceFullPath' && modifier.replaceFullPath === undefined)
        out.push({ path: [...at, i], message: "replaceFullPath must be specified when type is set to 'ReplaceFullPath'" });
      if (modifier.replacePrefixMatch !== undefined && modifier.type !== 'ReplacePrefixMatch')
        out.push({ path: [...at, i], message: "type must be 'ReplacePrefixMatch' when replacePrefixMatch is set" });
      if (modifier.type === 'ReplacePrefixMatch' && modifier.replacePrefixMatch === undefined)
        out.push({ path: [...at, i], message: "replacePrefixMatch must be specified when type is set to 'ReplacePrefixMatch'" });
    }
  });
  const count = (type: string) => filters.filter((f) => f.type === type).length;
  if (count('RequestRedirect') > 0 && count('URLRewrite') > 0)
    out.push({ path: at, message: 'May specify either httpRouteFilterRequestRedirect or httpRouteFilterRequestRewrite, but not both' });
  for (const type of ['RequestHeaderModifier', 'ResponseHeaderModifier', 'RequestRedirect', 'URLRewrite']) {
    if (count(type) > 1) out.push({ path: at, message: `${type} filter cannot be repeated` });
  }
}

function ruleRules(rule: HTTPRouteRule, at: Array<string | number>, out: Violation[]): void {
  const matches = rule.matches ?? [];
  matches.forEach((match, i) => pathValueRules(match.path?.type, match.path?.value, [...at, 'matches', i, 'path'], out));
  filterRules(rule.filters, [...at, 'filters'], out);
  (rule.backendRefs ?? []).forEach((backend, i) => filterRules(backend.filters, [...at, 'backendRefs', i, 'filters'], out));
  const filters = rule.filters ?? [];
  if ((rule.backendRefs?.length ?? 0) > 0 && filters.some((f) => f.requestRedirect !== undefined)) {
    out.push({ path: at, message: 'RequestRedirect filter must not be used together with backendRefs' });
  }
  const onePrefixMatch = matches.length === 1 && matches[0].path?.type === 'PathPrefix';
  if (filters.some((f) => f.requestRedirect?.path?.type === 'ReplacePrefixMatch') && !onePrefixMatch) {
    out.push({ path: at, message: 'When using RequestRedirect filter with path.replacePrefixMatch, exactly one PathPrefix match must be specified' });
  }
  if (filters.some((f) => f.urlRewrite?.path?.type === 'ReplacePrefixMatch') && !onePrefixMatch) {
    out.push({ path: at, message: 'When using URLRewrite filter with path.replacePrefixMatch, exactly one PathPrefix match must be specified' });
  }
  const request = durationMs(rule.timeouts?.request);
  const backend = durationMs(rule.timeouts?.backendRequest);
  if (request !== undefined && backend !== undefined && request !== 0 && backend > request) {
    out.push({ path: [...at, 'timeouts'], message: 'backendRequest timeout cannot be longer than request timeout' });
  }
}

/** Gateway API Duration (GEP-2257): `1h`, `500ms`, `1h30m`; the schema's pattern has already checked the form. */
function durationMs(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const units: Record<string, number> = { h: 3_600_000, m: 60_000, s: 1000, ms: 1 };
  let total = 0;
  for (const [, n, unit] of value.matchAll(/(\d+)(ms|h|m|s)/g)) total += Number(n) * units[unit];
  return total;
}

export function httpRouteRules(route: HTTPRoute): Violation[] {
  const out: Violation[] = [];
  const rules = route.spec?.rules ?? [];
  rules.forEach((rule, i) => ruleRules(rule, ['spec', 'rules', i], out));
  const totalMatches = rules.reduce((sum, r) => sum + (r.matches?.length ?? 0), 0);
  if (totalMatches > 128)
    out.push({
      path: ['spec', 'rules'],
      message: 'While 16 rules and 64 matches per rule are allowed, the total number of matches across all rules in a route must be less than 128',
    });
  const parents = route.spec?.parentRefs ?? [];
  const sameParent = (a: (typeof parents)[number], b: (typeof parents)[number]) =>
    a.kind === b.kind && (a.group ?? '') === (b.group ?? '') && a.name === b.name && (a.namespace ?? '') === (b.namespace ?? '');
  for (let i = 0; i < parents.length; i++) {
    for (let j = i + 1; j < parents.length; j++) {
      if (!sameParent(parents[i], parents[j])) continue;
      if (!parents[i].sectionName || !parents[j].sectionName)
        out.push({ path: ['spec', 'parentRefs'], message: 'sectionName must be specified when parentRefs includes 2 or more references to the same parent' });
      else if (parents[i].sectionName === parents[j].sectionName)
        out.push({ path: ['spec', 'parentRefs'], message: 'sectionName must be unique when parentRefs includes 2 or more references to the same parent' });
    }
  }
  return out;
}

export function gatewayRules(gateway: KubeGateway): Violation[] {
  const out: Violation[] = [];
  const listeners = gateway.spec?.listeners ?? [];
  listeners.forEach((listener, i) => {
    const tls = (listener as { tls?: unknown }).tls !== undefined;
    if (['HTTPS', 'TLS'].includes(listener.protocol) && !tls)
      out.push({ path: ['spec', 'listeners', i], message: "tls must be specified for protocols ['HTTPS', 'TLS']" });
    if (['HTTP', 'TCP', 'UDP'].includes(listener.protocol) && tls)
      out.push({ path: ['spec', 'listeners', i], message: "tls must not be specified for protocols ['HTTP', 'TCP', 'UDP']" });
    if (['TCP', 'UDP'].includes(listener.protocol) && listener.hostname)
      out.push({ path: ['spec', 'listeners', i], message: "hostname must not be specified for protocols ['TCP', 'UDP']" });
  });
  const names = listeners.map((l) => l.name);
  if (new Set(names).size !== names.length) out.push({ path: ['spec', 'listeners'], message: 'Listener name must be unique within the Gateway' });
  const combos = listeners.map((l) => `${l.port}|${l.protocol}|${l.hostname ?? ''}`);
  if (new Set(combos).size !== combos.length)
    out.push({ path: ['spec', 'listeners'], message: 'Combination of port, protocol and hostname must be unique for each listener' });
  return out;
}
