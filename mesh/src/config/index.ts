/**
 * The config layer: objects → merged model (model.ts) → route tables (a builder per front end) → the route model
 * the data plane consumes (route-model.ts). See README.md.
 */
import type { IstioConfig } from '../model';
import type { Authorizer } from './authorizer';
import { buildIstioRouteTables } from './istio-builder';
import { buildKubernetesRouteTables } from './kubernetes-builder';
import { buildMeshModel } from './model';
import type { CompiledMeshConfig, MeshState } from './route-model';

export * from './route-model';
export * from './authorizer';
export { compileConsistentHash, type HashPolicy } from './hash-policy';
export { parseRetryOn } from './http-route';
export { VirtualHostTable, type VirtualHostEntry } from './virtual-hosts';
export { compileMatchBlock, compileStringMatch, headerValue, type CompiledMatchBlock, type RequestView, type StringPredicate } from './match';

/** Compiles the AuthorizationPolicies and PeerAuthentications (the data plane's RBAC, dataplane/authorization.ts). */
export type AuthorizationCompiler = (istio: IstioConfig, namespace: string) => Authorizer;

/** The route model of `state`: the merged model, then the builder for `state.mode`. */
export function buildRouteModel(state: MeshState, compileAuthorization: AuthorizationCompiler): CompiledMeshConfig {
  const model = buildMeshModel(state);
  return state.mode === 'kubernetes' ? buildKubernetesRouteTables(model) : buildIstioRouteTables(model, compileAuthorization(state.istio, model.namespace));
}
