/**
 * Schema validation against the published OpenAPI schemas: kubernetes-models for Kubernetes kinds and
 * @kubernetes-models/istio for Istio kinds (IST0106, istioctl's SchemaValidationError).
 *
 * @kubernetes-models/istio 2.3.0 predates the `v1` Istio APIs: a `v1` object is validated against the `v1beta1`
 * schema (or `v1alpha3`/`v1alpha1` for kinds that went straight to v1, e.g. Telemetry), whose spec is the same.
 */
import type { ErrorObject } from 'ajv';
import type { Finding, K8sObject, LoadedObject } from '../model';
import { lineOf } from './load';
import { apiGroup, objectRef } from './merge';

export const SCHEMA_ERROR = 'IST0106';
export const UNKNOWN_KIND = 'CNS0003';

interface Model {
  validate(): void;
}
type ModelClass = new (data: unknown) => Model;

// API groups, versions and kinds become module paths below: only plain names may get there.
const SAFE_GROUP = /^[a-z0-9]+(\.[a-z0-9-]+)*$/;
const SAFE_NAME = /^[A-Za-z0-9]+$/;

const modelCache = new Map<string, { model: ModelClass; apiVersion: string } | null>();

/** The model class that validates `apiVersion`/`kind`, and the apiVersion its schema expects; null if none. */
function findModel(apiVersion: string, kind: string): { model: ModelClass; apiVersion: string } | null {
  const cacheKey = `${apiVersion}|${kind}`;
  const cached = modelCache.get(cacheKey);
  if (cached !== undefined) return cached;
  const group = apiGroup(apiVersion);
  const version = apiVersion.slice(group ? group.length + 1 : 0);
  let found: { model: ModelClass; apiVersion: string } | null = null;
  if ((group === '' || SAFE_GROUP.test(group)) && SAFE_NAME.test(version) && SAFE_NAME.test(kind)) {
    const candidates: string[] = [version];
    // Istio promotes APIs without changing their spec: fall back to the newest older version the package has.
    if (group.endsWith('.istio.io') && version === 'v1') candidates.push('v1beta1', 'v1alpha3', 'v1alpha1');
    for (const candidate of candidates) {
      const modulePath = group.endsWith('.istio.io')
        ? `@kubernetes-models/istio/${group}/${candidate}/${kind}`
        : `kubernetes-models/${group ? `${group}/` : ''}${candidate}/${kind}`;
      const model = tryRequire(modulePath, kind);
      if (model) {
        found = { model, apiVersion: group ? `${group}/${candidate}` : candidate };
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
  try {
    new found.model(data).validate();
    return [];
  } catch (error) {
    const errors = (error as { errors?: ErrorObject[] }).errors;
    if (!Array.isArray(errors)) {
      return [{ ...base, code: SCHEMA_ERROR, severity: 'error', line: source.line, message: (error as Error).message }];
    }
    return summarize(errors).map(({ fieldPath, message }) => ({
      ...base,
      code: SCHEMA_ERROR,
      severity: 'error' as const,
      line: lineOf(object, fieldPath) ?? source.line,
      message: `${formatPath(fieldPath) || '(object)'}: ${message}`,
    }));
  }
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
      const expected = list
        .filter((e) => e !== oneOf)
        .map((e) => (e.keyword === 'type' ? String(e.params.type) : (e.message ?? e.keyword)));
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
  return fieldPath.reduce<string>(
    (text, segment) => (typeof segment === 'number' ? `${text}[${segment}]` : text ? `${text}.${segment}` : segment),
    '',
  );
}

/** Exposed for tests: whether a schema exists for this apiVersion/kind. */
export function hasSchema(object: Pick<K8sObject, 'apiVersion' | 'kind'>): boolean {
  return findModel(object.apiVersion, object.kind) !== null;
}
