/**
 * The local mesh: runs k8s/ + istio/ locally with Istio routing semantics.
 * `startMesh` is the programmatic entry used by the CLI, the whole-stack tests, the reliability suite and the
 * browser tests. Only what a mesh user needs is exported here: starting it, the objects and errors it takes and
 * gives back, its graph's shape, and the seeded randomness for reproducible runs. Tests that need a local Postgres
 * or a free port get them from `@cns/test-support`; the manifests tooling is `@cns/mesh/manifests`.
 */
export * from './model';
export { startMesh, MeshStartError, type MeshHandle, type MeshOptions } from './runtime/mesh';
export { ConfigRejectedError, formatFinding } from './runtime/config-store';
export { type EndpointStatus } from './runtime/supervisor';
export type { Graph, GraphEdge, GraphNode, VersionShare } from './telemetry';
export { seededRandom } from './dataplane/random';
