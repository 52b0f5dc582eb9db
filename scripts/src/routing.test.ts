import type { HTTPRoute } from '@cns/mesh/gateway-api';
import type { VirtualService } from '@cns/mesh/model';
import type { Target } from './kube';
import { conditionMet, decideRouting, deployConflict, describeCondition, gatewayWorkload } from './routing';

const vs = { apiVersion: 'networking.istio.io/v1', kind: 'VirtualService', metadata: { name: 'web-ingress' } } as VirtualService;
const route = { apiVersion: 'gateway.networking.k8s.io/v1', kind: 'HTTPRoute', metadata: { name: 'web-ingress' } } as HTTPRoute;
const cluster = { kind: 'cluster', server: 'https://192.168.49.2:8443', contextName: 'minikube' } as Target;
const mesh = { kind: 'mesh', server: 'http://127.0.0.1:15000', contextName: 'local-mesh' } as Target;

describe('decideRouting: --gateway-api, or detected from what is deployed', () => {
  it.each([
    ['nothing deployed', false, {}, 'istio', false],
    ['nothing deployed, --gateway-api', true, {}, 'gateway-api', false],
    ['VirtualService web-ingress only', false, { virtualService: vs }, 'istio', false],
    ['HTTPRoute web-ingress only', false, { httpRoute: route }, 'gateway-api', false],
    ['both (mixed): the VirtualService wins unless --gateway-api', false, { virtualService: vs, httpRoute: route }, 'istio', true],
    ['both, --gateway-api', true, { virtualService: vs, httpRoute: route }, 'gateway-api', true],
  ] as const)('%s', (_, flag, deployed, mode, mixed) => {
    const state = decideRouting({ flag, gatewayApiServed: true, ...deployed });
    expect([state.mode, state.mixed]).toEqual([mode, mixed]);
  });

  it('says why', () => {
    expect(decideRouting({ flag: false, gatewayApiServed: true, httpRoute: route }).reason).toBe(
      'detected: HTTPRoute web-ingress, no VirtualService web-ingress',
    );
    expect(decideRouting({ flag: true, gatewayApiServed: false }).reason).toBe('--gateway-api');
  });
});

describe('deployConflict: never both for one host', () => {
  it('refuses --gateway-api over istio/base, naming the commands for this target', () => {
    const routing = decideRouting({ flag: true, gatewayApiServed: true, virtualService: vs });
    expect(deployConflict(routing, cluster)).toBe(
      'VirtualService web-ingress (istio/base) is deployed and the HTTPRoute web-ingress would route the same hosts (never both for one host): ' +
        'run `npm run undeploy -- --cluster` first, then `npm run deploy -- --gateway-api --cluster`',
    );
    expect(deployConflict(routing, mesh)).toMatch(/run `npm run undeploy` first, then `npm run deploy -- --gateway-api`$/);
  });

  it('refuses any deploy in a mixed state', () => {
    expect(deployConflict(decideRouting({ flag: false, gatewayApiServed: true, virtualService: vs, httpRoute: route }), cluster)).toMatch(
      /^both a VirtualService web-ingress \(istio\/base\) and an HTTPRoute web-ingress \(gateway-api\/\) are deployed: .* run `npm run undeploy -- --cluster` \(deletes both\)/,
    );
  });

  it('lets a mode be deployed again over itself', () => {
    expect(deployConflict(decideRouting({ flag: false, gatewayApiServed: true, httpRoute: route }), cluster)).toBeUndefined();
    expect(deployConflict(decideRouting({ flag: true, gatewayApiServed: true, httpRoute: route }), cluster)).toBeUndefined();
    expect(deployConflict(decideRouting({ flag: false, gatewayApiServed: true, virtualService: vs }), cluster)).toBeUndefined();
  });
});

describe('conditionMet: as kubectl wait --for=condition=Programmed', () => {
  const gateway = (status: string, observedGeneration?: number, generation = 2) => ({
    metadata: { generation },
    status: {
      conditions: [
        { type: 'Accepted', status: 'True' },
        { type: 'Programmed', status, reason: 'Pending', observedGeneration },
      ],
    },
  });

  it('True for the current generation', () => {
    expect(conditionMet(gateway('True', 2), 'Programmed')).toBe(true);
    expect(conditionMet(gateway('True', 2), 'programmed')).toBe(true); // kubectl compares case-insensitively
  });

  it('not met when False, missing, or reported for an older generation', () => {
    expect(conditionMet(gateway('False', 2), 'Programmed')).toBe(false);
    expect(conditionMet(gateway('True', 1), 'Programmed')).toBe(false);
    expect(conditionMet({ metadata: { generation: 1 }, status: {} }, 'Programmed')).toBe(false);
    expect(describeCondition(gateway('True', 1), 'Programmed')).toBe('Programmed True (Pending), for an older generation');
    expect(describeCondition({}, 'Programmed')).toBe('no Programmed condition yet');
  });

  it('falls back to status.observedGeneration when the condition has none', () => {
    expect(conditionMet({ metadata: { generation: 3 }, status: { observedGeneration: 2, conditions: [{ type: 'Ready', status: 'True' }] } }, 'Ready')).toBe(
      false,
    );
    expect(conditionMet({ metadata: { generation: 3 }, status: { observedGeneration: 3, conditions: [{ type: 'Ready', status: 'True' }] } }, 'Ready')).toBe(
      true,
    );
  });
});

it('the gateway workload Istio deploys for a Gateway: <name>-<class>', () => {
  expect(gatewayWorkload('web-gateway')).toBe('web-gateway-istio');
});
