/**
 * Dry-run AuthorizationPolicy counters, named as a cluster's Prometheus shows Envoy's RBAC shadow stats.
 *
 * Envoy counts `shadow_allowed` / `shadow_denied` per RBAC filter under `<filter stats prefix>rbac.<shadow prefix>`
 * (envoyproxy/envoy docs/root/configuration/http/http_filters/rbac_filter.rst; source/extensions/filters/common/rbac
 * utility.cc generateStats); istiod sets the shadow prefix `istio_dry_run_allow_` / `istio_dry_run_deny_`
 * (pilot/pkg/security/authz/builder/builder.go shadowRuleStatPrefix), the inbound HTTP connection manager's prefix
 * `inbound_0.0.0.0_<port>;` (core/listener_inbound.go StatPrefix) and `tcp.` for the network filter. Istio's
 * bootstrap stats tags (tools/packaging/common/envoy_bootstrap.json: http_conn_manager_prefix, tcp_prefix) move those
 * prefixes into labels, so `http.inbound_0.0.0.0_3000;.rbac.istio_dry_run_deny_shadow_denied` is scraped as
 * `envoy_http_rbac_istio_dry_run_deny_shadow_denied{http_conn_manager_prefix="inbound_0.0.0.0_3000"}` and
 * `tcp.rbac.istio_dry_run_allow_shadow_allowed` as `envoy_tcp_istio_dry_run_allow_shadow_allowed{tcp_prefix="rbac"}`.
 * Each pod's proxy has its own counters: the pod labels a `kubernetes-pods` scrape adds (namespace, pod, the pod's
 * labels) tell them apart. In a cluster these stats are only scraped when the proxy's stats matcher includes them.
 */
import type { RbacShadowEvent } from '../model';

interface Counters {
  /** Name stem and rendered labels of this pod's filter, without the result. */
  name: string;
  labels: string;
  allowed: number;
  denied: number;
}

function escape(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

export class RbacShadowStats {
  private readonly counters = new Map<string, Counters>();

  count(event: RbacShadowEvent): void {
    for (const result of event.results) {
      const key = `${event.protocol}|${event.pod}|${event.protocol === 'http' ? `${event.direction ?? 'inbound'}_${event.port}` : ''}|${result.statPrefix}`;
      let counters = this.counters.get(key);
      if (!counters) {
        counters = { ...this.series(event, result.statPrefix), allowed: 0, denied: 0 };
        this.counters.set(key, counters);
      }
      counters[result.result]++;
    }
  }

  /** Prometheus text format; both counters of a filter appear once it has counted anything, as Envoy's do. */
  render(): string {
    const families = new Map<string, string[]>();
    for (const c of this.counters.values()) {
      for (const result of ['allowed', 'denied'] as const) {
        const name = `${c.name}shadow_${result}`;
        let lines = families.get(name);
        if (!lines) families.set(name, (lines = []));
        lines.push(`${name}{${c.labels}} ${c[result]}`);
      }
    }
    const out: string[] = [];
    for (const [name, lines] of [...families].sort(([a], [b]) => (a < b ? -1 : 1))) {
      const verb = name.endsWith('_allowed') ? 'allowed' : 'denied';
      out.push(
        `# HELP ${name} Requests the RBAC filter's shadow rules (dry-run AuthorizationPolicies) would have ${verb}.`,
        `# TYPE ${name} counter`,
        ...lines.sort(),
      );
    }
    return out.length > 0 ? `${out.join('\n')}\n` : '';
  }

  private series(event: RbacShadowEvent, statPrefix: string): { name: string; labels: string } {
    const tag = event.protocol === 'http' ? ['http_conn_manager_prefix', `${event.direction ?? 'inbound'}_0.0.0.0_${event.port}`] : ['tcp_prefix', 'rbac'];
    const name = event.protocol === 'http' ? `envoy_http_rbac_${statPrefix}` : `envoy_tcp_${statPrefix}`;
    const podLabels = Object.entries(event.workload.labels).map(([k, v]) => [k.replace(/[^a-zA-Z0-9_]/g, '_'), v]);
    const pairs = [tag, ['namespace', event.workload.namespace], ['pod', event.pod], ...podLabels];
    return { name, labels: pairs.map(([k, v]) => `${k}="${escape(String(v))}"`).join(',') };
  }
}
