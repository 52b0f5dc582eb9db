/**
 * The slice of the Kubernetes REST API that `kubectl` and `@kubernetes/client-node` need to drive the mesh:
 * discovery, CRUD + PATCH of Istio objects (applied to the running mesh through the same checks as any change),
 * and read-only Services and Deployments from k8s/. Errors are Kubernetes `Status` objects.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { applyPatch, type Operation } from 'fast-json-patch';
import { parseManifestText } from '../manifests/load';
import { objectKey } from '../manifests/merge';
import type { Finding, K8sObject } from '../model';
import { ConfigRejectedError, formatFinding, type StoredObject } from './config-store';
import { discovery } from './kube-discovery';
import { asTable, wantsTable } from './kube-table';
import { serveWatch, watchParams, type WatchParams } from './kube-watch';
import {
  ApiError,
  groupVersion,
  notFoundPath,
  readOnlyObjects,
  refusal,
  resourceTypes,
  statusBody,
  type KubeApiBackend,
  type ResourceType,
  type Result,
} from './kube-resources';

export { ApiError, resourceTypes, statusBody, type KubeApiBackend, type ResourceType };

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
    if (result.stream) result.stream(res);
    else if (result.raw) {
      res.writeHead(result.status ?? 200, { 'content-type': result.raw.contentType, 'content-length': result.raw.bytes.length });
      res.end(result.raw.bytes);
    } else sendJson(res, result.status ?? 200, result.body, result.warnings);
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

async function route(backend: KubeApiBackend, req: IncomingMessage, p: string, url: URL, readBody: () => Promise<string>): Promise<Result> {
  const discovered = discovery(backend, req, p);
  if (discovered) return discovered;
  const target = resolveResource(backend, req, p, url);
  if ('body' in target) return target;
  const { method, type, name } = target;
  if (method === 'GET') return readResource(backend, target);
  if (type.readOnly) {
    throw new ApiError(405, 'MethodNotAllowed', `${type.plural} are read from k8s/ and cannot be changed while the mesh runs`);
  }
  if (method === 'DELETE') return deleteResource(backend, target);
  const body = await readBody();
  if (method === 'POST') return createResource(backend, target, body);
  if (!name) throw new ApiError(405, 'MethodNotAllowed', `${method} needs an object name`);
  if (method === 'PUT') return replaceResource(backend, target, name, body);
  if (method === 'PATCH') return patchResource(backend, target, name, body);
  throw new ApiError(405, 'MethodNotAllowed', `${method} is not supported`);
}

/** One request on a resource (collection or object) of the mesh's namespace, with what its handlers need. */
interface ResourceRequest {
  method: string;
  type: ResourceType;
  apiVersion: string;
  name: string | undefined;
  dryRun: boolean;
  sourceFile: string;
  contentType: string;
  labelSelector: string | null;
  /** `metadata.name=X` style terms of `fieldSelector` (the fields a custom resource supports). */
  fieldSelector: FieldTerm[];
  /** A `?watch=true` list request. */
  watch: WatchParams | undefined;
  /** kubectl asked for a Table and the kind has printer columns. */
  table: 'v1' | 'v1beta1' | undefined;
  current: () => StoredObject[];
  find: (objectName: string) => StoredObject | undefined;
  notFound: (objectName: string) => ApiError;
}

