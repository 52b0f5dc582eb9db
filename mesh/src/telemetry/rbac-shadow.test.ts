/**
 * The mesh's /metrics shows dry-run AuthorizationPolicy verdicts under the names a cluster's Prometheus gives
 * Envoy's RBAC shadow stats (see rbac-shadow.ts for the sources).
 */
import type { Workload } from '../model';
import { MeshTelemetry } from './mesh-telemetry';

const authors: Workload = {
  name: 'authors',
  namespace: 'default',
  labels: { app: 'authors', version: 'v1', 'app.kubernetes.io/name': 'authors' },
  app: 'authors',
  version: 'v1',
  serviceAccount: 'authors',
  replicas: 1,
};
const postgres: Workload = { ...authors, name: 'postgres', labels: { app: 'postgres' }, app: 'postgres' };

test('HTTP shadow counters per pod and inbound port, TCP ones per pod; both results of a filter once it counted', async () => {
  const telemetry = new MeshTelemetry();
  const deny = { statPrefix: 'istio_dry_run_deny_', result: 'denied' as const, policy: 'ns[default]-policy[x]-rule[0]' };
  telemetry.rbacShadow({ workload: authors, pod: 'authors-0', port: 3000, protocol: 'http', results: [deny] });
  telemetry.rbacShadow({ workload: authors, pod: 'authors-0', port: 3000, protocol: 'http', results: [deny] });
  telemetry.rbacShadow({
    workload: postgres,
    pod: 'postgres-0',
    port: 5432,
    protocol: 'tcp',
    results: [{ statPrefix: 'istio_dry_run_allow_', result: 'allowed' }],
  });
  telemetry.rbacShadow({ workload: authors, pod: 'gw', port: 8080, protocol: 'http', direction: 'outbound', results: [deny] });
  const text = await telemetry.metrics();
  expect(text).toContain('envoy_http_rbac_istio_dry_run_deny_shadow_denied{http_conn_manager_prefix="outbound_0.0.0.0_8080",namespace="default",pod="gw"');
  const pod = 'namespace="default",pod="authors-0",app="authors",version="v1",app_kubernetes_io_name="authors"';
  expect(text).toContain(`envoy_http_rbac_istio_dry_run_deny_shadow_denied{http_conn_manager_prefix="inbound_0.0.0.0_3000",${pod}} 2\n`);
  expect(text).toContain(`envoy_http_rbac_istio_dry_run_deny_shadow_allowed{http_conn_manager_prefix="inbound_0.0.0.0_3000",${pod}} 0\n`);
  expect(text).toContain('# TYPE envoy_http_rbac_istio_dry_run_deny_shadow_denied counter');
  expect(text).toContain('envoy_tcp_istio_dry_run_allow_shadow_allowed{tcp_prefix="rbac",namespace="default",pod="postgres-0",app="postgres"} 1\n');
  expect(text).not.toContain('istio_dry_run_allow_shadow_denied{http');
});

test('no dry-run policy, no shadow series', async () => {
  expect(await new MeshTelemetry().metrics()).not.toContain('shadow_');
});
