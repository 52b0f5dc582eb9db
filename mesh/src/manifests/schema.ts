/**
 * Schema validation against the published OpenAPI schemas: kubernetes-models for Kubernetes kinds and
 * @kubernetes-models/istio for Istio kinds (IST0106, istioctl's SchemaValidationError).
 *
 * @kubernetes-models/istio 2.3.0 predates the `v1` Istio APIs: a `v1` object is validated against the `v1beta1`
 * schema (or `v1alpha3`/`v1alpha1` for kinds that went straight to v1, e.g. Telemetry), whose spec is the same.
 */
import fs from 'node:fs';
import type { ErrorObject } from 'ajv';
import type { Finding, K8sObject, LoadedObject } from '../model';
import { isGatewayApiObject } from '../gateway-api/kinds';
import { validateGatewayApiObject } from '../gateway-api/schema';
import { lineOf } from './load';
import { apiGroup, isIstioGroup } from '../istio';
import { objectRef } from './merge';

export const SCHEMA_ERROR = 'IST0106';
export const UNKNOWN_KIND = 'CNS0003';
export const UNKNOWN_FIELD = 'CNS0005';

interface Model {
  validate(): void;
}
type ModelClass = new (data: unknown) => Model;

// API groups, versions and kinds become module paths below: only plain names may get there.
const SAFE_GROUP = /^[a-z0-9]+(\.[a-z0-9-]+)*$/;
const SAFE_NAME = /^[A-Za-z0-9]+$/;

interface FoundModel {
  model: ModelClass;
  apiVersion: string;
  modulePath: string;
}
const modelCache = new Map<string, FoundModel | null>();

/** The model class that validates `apiVersion`/`kind`, and the apiVersion its schema expects; null if none. */
function findModel(apiVersion: string, kind: string): FoundModel | null {
  const cacheKey = `${apiVersion}|${kind}`;
  const cached = modelCache.get(cacheKey);
  if (cached !== undefined) return cached;
  const group = apiGroup(apiVersion);
  const version = apiVersion.slice(group ? group.length + 1 : 0);
  let found: FoundModel | null = null;
  if ((group === '' || SAFE_GROUP.test(group)) && SAFE_NAME.test(version) && SAFE_NAME.test(kind)) {
    const candidates: string[] = [version];
    // Istio promotes APIs without changing their spec: fall back to the newest older version the package has.
    if (isIstioGroup(group) && version === 'v1') candidates.push('v1beta1', 'v1alpha3', 'v1alpha1');
    for (const candidate of candidates) {
      const modulePath = isIstioGroup(group)
        ? `@kubernetes-models/istio/${group}/${candidate}/${kind}`
        : `kubernetes-models/${group ? `${group}/` : ''}${candidate}/${kind}`;
      const model = tryRequire(modulePath, kind);
      if (model) {
        found = { model, apiVersion: group ? `${group}/${candidate}` : candidate, modulePath };
        break;
      }
    }
  }
  modelCache.set(cacheKey, found);
  return found;
}

function tryRequire(modulePath: string, exportName: string): ModelClass | undefined {
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const loaded = require(modulePath) as Record<string, unknown>;
    const model = loaded[exportName];
    return typeof model === 'function' ? (model as ModelClass) : undefined;
  } catch {
    return undefined;
  }
}

/** Schema findings for one object; an object of a kind with no known schema gets one warning. */
export function validateSchema(loaded: LoadedObject): Finding[] {
  const { object, source } = loaded;
  // Gateway API kinds: the CRD's schema with its defaults and CEL rules (gateway-api/schema.ts).
  if (isGatewayApiObject(object)) return validateGatewayApiObject(loaded);
  const base = { file: source.file, object: objectRef(object) };
  const found = findModel(object.apiVersion, object.kind);
  if (!found) {
    return [
      {
        ...base,
        code: UNKNOWN_KIND,
        severity: 'warning',
        line: source.line,
        message: `no schema known for ${object.apiVersion} ${object.kind}: not validated`,
      },
    ];
  }
  const data = { ...object, apiVersion: found.apiVersion };
  const unknown = unknownFieldFindings(object, found.modulePath).map((f) => ({ ...base, ...f }));
  try {
    new found.model(data).validate();
    return unknown;
  } catch (error) {
    const errors = (error as { errors?: ErrorObject[] }).errors;
    if (!Array.isArray(errors)) {
      return [{ ...base, code: SCHEMA_ERROR, severity: 'error', line: source.line, message: (error as Error).message }];
    }
    return [
      ...unknown,
      ...summarize(errors).map(({ fieldPath, message }) => ({
        ...base,
        code: SCHEMA_ERROR,
        severity: 'error' as const,
        line: lineOf(object, fieldPath) ?? source.line,
        message: `${formatPath(fieldPath) || '(object)'}: ${message}`,
      })),
    ];
  }
}

