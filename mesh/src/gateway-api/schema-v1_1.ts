/**
 * The pinned CRDs' OpenAPI schemas — Gateway API v1.1.0, standard channel (kubernetes-sigs/gateway-api at tag
 * v1.1.0, `config/crd/standard/gateway.networking.k8s.io_{httproutes,gateways,gatewayclasses,referencegrants}.yaml`)
 * — made from the ones @kubernetes-models/gateway-api 0.5.1 ships (v1.0, experimental channel).
 *
 * Compared field by field (properties, type, enum, pattern, min/max length and items, minimum/maximum, default,
 * required) for HTTPRoute and Gateway `v1` and `v1beta1`, GatewayClass `v1` and `v1beta1` and ReferenceGrant `v1beta1`,
 * the two differ only in the fields below; everything else, defaults included, is the same. What the package
 * cannot express is added here: strict field validation (`kubectl apply`'s default since Kubernetes 1.27 refuses
 * a field the CRD does not declare: `strict decoding error: unknown field "spec.rules[0].timeouts"`) and the
 * `x-kubernetes-list-type` map/set invariants (`Duplicate value`).
 */

export interface JsonSchema {
  type?: string | string[];
  properties?: Record<string, JsonSchema>;
  items?: JsonSchema;
  additionalProperties?: boolean | JsonSchema;
  required?: string[];
  [keyword: string]: unknown;
}

/**
 * Fields the package declares that the v1.1.0 standard CRDs do not: in v1.1.0 they are experimental-channel only
 * (`config/crd/experimental/...`), so a cluster that installed `standard-install.yaml` refuses them.
 */
export const EXPERIMENTAL_ONLY_FIELDS: Readonly<Record<string, readonly string[]>> = {
  // GEP-1742 HTTPRouteTimeouts: standard from v1.2.0.
  HTTPRoute: ['spec.rules[].timeouts'],
  // GEP-1867 GatewayInfrastructure: standard from v1.2.0.
  Gateway: ['spec.infrastructure'],
};

/** Fields the v1.1.0 standard CRDs declare that the package's schemas lack. */
const ADDED_FIELDS: Readonly<Record<string, Record<string, JsonSchema>>> = {
  GatewayClass: { 'spec.description': { type: 'string', maxLength: 64 } },
};

/** `x-kubernetes-list-type: map` lists (with their keys) and `set` lists of the v1.1.0 standard CRDs. */
export const LIST_TYPES: Readonly<Record<string, ReadonlyArray<{ path: string; keys?: string[] }>>> = {
  HTTPRoute: [
    { path: 'spec.rules[].matches[].headers', keys: ['name'] },
    { path: 'spec.rules[].matches[].queryParams', keys: ['name'] },
    ...['spec.rules[].filters[]', 'spec.rules[].backendRefs[].filters[]'].flatMap((filter) =>
      ['requestHeaderModifier', 'responseHeaderModifier'].flatMap((modifier) => [
        { path: `${filter}.${modifier}.set`, keys: ['name'] },
        { path: `${filter}.${modifier}.add`, keys: ['name'] },
        { path: `${filter}.${modifier}.remove` },
      ]),
    ),
  ],
  Gateway: [{ path: 'spec.listeners', keys: ['name'] }],
  GatewayClass: [],
  ReferenceGrant: [],
};

/** `spec.rules[].timeouts` → the schema path of properties/items to that field. */
function steps(fieldPath: string): string[] {
  return fieldPath.split('.').flatMap((part) => (part.endsWith('[]') ? [part.slice(0, -2), '[]'] : [part]));
}

function nodeAt(schema: JsonSchema, path: string[]): JsonSchema | undefined {
  let node: JsonSchema | undefined = schema;
  for (const step of path) node = step === '[]' ? node?.items : node?.properties?.[step];
  return node;
}

/** Every object schema that lists its properties refuses any other (strict field validation); maps keep theirs. */
function closeObjects(node: JsonSchema): void {
  if (node.properties) {
    node.additionalProperties ??= false;
    Object.values(node.properties).forEach(closeObjects);
  }
  if (node.items) closeObjects(node.items);
}

/**
 * The v1.1.0 standard schema of `kind`, from the package's schema of the same kind and version (not modified).
 * `metadataFields`: ObjectMeta's field names (checked by the API machinery, but strict decoding names an unknown one).
 */
export function standardV1_1Schema(kind: string, packageSchema: JsonSchema, metadataFields: readonly string[]): JsonSchema {
  const schema = structuredClone(packageSchema);
  for (const field of EXPERIMENTAL_ONLY_FIELDS[kind] ?? []) {
    const path = steps(field);
    delete nodeAt(schema, path.slice(0, -1))?.properties?.[path[path.length - 1]];
  }
  for (const [field, added] of Object.entries(ADDED_FIELDS[kind] ?? {})) {
    const path = steps(field);
    const parent = nodeAt(schema, path.slice(0, -1));
    if (parent?.properties) parent.properties[path[path.length - 1]] = added;
  }
  // The API machinery checks metadata's values; status is the controller's (declared, so not an unknown field).
  const metadata: JsonSchema = { type: 'object', properties: Object.fromEntries(metadataFields.map((field) => [field, {}])) };
  schema.properties = { ...schema.properties, metadata, status: { type: 'object' } };
  schema.required = (schema.required ?? []).filter((name) => name === 'spec');
  closeObjects(schema);
  return schema;
}

/** `spec.rules[0].timeouts` as the schema field `spec.rules[].timeouts`. */
export function schemaField(fieldPath: string): string {
  return fieldPath.replace(/\[\d+\]/g, '[]');
}

export interface ListViolation {
  path: Array<string | number>;
  message: string;
}

/** The API server's check that a map list has unique keys and a set list unique values (structurallisttype). */
export function listTypeViolations(kind: string, object: unknown): ListViolation[] {
  const out: ListViolation[] = [];
  for (const { path, keys } of LIST_TYPES[kind] ?? []) {
    for (const [at, list] of valuesAt(object, steps(path), [])) {
      if (!Array.isArray(list)) continue;
      const seen = new Set<string>();
      list.forEach((item, i) => {
        const key = keys ? JSON.stringify(Object.fromEntries(keys.map((k) => [k, (item as Record<string, unknown>)?.[k]]))) : JSON.stringify(item);
        if (seen.has(key)) out.push({ path: [...at, i], message: `Duplicate value: ${keys ? `map[string]interface {}${key}` : key}` });
        seen.add(key);
      });
    }
  }
  return out;
}

function valuesAt(value: unknown, path: string[], at: Array<string | number>): Array<[Array<string | number>, unknown]> {
  if (path.length === 0) return [[at, value]];
  const [step, ...rest] = path;
  if (step === '[]') return Array.isArray(value) ? value.flatMap((item, i) => valuesAt(item, rest, [...at, i])) : [];
  if (value === null || typeof value !== 'object') return [];
  const next = (value as Record<string, unknown>)[step];
  return next === undefined ? [] : valuesAt(next, rest, [...at, step]);
}