/** The resource a path names, or the answer itself (an empty list for another namespace). */
function resolveResource(backend: KubeApiBackend, req: IncomingMessage, p: string, url: URL): ResourceRequest | Result {
  const method = req.method ?? 'GET';
  const resourceMatch = /^\/(?:api\/(v1)|apis\/([^/]+)\/([^/]+))(?:\/namespaces\/([^/]+))?\/([^/]+)(?:\/([^/]+)(\/status)?)?$/.exec(p);
  if (!resourceMatch) throw notFoundPath(p);
  const group = resourceMatch[2] ?? '';
  const version = resourceMatch[1] ?? resourceMatch[3];
  const namespace = resourceMatch[4];
  const plural = resourceMatch[5];
  const name = resourceMatch[6] ? decodeURIComponent(resourceMatch[6]) : undefined;
  const type = resourceTypes.find((t) => t.group === group && t.plural === plural && t.versions.includes(version));
  if (!type || (resourceMatch[7] && !type.statusSubresource)) throw notFoundPath(p);
  // The status subresource is the controller's (the mesh writes it): readable, not writable here.
  if (resourceMatch[7] && method !== 'GET') throw new ApiError(405, 'MethodNotAllowed', `the status of ${type.plural} is written by the mesh's controller`);
  const apiVersion = groupVersion(group, version);
  const empty = checkNamespace(backend, type, apiVersion, p, method, namespace, name);
  if (empty) return empty;

  const current = (): StoredObject[] =>
    type.readOnly
      ? readOnlyObjects(type, backend.kubernetesObjects).map((loaded) => ({
          loaded,
          resourceVersion: 1,
          uid: `k8s-${loaded.object.metadata.name}`,
          creationTimestamp: (loaded.object.metadata as { creationTimestamp?: string }).creationTimestamp ?? '',
        }))
      : backend.store.stored().filter((s) => s.loaded.object.kind === type.kind && apiGroupOf(s.loaded.object) === type.group);
  const find = (objectName: string): StoredObject | undefined => current().find((s) => s.loaded.object.metadata.name === objectName);
  const notFound = (objectName: string) =>
    new ApiError(404, 'NotFound', `${type.plural}${type.group ? `.${type.group}` : ''} "${objectName}" not found`, {
      name: objectName,
      group: type.group,
      kind: type.plural,
    });
  const dryRun = url.searchParams.getAll('dryRun').includes('All');
  const sourceFile = headerValue(req, 'x-mesh-source-file') ?? 'kubernetes-api';
  const contentType = (req.headers['content-type'] ?? 'application/json').split(';')[0].trim().toLowerCase();
  const labelSelector = url.searchParams.get('labelSelector');
  const fieldSelector = parseFieldSelector(url.searchParams.get('fieldSelector'));
  const watch = method === 'GET' && !name ? watchParams(url) : undefined;
  const table = type.printerColumns ? wantsTable(req) : undefined;
  return { method, type, apiVersion, name, dryRun, sourceFile, contentType, labelSelector, fieldSelector, watch, table, current, find, notFound };
}

/**
 * A cluster-scoped kind has no namespace in its path; a namespaced one lists across namespaces without one, and
 * another namespace than the mesh's is empty (list) or not found. Returns the empty list, or undefined to go on.
 */
function checkNamespace(
  backend: KubeApiBackend,
  type: ResourceType,
  apiVersion: string,
  p: string,
  method: string,
  namespace: string | undefined,
  name: string | undefined,
): Result | undefined {
  if (type.namespaced === false) {
    if (namespace !== undefined) throw notFoundPath(p);
    return undefined;
  }
  if (namespace !== undefined && namespace !== backend.namespace) {
    if (method === 'GET' && !name) return { body: list(type, apiVersion, [], backend.store.resourceVersion()) };
    throw new ApiError(404, 'NotFound', `namespaces "${namespace}" not found (the local mesh has only "${backend.namespace}")`, {
      name: namespace,
      kind: 'namespaces',
    });
  }
  if (namespace === undefined && (name || method !== 'GET')) throw notFoundPath(p);
  return undefined;
}

function readResource(backend: KubeApiBackend, request: ResourceRequest): Result {
  const { type, apiVersion, name, labelSelector, fieldSelector, table, current, find, notFound } = request;
  const namespace = type.namespaced === false ? undefined : backend.namespace;
  const matching = () =>
    current().filter((s) => matchesLabelSelector(s.loaded.object, labelSelector) && matchesFieldSelector(s.loaded.object, namespace, fieldSelector));
  if (request.watch) return watchResult(backend, request, namespace, matching, request.watch);
  let found: StoredObject[];
  if (!name) found = matching();
  else {
    const one = find(name);
    if (!one) throw notFound(name);
    found = [one];
  }
  if (table && type.printerColumns) {
    const objects = found.map((s) => present(s, apiVersion, namespace, backend) as Parameters<typeof asTable>[2][number]);
    return { body: asTable(table, type.printerColumns, objects, String(backend.store.resourceVersion())) };
  }
  if (!name) return { body: list(type, apiVersion, found, backend.store.resourceVersion(), backend) };
  return { body: present(found[0], apiVersion, namespace, backend) };
}

