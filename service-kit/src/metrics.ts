import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export interface HttpMetrics {
  registry: Registry;
  requestsTotal: Counter<'method' | 'route' | 'status_code'>;
  requestDuration: Histogram<'method' | 'route' | 'status_code'>;
}

/**
 * A registry per app (not prom-client's global one) so several apps can live in one test process.
 * `route` is the Express route template (`/articles/v1/getone`), never the raw URL, to bound cardinality.
 */
export function createHttpMetrics(service: string, version?: string): HttpMetrics {
  const registry = new Registry();
  registry.setDefaultLabels(version ? { service, version } : { service });
  collectDefaultMetrics({ register: registry });
  const labelNames = ['method', 'route', 'status_code'] as const;
  const requestsTotal = new Counter({
    name: 'http_requests_total',
    help: 'HTTP requests handled, by method, route template and status code',
    labelNames,
    registers: [registry],
  });
  const requestDuration = new Histogram({
    name: 'http_request_duration_seconds',
    help: 'HTTP request duration in seconds, by method, route template and status code',
    labelNames,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [registry],
  });
  return { registry, requestsTotal, requestDuration };
}
