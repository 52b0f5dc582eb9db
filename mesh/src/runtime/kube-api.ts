/**
 * The slice of the Kubernetes REST API that `kubectl` and `@kubernetes/client-node` need to drive the mesh:
 * discovery, CRUD + PATCH of Istio objects (applied to the running mesh through the same checks as any change),
 * and read-only Services and Deployments from k8s/. Errors are Kubernetes `Status` objects.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { applyPatch, type Operation } from 'fast-json-patch';
import { GATEWAY_API_KINDS } from '../gateway-api/kinds';
import { ISTIO_KINDS } from '../istio';
import { parseManifestText } from '../manifests/load';
import { objectKey } from '../manifests/merge';
import type { Finding, K8sObject, LoadedObject } from '../model';
import { ConfigRejectedError, formatFinding, type ConfigStore, type StoredObject } from './config-store';

export interface ResourceType {
  group: string;
  versions: string[];
  plural: string;
  kind: string;
  shortNames: string[];
  /** Served from the manifests, not changeable. */
  readOnly?: boolean;
}

export const resourceTypes: ResourceType[] = [
  ...ISTIO_KINDS.map(({ kind, group, versions, plural, shortNames }) => ({ kind, group, versions, plural, shortNames })),
  ...GATEWAY_API_KINDS.map(({ kind, group, versions, plural, shortNames }) => ({ kind, group, versions, plural, shortNames })),
  { group: '', versions: ['v1'], plural: 'services', kind: 'Service', shortNames: ['svc'], readOnly: true },
  { group: 'apps', versions: ['v1'], plural: 'deployments', kind: 'Deployment', shortNames: ['deploy'], readOnly: true },
];

export interface KubeApiBackend {
  namespace: string;
  store: ConfigStore<unknown>;
  kubernetesObjects: readonly LoadedObject[];
  /** Applies objects to the running mesh (throws ConfigRejectedError). */
  apply(objects: LoadedObject[], options?: { dryRun?: boolean }): void;
  remove(keys: string[], options?: { dryRun?: boolean }): LoadedObject[];
  /** `metadata.generation` and `status` of an object whose controller writes one (Gateway API kinds). */
  statusOf?(object: K8sObject): { generation: number; status: unknown } | undefined;
}

export class ApiError extends Error {
  constructor(
    readonly code: number,
    readonly reason: string,
    message: string,
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
  }
}

export function statusBody(code: number, reason: string, message: string, details?: Record<string, unknown>): object {
  return { kind: 'Status', apiVersion: 'v1', metadata: {}, status: code < 400 ? 'Success' : 'Failure', message, reason, details, code };
}

const groupVersion = (group: string, version: string): string => (group ? `${group}/${version}` : version);

/** Handles `/api`, `/apis`, `/version` and everything below; returns false when the path is not the API's. */
export async function handleKubeApi(
  backend: KubeApiBackend,
  req: IncomingMessage,
  res: ServerResponse,
  url: URL,
  readBody: () => Promise<string>,
): Promise<boolean> {
  const p = url.pathname.replace(/\/+$/, '') || '/';
  if (!(p === '/version' || p === '/api' || p.startsWith('/api/') || p === '/apis' || p.startsWith('/apis/') || p.startsWith('/openapi/v'))) return false;
  try {
    const result = await route(backend, req, p, url, readBody);
    sendJson(res, result.status ?? 200, result.body, result.warnings);
  } catch (error) {
    if (error instanceof ApiError) {
      sendJson(res, error.code, statusBody(error.code, error.reason, error.message, error.details));
    } else {
      sendJson(res, 500, statusBody(500, 'InternalError', `internal error: ${(error as Error).message}`));
    }
  }
  return true;
}

function sendJson(res: ServerResponse, status: number, body: unknown, warnings: Finding[] = []): void {
  const text = JSON.stringify(body);
  const headers: Record<string, string | number | string[]> = { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) };
  if (warnings.length > 0) headers.warning = warnings.map(warningHeader);
  res.writeHead(status, headers);
  res.end(text);
}

/**
 * An admission warning as the API server sends it (RFC 7234 `Warning: 299 - "text"`), which kubectl prints as
 * `Warning: text`. Header values must be printable ASCII: anything else becomes `?`.
 */
