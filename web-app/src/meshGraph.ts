/**
 * The local mesh serves its graph page on its admin port, which a page served through a cluster ingress cannot
 * know. So the link is shown only when the page runs on this machine (localhost) AND the graph page answers.
 * The URL can be changed at build time with VITE_MESH_GRAPH_URL.
 */
export const MESH_GRAPH_URL: string = import.meta.env.VITE_MESH_GRAPH_URL || 'http://localhost:15000/graph';

/** The mesh's trace page for one trace (same admin port as the graph). */
export function meshTraceUrl(traceId: string): string {
  return `${MESH_GRAPH_URL.replace(/\/graph$/, '')}/traces?trace=${encodeURIComponent(traceId)}`;
}

const LOCAL_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]']);

/**
 * True when the mesh graph page is reachable. A `no-cors` fetch resolves with an opaque response whenever the
 * server answers at all (no CORS headers needed) and rejects when nothing listens there.
 */
export async function probeMeshGraph(
  pageHostname: string,
  fetchImpl: typeof fetch = (...args) => fetch(...args),
  timeoutMs = 1500,
): Promise<boolean> {
  if (!LOCAL_HOSTS.has(pageHostname)) return false;
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), timeoutMs);
  try {
    await fetchImpl(MESH_GRAPH_URL, { mode: 'no-cors', cache: 'no-store', signal: controller.signal });
    return true;
  } catch {
    return false;
  } finally {
    clearTimeout(timer);
  }
}
