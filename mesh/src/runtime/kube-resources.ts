/**
 * The resource types the mesh's Kubernetes REST serves (Istio's and the Gateway API's kinds from the vocabulary, plus
 * read-only Services and Deployments from k8s/), and the Kubernetes `Status` errors its handlers throw.
 */
import type { ServerResponse } from 'node:http';
import { istioGatewayClass } from '../gateway-api/gateway-class';
import { GATEWAY_API_KINDS, type PrinterColumn } from '../gateway-api/kinds';
import { ISTIO_KINDS } from '../istio';
import type { Finding, K8sObject, LoadedObject } from '../model';
import type { ConfigStore } from './config-store';

export interface ResourceType {
  group: string;
  versions: string[];
  plural: string;
  kind: string;
  shortNames: string[];
  /** Served from the manifests (or, for GatewayClass, by the controller), not changeable. */
  readOnly?: boolean;
  /** false for a cluster-scoped kind (GatewayClass); namespaced otherwise. */
  namespaced?: boolean;
  /** The CRD's printer columns: `kubectl get` asks for a Table and shows them (without: Name and Age). */
  printerColumns?: PrinterColumn[];
  /** Has a `status` subresource (`<plural>/status`), served read-only. */
  statusSubresource?: boolean;
}

export const resourceTypes: ResourceType[] = [
  ...ISTIO_KINDS.map(({ kind, group, versions, plural, shortNames }) => ({ kind, group, versions, plural, shortNames })),
  ...GATEWAY_API_KINDS.map(({ kind, group, versions, plural, shortNames, namespaced, printerColumns }) => ({
    kind,
    group,
    versions,
    plural,
    shortNames,
    namespaced,
    printerColumns,
    // The CRDs' `subresources.status`: every served kind but ReferenceGrant.
    statusSubresource: kind !== 'ReferenceGrant',
    // The mesh is the controller: its GatewayClass is the one istiod creates, not something to apply.
    readOnly: kind === 'GatewayClass',
  })),
  { group: '', versions: ['v1'], plural: 'services', kind: 'Service', shortNames: ['svc'], readOnly: true },
  { group: 'apps', versions: ['v1'], plural: 'deployments', kind: 'Deployment', shortNames: ['deploy'], readOnly: true },
];

/** When istiod (the mesh) created its objects: this process's start, to the second as the API server stamps it. */
const CONTROLLER_START = new Date().toISOString().replace(/\.\d+Z$/, 'Z');

/** The read-only objects of a type: Services and Deployments from k8s/, GatewayClass `istio` from the controller. */
export function readOnlyObjects(type: ResourceType, kubernetesObjects: readonly LoadedObject[]): LoadedObject[] {
  if (type.kind === 'GatewayClass') return [{ object: istioGatewayClass(CONTROLLER_START), source: { file: 'istiod' } }];
  return kubernetesObjects.filter((o) => o.object.kind === type.kind);
}

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

export interface Result {
  status?: number;
  body: unknown;
  /** Analysis findings about the applied object: sent as `Warning` headers. */
  warnings?: Finding[];
  /** A body that is not JSON (the protobuf OpenAPI v2 document). */
  raw?: { contentType: string; bytes: Buffer };
  /** A watch: streams its events on the response (kube-watch.ts). */
  stream?: (res: ServerResponse) => void;
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

export const groupVersion = (group: string, version: string): string => (group ? `${group}/${version}` : version);

/** Each group with the union of its kinds' versions, in the order first listed (the preferred version first). */
export function apiGroups(): Array<{ name: string; versions: string[] }> {
  const groups = new Map<string, string[]>();
  for (const t of resourceTypes) {
    if (!t.group) continue;
    const versions = groups.get(t.group) ?? [];
    groups.set(t.group, [...versions, ...t.versions.filter((v) => !versions.includes(v))]);
  }
  return [...groups.entries()].map(([name, versions]) => ({ name, versions }));
}

export function groupInfo(group: { name: string; versions: string[] }): object {
  const versions = group.versions.map((v) => ({ groupVersion: `${group.name}/${v}`, version: v }));
  return { name: group.name, versions, preferredVersion: versions[0] };
}

export function notFoundPath(p: string): ApiError {
  return new ApiError(404, 'NotFound', `the server could not find the requested resource (${p})`);
}

/**
 * A refused change as the API server answers it (apiserver `endpoints/handlers` `transformDecodeError`, apimachinery
 * `errors.NewInvalid`): an unknown field under strict field validation is 400 BadRequest
 * (`<Kind> in version "<v>" cannot be handled as a <Kind>: strict decoding error: unknown field "..."`); schema and
 * CEL errors are 422 Invalid with one `details.causes` entry per field error and the message
 * `<Kind>.<group> "<name>" is invalid: <field>: <detail>` (several: `[a, b]`). Findings of the mesh's own analysis
 * (Istio's validation and analyzers) keep their codes, also 422 Invalid.
 */
export function refusal(type: ResourceType, apiVersion: string, name: string, findings: readonly Finding[]): ApiError {
  const unknown = findings.filter((f) => f.cause?.type === 'UnknownField');
  if (unknown.length > 0) {
    const version = apiVersion.slice(apiVersion.lastIndexOf('/') + 1);
    // Sorted, as apiextensions' pruning returns the unknown field paths.
    const fields = unknown
      .map((f) => f.cause?.message ?? '')
      .sort()
      .join(', ');
    return new ApiError(400, 'BadRequest', `${type.kind} in version "${version}" cannot be handled as a ${type.kind}: strict decoding error: ${fields}`);
  }
  const errors = findings.map((f) =>
    f.cause
      ? { text: `${f.cause.field}: ${f.cause.message}`, cause: { reason: f.cause.type, message: f.cause.message, field: f.cause.field } }
      : {
          text: `${f.object ?? ''} ${f.code}: ${f.message}`.trim(),
          cause: { reason: f.code, message: f.message, field: f.line ? `${f.file}:${f.line}` : f.file },
        },
  );
  const texts = [...new Set(errors.map((e) => e.text))];
  const resource = `${type.kind}${type.group ? `.${type.group}` : ''} "${name}"`;
  return new ApiError(422, 'Invalid', `${resource} is invalid: ${texts.length === 1 ? texts[0] : `[${texts.join(', ')}]`}`, {
    name,
    group: type.group,
    kind: type.kind,
    causes: errors.map((e) => e.cause),
  });
}