export function warningHeader(finding: Finding): string {
  const text = formatFinding(finding)
    .replace(/[^\x20-\x7e]/g, '?')
    .replace(/["\\]/g, (c) => `\\${c}`);
  return `299 - "${text}"`;
}

interface Result {
  status?: number;
  body: unknown;
  /** Analysis findings about the applied object: sent as `Warning` headers. */
  warnings?: Finding[];
}

async function route(backend: KubeApiBackend, req: IncomingMessage, p: string, url: URL, readBody: () => Promise<string>): Promise<Result> {
  const method = req.method ?? 'GET';
  if (p === '/version') {
    return {
      body: {
        major: '1',
        minor: '32',
        gitVersion: 'v1.32.0-local-mesh',
        platform: `${process.platform}/${process.arch}`,
        goVersion: 'n/a',
        compiler: 'n/a',
        buildDate: '',
        gitCommit: '',
        gitTreeState: 'clean',
      },
    };
  }
  // kubectl's client-side validation downloads the OpenAPI document first; with no schemas published the
  // objects are treated like CRDs without a schema and the mesh's own analysis validates them on apply.
  if (p === '/openapi/v3') {
    const paths: Record<string, { serverRelativeURL: string }> = {};
    for (const t of resourceTypes)
      for (const v of t.versions)
        paths[t.group ? `apis/${t.group}/${v}` : `api/${v}`] = { serverRelativeURL: `/openapi/v3/${t.group ? `apis/${t.group}` : 'api'}/${v}` };
    return { body: { paths } };
  }
  const openapiMatch = /^\/openapi\/v3\/(?:api\/(v1)|apis\/([^/]+)\/([^/]+))$/.exec(p);
  if (openapiMatch) {
    const group = openapiMatch[2] ?? '';
    const version = openapiMatch[1] ?? openapiMatch[3];
    const types = resourceTypes.filter((t) => t.group === group && t.versions.includes(version));
    if (types.length === 0) throw notFoundPath(p);
    // Like a CRD without a structural schema: any fields pass kubectl; the mesh's analysis judges them on apply.
    const schemas = Object.fromEntries(
      types.map((t) => [
        `${group || 'core'}.${version}.${t.kind}`,
        { type: 'object', 'x-kubernetes-preserve-unknown-fields': true, 'x-kubernetes-group-version-kind': [{ group, version, kind: t.kind }] },
      ]),
    );
    // Operations that accept `fieldValidation` tell kubectl to leave validation to the server (no client-side
    // OpenAPI v2 download); the mesh validates every change with its manifest analysis.
    const paths: Record<string, unknown> = {};
    for (const t of types.filter((type) => !type.readOnly)) {
      const operation = {
        parameters: [{ name: 'fieldValidation', in: 'query', schema: { type: 'string', uniqueItems: true } }],
        'x-kubernetes-group-version-kind': { group, version, kind: t.kind },
        responses: { '200': { description: 'OK' } },
      };
      const collection = `/${group ? `apis/${group}` : 'api'}/${version}/namespaces/{namespace}/${t.plural}`;
      paths[collection] = { post: operation };
      paths[`${collection}/{name}`] = { put: operation, patch: operation };
    }
    return { body: { openapi: '3.0.0', info: { title: 'local mesh', version }, paths, components: { schemas } } };
  }
  if (p === '/api')
    return {
      body: { kind: 'APIVersions', versions: ['v1'], serverAddressByClientCIDRs: [{ clientCIDR: '0.0.0.0/0', serverAddress: req.headers.host ?? '' }] },
    };
  if (p === '/apis') return { body: { kind: 'APIGroupList', apiVersion: 'v1', groups: apiGroups().map(groupInfo) } };
  const groupMatch = /^\/apis\/([^/]+)$/.exec(p);
  if (groupMatch) {
    const group = apiGroups().find((g) => g.name === groupMatch[1]);
    if (!group) throw notFoundPath(p);
    return { body: { kind: 'APIGroup', apiVersion: 'v1', ...groupInfo(group) } };
  }
  const versionMatch = /^\/(?:api\/(v1)|apis\/([^/]+)\/([^/]+))$/.exec(p);
  if (versionMatch) {
    const group = versionMatch[2] ?? '';
    const version = versionMatch[1] ?? versionMatch[3];
    const types = resourceTypes.filter((t) => t.group === group && t.versions.includes(version));
    if (types.length === 0) throw notFoundPath(p);
    return {
      body: {
        kind: 'APIResourceList',
        apiVersion: 'v1',
        groupVersion: groupVersion(group, version),
        resources: types.map((t) => ({
          name: t.plural,
          singularName: t.kind.toLowerCase(),
          namespaced: true,
          kind: t.kind,
          shortNames: t.shortNames,
          verbs: t.readOnly ? ['get', 'list'] : ['create', 'delete', 'get', 'list', 'patch', 'update'],
        })),
      },
    };
  }
  if (p === '/api/v1/namespaces' || p === `/api/v1/namespaces/${backend.namespace}`) {
    const namespace = { apiVersion: 'v1', kind: 'Namespace', metadata: { name: backend.namespace }, status: { phase: 'Active' } };
    return { body: p.endsWith('/namespaces') ? { apiVersion: 'v1', kind: 'NamespaceList', metadata: {}, items: [namespace] } : namespace };
  }

  const resourceMatch = /^\/(?:api\/(v1)|apis\/([^/]+)\/([^/]+))(?:\/namespaces\/([^/]+))?\/([^/]+)(?:\/([^/]+))?$/.exec(p);
  if (!resourceMatch) throw notFoundPath(p);
  const group = resourceMatch[2] ?? '';
  const version = resourceMatch[1] ?? resourceMatch[3];
  const namespace = resourceMatch[4];
  const plural = resourceMatch[5];
  const name = resourceMatch[6] ? decodeURIComponent(resourceMatch[6]) : undefined;
  const type = resourceTypes.find((t) => t.group === group && t.plural === plural && t.versions.includes(version));
  if (!type) throw notFoundPath(p);
  const apiVersion = groupVersion(group, version);
  if (namespace !== undefined && namespace !== backend.namespace) {
    if (method === 'GET' && !name) return { body: list(type, apiVersion, [], backend.store.resourceVersion()) };
    throw new ApiError(404, 'NotFound', `namespaces "${namespace}" not found (the local mesh has only "${backend.namespace}")`, {
      name: namespace,
      kind: 'namespaces',
    });
  }
  if (namespace === undefined && (name || method !== 'GET')) throw notFoundPath(p);

  const current = (): StoredObject[] =>
    type.readOnly
      ? backend.kubernetesObjects
          .filter((o) => o.object.kind === type.kind)
          .map((loaded) => ({ loaded, resourceVersion: 1, uid: `k8s-${loaded.object.metadata.name}`, creationTimestamp: '' }))
      : backend.store.stored().filter((s) => s.loaded.object.kind === type.kind && apiGroupOf(s.loaded.object) === type.group);
  const find = (objectName: string): StoredObject | undefined => current().find((s) => s.loaded.object.metadata.name === objectName);
  const notFound = (objectName: string) =>
    new ApiError(404, 'NotFound', `${type.plural}${type.group ? `.${type.group}` : ''} "${objectName}" not found`, {
      name: objectName,
      group: type.group,
      kind: type.plural,
    });
  const dryRun = url.searchParams.getAll('dryRun').includes('All');

  if (method === 'GET') {
    if (!name) {
      const selector = url.searchParams.get('labelSelector');
      const items = current().filter((s) => matchesLabelSelector(s.loaded.object, selector));
      return { body: list(type, apiVersion, items, backend.store.resourceVersion(), backend) };
    }
    const found = find(name);
    if (!found) throw notFound(name);
    return { body: present(found, apiVersion, backend.namespace, backend) };
  }
  if (type.readOnly) {
    throw new ApiError(405, 'MethodNotAllowed', `${type.plural} are read from k8s/ and cannot be changed while the mesh runs`);
  }
  const sourceFile = headerValue(req, 'x-mesh-source-file') ?? 'kubernetes-api';

  if (method === 'DELETE') {
    if (!name) throw new ApiError(405, 'MethodNotAllowed', 'deleting a whole collection is not supported');
    const found = find(name);
    if (!found) throw notFound(name);
    applyChange(type, name, () => backend.remove([objectKey(found.loaded.object)], { dryRun }));
    return { body: { ...statusBody(200, '', ''), details: { name, group: type.group, kind: type.plural, uid: found.uid } } };
  }

  const body = await readBody();
  const contentType = (req.headers['content-type'] ?? 'application/json').split(';')[0].trim().toLowerCase();

  if (method === 'POST') {
    if (name) throw new ApiError(405, 'MethodNotAllowed', 'POST goes to the collection');
    const object = parseOne(body, type, apiVersion, backend.namespace);
    if (find(object.metadata.name)) {
      throw new ApiError(409, 'AlreadyExists', `${type.plural}.${type.group} "${object.metadata.name}" already exists`, {
        name: object.metadata.name,
        group: type.group,
        kind: type.plural,
      });
    }
    const warnings = applyChange(type, object.metadata.name, () => backend.apply([{ object, source: { file: sourceFile } }], { dryRun }), backend);
    return { status: 201, body: presentAfter(backend, type, object, apiVersion, dryRun), warnings };
  }
  if (!name) throw new ApiError(405, 'MethodNotAllowed', `${method} needs an object name`);

  if (method === 'PUT') {
    const object = parseOne(body, type, apiVersion, backend.namespace);
    if (object.metadata.name !== name)
      throw new ApiError(400, 'BadRequest', `the name in the body ("${object.metadata.name}") does not match the URL ("${name}")`);
    const found = find(name);
    if (!found) throw notFound(name);
    checkResourceVersion(object, found, type);
    const warnings = applyChange(type, name, () => backend.apply([{ object, source: { file: sourceFile } }], { dryRun }), backend);
    return { body: presentAfter(backend, type, object, apiVersion, dryRun), warnings };
  }

  if (method === 'PATCH') {
    const found = find(name);
    let patched: unknown;
    if (contentType === 'application/apply-patch+yaml') {
      // Server-side apply, simplified: the applied object replaces the whole object (create or replace).
      patched = parseOne(body, type, apiVersion, backend.namespace);
    } else {
      if (!found) throw notFound(name);
      const original = structuredClone(found.loaded.object);
      const patch = parseJson(body);
      if (contentType === 'application/json-patch+json') {
        if (!Array.isArray(patch)) throw new ApiError(400, 'BadRequest', 'a JSON patch must be an array of operations');
        try {
          patched = applyPatch(original, patch as Operation[], true, true).newDocument;
        } catch (error) {
          throw new ApiError(422, 'Invalid', `JSON patch failed: ${(error as Error).message.split('\n')[0]}`);
        }
      } else if (contentType === 'application/merge-patch+json' || contentType === 'application/strategic-merge-patch+json') {
        patched = mergePatch(original, patch);
      } else {
        throw new ApiError(
          415,
          'UnsupportedMediaType',
          `the PATCH content type "${contentType}" is not supported (use application/merge-patch+json, application/json-patch+json or application/apply-patch+yaml)`,
        );
      }
    }
    const object = checkObject(patched, type, apiVersion, backend.namespace);
    if (object.metadata.name !== name) throw new ApiError(400, 'BadRequest', 'a patch cannot change metadata.name');
    const warnings = applyChange(type, name, () => backend.apply([{ object, source: { file: sourceFile } }], { dryRun }), backend);
    return { status: found ? 200 : 201, body: presentAfter(backend, type, object, apiVersion, dryRun), warnings };
  }
  throw new ApiError(405, 'MethodNotAllowed', `${method} is not supported`);
}

function apiGroupOf(object: K8sObject): string {
  const slash = object.apiVersion.lastIndexOf('/');
  return slash === -1 ? '' : object.apiVersion.slice(0, slash);
}

function apiGroups(): Array<{ name: string; versions: string[] }> {
  const groups = new Map<string, string[]>();
  for (const t of resourceTypes) if (t.group) groups.set(t.group, t.versions);
  return [...groups.entries()].map(([name, versions]) => ({ name, versions }));
}

function groupInfo(group: { name: string; versions: string[] }): object {
  const versions = group.versions.map((v) => ({ groupVersion: `${group.name}/${v}`, version: v }));
  return { name: group.name, versions, preferredVersion: versions[0] };
}

function notFoundPath(p: string): ApiError {
  return new ApiError(404, 'NotFound', `the server could not find the requested resource (${p})`);
}

function headerValue(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value[0] : value || undefined;
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new ApiError(400, 'BadRequest', `the body is not valid JSON: ${(error as Error).message}`);
  }
}

function parseOne(body: string, type: ResourceType, apiVersion: string, namespace: string): K8sObject {
  if (!body.trim()) throw new ApiError(400, 'BadRequest', 'the request has no body');
  const parsed = parseManifestText(body, 'request body');
  if (parsed.findings.length > 0) {
    throw new ApiError(400, 'BadRequest', parsed.findings.map((f) => `${f.line ? `line ${f.line}: ` : ''}${f.message}`).join('; '));
  }
  if (parsed.objects.length !== 1) throw new ApiError(400, 'BadRequest', `expected one ${type.kind}, got ${parsed.objects.length} objects`);
  return checkObject(parsed.objects[0].object, type, apiVersion, namespace);
}

function checkObject(value: unknown, type: ResourceType, apiVersion: string, namespace: string): K8sObject {
  const object = value as K8sObject;
  if (typeof object !== 'object' || object === null || typeof object.metadata?.name !== 'string' || !object.metadata.name) {
    throw new ApiError(422, 'Invalid', `${type.kind} needs metadata.name`);
  }
  if (object.kind !== type.kind) throw new ApiError(400, 'BadRequest', `the body is a ${String(object.kind)}, the URL is for ${type.kind}`);
  if (!object.apiVersion || apiGroupOf(object) !== type.group) object.apiVersion = apiVersion;
  if (object.metadata.namespace && object.metadata.namespace !== namespace) {
    throw new ApiError(
      400,
      'BadRequest',
      `the namespace of the object (${object.metadata.namespace}) does not match the namespace on the request (${namespace})`,
    );
  }
  // Server-managed fields are not part of the desired state.
  const metadata = { ...object.metadata } as Record<string, unknown>;
  for (const field of ['uid', 'creationTimestamp', 'generation', 'managedFields', 'selfLink']) delete metadata[field];
  const clean = { ...object, metadata } as unknown as K8sObject & { status?: unknown };
  delete clean.status;
  return clean as K8sObject;
}

function checkResourceVersion(object: K8sObject, found: StoredObject, type: ResourceType): void {
  const wanted = (object.metadata as { resourceVersion?: string }).resourceVersion;
  if (wanted && wanted !== String(found.resourceVersion)) {
    throw new ApiError(
      409,
      'Conflict',
      `Operation cannot be fulfilled on ${type.plural}.${type.group} "${object.metadata.name}": the object has been modified; please apply your changes to the latest version and try again`,
    );
  }
}

/** Runs a change; a refusal becomes 422 Invalid with the findings, an accepted change returns its warnings. */
function applyChange(type: ResourceType, name: string, change: () => unknown, backend?: KubeApiBackend): Finding[] {
  try {
    change();
    return backend ? backend.store.lastWarnings() : [];
  } catch (error) {
    if (error instanceof ConfigRejectedError) {
      const resource = `${type.kind}.${type.group} "${name}"`;
      throw new ApiError(
        422,
        'Invalid',
        `${resource} is invalid: ${error.findings.map((f) => `${f.object ?? ''} ${f.code}: ${f.message}`.trim()).join('; ')}`,
        {
          name,
          group: type.group,
          kind: type.kind,
          causes: error.findings.map((f) => ({ reason: f.code, message: f.message, field: f.line ? `${f.file}:${f.line}` : f.file })),
          findings: error.findings,
        },
      );
    }
    throw error;
  }
}

function presentAfter(backend: KubeApiBackend, type: ResourceType, object: K8sObject, apiVersion: string, dryRun: boolean): object {
  const stored = dryRun
    ? undefined
    : backend.store
        .stored()
        .find(
          (s) => s.loaded.object.kind === type.kind && apiGroupOf(s.loaded.object) === type.group && s.loaded.object.metadata.name === object.metadata.name,
        );
  return stored ? present(stored, apiVersion, backend.namespace, backend) : { ...object, apiVersion };
}

function present(stored: StoredObject, apiVersion: string, namespace: string, backend?: KubeApiBackend): object {
  const object = stored.loaded.object;
  const written = backend?.statusOf?.(object);
  return {
    ...object,
    apiVersion,
    metadata: {
      ...object.metadata,
      namespace,
      resourceVersion: String(stored.resourceVersion),
      uid: stored.uid,
      ...(stored.creationTimestamp ? { creationTimestamp: stored.creationTimestamp } : {}),
      ...(written ? { generation: written.generation } : {}),
    },
    ...(written ? { status: written.status } : {}),
  };
}

function list(type: ResourceType, apiVersion: string, items: StoredObject[], resourceVersion: number, backend?: KubeApiBackend): object {
  return {
    apiVersion,
    kind: `${type.kind}List`,
    metadata: { resourceVersion: String(resourceVersion) },
    items: items.map((s) => present(s, apiVersion, 'default', backend)),
  };
}

/** `app=web-api,version!=v2,tier` style equality selectors. */
function matchesLabelSelector(object: K8sObject, selector: string | null): boolean {
  if (!selector) return true;
  const labels = object.metadata.labels ?? {};
  return selector.split(',').every((term) => {
    const t = term.trim();
    if (!t) return true;
    const neq = /^([^!=]+)!=(.*)$/.exec(t);
    if (neq) return labels[neq[1].trim()] !== neq[2].trim();
    const eq = /^([^=]+)==?(.*)$/.exec(t);
    if (eq) return labels[eq[1].trim()] === eq[2].trim();
    if (t.startsWith('!')) return !(t.slice(1) in labels);
    return t in labels;
  });
}

/** RFC 7386 JSON merge patch: objects merge recursively, `null` deletes, anything else replaces. */
export function mergePatch(target: unknown, patch: unknown): unknown {
  if (typeof patch !== 'object' || patch === null || Array.isArray(patch)) return patch;
  const result: Record<string, unknown> =
    typeof target === 'object' && target !== null && !Array.isArray(target) ? { ...(target as Record<string, unknown>) } : {};
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete result[key];
    else result[key] = mergePatch(result[key], value);
  }
  return result;
}
