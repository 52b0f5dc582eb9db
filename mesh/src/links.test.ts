import { existsSync } from 'node:fs';
import path from 'node:path';
import { adminLinks, formatLinks, forPeople, gatewayLinks } from './links';

describe('links printed by npm start, npm run urls and the admin index', () => {
  it('say localhost for the loopback address and nothing else', () => {
    expect(forPeople('http://127.0.0.1:15001/graph')).toBe('http://localhost:15001/graph');
    expect(forPeople('http://127.0.0.10:8080')).toBe('http://127.0.0.10:8080');
    expect(forPeople('http://10.0.0.1:8080/x?127.0.0.1')).toBe('http://10.0.0.1:8080/x?127.0.0.1');
  });

  it('name the graph, traces, metrics, endpoints and config on the given admin port', () => {
    const links = adminLinks('http://localhost:15123/');
    expect(links.map((l) => l.label)).toEqual(['Traffic graph', 'Traces', 'Metrics', 'Endpoints', 'Config']);
    for (const link of links) expect(link.url.startsWith('http://localhost:15123/')).toBe(true);
    // Jaeger matches `service` exactly; the spans name the service with its namespace.
    expect(links[1].note).toContain('http://localhost:15123/api/traces?service=web-api.default');
  });

  it('suggest an 80/20 file of the way the mesh routes, one that exists', () => {
    const applied = (routing: 'istio' | 'gateway-api') => /file=([^']+)'/.exec(adminLinks('http://localhost:15000', routing)[4].note ?? '')?.[1];
    expect(applied('istio')).toBe('istio/traffic/web-ingress-80-20.yaml');
    expect(applied('gateway-api')).toBe('gateway-api/traffic/web-ingress-80-20.yaml');
    for (const file of [applied('istio'), applied('gateway-api')]) expect(existsSync(path.resolve(__dirname, '../..', file!))).toBe(true);
  });

  it('line the URLs up in one column', () => {
    const lines = formatLinks([...gatewayLinks('http://localhost:8080'), ...adminLinks('http://localhost:15000')]);
    const columns = new Set(lines.map((l) => l.indexOf('http://')));
    expect(lines[1]).toBe('  getmultiple    curl http://localhost:8080/web-api/v1/getmultiple');
    expect(columns.size).toBe(2); // the curl line starts its URL after `curl `
  });
});
