/** The local mesh's data plane: Istio routing semantics (what Envoy does) for the gateway and every sidecar. */
export { compileMeshConfig, type CompiledMeshConfig, type MeshState } from './config';
export { createDataPlane, LOCAL_REPLY, type DataPlane, type DataPlaneOptions, type EndpointSource } from './dataplane';
export { parseDuration } from '../istio';
export { seededRandom } from './random';
