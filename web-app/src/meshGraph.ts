/**
 * The local mesh serves its graph and trace pages on its admin port, which the app cannot know in advance: the
 * server that serves the app says it at /mesh-admin.json (web-app/nginx.conf answers `null` in the image; when the
 * local mesh runs the app, it passes its admin URL as MESH_ADMIN_URL and web-app/local writes it there). The links
 * are shown only when the page itself runs on this machine (localhost), where that URL leads. Under `vite dev`,
 * which serves no such answer, VITE_MESH_ADMIN_URL gives it.
 */
export const MESH_ADMIN_CONFIG_PATH = '/mesh-admin.json';

export interface MeshLinks {
  graph: string;
  trace(traceId: string): string;
}

export function meshLinks(adminUrl: string): MeshLinks {
  const admin = adminUrl.replace(/\/+$/, '');
  return { graph: `${admin}/graph`, trace: (traceId) => `${admin}/traces?trace=${encodeURIComponent(traceId)}` };
}

const LOCAL_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]']);

/** The mesh admin's links, or undefined when the app runs without a local mesh (or not on this machine). */
export async function findMeshAdmin(
  pageHostname: string,
  fetchImpl: typeof fetch = (...args) => fetch(...args),
  timeoutMs = 1500,
  configured: string | undefined = import.meta.env.VITE_MESH_ADMIN_URL,
): Promise<MeshLinks | undefined> {
  if (!LOCAL_HOSTS.has(pageHostname)) return undefined;
  if (configured) return meshLinks(configured);
  try {
    const response = await fetchImpl(MESH_ADMIN_CONFIG_PATH, { cache: 'no-store', signal: AbortSignal.timeout(timeoutMs) });
    if (!response.ok || !(response.headers.get('content-type') ?? '').includes('json')) return undefined;
    const body = (await response.json()) as { adminUrl?: unknown };
    return typeof body.adminUrl === 'string' && /^https?:\/\//.test(body.adminUrl) ? meshLinks(body.adminUrl) : undefined;
  } catch {
    return undefined;
  }
}
