/**
 * The route model and its builders live in ../config/ (re-exported here for the data plane's importers);
 * compileMeshConfig wires the data plane's AuthorizationPolicy compiler into it.
 */
import { buildRouteModel, type CompiledMeshConfig, type MeshState } from '../config';
import { compileAuthorization } from './authorization';

export * from '../config';

export function compileMeshConfig(state: MeshState): CompiledMeshConfig {
  return buildRouteModel(state, (istio, namespace) => compileAuthorization(istio.authorizationPolicies ?? [], istio.peerAuthentications ?? [], namespace));
}
