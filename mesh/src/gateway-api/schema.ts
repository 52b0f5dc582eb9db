/**
 * What the Kubernetes API server does to a Gateway API object before istiod sees it: structural-schema defaulting
 * from the CRD's OpenAPI schema (`default:` values: match `PathPrefix /`, header/query `Exact`, weight 1, redirect
 * 302, parentRef group/kind, backendRef kind `Service`, ...), then validation against that schema and the CRD's
 * CEL rules (`x-kubernetes-validations`). Only these refuse an object; everything else istiod accepts and reports in
 * `status`.
 *
 * The schemas are the pinned v1.1.0 standard CRDs' (schema-v1_1.ts), made from the ones
 * @kubernetes-models/gateway-api 0.5.1 ships (the last version that runs on Node 20). The package validates but
 * exports neither the schema nor a way to default, so the schema literal is read from its module as
 * manifests/schema.ts does for Istio's. The CEL rules are not in the package: cel.ts writes them from the v1.1.0
 * CRDs, each with the API server's message. The order is the API server's (apiextensions-apiserver
 * `pkg/registry/customresource/strategy.go` `Validate`, `hasBlockingErr`): an unknown field refuses the request
 * before validation (strict field validation); then the schema and the list-type invariants; the CEL rules only
 * when no schema error is of a blocking type.
 */
import fs from 'node:fs';
import { isIPv4, isIPv6 } from 'node:net';
import Ajv, { type ErrorObject, type ValidateFunction } from 'ajv';
import type { ApiServerCause, Finding, K8sObject, LoadedObject } from '../model';
import { lineOf } from '../manifests/load';
import { GATEWAY_API_GROUP, unservedKindMessage, type HTTPRoute, type KubeGateway } from './kinds';
import { gatewayRules, httpRouteRules } from './cel';
import { EXPERIMENTAL_ONLY_FIELDS, listTypeViolations, schemaField, standardV1_1Schema, type JsonSchema } from './schema-v1_1';

/** The CRD's OpenAPI schema refuses the object (the API server's `Invalid value`). */
export const GATEWAY_SCHEMA_ERROR = 'CNS0301';
/** One of the CRD's CEL rules refuses the object. */
export const GATEWAY_CEL_ERROR = 'CNS0302';

const ajv = new Ajv({ useDefaults: true, allErrors: true, verbose: true, strict: false, logger: false });
ajv.addFormat('int32', true);
ajv.addFormat('int64', true);
ajv.addFormat('ipv4', { validate: (value: string) => isIPv4(value) });
ajv.addFormat('ipv6', { validate: (value: string) => isIPv6(value) });
const validators = new Map<string, ValidateFunction | null>();

/** The schema literal of a kubernetes-models module (the package exports none). */
function schemaLiteral(modulePath: string): JsonSchema | undefined {
  const literal = /\nconst schema = (\{[\s\S]*?\n\});\n/.exec(fs.readFileSync(require.resolve(modulePath), 'utf8'))?.[1];
  return literal ? (JSON.parse(literal) as JsonSchema) : undefined;
}

function validatorFor(apiVersion: string, kind: string): ValidateFunction | null {
  // The package's module of each version the pinned CRDs serve has that version's schema.
  if (unservedKindMessage(apiVersion, kind)) return null;
  const module = `${apiVersion.slice(GATEWAY_API_GROUP.length + 1)}/${kind}`;
  let validate = validators.get(module);
  if (validate !== undefined) return validate;
  validate = null;
  try {
    const schema = schemaLiteral(`@kubernetes-models/gateway-api/${GATEWAY_API_GROUP}/${module}`);
    const objectMeta = schemaLiteral('@kubernetes-models/apimachinery/_schemas/IoK8sApimachineryPkgApisMetaV1ObjectMeta');
    if (schema && objectMeta) validate = ajv.compile(standardV1_1Schema(kind, schema, Object.keys(objectMeta.properties ?? {})));
  } catch {
    validate = null;
  }
  validators.set(module, validate);
  return validate;
}

/**
 * A deep copy sharing no node (structuredClone keeps shared ones): the API server defaults each place on its own.
 * A field set to null is dropped, as the API server prunes nulls of non-nullable fields (every Gateway API field)
 * before defaulting; a null list item stays (and fails its type).
 */
