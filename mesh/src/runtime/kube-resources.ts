/**
 * The resource types the mesh's Kubernetes REST serves (Istio's and the Gateway API's kinds from the vocabulary, plus
 * read-only Services and Deployments from k8s/), and the Kubernetes `Status` errors its handlers throw.
 */
import { GATEWAY_API_KINDS } from '../gateway-api/kinds';
import { ISTIO_KINDS } from '../istio';
import type { Finding, K8sObject, LoadedObject } from '../model';
import type { ConfigStore } from './config-store';

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

export interface Result {
  status?: number;
  body: unknown;
  /** Analysis findings about the applied object: sent as `Warning` headers. */
  warnings?: Finding[];
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

export function apiGroups(): Array<{ name: string; versions: string[] }> {
  const groups = new Map<string, string[]>();
  for (const t of resourceTypes) if (t.group) groups.set(t.group, t.versions);
  return [...groups.entries()].map(([name, versions]) => ({ name, versions }));
}

export function groupInfo(group: { name: string; versions: string[] }): object {
  const versions = group.versions.map((v) => ({ groupVersion: `${group.name}/${v}`, version: v }));
  return { name: group.name, versions, preferredVersion: versions[0] };
}

export function notFoundPath(p: string): ApiError {
  return new ApiError(404, 'NotFound', `the server could not find the requested resource (${p})`);
}
