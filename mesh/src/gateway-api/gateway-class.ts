/**
 * The GatewayClass istiod creates (istio/istio 1.22.8 `pilot/pkg/config/kube/gateway/gatewayclass.go`
 * `ClassController.reconcileClass`, from `deploymentcontroller.go` `getBuiltinClasses`/`getClassInfos`) and the
 * status it writes on it (`gatewayclass.go` `GetClassStatus`, called from `conversion.go` `getGatewayClasses`).
 * With the default flags only `istio` exists: `istio-remote` needs PILOT_MULTI_NETWORK_DISCOVER_GATEWAY_API and
 * `istio-waypoint` PILOT_ENABLE_AMBIENT, both off outside ambient/multi-network installs.
 */
import type { K8sObject } from '../model';
import { GATEWAY_API_GROUP, ISTIO_CONTROLLER } from './kinds';
import { ISTIO_GATEWAY_CLASS } from './translate';

export interface GatewayClassObject extends K8sObject<{ controllerName: string; description?: string }> {
  metadata: K8sObject['metadata'] & { generation: number; creationTimestamp: string };
  status: { conditions: Array<Record<string, unknown>> };
}

/** GatewayClass `istio` as a cluster with Istio 1.22.8 serves it: created by istiod at `createdAt`, Accepted. */
export function istioGatewayClass(createdAt: string): GatewayClassObject {
  return {
    apiVersion: `${GATEWAY_API_GROUP}/v1`,
    kind: 'GatewayClass',
    metadata: { name: ISTIO_GATEWAY_CLASS, generation: 1, creationTimestamp: createdAt },
    spec: { controllerName: ISTIO_CONTROLLER, description: 'The default Istio GatewayClass' },
    status: {
      conditions: [
        {
          type: 'Accepted',
          status: 'True',
          observedGeneration: 1,
          lastTransitionTime: createdAt,
          reason: 'Accepted',
          message: 'Handled by Istio controller',
        },
      ],
    },
  };
}
