/** `check`: the target's prerequisites, one ✓/✗ line each. */
import type { Output } from '../io';
import { describeTarget, KubeClient } from '../kube';
import { rolloutDone, rolloutState } from '../rollout';
import { VIRTUAL_SERVICE_API_VERSION } from '../traffic';
import { INGRESS_GATEWAY_SERVICE, isMinikube, ISTIO_NAMESPACE } from '../urls';
import { NETWORKING_GROUP, requireIstio } from './shared';
import { workloadStates } from './deploy';

export async function checkCommand(client: KubeClient, io: Output): Promise<number> {
  const target = client.target;
  // The first call tells whether the target is reachable at all: if not, one line and exit 1 (thrown).
  const version = await client.version();
  let failures = 0;
  const ok = (text: string): void => io.out(`✓ ${text}`);
  const fail = (text: string): void => {
    failures += 1;
    io.out(`✗ ${text}`);
  };
  ok(`${describeTarget(target)} answers (Kubernetes API ${version})`);

  let istio = false;
  try {
    await requireIstio(client);
    istio = true;
    ok(`Istio API ${NETWORKING_GROUP}/v1 is served`);
  } catch (err) {
    fail((err as Error).message);
  }

  if (target.kind === 'mesh') {
    if (istio) {
      const counts = await Promise.all(
        ['Gateway', 'VirtualService', 'DestinationRule'].map(async (kind) => {
          const n = (await client.listIstio(VIRTUAL_SERVICE_API_VERSION, kind)).length;
          return `${n} ${kind}${n === 1 ? '' : 's'}`;
        }),
      );
      ok(`Istio objects in namespace default: ${counts.join(', ')}`);
    }
    const names = (await client.listDeployments()).map((d) => d.metadata?.name ?? '?');
    const states = await workloadStates(client, names);
    const pending = [...states.values()].filter((st) => !st.ready);
    if (pending.length === 0) ok(`workloads ready: ${names.join(', ')}`);
    else fail(`workloads not ready: ${pending.map((st) => st.state).join('; ')}`);
    io.out('- Minikube: not used (local mesh)');
    return failures === 0 ? 0 : 1;
  }

  const namespace = await client.readNamespace('default');
  const labels = namespace?.metadata?.labels ?? {};
  if (labels['istio-injection'] === 'enabled' || labels['istio.io/rev']) {
    ok('namespace default is labelled for sidecar injection');
  } else {
    fail('namespace default is not labelled for sidecar injection: kubectl label namespace default istio-injection=enabled');
  }

  const gateway = await client.readDeployment(INGRESS_GATEWAY_SERVICE, ISTIO_NAMESPACE);
  if (!gateway) {
    fail(`the Istio ingress gateway is not installed (no Deployment ${ISTIO_NAMESPACE}/${INGRESS_GATEWAY_SERVICE}): install Istio with the demo profile`);
  } else if (rolloutDone(gateway)) {
    ok(`the Istio ingress gateway is running (${ISTIO_NAMESPACE}/${INGRESS_GATEWAY_SERVICE})`);
  } else {
    fail(`the Istio ingress gateway is not ready: ${rolloutState(gateway)}`);
  }

  const nodes = await client.listNodes().catch(() => []);
  io.out(`- Minikube: ${isMinikube(target.contextName, nodes) ? 'detected' : 'not detected'}`);
  return failures === 0 ? 0 : 1;
}
