/** `check`: the target's prerequisites, one ✓/✗ line each, for the routing mode in use (routing.ts). */
import { GATEWAY_API_GROUP, servedApiVersion } from '@cns/mesh/gateway-api';
import type { Output } from '../io';
import { describeTarget, KubeClient } from '../kube';
import { rolloutDone, rolloutState } from '../rollout';
import {
  conditionMet,
  describeCondition,
  gatewayWorkload,
  INGRESS_GATEWAY,
  ISTIO_GATEWAY_CLASS,
  mixedStateMessage,
  npmRun,
  programmedHint,
  type RoutingState,
  type WithConditions,
} from '../routing';
import { VIRTUAL_SERVICE_API_VERSION } from '../traffic';
import { HTTPROUTE_API_VERSION } from '../traffic-httproute';
import { INGRESS_GATEWAY_SERVICE, isMinikube, ISTIO_NAMESPACE } from '../urls';
import { meshServicesMessage, missingMeshServices, workloadStates } from './deploy';
import { NETWORKING_GROUP, requireIstio, requireGatewayApi, routingState } from './shared';

interface Report {
  ok(text: string): void;
  fail(text: string): void;
  note(text: string): void;
}

function reporter(io: Output): Report & { failures: () => number } {
  let failures = 0;
  return {
    ok: (text) => io.out(`✓ ${text}`),
    fail: (text) => {
      failures += 1;
      io.out(`✗ ${text}`);
    },
    note: (text) => io.out(`- ${text}`),
    failures: () => failures,
  };
}

export async function checkCommand(client: KubeClient, io: Output, options: { gatewayApi?: boolean } = {}): Promise<number> {
  const target = client.target;
  // The first call tells whether the target is reachable at all: if not, one line and exit 1 (thrown).
  const version = await client.version();
  const report = reporter(io);
  report.ok(`${describeTarget(target)} answers (Kubernetes API ${version})`);

  const groups = await client.apiGroups();
  let istio = false;
  try {
    await requireIstio(client);
    istio = true;
    report.ok(`Istio API ${NETWORKING_GROUP}/v1 is served`);
  } catch (err) {
    report.fail((err as Error).message);
  }
  const routing = await routingState(client, options.gatewayApi === true, groups);
  report.note(`routing: ${routing.mode === 'gateway-api' ? 'Kubernetes Gateway API' : 'Istio API'} (${routing.reason})`);
  if (routing.mixed) report.fail(mixedStateMessage(target));
  const gatewayApi = routing.mode === 'gateway-api' && (await checkGatewayApi(client, routing, report));

  if (target.kind === 'mesh') {
    if (istio) {
      const kinds = ['Gateway', 'VirtualService', 'DestinationRule'] as const;
      await countObjects(
        client,
        kinds.map((kind) => [VIRTUAL_SERVICE_API_VERSION, kind]),
        'Istio',
        report,
      );
    }
    if (gatewayApi) {
      // Each kind through a version the pinned CRDs serve: ReferenceGrant is v1beta1 only in Gateway API v1.1.0.
      const kinds = ['Gateway', 'HTTPRoute', 'ReferenceGrant'] as const;
      await countObjects(
        client,
        kinds.map((kind) => [servedApiVersion(kind), kind]),
        'Gateway API',
        report,
      );
      const missing = await missingMeshServices(client);
      if (missing.length > 0) report.fail(meshServicesMessage(missing));
      await checkGateway(client, routing, report);
    }
    const names = (await client.listDeployments()).map((d) => d.metadata?.name ?? '?');
    const states = await workloadStates(client, names);
    const pending = [...states.values()].filter((st) => !st.ready);
    if (pending.length === 0) report.ok(`workloads ready: ${names.join(', ')}`);
    else report.fail(`workloads not ready: ${pending.map((st) => st.state).join('; ')}`);
    report.note('Minikube: not used (local mesh)');
    return report.failures() === 0 ? 0 : 1;
  }

  const namespace = await client.readNamespace('default');
  const labels = namespace?.metadata?.labels ?? {};
  if (labels['istio-injection'] === 'enabled' || labels['istio.io/rev']) {
    report.ok('namespace default is labelled for sidecar injection');
  } else {
    report.fail('namespace default is not labelled for sidecar injection: kubectl label namespace default istio-injection=enabled');
  }
  if (routing.mode === 'istio') await checkIngressGateway(client, report);
  else if (gatewayApi) await checkGateway(client, routing, report);

  const nodes = await client.listNodes().catch(() => []);
  report.note(`Minikube: ${isMinikube(target.contextName, nodes) ? 'detected' : 'not detected'}`);
  return report.failures() === 0 ? 0 : 1;
}

