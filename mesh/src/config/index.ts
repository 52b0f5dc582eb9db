/**
 * The config layer: objects → merged model (model.ts) → route tables (a builder per front end) → the route model
 * the data plane consumes (route-model.ts). See README.md.
 */
import { buildIstioRouteTables } from './istio-builder';
import { buildKubernetesRouteTables } from './kubernetes-builder';
import { buildMeshModel } from './model';
import type { CompiledMeshConfig, MeshState } from './route-model';

export * from './route-model';
export { parseRetryOn } from './http-route';
export { VirtualHostTable, type VirtualHostEntry } from './virtual-hosts';
export { compileMatchBlock, compileStringMatch, headerValue, type CompiledMatchBlock, type RequestView, type StringPredicate } from './match';

export function compileMeshConfig(state: MeshState): CompiledMeshConfig {
  const model = buildMeshModel(state);
  return state.mode === 'kubernetes' ? buildKubernetesRouteTables(model) : buildIstioRouteTables(state, model);
}
