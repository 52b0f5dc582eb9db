/**
 * The Istio kinds this project applies, with their REST coordinates: one table for the local mesh's Kubernetes
 * API (runtime/kube-api.ts) and for the scripts' client (scripts/src/kube.ts), so that whatever the scripts can
 * send to a cluster the mesh serves too. Versions are the ones Istio ≥ 1.22 serves, newest first.
 */
export interface IstioKind {
  kind: string;
  group: 'networking.istio.io' | 'security.istio.io';
  versions: string[];
  plural: string;
  shortNames: string[];
}

const NETWORKING_VERSIONS = ['v1', 'v1beta1', 'v1alpha3'];
const SECURITY_VERSIONS = ['v1', 'v1beta1'];

export const ISTIO_KINDS: readonly IstioKind[] = [
  { kind: 'VirtualService', group: 'networking.istio.io', versions: NETWORKING_VERSIONS, plural: 'virtualservices', shortNames: ['vs'] },
  { kind: 'DestinationRule', group: 'networking.istio.io', versions: NETWORKING_VERSIONS, plural: 'destinationrules', shortNames: ['dr'] },
  { kind: 'Gateway', group: 'networking.istio.io', versions: NETWORKING_VERSIONS, plural: 'gateways', shortNames: ['gw'] },
  { kind: 'ServiceEntry', group: 'networking.istio.io', versions: NETWORKING_VERSIONS, plural: 'serviceentries', shortNames: ['se'] },
  { kind: 'PeerAuthentication', group: 'security.istio.io', versions: SECURITY_VERSIONS, plural: 'peerauthentications', shortNames: ['pa'] },
  { kind: 'AuthorizationPolicy', group: 'security.istio.io', versions: SECURITY_VERSIONS, plural: 'authorizationpolicies', shortNames: ['ap'] },
];

/** The entry for a kind, or undefined when it is not an Istio kind the project handles. */
export function istioKind(kind: string): IstioKind | undefined {
  return ISTIO_KINDS.find((k) => k.kind === kind);
}
