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
 * are not in the package: cel.ts writes them from the v1.1.0 CRDs, each with the API server's message.
 */
import fs from 'node:fs';
import Ajv, { type ErrorObject, type ValidateFunction } from 'ajv';
import type { Finding, K8sObject, LoadedObject } from '../model';
import { lineOf } from '../manifests/load';
import { GATEWAY_API_GROUP, type HTTPRoute, type KubeGateway } from './kinds';
import { gatewayRules, httpRouteRules } from './cel';

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
