/**
 * `promtool check metrics` (Prometheus' own linter) on the mesh's /metrics export: Istio's names pass, except the
 * findings a cluster has too (istio_request_duration_milliseconds is in milliseconds, not base-unit seconds; Envoy's
 * RBAC shadow counters carry no _total suffix).
 */
import { spawnSync } from 'node:child_process';
import { describeWithTool } from '@cns/service-kit/testing';
import { INGRESS_GATEWAY_WORKLOAD, type Workload } from '../model';
import { MeshTelemetry } from '.';

const workload = (name: string, app: string): Workload => ({
  name,
  namespace: 'default',
  labels: { app, version: 'v1' },
  app,
  version: 'v1',
  serviceAccount: app,
  replicas: 1,
});

describeWithTool('promtool', 'the /metrics export under promtool check metrics', () => {
  it('finds nothing but what a cluster shows too', async () => {
    const telemetry = new MeshTelemetry();
    const webApi = workload('web-api-v1', 'web-api');
    const authors = workload('authors', 'authors');
    const base = {
      reporter: 'source' as const,
      requestProtocol: 'http' as const,
      durationMs: 4,
      requestBytes: 200,
      responseBytes: 900,
      destinationService: 'authors.default.svc.cluster.local',
      destinationServiceName: 'authors',
      source: webApi,
      sourceWorkload: webApi.name,
      sourceApp: 'web-api',
      sourceVersion: 'v1',
      destination: authors,
      destinationWorkload: 'authors',
      destinationApp: 'authors',
      destinationVersion: 'v1',
    };
    telemetry.record({ ...base, responseCode: 200, responseFlags: '-' });
    telemetry.record({ ...base, destination: undefined, destinationWorkload: 'unknown', responseCode: 500, responseFlags: 'FI' });
    telemetry.record({
      ...base,
      source: INGRESS_GATEWAY_WORKLOAD,
      sourceWorkload: INGRESS_GATEWAY_WORKLOAD.name,
      responseCode: 503,
      responseFlags: 'UH,URX',
      retriedTries: [{ destination: authors, responseCode: 503, durationMs: 1 }],
    });
    const tcp = telemetry.tcpConnection({
      source: webApi,
      destination: workload('postgres', 'postgres'),
      destinationService: 'postgres.default.svc.cluster.local',
      destinationServiceName: 'postgres',
    });
    tcp.received(10);
    tcp.sent(20);
    tcp.close();
    telemetry.rbacShadow({
      workload: authors,
      pod: 'authors-0',
      port: 3000,
      protocol: 'http',
      results: [{ statPrefix: 'istio_dry_run_deny_', result: 'denied' }],
    });
    const text = await telemetry.metrics();
    expect(text).toMatch(/^istio_tcp_sent_bytes_total\{/m);
    const result = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
    const findings = `${result.stdout}${result.stderr}`.trim().split('\n').filter(Boolean);
    // Envoy's own counter names (its Prometheus export adds no _total), as a cluster's Prometheus scrapes them.
    expect(findings.sort()).toEqual([
      'envoy_http_rbac_istio_dry_run_deny_shadow_allowed counter metrics should have "_total" suffix',
      'envoy_http_rbac_istio_dry_run_deny_shadow_denied counter metrics should have "_total" suffix',
      'istio_request_duration_milliseconds use base unit "seconds" instead of "milliseconds"',
    ]);
  });
});
