/**
 * Istio's API groups and the kinds this project applies, keyed by group and kind (the Gateway API has a `Gateway`
 * of its own in `gateway.networking.k8s.io`). One table for the local mesh's Kubernetes API (runtime/kube-api.ts),
 * its config store and analysis, and the scripts' client (scripts/src/kube.ts), so that whatever the scripts can
 * send to a cluster the mesh serves too. Versions are the ones Istio ≥ 1.22 serves, newest first.
 */
import type { K8sObject } from '../model';

export const NETWORKING_GROUP = 'networking.istio.io';
export const SECURITY_GROUP = 'security.istio.io';
/** The Kubernetes Gateway API (its kinds are registered by the Gateway API front end, not here). */
export const GATEWAY_API_GROUP = 'gateway.networking.k8s.io';

export interface IstioKind {
  kind: string;
  group: typeof NETWORKING_GROUP | typeof SECURITY_GROUP;
  versions: string[];
  plural: string;
  shortNames: string[];
}

const NETWORKING_VERSIONS = ['v1', 'v1beta1', 'v1alpha3'];
const SECURITY_VERSIONS = ['v1', 'v1beta1'];

export const ISTIO_KINDS: readonly IstioKind[] = [
  { kind: 'VirtualService', group: NETWORKING_GROUP, versions: NETWORKING_VERSIONS, plural: 'virtualservices', shortNames: ['vs'] },
  { kind: 'DestinationRule', group: NETWORKING_GROUP, versions: NETWORKING_VERSIONS, plural: 'destinationrules', shortNames: ['dr'] },
  { kind: 'Gateway', group: NETWORKING_GROUP, versions: NETWORKING_VERSIONS, plural: 'gateways', shortNames: ['gw'] },
  { kind: 'ServiceEntry', group: NETWORKING_GROUP, versions: NETWORKING_VERSIONS, plural: 'serviceentries', shortNames: ['se'] },
  { kind: 'PeerAuthentication', group: SECURITY_GROUP, versions: SECURITY_VERSIONS, plural: 'peerauthentications', shortNames: ['pa'] },
  { kind: 'AuthorizationPolicy', group: SECURITY_GROUP, versions: SECURITY_VERSIONS, plural: 'authorizationpolicies', shortNames: ['ap'] },
];

/** `networking.istio.io/v1` → `networking.istio.io`; core `v1` → ``. Versions of one group name the same object. */
export function apiGroup(apiVersion: string): string {
  const slash = apiVersion.lastIndexOf('/');
  return slash === -1 ? '' : apiVersion.slice(0, slash);
}

/** The key of a group/kind pair, written as kubectl writes it: `Gateway.networking.istio.io`, `Service` (core). */
export function groupKind(group: string, kind: string): string {
  return group ? `${kind}.${group}` : kind;
}

const BY_GROUP_KIND = new Map(ISTIO_KINDS.map((k) => [groupKind(k.group, k.kind), k]));

/** The Istio kind an object is (its API group and kind both in the table), or undefined. */
export function istioKindOf(object: Pick<K8sObject, 'apiVersion' | 'kind'>): IstioKind | undefined {
  return BY_GROUP_KIND.get(groupKind(apiGroup(object.apiVersion ?? ''), object.kind));
}

/** Whether an API group is one of Istio's (`networking.istio.io`, `security.istio.io`, `telemetry.istio.io`, …). */
export function isIstioGroup(group: string): boolean {
  return group === 'istio.io' || group.endsWith('.istio.io');
}

/**
 * Whether an object belongs to Istio's APIs (any kind of an Istio group: the ones the mesh does not model, such as
 * `telemetry.istio.io` Telemetry, are accepted and stored as a cluster would, and simply have no effect here).
 */
export function isIstioObject(object: Pick<K8sObject, 'apiVersion'>): boolean {
  return isIstioGroup(apiGroup(object.apiVersion ?? ''));
}
