/**
 * Request records and graph inputs shared by the telemetry tests (a test helper, left out of dist/ like
 * ../dataplane/test-harness.ts).
 */
import type { IstioConfig, RequestRecord, Workload } from '../model';
import { MeshTelemetry } from './mesh-telemetry';

export const workload = (name: string, app: string, version: string): Workload => ({
  name,
  namespace: 'default',
  labels: { app, version },
  app,
  version,
  serviceAccount: app,
  replicas: 1,
});
export const workloads = [workload('web-api-v1', 'web-api', 'v1'), workload('web-api-v2', 'web-api', 'v2'), workload('articles', 'articles', 'v1')];

export const record = (overrides: Partial<RequestRecord>): RequestRecord => ({
  reporter: 'source',
  sourceWorkload: 'istio-ingressgateway',
  sourceApp: 'istio-ingressgateway',
  sourceVersion: 'unknown',
  destinationWorkload: 'web-api-v1',
  destinationApp: 'web-api',
  destinationVersion: 'v1',
  destinationService: 'web-api.default.svc.cluster.local',
  destinationServiceName: 'web-api',
  responseCode: 200,
  responseFlags: '-',
  requestProtocol: 'http',
  durationMs: 10,
  ...overrides,
});

export const noIstio: IstioConfig = { gateways: [], virtualServices: [], destinationRules: [] };
export const inputs = (istio = noIstio) => ({ workloads, serviceNames: ['web-api', 'articles'], istio, readyCount: () => ({ ready: 1, total: 1 }) });

/** A telemetry on a fixed clock, fed `records` at that instant. */
export function telemetryWith(records: readonly RequestRecord[], at = 1_000_000): MeshTelemetry {
  const telemetry = new MeshTelemetry('default', () => at);
  for (const r of records) telemetry.record(r);
  return telemetry;
}
