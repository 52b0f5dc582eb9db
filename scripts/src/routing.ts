/**
 * The two ways the app can be routed (gateway-api/README.md): the Istio API (`istio/base`, VirtualService
 * `web-ingress`) or the Kubernetes Gateway API (`gateway-api/base`, HTTPRoute `web-ingress`), never both for one
 * host. Which one a command works in is decided here, once for every command. Pure functions, no I/O.
 */
import type { HTTPRoute } from '@cns/mesh/gateway-api';
import type { VirtualService } from '@cns/mesh/model';
import type { Target } from './kube';

export type RoutingMode = 'istio' | 'gateway-api';

/** The Gateway API version Istio 1.22 is built against (gateway-api/README.md, "Versions (pinned)"). */
export const GATEWAY_API_VERSION = 'v1.1.0';
export const GATEWAY_API_INSTALL = `kubectl apply -f https://github.com/kubernetes-sigs/gateway-api/releases/download/${GATEWAY_API_VERSION}/standard-install.yaml`;
/** The GatewayClass Istio creates for its gateway controller. */
export const ISTIO_GATEWAY_CLASS = 'istio';
/** The Gateway of gateway-api/base/gateway.yaml. */
export const INGRESS_GATEWAY = 'web-gateway';

/**
 * The Deployment and Service Istio creates for a Gateway: `<name>-<gatewayClassName>`, e.g. `web-gateway-istio`
 * (istio/istio pilot/pkg/config/kube/gateway, getDefaultName).
 */
export function gatewayWorkload(gatewayName: string, gatewayClass = ISTIO_GATEWAY_CLASS): string {
  return `${gatewayName}-${gatewayClass}`;
}

export interface RoutingState {
  mode: RoutingMode;
  /** Why this mode, for people: `--gateway-api`, `detected: ...`. */
  reason: string;
  /** `gateway.networking.k8s.io/v1` is served by the target. */
  gatewayApiServed: boolean;
  virtualService?: VirtualService;
  httpRoute?: HTTPRoute;
  /** Both a VirtualService and an HTTPRoute `web-ingress` are deployed. */
  mixed: boolean;
}

/**
 * Gateway API mode when asked for (`--gateway-api`) or when an HTTPRoute `web-ingress` is deployed and no
 * VirtualService `web-ingress` is; otherwise the Istio API (also when nothing is deployed yet).
 */
export function decideRouting(input: { flag: boolean; gatewayApiServed: boolean; virtualService?: VirtualService; httpRoute?: HTTPRoute }): RoutingState {
  const { flag, virtualService, httpRoute } = input;
  const state = { gatewayApiServed: input.gatewayApiServed, virtualService, httpRoute, mixed: Boolean(virtualService && httpRoute) };
  if (flag) return { ...state, mode: 'gateway-api', reason: '--gateway-api' };
  if (httpRoute && !virtualService) return { ...state, mode: 'gateway-api', reason: 'detected: HTTPRoute web-ingress, no VirtualService web-ingress' };
  if (virtualService) return { ...state, mode: 'istio', reason: `detected: VirtualService web-ingress${httpRoute ? ' (and an HTTPRoute web-ingress)' : ''}` };
  return { ...state, mode: 'istio', reason: 'nothing deployed yet; --gateway-api for the Gateway API' };
}

/** `npm run undeploy -- --cluster`: a command line for this target, as a person types it. */
export function npmRun(target: Target, command: string, ...args: string[]): string {
  const all = [...args, ...(target.kind === 'cluster' ? ['--cluster'] : [])];
  return `npm run ${command}${all.length ? ` -- ${all.join(' ')}` : ''}`;
}

/** What check and deploy say about a mixed state, with the way out. */
export function mixedStateMessage(target: Target): string {
  return (
    'both a VirtualService web-ingress (istio/base) and an HTTPRoute web-ingress (gateway-api/) are deployed: they route the same ' +
    `hosts on port 80 (never both for one host); run \`${npmRun(target, 'undeploy')}\` (deletes both), then deploy one of them`
  );
}

/**
 * Why deploy must not start: the other way of routing `web-ingress` is deployed (or both are), with what to run
 * instead; undefined when deploying is fine.
 */
export function deployConflict(routing: RoutingState, target: Target): string | undefined {
  if (routing.mixed) return mixedStateMessage(target);
  // An HTTPRoute alone means Gateway API mode (decideRouting), so only --gateway-api over istio/base conflicts.
  if (routing.mode === 'gateway-api' && routing.virtualService) {
    return (
      'VirtualService web-ingress (istio/base) is deployed and the HTTPRoute web-ingress would route the same hosts (never both for one ' +
      `host): run \`${npmRun(target, 'undeploy')}\` first, then \`${npmRun(target, 'deploy', '--gateway-api')}\``
    );
  }
  return undefined;
}

export interface Condition {
  type: string;
  status: string;
  reason?: string;
  message?: string;
  observedGeneration?: number;
}

export interface WithConditions {
  metadata?: { generation?: number };
  status?: { observedGeneration?: number; conditions?: Condition[] };
}

/**
 * `kubectl wait --for=condition=TYPE`: the first condition of that type (case-insensitive) is True and, when the
 * object has a generation, the condition's observedGeneration (else the status's) is not older (kubernetes/kubectl
 * pkg/cmd/wait/wait.go, ConditionalWait.checkCondition and getObservedGeneration).
 */
export function conditionMet(object: WithConditions, type: string): boolean {
  const condition = object.status?.conditions?.find((c) => c.type.toLowerCase() === type.toLowerCase());
  if (!condition) return false;
  const generation = object.metadata?.generation;
  const observed = condition.observedGeneration ?? object.status?.observedGeneration;
  if (generation !== undefined && observed !== undefined && observed < generation) return false;
  return condition.status.toLowerCase() === 'true';
}

/** `Programmed False (AddressNotAssigned: ...)`, or `no Programmed condition yet`, for messages. */
export function describeCondition(object: WithConditions, type: string): string {
  const condition = object.status?.conditions?.find((c) => c.type.toLowerCase() === type.toLowerCase());
  if (!condition) return `no ${type} condition yet`;
  const stale = (condition.observedGeneration ?? Infinity) < (object.metadata?.generation ?? 0) ? ', for an older generation' : '';
  const why = [condition.reason, condition.message].filter(Boolean).join(': ');
  return `${type} ${condition.status}${why ? ` (${why})` : ''}${stale}`;
}

/**
 * What to do when a Gateway is not Programmed because its address is pending: Istio gives the gateway a LoadBalancer
 * Service, and until that Service has an address istiod writes `Programmed False / AddressNotAssigned` ("address
 * pending for hostname ..."; istio/istio pilot/pkg/config/kube/gateway conversion.go, reportGatewayStatus). Minikube
 * assigns LoadBalancer addresses only while `minikube tunnel` runs.
 */
export function programmedHint(object: WithConditions, gatewayName: string): string | undefined {
  const condition = object.status?.conditions?.find((c) => c.type.toLowerCase() === 'programmed');
  if (condition?.status.toLowerCase() !== 'false' || condition.reason !== 'AddressNotAssigned') return undefined;
  return (
    `the LoadBalancer Service ${gatewayWorkload(gatewayName)} has no address yet: on Minikube run \`minikube tunnel\` in another terminal ` +
    `(elsewhere: a LoadBalancer implementation such as MetalLB, or annotate the Gateway networking.istio.io/service-type=NodePort)`
  );
}
