/**
 * The local mesh: runs k8s/ + istio/ locally with Istio routing semantics.
 * `startMesh` is the programmatic entry used by the CLI, the whole-stack tests, the reliability suite and the
 * browser tests.
 */
export * from './model';
export { startMesh, MeshStartError, type MeshHandle, type MeshOptions } from './runtime/mesh';
export { ConfigRejectedError, formatFinding } from './runtime/config-store';
export { type EndpointStatus } from './runtime/supervisor';
export type { Graph, GraphEdge, GraphNode, VersionShare } from './telemetry';
export { workloadCommands, type WorkloadCommand } from './runtime/workload-commands';
export { seededRandom } from './dataplane/random';
