/**
 * Discovery for kubectl and @kubernetes/client-node: `/version`, the OpenAPI v3 index and per-group documents, `/api`,
 * `/apis`, each group and group-version's resource list, and the one namespace.
 */
import type { IncomingMessage } from 'node:http';
import { GATEWAY_API_GROUP } from '../gateway-api/kinds';
import { apiGroups, groupInfo, groupVersion, notFoundPath, resourceTypes, type KubeApiBackend, type Result } from './kube-resources';

/** Discovery and the documents kubectl reads before it touches a resource; undefined for a resource path. */
export function discovery(backend: KubeApiBackend, req: IncomingMessage, p: string): Result | undefined {
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
  const openApiDocument = openApi(p);
  if (openApiDocument) return openApiDocument;
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
        resources: types
          .map((t) => ({
            name: t.plural,
            singularName: t.kind.toLowerCase(),
            namespaced: t.namespaced !== false,
            kind: t.kind,
            shortNames: t.shortNames,
            // The CRDs' `names.categories`: `kubectl get gateway-api` lists them all.
            ...(t.group === GATEWAY_API_GROUP ? { categories: ['gateway-api'] } : {}),
            verbs: t.readOnly ? ['get', 'list'] : ['create', 'delete', 'get', 'list', 'patch', 'update'],
          }))
          .flatMap((resource, i) =>
            types[i].statusSubresource
              ? [resource, { name: `${resource.name}/status`, singularName: '', namespaced: resource.namespaced, kind: resource.kind, verbs: ['get'] }]
              : [resource],
          ),
      },
    };
  }
  if (p === '/api/v1/namespaces' || p === `/api/v1/namespaces/${backend.namespace}`) {
    const namespace = { apiVersion: 'v1', kind: 'Namespace', metadata: { name: backend.namespace }, status: { phase: 'Active' } };
    return { body: p.endsWith('/namespaces') ? { apiVersion: 'v1', kind: 'NamespaceList', metadata: {}, items: [namespace] } : namespace };
  }
  return undefined;
}

/**
 * An OpenAPI v2 document without definitions, in the protobuf form kubectl asks for (gnostic `openapi_v2.Document`:
 * field 1 `swagger` "2.0", field 2 `info` {1 `title`, 2 `version`}). kubectl downloads it to validate a kind the v3
 * documents do not list (one no CRD serves); finding no schema it skips validation and reports the kind as a cluster
 * does: `no matches for kind ... in version ...`.
 */
function openApiV2Protobuf(): Buffer {
  const field = (number: number, value: Buffer) => Buffer.concat([Buffer.from([(number << 3) | 2, value.length]), value]);
  const info = Buffer.concat([field(1, Buffer.from('local mesh')), field(2, Buffer.from('v2'))]);
  return Buffer.concat([field(1, Buffer.from('2.0')), field(2, info)]);
}

/** The OpenAPI v3 index and one document per group-version, for kubectl's client-side validation. */
function openApi(p: string): Result | undefined {
  if (p === '/openapi/v2')
    return { body: undefined, raw: { contentType: 'application/com.github.proto-openapi.spec.v2.v1.0+protobuf', bytes: openApiV2Protobuf() } };
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
  return undefined;
}