function watchResult(
  backend: KubeApiBackend,
  { apiVersion, type, table }: ResourceRequest,
  namespace: string | undefined,
  matching: () => StoredObject[],
  params: WatchParams,
): Result {
  const snapshot = () =>
    new Map(matching().map((s) => [s.loaded.object.metadata.name, { object: present(s, apiVersion, namespace, backend), resourceVersion: s.resourceVersion }]));
  // `kubectl get -w` asks for Tables: each event carries a one-row Table, as the API server transforms watch events.
  const wrap = (object: object): object =>
    table && type.printerColumns
      ? asTable(table, type.printerColumns, [object as Parameters<typeof asTable>[2][number]], String(backend.store.resourceVersion()))
      : object;
  const request = { snapshot, changes: backend.store, currentVersion: () => backend.store.resourceVersion(), wrap };
  return { body: null, stream: (res) => serveWatch(request, params, res) };
}

function deleteResource(backend: KubeApiBackend, { type, name, dryRun, find, notFound }: ResourceRequest): Result {
  if (!name) throw new ApiError(405, 'MethodNotAllowed', 'deleting a whole collection is not supported');
  const found = find(name);
  if (!found) throw notFound(name);
  applyChange(type, type.versions[0], name, () => backend.remove([objectKey(found.loaded.object)], { dryRun }));
  return { body: { ...statusBody(200, '', ''), details: { name, group: type.group, kind: type.plural, uid: found.uid } } };
}

function createResource(backend: KubeApiBackend, { type, apiVersion, name, dryRun, sourceFile, find }: ResourceRequest, body: string): Result {
  if (name) throw new ApiError(405, 'MethodNotAllowed', 'POST goes to the collection');
  const object = parseOne(body, type, apiVersion, backend.namespace);
  if (find(object.metadata.name)) {
    throw new ApiError(409, 'AlreadyExists', `${type.plural}.${type.group} "${object.metadata.name}" already exists`, {
      name: object.metadata.name,
      group: type.group,
      kind: type.plural,
    });
  }
  const warnings = applyChange(type, apiVersion, object.metadata.name, () => backend.apply([{ object, source: { file: sourceFile } }], { dryRun }), backend);
  return { status: 201, body: presentAfter(backend, type, object, apiVersion, dryRun), warnings };
}

function replaceResource(
  backend: KubeApiBackend,
  { type, apiVersion, dryRun, sourceFile, find, notFound }: ResourceRequest,
  name: string,
  body: string,
): Result {
  const object = parseOne(body, type, apiVersion, backend.namespace);
  if (object.metadata.name !== name)
    throw new ApiError(400, 'BadRequest', `the name in the body ("${object.metadata.name}") does not match the URL ("${name}")`);
  const found = find(name);
  if (!found) throw notFound(name);
  checkResourceVersion(object, found, type);
  const warnings = applyChange(type, apiVersion, name, () => backend.apply([{ object, source: { file: sourceFile } }], { dryRun }), backend);
  return { body: presentAfter(backend, type, object, apiVersion, dryRun), warnings };
}

function patchResource(backend: KubeApiBackend, request: ResourceRequest, name: string, body: string): Result {
  const { type, apiVersion, dryRun, sourceFile, find } = request;
  const found = find(name);
  const patched = patchedObject(backend, request, name, found, body);
  const object = checkObject(patched, type, apiVersion, backend.namespace);
  if (object.metadata.name !== name) throw new ApiError(400, 'BadRequest', 'a patch cannot change metadata.name');
  const warnings = applyChange(type, apiVersion, name, () => backend.apply([{ object, source: { file: sourceFile } }], { dryRun }), backend);
  return { status: found ? 200 : 201, body: presentAfter(backend, type, object, apiVersion, dryRun), warnings };
}

