/**
 * The Kubernetes Gateway API kinds the local mesh reads (gateway.networking.k8s.io), with their REST coordinates
 * and the few fields the translator uses. Versions: the ones the pinned CRDs (Gateway API v1.1.0, see
 * gateway-api/README.md) serve, newest first.
 */
import type { K8sObject } from '../model';

export const GATEWAY_API_GROUP = 'gateway.networking.k8s.io';
/** istiod marks the VirtualServices it generates from Gateway API routes (pkg/config/constants InternalRouteSemantics). */
export const ROUTE_SEMANTICS_ANNOTATION = 'internal.istio.io/route-semantics';
/** Istio's controller name in GatewayClass `istio` and in every status it writes (pilot/pkg/features). */
/** Finding code of checkRoutingOverlap (analyze.ts). */
export const GATEWAY_STATUS_CODE = 'CNS0303';
export const ISTIO_CONTROLLER = 'istio.io/gateway-controller';

export interface GatewayApiKind {
  kind: 'Gateway' | 'HTTPRoute' | 'ReferenceGrant';
  group: typeof GATEWAY_API_GROUP;
  versions: string[];
  plural: string;
  shortNames: string[];
}

export const GATEWAY_API_KINDS: readonly GatewayApiKind[] = [
  { kind: 'Gateway', group: GATEWAY_API_GROUP, versions: ['v1', 'v1beta1'], plural: 'gateways', shortNames: ['gtw'] },
  { kind: 'HTTPRoute', group: GATEWAY_API_GROUP, versions: ['v1', 'v1beta1'], plural: 'httproutes', shortNames: [] },
  // v1.1.0 serves ReferenceGrant as v1beta1 only; v1 (same spec) is accepted for newer CRDs.
  { kind: 'ReferenceGrant', group: GATEWAY_API_GROUP, versions: ['v1', 'v1beta1'], plural: 'referencegrants', shortNames: ['refgrant'] },
];

export function isGatewayApiObject(object: K8sObject): boolean {
  return (object.apiVersion ?? '').startsWith(`${GATEWAY_API_GROUP}/`);
}

// ---------------------------------------------------------------- the fields the translator reads (after defaults)

export interface ParentReference {
  group?: string;
  kind?: string;
  namespace?: string;
  name: string;
  sectionName?: string;
  port?: number;
}

export interface BackendObjectReference {
  group?: string;
  kind?: string;
  name: string;
  namespace?: string;
  port?: number;
}

export interface HTTPHeader {
  name: string;
  value: string;
}
export interface HTTPHeaderFilter {
  set?: HTTPHeader[];
  add?: HTTPHeader[];
  remove?: string[];
}

export interface HTTPPathModifier {
  type: 'ReplaceFullPath' | 'ReplacePrefixMatch';
  replaceFullPath?: string;
  replacePrefixMatch?: string;
}

export interface HTTPRouteFilter {
  type: 'RequestHeaderModifier' | 'ResponseHeaderModifier' | 'RequestMirror' | 'RequestRedirect' | 'URLRewrite' | 'ExtensionRef' | string;
  requestHeaderModifier?: HTTPHeaderFilter;
  responseHeaderModifier?: HTTPHeaderFilter;
  requestMirror?: { backendRef: BackendObjectReference; percent?: number; fraction?: { numerator: number; denominator?: number } };
  requestRedirect?: { scheme?: string; hostname?: string; path?: HTTPPathModifier; port?: number; statusCode?: number };
  urlRewrite?: { hostname?: string; path?: HTTPPathModifier };
}

export interface HTTPRouteMatch {
  path?: { type?: 'Exact' | 'PathPrefix' | 'RegularExpression'; value?: string };
  headers?: Array<{ type?: 'Exact' | 'RegularExpression'; name: string; value: string }>;
  queryParams?: Array<{ type?: 'Exact' | 'RegularExpression'; name: string; value: string }>;
  method?: string;
}

export interface HTTPBackendRef extends BackendObjectReference {
  weight?: number;
  filters?: HTTPRouteFilter[];
}

export interface HTTPRouteRule {
  name?: string;
  matches?: HTTPRouteMatch[];
  filters?: HTTPRouteFilter[];
  backendRefs?: HTTPBackendRef[];
  timeouts?: { request?: string; backendRequest?: string };
}

export interface HTTPRouteSpec {
  parentRefs?: ParentReference[];
  hostnames?: string[];
  rules?: HTTPRouteRule[];
}

export interface Listener {
  name: string;
  hostname?: string;
  port: number;
  protocol: string;
  allowedRoutes?: { namespaces?: { from?: 'All' | 'Same' | 'Selector' }; kinds?: Array<{ group?: string; kind: string }> };
}

export interface GatewaySpec {
  gatewayClassName: string;
  listeners: Listener[];
}

export interface ReferenceGrantSpec {
  from: Array<{ group: string; kind: string; namespace: string }>;
  to: Array<{ group: string; kind: string; name?: string }>;
}

export type KubeGateway = K8sObject<GatewaySpec> & { metadata: K8sObject['metadata'] & { generation?: number; creationTimestamp?: string } };
export type HTTPRoute = K8sObject<HTTPRouteSpec> & { metadata: K8sObject['metadata'] & { generation?: number; creationTimestamp?: string } };
export type ReferenceGrant = K8sObject<ReferenceGrantSpec>;
