/** The supervisor's readiness probes, as the kubelet runs them: an HTTP GET (2xx/3xx = ready) or a Postgres session. */
import http from 'node:http';
import { canQuery } from '../postgres';
import type { WorkloadSpec } from './topology';

export interface ProbePolicy {
  /** Probe period once the replica has been ready (kubelet `periodSeconds`). */
  periodMs: number;
  /** Poll interval while the replica starts. */
  startupPollMs: number;
  timeoutMs: number;
  /** Consecutive failures that mark a ready replica not ready. */
  failureThreshold: number;
  /** How long `waitReady` waits for a starting replica. */
  startupTimeoutMs: number;
}

export const defaultProbe: ProbePolicy = {
  periodMs: 1000,
  startupPollMs: 100,
  timeoutMs: 1000,
  failureThreshold: 3,
  startupTimeoutMs: 30_000,
};

export function probeName(spec: WorkloadSpec): string {
  return spec.readinessKind === 'postgres' ? 'a Postgres session, as pg_isready' : `GET ${spec.readinessPath}`;
}

/** Ready when a session with the workload's own credentials (POSTGRES_USER/PASSWORD/DB) answers `SELECT 1`. */
export async function probePostgres(spec: WorkloadSpec, port: number, timeoutMs: number): Promise<boolean> {
  const user = encodeURIComponent(spec.env.POSTGRES_USER ?? 'postgres');
  const password = encodeURIComponent(spec.env.POSTGRES_PASSWORD ?? 'postgres');
  const database = encodeURIComponent(spec.env.POSTGRES_DB ?? spec.env.POSTGRES_USER ?? 'postgres');
  return canQuery(`postgres://${user}:${password}@127.0.0.1:${port}/${database}`, timeoutMs).then(
    () => true,
    () => false,
  );
}

export function probeHttp(port: number, probePath: string, timeoutMs: number, agent: http.Agent): Promise<boolean> {
  return new Promise((resolve) => {
    const request = http.get({ host: '127.0.0.1', port, path: probePath, agent, timeout: timeoutMs }, (response) => {
      response.resume();
      const status = response.statusCode ?? 0;
      resolve(status >= 200 && status < 400);
    });
    request.once('timeout', () => request.destroy(new Error('probe timeout')));
    request.once('error', () => resolve(false));
  });
}
