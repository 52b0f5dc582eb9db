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

/** Per workload: ready when it has replicas and all of them are ready, with a `2/2 replicas ready` text. */
export function meshWorkloadStates(endpoints: MeshEndpoint[], names: string[]): Map<string, { ready: boolean; state: string }> {
  return new Map(
    names.map((name) => {
      const replicas = endpoints.filter((e) => e.workload === name);
      const ready = replicas.filter((e) => e.ready).length;
      return [name, { ready: replicas.length > 0 && ready === replicas.length, state: `${name} ${ready}/${replicas.length} replicas ready` }];
    }),
  );
}