// ---------------------------------------------------------------- unknown fields (Istio kinds)

interface JsonSchema {
  properties?: Record<string, JsonSchema>;
  additionalProperties?: JsonSchema | boolean;
  items?: JsonSchema;
  oneOf?: JsonSchema[];
  anyOf?: JsonSchema[];
}

const istioSchemaCache = new Map<string, JsonSchema | null>();

/**
 * The JSON schema inside an @kubernetes-models/istio model module. The package validates with it but does not
 * export it; its generated modules hold it as one `const schema = {...};` JSON literal, read here. When a future
 * version stores it differently this returns null and the unknown-field check is skipped (the tests notice).
 */
function istioSchema(modulePath: string): JsonSchema | null {
  const cached = istioSchemaCache.get(modulePath);
  if (cached !== undefined) return cached;
  let schema: JsonSchema | null = null;
  if (modulePath.startsWith('@kubernetes-models/istio/')) {
    try {
      const text = fs.readFileSync(require.resolve(modulePath), 'utf8');
      const literal = /\nconst schema = (\{[\s\S]*?\n\});\n/.exec(text)?.[1];
      if (literal) schema = JSON.parse(literal) as JsonSchema;
    } catch {
      schema = null;
    }
  }
  istioSchemaCache.set(modulePath, schema);
  return schema;
}

/**
 * Fields Istio's current CRDs define (istio/istio manifests/charts/base/files/crd-all.gen.yaml) that the bundled
 * @kubernetes-models/istio schemas predate, as `parent.field`: accepted without a finding, not walked further.
 */
const NEWER_THAN_SCHEMA = new Set([
  // VirtualService
  'http.mirrors',
  'corsPolicy.unmatchedPreflights',
  'redirect.prefixRewrite',
  'retries.backoff',
  'retries.retryIgnorePreviousHosts',
  'rewrite.uriRegexRewrite',
  // DestinationRule (top level, subsets and portLevelSettings alike)
  'http.http2KeepAlive',
  'http.maxConcurrentStreams',
  'tcp.idleTimeout',
  'loadBalancer.backendUtilization',
  'loadBalancer.warmup',
  'loadBalancer.zoneAwareLbSetting',
  'httpCookie.attributes',
  'outlierDetection.outlierDetectionHttpErrorCodes',
  'tls.caCrl',
  'trafficPolicy.proxyProtocol',
  'trafficPolicy.retryBudget',
  // Gateway server TLS
  'tls.caCertCredentialName',
  'tls.credentialNames',
  'tls.ecdhCurves',
  'tls.insecureSkipVerify',
  'tls.tlsCertificates',
  // AuthorizationPolicy
  'source.serviceAccounts',
  'source.notServiceAccounts',
  'source.trustDomains',
  'source.notTrustDomains',
  'spec.targetRef',
  'spec.targetRefs',
]);

/** The nearest named parent of a field path (`['spec', 'http', 0, 'redirect']` → `redirect`). */
function parentName(fieldPath: ReadonlyArray<string | number>): string {
  for (let i = fieldPath.length - 1; i >= 0; i--) if (typeof fieldPath[i] === 'string') return fieldPath[i] as string;
  return '';
}

/**
 * Fields the schema does not know, e.g. a misspelt `retrie:`. The package's JSON schemas allow unknown fields, but
 * the Kubernetes API server rejects them (`kubectl apply` validates strictly) and the local mesh would silently
 * ignore them. Only the Istio kinds are checked: kubernetes-models ships compiled validators without the schemas.
 */