/** `✓ Istio objects in namespace default: 1 Gateway, 1 VirtualService, 5 DestinationRules` (the local mesh). */
async function countObjects(client: KubeClient, kinds: ReadonlyArray<readonly [string, string]>, what: string, report: Report): Promise<void> {
  const counts = await Promise.all(
    kinds.map(async ([apiVersion, kind]) => {
      const n = (await client.listIstio(apiVersion, kind)).length;
      return `${n} ${kind}${n === 1 ? '' : 's'}`;
    }),
  );
  report.ok(`${what} objects in namespace default: ${counts.join(', ')}`);
}

/** The Istio mode's gateway: the shared `istio-system/istio-ingressgateway` of the demo profile. */
async function checkIngressGateway(client: KubeClient, report: Report): Promise<void> {
  const gateway = await client.readDeployment(INGRESS_GATEWAY_SERVICE, ISTIO_NAMESPACE);
  if (!gateway) {
    report.fail(
      `the Istio ingress gateway is not installed (no Deployment ${ISTIO_NAMESPACE}/${INGRESS_GATEWAY_SERVICE}): install Istio with the demo profile`,
    );
  } else if (rolloutDone(gateway)) {
    report.ok(`the Istio ingress gateway is running (${ISTIO_NAMESPACE}/${INGRESS_GATEWAY_SERVICE})`);
  } else {
    report.fail(`the Istio ingress gateway is not ready: ${rolloutState(gateway)}`);
  }
}

/** The Gateway API CRDs and, on a cluster, Istio's GatewayClass; false when the CRDs are missing (nothing else to check). */
async function checkGatewayApi(client: KubeClient, routing: RoutingState, report: Report): Promise<boolean> {
  try {
    requireGatewayApi(routing, client.target);
  } catch (err) {
    report.fail((err as Error).message);
    return false;
  }
  report.ok(`Gateway API ${GATEWAY_API_GROUP}/v1 is served`);
  // The local mesh serves the GatewayClass its controller made, as istiod makes it on a cluster.
  const gatewayClass = (await client.readGatewayClass(ISTIO_GATEWAY_CLASS)) as (WithConditions & { spec?: { controllerName?: string } }) | undefined;
  if (!gatewayClass) {
    report.fail(
      `GatewayClass ${ISTIO_GATEWAY_CLASS} not found: Istio creates it once the Gateway API CRDs are installed (is istiod running? kubectl -n istio-system get deployment istiod)`,
    );
  } else if (conditionMet(gatewayClass, 'Accepted')) {
    report.ok(`GatewayClass ${ISTIO_GATEWAY_CLASS} is Accepted (controller ${gatewayClass.spec?.controllerName ?? '?'})`);
  } else {
    report.fail(`GatewayClass ${ISTIO_GATEWAY_CLASS} is not Accepted: ${describeCondition(gatewayClass, 'Accepted')}`);
  }
  return true;
}

/** Once deployed: Gateway `web-gateway` Programmed and, on a cluster, the Deployment Istio made for it rolled out. */
async function checkGateway(client: KubeClient, routing: RoutingState, report: Report): Promise<void> {
  const name = routing.httpRoute?.spec?.parentRefs?.[0]?.name ?? INGRESS_GATEWAY;
  const gateway = (await client.getIstio(HTTPROUTE_API_VERSION, 'Gateway', name)) as WithConditions | undefined;
  if (!gateway) {
    report.note(`Gateway ${name}: not deployed yet (\`${npmRun(client.target, 'deploy', '--gateway-api')}\`)`);
    return;
  }
  if (conditionMet(gateway, 'Programmed')) report.ok(`Gateway ${name} is Programmed`);
  else {
    const hint = programmedHint(gateway, name);
    report.fail(`Gateway ${name} is not Programmed: ${describeCondition(gateway, 'Programmed')}${hint ? `; ${hint}` : ''}`);
  }
  if (client.target.kind === 'mesh') return; // the mesh runs the gateway itself
  const workload = gatewayWorkload(name);
  const deployment = await client.readDeployment(workload);
  if (!deployment) {
    report.fail(`no Deployment default/${workload}: Istio has not deployed the gateway of Gateway ${name} (kubectl describe gateway ${name})`);
  } else if (rolloutDone(deployment)) {
    report.ok(`the gateway Deployment default/${workload} is rolled out`);
  } else {
    report.fail(`the gateway default/${workload} is not ready: ${rolloutState(deployment)}`);
  }
}
