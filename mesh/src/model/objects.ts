/**
 * The Kubernetes and Istio objects the local mesh reads from k8s/ and istio/ (the runtime view is in runtime.ts).
 *
 * Only the fields the mesh uses are typed; everything else in the YAML is kept untouched in the objects.
 */

/** Where an object came from, for error messages: file path (relative to the repo root) and 1-based line. */
export interface SourceRef {
  file: string;
  line?: number;
}

export interface ObjectMeta {
  name: string;
  namespace?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

export interface K8sObject<Spec = unknown> {
  apiVersion: string;
  kind: string;
  metadata: ObjectMeta;
  spec?: Spec;
}

/** An object as loaded from a file, with its origin. */
export interface LoadedObject<T extends K8sObject = K8sObject> {
  object: T;
  source: SourceRef;
}

/** One problem found in the manifests, modelled on `istioctl analyze` / Kiali validations. */
export interface Finding {
  /** e.g. IST0101, KIA1107, or a project code such as CNS0001 for checks Istio/Kiali do not have. */
  code: string;
  severity: 'error' | 'warning';
  file: string;
  line?: number;
  /** `Kind/name`, e.g. `VirtualService/web-api`. */
  object?: string;
  message: string;
  /** How the Kubernetes API server reports it, when the finding models the API server's own validation. */
  cause?: ApiServerCause;
}

/**
 * A field error as the API server returns it in a `Status`'s `details.causes` (apimachinery `metav1.StatusCause`):
 * `type` a `FieldValue*` cause type, or `UnknownField` for strict decoding (refused as 400 BadRequest, not a cause).
 */
export interface ApiServerCause {
  type: string;
  field: string;
  message: string;
}

// ---------------------------------------------------------------- Kubernetes

export interface EnvVar {
  name: string;
  value?: string;
}

export interface ContainerPort {
  name?: string;
  containerPort: number;
  protocol?: string;
}

export interface Container {
  name: string;
  image: string;
  env?: EnvVar[];
  ports?: ContainerPort[];
}

export interface DeploymentSpec {
  replicas?: number;
  /** How long a new pod must stay ready before it counts as available (rolling updates wait for that). */
  minReadySeconds?: number;
  selector: { matchLabels?: Record<string, string> };
  template: {
    metadata: { labels?: Record<string, string>; annotations?: Record<string, string> };
    spec: { serviceAccountName?: string; containers: Container[]; terminationGracePeriodSeconds?: number };
  };
}
export type Deployment = K8sObject<DeploymentSpec>;

export interface ServicePort {
  name?: string;
  port: number;
  targetPort?: number | string;
  appProtocol?: string;
  protocol?: string;
}
export interface ServiceSpec {
  selector?: Record<string, string>;
  ports: ServicePort[];
}
export type Service = K8sObject<ServiceSpec>;

// ---------------------------------------------------------------- Istio networking (v1 == v1beta1 spec)

export interface StringMatch {
  exact?: string;
  prefix?: string;
  regex?: string;
}

export interface HTTPMatchRequest {
  name?: string;
  uri?: StringMatch;
  scheme?: StringMatch;
  method?: StringMatch;
  authority?: StringMatch;
  headers?: Record<string, StringMatch>;
  queryParams?: Record<string, StringMatch>;
  withoutHeaders?: Record<string, StringMatch>;
  port?: number;
  ignoreUriCase?: boolean;
  sourceLabels?: Record<string, string>;
  sourceNamespace?: string;
  gateways?: string[];
}

export interface Destination {
  host: string;
  subset?: string;
  port?: { number: number };
}

export interface HeaderOperations {
  set?: Record<string, string>;
  add?: Record<string, string>;
  remove?: string[];
}
export interface Headers {
  request?: HeaderOperations;
  response?: HeaderOperations;
}

export interface HTTPRouteDestination {
  destination: Destination;
  weight?: number;
  headers?: Headers;
}

export interface Percent {
  value?: number;
}

export interface HTTPFaultInjection {
  delay?: { fixedDelay?: string; percentage?: Percent };
  abort?: { httpStatus?: number; percentage?: Percent };
}

export interface HTTPRetry {
  attempts?: number;
  perTryTimeout?: string;
  retryOn?: string;
  retryRemoteLocalities?: boolean;
}

export interface HTTPRoute {
  name?: string;
  match?: HTTPMatchRequest[];
  /** A root VirtualService's rule handing its traffic to the rules of a delegate VirtualService (one without hosts). */
  delegate?: { name: string; namespace?: string };
  route?: HTTPRouteDestination[];
  redirect?: {
    uri?: string;
    prefixRewrite?: string;
    authority?: string;
    scheme?: string;
    port?: number;
    derivePort?: 'FROM_PROTOCOL_DEFAULT' | 'FROM_REQUEST_PORT';
    redirectCode?: number;
  };
  directResponse?: { status: number; body?: { string?: string; bytes?: string } };
  rewrite?: { uri?: string; authority?: string; uriRegexRewrite?: { match?: string; rewrite?: string } };
  timeout?: string;
  retries?: HTTPRetry;
  fault?: HTTPFaultInjection;
  mirror?: Destination;
  mirrorPercentage?: Percent;
  /** Several mirrors, each with its own percentage (100 when unset). */
  mirrors?: Array<{ destination: Destination; percentage?: Percent }>;
  headers?: Headers;
  corsPolicy?: {
    allowOrigins?: StringMatch[];
    /** Deprecated: exact origins, used when allowOrigins is unset. */
    allowOrigin?: string[];
    unmatchedPreflights?: 'UNSPECIFIED' | 'FORWARD' | 'IGNORE';
    allowMethods?: string[];
    allowHeaders?: string[];
    exposeHeaders?: string[];
    maxAge?: string;
    allowCredentials?: boolean;
  };
}

/** A TCP route (VirtualService `tcp`): the first rule whose match names the port (or has none) takes the connection. */
export interface TCPRoute {
  match?: Array<{ port?: number; sourceLabels?: Record<string, string>; gateways?: string[] }>;
  route?: Array<{ destination: Destination; weight?: number }>;
}

export interface VirtualServiceSpec {
  hosts: string[];
  gateways?: string[];
  http?: HTTPRoute[];
  tcp?: TCPRoute[];
}
export type VirtualService = K8sObject<VirtualServiceSpec>;

export interface LoadBalancerSettings {
  simple?: 'ROUND_ROBIN' | 'RANDOM' | 'LEAST_REQUEST' | 'PASSTHROUGH' | 'UNSPECIFIED' | 'LEAST_CONN';
  consistentHash?: {
    httpHeaderName?: string;
    httpCookie?: { name?: string; path?: string; ttl?: string };
    httpQueryParameterName?: string;
    useSourceIp?: boolean;
    ringHash?: { minimumRingSize?: number };
    maglev?: { tableSize?: number };
    /** Deprecated: use ringHash.minimumRingSize. */
    minimumRingSize?: number;
  };
}

export interface ConnectionPoolSettings {
  tcp?: { maxConnections?: number; connectTimeout?: string };
  http?: {
    http1MaxPendingRequests?: number;
    http2MaxRequests?: number;
    maxRequestsPerConnection?: number;
    maxRetries?: number;
    idleTimeout?: string;
  };
}

export interface OutlierDetection {
  consecutive5xxErrors?: number;
  consecutiveGatewayErrors?: number;
  interval?: string;
  baseEjectionTime?: string;
  maxEjectionPercent?: number;
  minHealthPercent?: number;
}

export interface TrafficPolicy {
  loadBalancer?: LoadBalancerSettings;
  connectionPool?: ConnectionPoolSettings;
  outlierDetection?: OutlierDetection;
  tls?: { mode?: string };
  /** Per Service port: replaces the four fields above for that port (Istio does not inherit them). */
  portLevelSettings?: Array<{
    port?: { number?: number };
    loadBalancer?: LoadBalancerSettings;
    connectionPool?: ConnectionPoolSettings;
    outlierDetection?: OutlierDetection;
    tls?: { mode?: string };
  }>;
}

export interface Subset {
  name: string;
  labels?: Record<string, string>;
  trafficPolicy?: TrafficPolicy;
}

export interface DestinationRuleSpec {
  host: string;
  trafficPolicy?: TrafficPolicy;
  subsets?: Subset[];
}
export type DestinationRule = K8sObject<DestinationRuleSpec>;

export interface GatewayServer {
  port: { number: number; name?: string; protocol: string };
  hosts: string[];
}
export interface GatewaySpec {
  selector?: Record<string, string>;
  servers: GatewayServer[];
}
export type Gateway = K8sObject<GatewaySpec>;

// ---------------------------------------------------------------- Istio security (security.istio.io/v1)

export interface WorkloadSelector {
  matchLabels?: Record<string, string>;
}

export interface AuthorizationSource {
  principals?: string[];
  notPrincipals?: string[];
  namespaces?: string[];
  notNamespaces?: string[];
  requestPrincipals?: string[];
  notRequestPrincipals?: string[];
  ipBlocks?: string[];
  notIpBlocks?: string[];
  remoteIpBlocks?: string[];
  notRemoteIpBlocks?: string[];
  /** `<sa>` (the policy's namespace) or `<namespace>/<sa>`. */
  serviceAccounts?: string[];
  notServiceAccounts?: string[];
  trustDomains?: string[];
  notTrustDomains?: string[];
}

export interface AuthorizationOperation {
  hosts?: string[];
  notHosts?: string[];
  ports?: string[];
  notPorts?: string[];
  methods?: string[];
  notMethods?: string[];
  paths?: string[];
  notPaths?: string[];
}

export interface AuthorizationCondition {
  key: string;
  values?: string[];
  notValues?: string[];
}

export interface AuthorizationRule {
  from?: Array<{ source?: AuthorizationSource }>;
  to?: Array<{ operation?: AuthorizationOperation }>;
  when?: AuthorizationCondition[];
}

/** A Gateway API policy attachment (gateway.networking.k8s.io PolicyTargetReference). */
export interface PolicyTargetReference {
  group?: string;
  kind?: string;
  name?: string;
  namespace?: string;
}

export interface AuthorizationPolicySpec {
  selector?: WorkloadSelector;
  targetRef?: PolicyTargetReference;
  targetRefs?: PolicyTargetReference[];
  action?: 'ALLOW' | 'DENY' | 'AUDIT' | 'CUSTOM';
  provider?: { name?: string };
  rules?: AuthorizationRule[];
}
export type AuthorizationPolicy = K8sObject<AuthorizationPolicySpec>;

export type MutualTlsMode = 'UNSET' | 'DISABLE' | 'PERMISSIVE' | 'STRICT';
export interface PeerAuthenticationSpec {
  selector?: WorkloadSelector;
  mtls?: { mode?: MutualTlsMode };
  portLevelMtls?: Record<string, { mode?: MutualTlsMode }>;
}
export type PeerAuthentication = K8sObject<PeerAuthenticationSpec>;

/** The Istio objects in force at one moment. Replaced as a whole on every config change. */
export interface IstioConfig {
  gateways: LoadedObject<Gateway>[];
  virtualServices: LoadedObject<VirtualService>[];
  destinationRules: LoadedObject<DestinationRule>[];
  /** security.istio.io; optional so that routing-only fixtures need not list them. */
  authorizationPolicies?: LoadedObject<AuthorizationPolicy>[];
  peerAuthentications?: LoadedObject<PeerAuthentication>[];
}