function detachedCopy<T>(object: T): T {
  return JSON.parse(JSON.stringify(object), function (this: unknown, _key, value: unknown) {
    return value === null && !Array.isArray(this) ? undefined : value;
  }) as T;
}

/**
 * The object as the API server stores it: a copy with the CRD's defaults filled in. Objects of an unknown
 * version or kind come back unchanged.
 */
export function withDefaults<T extends K8sObject>(object: T): T {
  const copy = detachedCopy(object);
  validatorFor(object.apiVersion, object.kind)?.(copy);
  return copy;
}

/** Schema and CEL findings for one Gateway API object; empty when the API server would store it. */
export function validateGatewayApiObject(loaded: LoadedObject): Finding[] {
  const { object, source } = loaded;
  const finding = (code: string, path: ReadonlyArray<string | number>, message: string, cause?: ApiServerCause): Finding => ({
    code,
    severity: 'error',
    file: source.file,
    line: lineOf(object, path) ?? source.line,
    object: `${object.kind}/${object.metadata.name}`,
    message: path.length ? `${fieldPath(path)}: ${message}` : message,
    ...(cause || path.length ? { cause: cause ?? fieldCause(path, message) } : {}),
  });
  const unserved = unservedKindMessage(object.apiVersion, object.kind);
  if (unserved) return [finding(GATEWAY_SCHEMA_ERROR, [], `${unserved} (Gateway API v1.1.0 standard CRDs)`)];
  const validate = validatorFor(object.apiVersion, object.kind);
  if (!validate) return [finding(GATEWAY_SCHEMA_ERROR, [], `no schema for ${object.apiVersion} ${object.kind} in @kubernetes-models/gateway-api`)];
  const copy = detachedCopy(object);
  // Defaults first, as the API server defaults before it validates (ajv fills an item's defaults after its oneOf ran).
  validate(copy);
  const errors = validate(copy) ? [] : (validate.errors ?? []);
  const unknown = errors.filter((e) => e.keyword === 'additionalProperties');
  if (unknown.length > 0)
    return unknown
      .map((error) => unknownField(object.kind, error))
      .map(({ path, message }) =>
        finding(GATEWAY_SCHEMA_ERROR, path, message, { type: 'UnknownField', field: fieldPath(path), message: `unknown field "${fieldPath(path)}"` }),
      );
  const schemaErrors = [...summarize(errors), ...listTypeViolations(object.kind, copy)];
  const findings = schemaErrors.map(({ path, message }) => finding(GATEWAY_SCHEMA_ERROR, path, message));
  if (errors.some((e) => BLOCKING_KEYWORDS.has(e.keyword))) {
    return [
      ...findings,
      finding(GATEWAY_SCHEMA_ERROR, [], CEL_SKIPPED, { type: 'FieldValueInvalid', field: '<nil>', message: `Invalid value: null: ${CEL_SKIPPED}` }),
    ];
  }
  const violations = object.kind === 'HTTPRoute' ? httpRouteRules(copy as HTTPRoute) : object.kind === 'Gateway' ? gatewayRules(copy as KubeGateway) : [];
  return [...findings, ...violations.map(({ path, message }) => finding(GATEWAY_CEL_ERROR, path, `Invalid value: "${typeAt(copy, path)}": ${message}`))];
}

const CEL_SKIPPED = 'some validation rules were not checked because the object was invalid; correct the existing errors to complete validation';

/** The API server's cause types (apimachinery `field.ErrorType`), by the message's opening words. */
const CAUSE_TYPES: ReadonlyArray<[RegExp, string]> = [
  [/^Unsupported value/, 'FieldValueNotSupported'],
  [/^Required value/, 'FieldValueRequired'],
  [/^Duplicate value/, 'FieldValueDuplicate'],
  [/^Too long/, 'FieldValueTooLong'],
  [/^Too many/, 'FieldValueTooMany'],
  [/^Invalid value: .* must be of type /, 'FieldValueTypeInvalid'],
];

function fieldCause(path: ReadonlyArray<string | number>, message: string): ApiServerCause {
  const type = CAUSE_TYPES.find(([opening]) => opening.test(message))?.[1] ?? 'FieldValueInvalid';
  return { type, field: fieldPath(path), message };
}