/** The object a PATCH asks for: server-side apply's whole object, or the stored one with a JSON or merge patch applied. */
function patchedObject(
  backend: KubeApiBackend,
  { type, apiVersion, contentType, notFound }: ResourceRequest,
  name: string,
  found: StoredObject | undefined,
  body: string,
): unknown {
  // Server-side apply, simplified: the applied object replaces the whole object (create or replace).
  if (contentType === 'application/apply-patch+yaml') return parseOne(body, type, apiVersion, backend.namespace);
  if (!found) throw notFound(name);
  // The API server patches the stored object converted to the request's version.
  const original = { ...structuredClone(found.loaded.object), apiVersion };
  const patch = parseJson(body);
  if (contentType === 'application/json-patch+json') {
    if (!Array.isArray(patch)) throw new ApiError(400, 'BadRequest', 'a JSON patch must be an array of operations');
    try {
      return applyPatch(original, patch as Operation[], true, true).newDocument;
    } catch (error) {
      throw new ApiError(422, 'Invalid', `JSON patch failed: ${(error as Error).message.split('\n')[0]}`);
    }
  }
  if (contentType === 'application/merge-patch+json' || contentType === 'application/strategic-merge-patch+json') return mergePatch(original, patch);
  throw new ApiError(
    415,
    'UnsupportedMediaType',
    `the PATCH content type "${contentType}" is not supported (use application/merge-patch+json, application/json-patch+json or application/apply-patch+yaml)`,
  );
}

function apiGroupOf(object: K8sObject): string {
  const slash = object.apiVersion.lastIndexOf('/');
  return slash === -1 ? '' : object.apiVersion.slice(0, slash);
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
  const sent = parsed.objects[0].object.apiVersion;
  // The request's version decides (apiserver handlers/create.go `AcceptsGroupVersion`): a body of another version
  // of the group is refused, so a ReferenceGrant `v1` cannot come in through the `v1beta1` path either.
  if (sent && apiGroupOf(parsed.objects[0].object) === type.group && sent !== apiVersion) {
    throw new ApiError(400, 'BadRequest', `the API version in the data (${sent}) does not match the expected API version (${apiVersion})`);
  }
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

/** Runs a change; a refusal becomes the API server's error (`refusal`), an accepted change returns its warnings. */
function applyChange(type: ResourceType, apiVersion: string, name: string, change: () => unknown, backend?: KubeApiBackend): Finding[] {
  try {
    change();
    return backend ? backend.store.lastWarnings() : [];
  } catch (error) {
    if (error instanceof ConfigRejectedError) throw refusal(type, apiVersion, name, error.findings);
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

function present(stored: StoredObject, apiVersion: string, namespace: string | undefined, backend?: KubeApiBackend): object {
  const object = stored.loaded.object;
  const written = backend?.statusOf?.(object);
  return {
    ...object,
    apiVersion,
    metadata: {
      ...object.metadata,
      ...(namespace ? { namespace } : {}),
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
    items: items.map((s) => present(s, apiVersion, type.namespaced === false ? undefined : 'default', backend)),
  };
}

interface FieldTerm {
  field: 'metadata.name' | 'metadata.namespace';
  value: string;
  equal: boolean;
}

/**
 * `metadata.name=web-ingress` style field selectors: a custom resource supports `metadata.name` and
 * `metadata.namespace` only (apiextensions-apiserver `registry/customresource` `GetAttrs`); any other field is refused
 * as the API server refuses it.
 */
function parseFieldSelector(selector: string | null): FieldTerm[] {
  if (!selector) return [];
  return selector
    .split(',')
    .filter((term) => term.trim())
    .map((term) => {
      const match = /^\s*([^!=\s]+)\s*(!=|==|=)\s*(.*?)\s*$/.exec(term);
      if (!match) throw new ApiError(400, 'BadRequest', `invalid field selector term "${term}": expected field=value or field!=value`);
      if (match[1] !== 'metadata.name' && match[1] !== 'metadata.namespace') {
        throw new ApiError(400, 'BadRequest', `field label not supported: ${match[1]}`);
      }
      return { field: match[1], value: match[3], equal: match[2] !== '!=' };
    });
}

function matchesFieldSelector(object: K8sObject, namespace: string | undefined, terms: FieldTerm[]): boolean {
  return terms.every((t) => ((t.field === 'metadata.name' ? object.metadata.name : (namespace ?? '')) === t.value) === t.equal);
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
