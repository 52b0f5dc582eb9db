/**
 * The Kubernetes Gateway API kinds the local mesh reads (gateway.networking.k8s.io), with their REST coordinates
 * and the few fields the translator uses. Versions: the ones the pinned CRDs (Gateway API v1.1.0, see
 * gateway-api/README.md) serve, newest first.
 */
import type { K8sObject } from '../model';

export const GATEWAY_API_GROUP = 'gateway.networking.k8s.io';
export { ROUTE_SEMANTICS_ANNOTATION } from '../istio';
/** Finding code of checkRoutingOverlap (analyze.ts). */
export const GATEWAY_STATUS_CODE = 'CNS0303';
/** Istio's controller name in GatewayClass `istio` and in every status it writes (pilot/pkg/features). */
export const ISTIO_CONTROLLER = 'istio.io/gateway-controller';

export interface GatewayApiKind {
  kind: 'Gateway' | 'HTTPRoute' | 'ReferenceGrant' | 'GatewayClass';
  group: typeof GATEWAY_API_GROUP;
  /** The versions the pinned CRDs serve (`served: true`), the storage version first. */
  versions: string[];
  plural: string;
  shortNames: string[];
  /** false for GatewayClass (`scope: Cluster`). */
  namespaced: boolean;
  /** The CRD's `additionalPrinterColumns` (the same in every served version), after Name: what `kubectl get` shows. */
  printerColumns: PrinterColumn[];
}

export interface PrinterColumn {
  name: string;
  type: 'string' | 'date';
  jsonPath: string;
  /** 1: only with `-o wide`. */
  priority?: number;
}

const AGE: PrinterColumn = { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' };
const GATEWAY_CLASS_COLUMNS: PrinterColumn[] = [
  { name: 'Controller', type: 'string', jsonPath: '.spec.controllerName' },
  { name: 'Accepted', type: 'string', jsonPath: '.status.conditions[?(@.type=="Accepted")].status' },
  AGE,
  { name: 'Description', type: 'string', jsonPath: '.spec.description', priority: 1 },
];
const GATEWAY_COLUMNS: PrinterColumn[] = [
  { name: 'Class', type: 'string', jsonPath: '.spec.gatewayClassName' },
  { name: 'Address', type: 'string', jsonPath: '.status.addresses[*].value' },
  { name: 'Programmed', type: 'string', jsonPath: '.status.conditions[?(@.type=="Programmed")].status' },
  AGE,
];

/**
 * As the pinned CRDs (v1.1.0, standard channel, `config/crd/standard/`) serve them: GatewayClass, Gateway and
 * HTTPRoute `v1` (storage) and `v1beta1`; ReferenceGrant `v1beta1` only (its `v1alpha2` has `served: false`, `v1`
 * came in v1.2.0). GRPCRoute (`v1`) is served by the CRDs but not modelled by the mesh.
 */
export const GATEWAY_API_KINDS: readonly GatewayApiKind[] = [
  {
    kind: 'GatewayClass',
    group: GATEWAY_API_GROUP,
    versions: ['v1', 'v1beta1'],
    plural: 'gatewayclasses',
    shortNames: ['gc'],
    namespaced: false,
    printerColumns: GATEWAY_CLASS_COLUMNS,
  },
  {
    kind: 'Gateway',
    group: GATEWAY_API_GROUP,
    versions: ['v1', 'v1beta1'],
    plural: 'gateways',
    shortNames: ['gtw'],
    namespaced: true,
    printerColumns: GATEWAY_COLUMNS,
  },
  {
    kind: 'HTTPRoute',
    group: GATEWAY_API_GROUP,
    versions: ['v1', 'v1beta1'],
    plural: 'httproutes',
    shortNames: [],
    namespaced: true,
    printerColumns: [{ name: 'Hostnames', type: 'string', jsonPath: '.spec.hostnames' }, AGE],
  },
  {
    kind: 'ReferenceGrant',
    group: GATEWAY_API_GROUP,
    versions: ['v1beta1'],
    plural: 'referencegrants',
    shortNames: ['refgrant'],
    namespaced: true,
    printerColumns: [AGE],
  },
];

/** `gateway.networking.k8s.io/v1beta1` for ReferenceGrant: the version a client should use for a kind (its storage version). */
export function servedApiVersion(kind: GatewayApiKind['kind']): string {
  const found = GATEWAY_API_KINDS.find((k) => k.kind === kind);
  if (!found) throw new Error(`${kind} is not a Gateway API kind`);
  return `${GATEWAY_API_GROUP}/${found.versions[0]}`;
}

/**
 * The API machinery's answer to an apiVersion/kind no CRD serves (apimachinery `meta.NoKindMatchError`, which kubectl
 * prints before it sends anything); undefined when the pinned CRDs serve it.
 */
export function unservedKindMessage(apiVersion: string, kind: string): string | undefined {
  const version = apiVersion.startsWith(`${GATEWAY_API_GROUP}/`) ? apiVersion.slice(GATEWAY_API_GROUP.length + 1) : undefined;
  const served = GATEWAY_API_KINDS.find((k) => k.kind === kind)?.versions.includes(version ?? '');
  return served ? undefined : `no matches for kind "${kind}" in version "${apiVersion}"`;
}

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