/** Schema errors after which the API server skips the CEL rules (`hasBlockingErr`: NotSupported, Required, TooLong, TooMany, TypeInvalid). */
const BLOCKING_KEYWORDS = new Set(['enum', 'required', 'maxLength', 'maxItems', 'maxProperties', 'type']);

/** `spec.rules[0].matches[1]`: the API server's field path. */
export function fieldPath(path: ReadonlyArray<string | number>): string {
  return path.map((p, i) => (typeof p === 'number' ? `[${p}]` : i === 0 ? p : `.${p}`)).join('');
}

function pathOf(error: ErrorObject): Array<string | number> {
  return error.instancePath
    .split('/')
    .slice(1)
    .map((p) => (/^\d+$/.test(p) ? Number(p) : p.replace(/~1/g, '/').replace(/~0/g, '~')));
}

function unknownField(kind: string, error: ErrorObject): { path: Array<string | number>; message: string } {
  const path = [...pathOf(error), (error.params as { additionalProperty: string }).additionalProperty];
  const field = fieldPath(path);
  const experimental = EXPERIMENTAL_ONLY_FIELDS[kind]?.includes(schemaField(field))
    ? ' (in Gateway API v1.1.0 only the experimental channel declares it; the pinned CRDs are the standard channel)'
    : '';
  return { path, message: `strict decoding error: unknown field "${field}"${experimental}` };
}

function typeAt(object: unknown, path: ReadonlyArray<string | number>): string {
  let value = object;
  for (const p of path) value = (value as Record<string | number, unknown> | undefined)?.[p];
  return Array.isArray(value) ? 'array' : typeof value;
}

/** Each ajv error as the API server words it (k8s.io/kube-openapi validate errors, apimachinery field errors). */
function summarize(errors: ErrorObject[]): Array<{ path: Array<string | number>; message: string }> {
  const seen = new Set<string>();
  const out: Array<{ path: Array<string | number>; message: string }> = [];
  // A oneOf/anyOf reports once (its branches' errors are how it decided, not what the API server prints).
  for (const error of errors.filter((e) => !/\/(oneOf|anyOf)\/\d+\//.test(e.schemaPath))) {
    const path = pathOf(error);
    const params = error.params as Record<string, unknown>;
    const at = fieldPath(path);
    const value = JSON.stringify(error.data);
    let message: string;
    switch (error.keyword) {
      case 'enum':
        message = `Unsupported value: ${value}: supported values: ${(params.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(', ')}`;
        break;
      case 'required':
        path.push(params.missingProperty as string);
        message = 'Required value';
        break;
      case 'type':
        message = `Invalid value: "${Array.isArray(error.data) ? 'array' : typeof error.data}": ${at} in body must be of type ${String(params.type)}: ${value}`;
        break;
      case 'pattern':
        message = `Invalid value: ${value}: ${at} in body should match '${String(params.pattern)}'`;
        break;
      case 'maxLength':
        message = `Too long: may not be longer than ${String(params.limit)}`;
        break;
      case 'maxItems':
        message = `Too many: ${(error.data as unknown[]).length}: must have at most ${String(params.limit)} items`;
        break;
      case 'minLength':
        message = `Invalid value: ${value}: ${at} in body should be at least ${String(params.limit)} chars long`;
        break;
      case 'minItems':
        message = `Invalid value: ${(error.data as unknown[]).length}: ${at} in body should have at least ${String(params.limit)} items`;
        break;
      case 'minimum':
        message = `Invalid value: ${value}: ${at} in body should be greater than or equal to ${String(params.limit)}`;
        break;
      case 'maximum':
        message = `Invalid value: ${value}: ${at} in body should be less than or equal to ${String(params.limit)}`;
        break;
      case 'oneOf':
        message = `Invalid value: ${value}: ${at} in body must validate one and only one schema (oneOf)`;
        break;
      default:
        message = `Invalid value: ${value}: ${error.message ?? 'invalid'}`;
    }
    const key = `${fieldPath(path)}|${message}`;
    if (seen.has(key)) continue;
    seen.add(key);
    out.push({ path, message });
  }
  return out;
}
