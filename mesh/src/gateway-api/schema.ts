/**
 * What the Kubernetes API server does to a Gateway API object before istiod sees it: structural-schema defaulting
 * from the CRD's OpenAPI schema (`default:` values: match `PathPrefix /`, header/query `Exact`, weight 1, redirect
 * 302, parentRef group/kind, backendRef kind `Service`, ...), then validation against that schema and the CRD's
 * CEL rules (`x-kubernetes-validations`). Only these refuse an object; everything else istiod accepts and reports in
 * `status`.
 *
 * The schemas are the ones @kubernetes-models/gateway-api 0.5.1 ships (the last version that runs on Node 20; its
 * HTTPRoute/Gateway `v1` schemas are those of Gateway API v1.0's experimental channel, which has every standard
 * v1.1.0 field this project uses, and `timeouts`). The package validates but exports neither the schema nor a way
 * to default, so the schema literal is read from its module as manifests/schema.ts does for Istio's. The CEL rules
 * are not in the package: the ones below are written from the v1.1.0 CRDs, each with the API server's message.
 */
import fs from 'node:fs';
import Ajv, { type ErrorObject, type ValidateFunction } from 'ajv';
import type { Finding, K8sObject, LoadedObject } from '../model';
import { lineOf } from '../manifests/load';
import { GATEWAY_API_GROUP, type HTTPRoute, type HTTPRouteFilter, type HTTPRouteRule, type KubeGateway } from './kinds';

/** The CRD's OpenAPI schema refuses the object (the API server's `Invalid value`). */
export const GATEWAY_SCHEMA_ERROR = 'CNS0301';
/** One of the CRD's CEL rules refuses the object. */
export const GATEWAY_CEL_ERROR = 'CNS0302';

const MODULES: Record<string, string> = {
  'v1/Gateway': 'v1/Gateway',
  'v1beta1/Gateway': 'v1beta1/Gateway',
  'v1/HTTPRoute': 'v1/HTTPRoute',
  'v1beta1/HTTPRoute': 'v1beta1/HTTPRoute',
  // ReferenceGrant is v1beta1 in v1.1.0; v1 (same spec) came later.
  'v1beta1/ReferenceGrant': 'v1beta1/ReferenceGrant',
  'v1/ReferenceGrant': 'v1beta1/ReferenceGrant',
};

const ajv = new Ajv({ useDefaults: true, allErrors: true, strict: false, logger: false });
ajv.addFormat('int32', true);
ajv.addFormat('int64', true);
const validators = new Map<string, ValidateFunction | null>();

function validatorFor(apiVersion: string, kind: string): ValidateFunction | null {
  const version = apiVersion.slice(GATEWAY_API_GROUP.length + 1);
  const module = MODULES[`${version}/${kind}`];
  if (!module) return null;
  let validate = validators.get(module);
  if (validate !== undefined) return validate;
  validate = null;
  try {
    const text = fs.readFileSync(require.resolve(`@kubernetes-models/gateway-api/${GATEWAY_API_GROUP}/${module}`), 'utf8');
    const literal = /\nconst schema = (\{[\s\S]*?\n\});\n/.exec(text)?.[1];
    if (literal) {
      const schema = JSON.parse(literal) as { properties: Record<string, unknown> };
      // metadata is checked by the API machinery, status is written by the controller: neither is the spec's schema.
      schema.properties.metadata = { type: 'object' };
      delete schema.properties.status;
      delete schema.properties.apiVersion; // the served version is checked by the caller
      validate = ajv.compile(schema);
    }
  } catch {
    validate = null;
  }
  validators.set(module, validate);
  return validate;
}

export function hasGatewayApiSchema(object: K8sObject): boolean {
  return validatorFor(object.apiVersion, object.kind) !== null;
}

/**
 * The object as the API server stores it: a copy with the CRD's defaults filled in. Objects of an unknown
 * version or kind come back unchanged.
 */
export function withDefaults<T extends K8sObject>(object: T): T {
  const copy = structuredClone(object);
  validatorFor(object.apiVersion, object.kind)?.(copy);
  return copy;
}

/** Schema and CEL findings for one Gateway API object; empty when the API server would store it. */
export function validateGatewayApiObject(loaded: LoadedObject): Finding[] {
  const { object, source } = loaded;
  const ref = `${object.kind}/${object.metadata.name}`;
  const finding = (code: string, fieldPath: ReadonlyArray<string | number>, message: string): Finding => ({
    code,
    severity: 'error',
    file: source.file,
    line: lineOf(object, fieldPath) ?? source.line,
    object: ref,
    message,
  });
  const validate = validatorFor(object.apiVersion, object.kind);
  if (!validate) {
    return [{ ...finding(GATEWAY_SCHEMA_ERROR, [], `no such kind or version served by the Gateway API CRDs: ${object.apiVersion} ${object.kind}`) }];
  }
  const copy = structuredClone(object);
  if (!validate(copy)) {
    return summarize(validate.errors ?? []).map(({ path, message }) => finding(GATEWAY_SCHEMA_ERROR, path, `${path.join('.') || '(object)'}: ${message}`));
  }
  const violations = object.kind === 'HTTPRoute' ? httpRouteRules(copy as HTTPRoute) : object.kind === 'Gateway' ? gatewayRules(copy as KubeGateway) : [];
  return violations.map(({ path, message }) => finding(GATEWAY_CEL_ERROR, path, `${path.join('.')}: ${message}`));
}

function summarize(errors: ErrorObject[]): Array<{ path: Array<string | number>; message: string }> {
  const seen = new Set<string>();
  const out: Array<{ path: Array<string | number>; message: string }> = [];
  for (const error of errors) {
    const path = error.instancePath
      .split('/')
      .slice(1)
      .map((p) => (/^\d+$/.test(p) ? Number(p) : p));
    let message = error.message ?? 'invalid';
    if (error.keyword === 'enum')
      message = `must be one of ${(error.params as { allowedValues: unknown[] }).allowedValues.map((v) => JSON.stringify(v)).join(', ')}`;
    if (error.keyword === 'additionalProperties') message = `unknown field "${(error.params as { additionalProperty: string }).additionalProperty}"`;
    const key = `${path.join('.')}|${message}`;
    if (seen.has(key)) continue;
    seen.add(key);
    out.push({ path, message });
  }
  return out;
}

// ---------------------------------------------------------------- CEL rules (Gateway API v1.1.0 CRDs)

interface Violation {
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

function httpRouteRules(route: HTTPRoute): Violation[] {
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

function gatewayRules(gateway: KubeGateway): Violation[] {
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
