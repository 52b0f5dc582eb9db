/** The Gateway API front end of the local mesh (README.md): kinds, CRD defaults and validation, translation. */
import { CANONICAL_NAME_LABEL, CANONICAL_REVISION_LABEL } from '../istio';
import type { IstioConfig, LoadedObject, Service, Workload } from '../model';
import { generatedGatewayName, ISTIO_GATEWAY_CLASS, translateGatewayApi, type Translation } from './translate';
import { GATEWAY_API_GROUP, isGatewayApiObject, type KubeGateway } from './kinds';

export * from './kinds';
export { GATEWAY_CEL_ERROR, GATEWAY_SCHEMA_ERROR, validateGatewayApiObject, withDefaults } from './schema';
export { generatedGatewayName, intersectHostnames, sortHTTPRoutes, translateGatewayApi, type Translation } from './translate';

/**
 * The workload Istio deploys for a Gateway API Gateway of class `istio` (istio-discovery's kube-gateway.yaml
 * template): Deployment and ServiceAccount `<gateway>-istio` in the Gateway's namespace, canonical service
 * `<gateway>-istio`, canonical revision `latest`.
 */
export function gatewayApiWorkload(gatewayName: string, namespace: string): Workload {
  const name = `${gatewayName}-istio`;
  return Object.freeze({
    name,
    namespace,
    labels: Object.freeze({
      'gateway.networking.k8s.io/gateway-name': gatewayName,
      'gateway.istio.io/managed': 'istio.io-gateway-controller',
      [CANONICAL_NAME_LABEL]: name,
      [CANONICAL_REVISION_LABEL]: 'latest',
    }) as Record<string, string>,
    app: name,
    version: 'latest',
    serviceAccount: name,
    replicas: 1,
  });
}

/** The first Gateway of class `istio` among the objects, or undefined (then the mesh's gateway is istio-ingressgateway). */
export function istioClassGateway(objects: readonly LoadedObject[]): KubeGateway | undefined {
  return objects
    .map((o) => o.object as KubeGateway)
    .find((o) => o.apiVersion.startsWith(`${GATEWAY_API_GROUP}/`) && o.kind === 'Gateway' && o.spec?.gatewayClassName === ISTIO_GATEWAY_CLASS);
}

/**
 * The Istio config with the Gateway API objects among `objects` translated and appended; also the status. Where a
 * VirtualService and an HTTPRoute route one Service for the sidecars, each sidecar keeps one of them
 * (config/virtual-hosts.ts, istio/config-order.ts virtualServiceOrder).
 */
export function withGatewayApi(
  istio: IstioConfig,
  objects: readonly LoadedObject[],
  services: readonly LoadedObject<Service>[],
  namespace: string,
): IstioConfig & { gatewayApi?: Translation } {
  if (!objects.some((o) => isGatewayApiObject(o.object))) return istio;
  const gatewayApi = translateGatewayApi(objects, services, namespace);
  return {
    ...istio,
    gateways: [...istio.gateways, ...gatewayApi.gateways],
    virtualServices: [...istio.virtualServices, ...gatewayApi.virtualServices],
    gatewayApi,
  };
}

export { generatedGatewayName as istioGatewayNameFor };
