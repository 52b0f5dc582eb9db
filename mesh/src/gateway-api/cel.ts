/**
 * The CEL rules (`x-kubernetes-validations`) of the Gateway API v1.1.0 standard CRDs, written out: the API server
 * runs them after the OpenAPI schema (schema.ts) and refuses the object with the rule's message. Every rule of
 * `config/crd/standard/gateway.networking.k8s.io_httproutes.yaml` and `..._gateways.yaml` at tag v1.1.0 is here
 * (README.md lists them with their fields), evaluated on the defaulted object as the API server does, with the
 * rule's own quirks (`exists_one`, `has()` on an empty string). Rules run only on schema-valid objects, so the
 * types are the schema's.
 */
import type { HTTPBackendRef, HTTPPathModifier, HTTPRoute, HTTPRouteFilter, HTTPRouteRule, KubeGateway, ParentReference } from './kinds';

export interface Violation {
  path: Array<string | number>;
  message: string;
}

type Path = Array<string | number>;
const EXACT_OR_PREFIX = "when type one of ['Exact', 'PathPrefix']";
const PATH_CHARS = /^(?:[-A-Za-z0-9/._~!$&'()*+,;=:@]|[%][0-9a-fA-F]{2})+$/;
/** Gateway API `PreciseHostname`/`Hostname` pattern, used by the address rule. */
const HOSTNAME = /^(\*\.)?[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

/** `spec.rules[].matches[].path` (HTTPPathMatch). The rule "type must be one of [...]" repeats the enum, which fails first. */
function pathMatchRules(type: string | undefined, value: string | undefined, at: Path, out: Violation[]): void {
  if ((type !== 'Exact' && type !== 'PathPrefix') || value === undefined) return;
  const fail = (message: string) => out.push({ path: at, message });
  if (!value.startsWith('/')) fail(`value must be an absolute path and start with '/' ${EXACT_OR_PREFIX}`);
  for (const part of ['//', '/./', '/../', '%2f', '%2F', '#']) if (value.includes(part)) fail(`must not contain '${part}' ${EXACT_OR_PREFIX}`);
  if (value.endsWith('/..')) fail(`must not end with '/..' ${EXACT_OR_PREFIX}`);
  if (value.endsWith('/.')) fail(`must not end with '/.' ${EXACT_OR_PREFIX}`);
  if (!PATH_CHARS.test(value)) fail(`must only contain valid characters (matching ${PATH_CHARS.source}) for types ['Exact', 'PathPrefix']`);
}

const FILTER_FIELDS: Record<string, string> = {
  RequestHeaderModifier: 'requestHeaderModifier',
  ResponseHeaderModifier: 'responseHeaderModifier',
  RequestMirror: 'requestMirror',
  RequestRedirect: 'requestRedirect',
  URLRewrite: 'urlRewrite',
  ExtensionRef: 'extensionRef',
};

/** `requestRedirect.path` / `urlRewrite.path` (HTTPPathModifier). */
function pathModifierRules(modifier: HTTPPathModifier | undefined, at: Path, out: Violation[]): void {
  if (!modifier) return;
  const fail = (message: string) => out.push({ path: at, message });
  if (modifier.type === 'ReplaceFullPath' && modifier.replaceFullPath === undefined)
    fail("replaceFullPath must be specified when type is set to 'ReplaceFullPath'");
  if (modifier.replaceFullPath !== undefined && modifier.type !== 'ReplaceFullPath') fail("type must be 'ReplaceFullPath' when replaceFullPath is set");
  if (modifier.type === 'ReplacePrefixMatch' && modifier.replacePrefixMatch === undefined)
    fail("replacePrefixMatch must be specified when type is set to 'ReplacePrefixMatch'");
  if (modifier.replacePrefixMatch !== undefined && modifier.type !== 'ReplacePrefixMatch')
    fail("type must be 'ReplacePrefixMatch' when replacePrefixMatch is set");
}

/** A BackendObjectReference (`backendRefs[]`, `requestMirror.backendRef`) after defaulting (group "", kind Service). */
function backendPortRule(ref: { group?: string; kind?: string; port?: number } | undefined, at: Path, out: Violation[]): void {
  if (ref && (ref.group ?? '') === '' && ref.kind === 'Service' && ref.port === undefined)
    out.push({ path: at, message: 'Must have port for Service reference' });
}

/** `filters` of a rule or of a backendRef (both carry the same rules in v1.1.0). */
function filterRules(filters: HTTPRouteFilter[] | undefined, at: Path, out: Violation[]): void {
  if (!filters) return;
  filters.forEach((filter, i) => {
    const fields = filter as unknown as Record<string, unknown>;
    for (const [type, field] of Object.entries(FILTER_FIELDS)) {
      if (fields[field] !== undefined && filter.type !== type)
        out.push({ path: [...at, i], message: `filter.${field} must be nil if the filter.type is not ${type}` });
      if (fields[field] === undefined && filter.type === type)
        out.push({ path: [...at, i], message: `filter.${field} must be specified for ${type} filter.type` });
    }
    backendPortRule(filter.requestMirror?.backendRef, [...at, i, 'requestMirror', 'backendRef'], out);
    pathModifierRules(filter.requestRedirect?.path, [...at, i, 'requestRedirect', 'path'], out);
    pathModifierRules(filter.urlRewrite?.path, [...at, i, 'urlRewrite', 'path'], out);
  });
  const count = (type: string) => filters.filter((f) => f.type === type).length;
  if (count('RequestRedirect') > 0 && count('URLRewrite') > 0)
    out.push({ path: at, message: 'May specify either httpRouteFilterRequestRedirect or httpRouteFilterRequestRewrite, but not both' });
  for (const type of ['RequestHeaderModifier', 'ResponseHeaderModifier', 'RequestRedirect', 'URLRewrite']) {
    if (count(type) > 1) out.push({ path: at, message: `${type} filter cannot be repeated` });
  }
}

/** `has(f.X) && has(f.X.path) && f.X.path.type == 'ReplacePrefixMatch' && has(f.X.path.replacePrefixMatch)` */
const replacesPrefix = (field: 'requestRedirect' | 'urlRewrite') => (f: HTTPRouteFilter) =>
  f[field]?.path?.type === 'ReplacePrefixMatch' && f[field]?.path?.replacePrefixMatch !== undefined;
/** CEL `exists_one`: exactly one element satisfies the predicate (two such filters do not trigger these rules). */
const existsOne = <T>(list: T[] | undefined, predicate: (item: T) => boolean) => (list ?? []).filter(predicate).length === 1;

function ruleRules(rule: HTTPRouteRule, at: Path, out: Violation[]): void {
  const matches = rule.matches ?? [];
  matches.forEach((match, i) => pathMatchRules(match.path?.type, match.path?.value, [...at, 'matches', i, 'path'], out));
  filterRules(rule.filters, [...at, 'filters'], out);
  (rule.backendRefs ?? []).forEach((backend: HTTPBackendRef, i) => {
    backendPortRule(backend, [...at, 'backendRefs', i], out);
    filterRules(backend.filters, [...at, 'backendRefs', i, 'filters'], out);
  });
  if ((rule.backendRefs?.length ?? 0) > 0 && (rule.filters ?? []).some((f) => f.requestRedirect !== undefined)) {
    out.push({ path: at, message: 'RequestRedirect filter must not be used together with backendRefs' });
  }
  const onePrefixMatch = matches.length === 1 && matches[0].path?.type === 'PathPrefix';
  const prefixRule = (field: 'requestRedirect' | 'urlRewrite', name: string) => {
    if (onePrefixMatch) return;
    if (existsOne(rule.filters, replacesPrefix(field)))
      out.push({ path: at, message: `When using ${name} filter with path.replacePrefixMatch, exactly one PathPrefix match must be specified` });
    if (existsOne(rule.backendRefs, (b) => existsOne(b.filters, replacesPrefix(field))))
      out.push({
        path: at,
        // The v1.1.0 CRD capitalises the second message differently; the API server prints them as written.
        message: `Within backendRefs, ${field === 'urlRewrite' ? 'When' : 'when'} using ${name} filter with path.replacePrefixMatch, exactly one PathPrefix match must be specified`,
      });
  };
  prefixRule('requestRedirect', 'RequestRedirect');
  prefixRule('urlRewrite', 'URLRewrite');
}

/** Same parent for the two `spec.parentRefs` rules: group, kind, name, and namespace (unset and "" are one). */
function sameParent(a: ParentReference, b: ParentReference): boolean {
  return a.group === b.group && a.kind === b.kind && a.name === b.name && (a.namespace ?? '') === (b.namespace ?? '');
}

function parentRefRules(parents: ParentReference[], out: Violation[]): void {
  const section = (p: ParentReference) => p.sectionName ?? '';
  const at = ['spec', 'parentRefs'];
  if (parents.some((p1) => parents.some((p2) => sameParent(p1, p2) && (section(p1) === '') !== (section(p2) === ''))))
    out.push({ path: at, message: 'sectionName must be specified when parentRefs includes 2 or more references to the same parent' });
  if (parents.some((p1) => parents.filter((p2) => sameParent(p1, p2) && section(p1) === section(p2)).length !== 1))
    out.push({ path: at, message: 'sectionName must be unique when parentRefs includes 2 or more references to the same parent' });
}

export function httpRouteRules(route: HTTPRoute): Violation[] {
  const out: Violation[] = [];
  parentRefRules(route.spec?.parentRefs ?? [], out);
  (route.spec?.rules ?? []).forEach((rule, i) => ruleRules(rule, ['spec', 'rules', i], out));
  return out;
}

interface GatewayFields {
  addresses?: Array<{ type?: string; value: string }>;
  listeners?: Array<{
    name: string;
    hostname?: string;
    port: number;
    protocol: string;
    tls?: { mode?: string; certificateRefs?: unknown[]; options?: Record<string, string> };
  }>;
}

function addressRules(addresses: NonNullable<GatewayFields['addresses']>, out: Violation[]): void {
  for (const type of ['IPAddress', 'Hostname']) {
    const values = addresses.filter((a) => a.type === type).map((a) => a.value);
    if (new Set(values).size !== values.length) out.push({ path: ['spec', 'addresses'], message: `${type} values must be unique` });
  }
  addresses.forEach((address, i) => {
    if (address.type === 'Hostname' && !HOSTNAME.test(address.value))
      out.push({ path: ['spec', 'addresses', i], message: `Hostname value must only contain valid characters (matching ${HOSTNAME.source})` });
  });
}

export function gatewayRules(gateway: KubeGateway): Violation[] {
  const out: Violation[] = [];
  const spec = (gateway.spec ?? {}) as GatewayFields;
  addressRules(spec.addresses ?? [], out);
  const listeners = spec.listeners ?? [];
  const all = (test: (l: (typeof listeners)[number]) => boolean, message: string) => {
    if (!listeners.every(test)) out.push({ path: ['spec', 'listeners'], message });
  };
  all((l) => !['HTTP', 'TCP', 'UDP'].includes(l.protocol) || l.tls === undefined, "tls must not be specified for protocols ['HTTP', 'TCP', 'UDP']");
  all((l) => l.protocol !== 'HTTPS' || l.tls === undefined || l.tls.mode === '' || l.tls.mode === 'Terminate', 'tls mode must be Terminate for protocol HTTPS');
  all((l) => !['TCP', 'UDP'].includes(l.protocol) || !l.hostname, "hostname must not be specified for protocols ['TCP', 'UDP']");
  all((l1) => listeners.filter((l2) => l1.name === l2.name).length === 1, 'Listener name must be unique within the Gateway');
  const sameHostname = (a?: string, b?: string) => (a !== undefined && b !== undefined ? a === b : a === undefined && b === undefined);
  all(
    (l1) => listeners.filter((l2) => l1.port === l2.port && l1.protocol === l2.protocol && sameHostname(l1.hostname, l2.hostname)).length === 1,
    'Combination of port, protocol and hostname must be unique for each listener',
  );
  listeners.forEach((listener, i) => {
    const tls = listener.tls;
    if (tls?.mode === 'Terminate' && !(tls.certificateRefs?.length || Object.keys(tls.options ?? {}).length))
      out.push({ path: ['spec', 'listeners', i, 'tls'], message: 'certificateRefs or options must be specified when mode is Terminate' });
  });
  return out;
}
