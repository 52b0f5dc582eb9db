/**
 * The two facts the Kubernetes API of the local mesh cannot express, read from its admin server's own routes:
 * which replicas are ready (its read-only Deployments carry no status) and where its gateway listens.
 */
export interface MeshEndpoint {
  id: string;
  workload: string;
  ready: boolean;
}

async function getJson(url: string): Promise<unknown> {
  const response = await fetch(url, { signal: AbortSignal.timeout(5000) });
  if (!response.ok) throw new Error(`GET ${url}: HTTP ${response.status}`);
  return response.json();
}

/** Replicas of the mesh's workloads (`GET /endpoints`). */
export async function meshEndpoints(adminUrl: string): Promise<MeshEndpoint[]> {
  const body = (await getJson(`${adminUrl}/endpoints`)) as { endpoints?: MeshEndpoint[] };
  return body.endpoints ?? [];
}

/** The gateway URL if the admin's index (`GET /`) names it. */
export async function meshGatewayUrl(adminUrl: string): Promise<string | undefined> {
  try {
    const body = (await getJson(`${adminUrl}/`)) as { gatewayUrl?: unknown };
    return typeof body.gatewayUrl === 'string' ? body.gatewayUrl : undefined;
  } catch {
    return undefined;
  }
}

/** Workload name → ready when every one of its replicas is ready (and it has at least one). */
export function workloadReadiness(endpoints: MeshEndpoint[]): Map<string, boolean> {
  const ready = new Map<string, boolean>();
  for (const e of endpoints) ready.set(e.workload, (ready.get(e.workload) ?? true) && e.ready);
  return ready;
}