function unknownFieldFindings(object: K8sObject, modulePath: string): Array<Omit<Finding, 'file' | 'object'>> {
  const schema = istioSchema(modulePath);
  const spec = (object as unknown as Record<string, unknown>).spec;
  const specSchema = schema?.properties?.spec;
  if (!specSchema || spec === undefined) return [];
  const findings: Array<Omit<Finding, 'file' | 'object'>> = [];
  const walk = (value: unknown, node: JsonSchema, fieldPath: Array<string | number>): void => {
    if (Array.isArray(value)) {
      if (node.items) value.forEach((item, i) => walk(item, node.items!, [...fieldPath, i]));
      return;
    }
    if (typeof value !== 'object' || value === null) return;
    const properties = collectProperties(node);
    const valueSchema = typeof node.additionalProperties === 'object' ? node.additionalProperties : undefined;
    for (const [key, child] of Object.entries(value)) {
      const childSchema = properties?.[key] ?? valueSchema;
      if (childSchema) {
        walk(child, childSchema, [...fieldPath, key]);
      } else if (NEWER_THAN_SCHEMA.has(`${parentName(fieldPath)}.${key}`)) {
        continue;
      } else if (properties && node.additionalProperties === undefined) {
        const suggestion = closest(key, Object.keys(properties));
        // A warning, not an error: the schema package may predate an Istio field NEWER_THAN_SCHEMA does not list yet.
        findings.push({
          code: UNKNOWN_FIELD,
          severity: 'warning',
          line: lineOf(object, [...fieldPath, key]),
          message: `${formatPath([...fieldPath, key])}: unknown field${suggestion ? `, did you mean ${suggestion}?` : ' (a typo, or newer than the schema)'}; kubectl apply rejects unknown fields`,
        });
      }
    }
  };
  walk(spec, specSchema, ['spec']);
  return findings;
}

/** Properties of a schema node, including those its oneOf/anyOf branches declare. */
function collectProperties(node: JsonSchema): Record<string, JsonSchema> | undefined {
  const branches = [...(node.oneOf ?? []), ...(node.anyOf ?? [])].filter((b) => b.properties);
  if (!node.properties && branches.length === 0) return undefined;
  return Object.assign({}, ...branches.map((b) => b.properties), node.properties);
}

/** The known name within edit distance 2 of `name`, if there is exactly one best. */
function closest(name: string, candidates: string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = 3;
  for (const candidate of candidates) {
    const distance = editDistance(name.toLowerCase(), candidate.toLowerCase());
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  return best;
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      current[j] = Math.min(previous[j]! + 1, current[j - 1]! + 1, previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    previous = current;
  }
  return previous[b.length]!;
}

/**
 * One message per field: ajv reports each branch of a `oneOf` (int-or-string, quantity) separately, which reads
 * as noise; those become a single "must be one of: string, integer" line.
 */
function summarize(errors: ErrorObject[]): Array<{ fieldPath: Array<string | number>; message: string }> {
  const byPath = new Map<string, ErrorObject[]>();
  for (const error of errors) {
    const list = byPath.get(error.instancePath) ?? [];
    list.push(error);
    byPath.set(error.instancePath, list);
  }
  const result: Array<{ fieldPath: Array<string | number>; message: string }> = [];
  for (const [instancePath, list] of byPath) {
    const fieldPath = parsePointer(instancePath);
    const oneOf = list.find((e) => e.keyword === 'oneOf');
    if (oneOf) {
      const expected = list.filter((e) => e !== oneOf).map((e) => (e.keyword === 'type' ? String(e.params.type) : (e.message ?? e.keyword)));
      result.push({ fieldPath, message: `must be ${[...new Set(expected)].join(' or ')}` });
      continue;
    }
    for (const error of list) {
      if (error.keyword === 'required') {
        const missing = String(error.params.missingProperty);
        result.push({ fieldPath: [...fieldPath, missing], message: 'required field is missing' });
      } else if (error.keyword === 'enum') {
        const allowed = (error.params.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(', ');
        result.push({ fieldPath, message: `must be one of ${allowed} (got ${JSON.stringify(error.data)})` });
      } else {
        result.push({ fieldPath, message: error.message ?? error.keyword });
      }
    }
  }
  return result;
}

/** JSON pointer (`/spec/ports/0/port`) → path segments with numbers for array indices. */
function parsePointer(pointer: string): Array<string | number> {
  if (!pointer) return [];
  return pointer
    .slice(1)
    .split('/')
    .map((segment) => segment.replace(/~1/g, '/').replace(/~0/g, '~'))
    .map((segment) => (/^\d+$/.test(segment) ? Number(segment) : segment));
}

/** `['spec', 'ports', 0, 'port']` → `spec.ports[0].port`. */
export function formatPath(fieldPath: ReadonlyArray<string | number>): string {
  return fieldPath.reduce<string>((text, segment) => (typeof segment === 'number' ? `${text}[${segment}]` : text ? `${text}.${segment}` : segment), '');
}

/** Exposed for tests: whether a schema exists for this apiVersion/kind. */
export function hasSchema(object: Pick<K8sObject, 'apiVersion' | 'kind'>): boolean {
  return findModel(object.apiVersion, object.kind) !== null;
}
