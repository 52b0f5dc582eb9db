import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export interface HttpMetrics {
  registry: Registry;
  requestsTotal: Counter<'method' | 'route' | 'status_code'>;
  requestDuration: Histogram<'method' | 'route' | 'status_code'>;
  /** Counts one answered request and observes its duration (children bound once per method/route/status). */
  record(method: string, route: string, statusCode: number, seconds: number): void;
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
  // prom-client hashes a labels object on every inc()/observe(); a bound child does not. The set of
  // method × route template × status is small and fixed by the app's routes, so the cache stays small.
  const children = new Map<string, { count: Counter.Internal; duration: Histogram.Internal<'method' | 'route' | 'status_code'> }>();
  const record = (method: string, route: string, statusCode: number, seconds: number) => {
    const key = `${method} ${statusCode} ${route}`;
    let child = children.get(key);
    if (!child) {
      const status = String(statusCode);
      child = { count: requestsTotal.labels(method, route, status), duration: requestDuration.labels(method, route, status) };
      children.set(key, child);
    }
    child.count.inc();
    child.duration.observe(seconds);
  };
  return { registry, requestsTotal, requestDuration, record };
}
