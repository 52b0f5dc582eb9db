/** Telemetry beside the data plane: metrics, the graph's window and graph, the trace store and OTLP export. */
export { MeshTelemetry, type MtlsModeOf } from './mesh-telemetry';
export {
  buildGraph,
  serviceBadges,
  shortServiceName,
  type Graph,
  type GraphBadge,
  type GraphEdge,
  type GraphInputs,
  type GraphNode,
  type VersionShare,
} from './graph';
export { histogramQuantile, ISTIO_DEFAULT_BUCKETS } from './histogram';
export { canonicalRevision, canonicalService, principalOf } from './labels';
export type { EdgeTrafficWindow, TcpEdgeWindow } from './traffic';
export { MAX_GRAPH_WINDOW_MS } from './window';
export { handleJaegerApi } from './jaeger-api';
export { TraceStore } from './trace-store';
export { OtlpSpanExport, otlpTracesUrl } from './otlp-export';
