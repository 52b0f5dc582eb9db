/**
 * Istio's standard metric families as Prometheus series: one series object per full label set (found once per
 * binding and outcome by MeshTelemetry, then only incremented), rendered in text format 0.0.4 at scrape time.
 */
import { Histogram, ISTIO_DEFAULT_BUCKETS } from './histogram';
import { escapeLabel, type ReporterLabels } from './labels';

/** One label set of the HTTP families: istio_requests_total and the three histograms share it. */
export class HttpSeries {
  requests = 0;
  readonly duration = new Histogram();
  readonly requestBytes = new Histogram();
  readonly responseBytes = new Histogram();
  constructor(readonly labels: string) {}
}

export class TcpSeries {
  opened = 0;
  closed = 0;
  sent = 0;
  received = 0;
  constructor(readonly labels: string) {}
}

export class IstioSeries {
  private readonly http = new Map<string, HttpSeries>();
  private readonly tcp = new Map<string, TcpSeries>();

  httpSeries(reporter: ReporterLabels, code: number, flags: string): HttpSeries {
    const labels =
      `${reporter.peers},connection_security_policy="${reporter.connectionSecurityPolicy}",grpc_response_status="",` +
      `response_code="${code}",response_flags="${escapeLabel(flags)}",request_protocol="http"`;
    let found = this.http.get(labels);
    if (!found) this.http.set(labels, (found = new HttpSeries(labels)));
    return found;
  }

  tcpSeries(reporter: ReporterLabels, flags: string): TcpSeries {
    const labels =
      `${reporter.peers},connection_security_policy="${reporter.connectionSecurityPolicy}",` + `response_flags="${escapeLabel(flags)}",request_protocol="tcp"`;
    let found = this.tcp.get(labels);
    if (!found) this.tcp.set(labels, (found = new TcpSeries(labels)));
    return found;
  }

  /** The Istio families in text format 0.0.4. */
  render(): string {
    const lines: string[] = [];
    const http = [...this.http.values()];
    lines.push('# HELP istio_requests_total Requests handled by an Istio proxy (local mesh).', '# TYPE istio_requests_total counter');
    for (const s of http) lines.push(`istio_requests_total{${s.labels}} ${s.requests}`);
    const histogram = (name: string, help: string, pick: (s: HttpSeries) => Histogram): void => {
      lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} histogram`);
      for (const s of http) {
        const h = pick(s);
        let cumulative = 0;
        for (let i = 0; i < ISTIO_DEFAULT_BUCKETS.length; i++) {
          cumulative += h.counts[i];
          lines.push(`${name}_bucket{le="${ISTIO_DEFAULT_BUCKETS[i]}",${s.labels}} ${cumulative}`);
        }
        lines.push(`${name}_bucket{le="+Inf",${s.labels}} ${h.count}`, `${name}_sum{${s.labels}} ${h.sum}`, `${name}_count{${s.labels}} ${h.count}`);
      }
    };
    histogram('istio_request_duration_milliseconds', 'Duration of requests in milliseconds (local mesh).', (s) => s.duration);
    histogram('istio_request_bytes', 'HTTP request sizes in bytes: request line, headers and body (local mesh).', (s) => s.requestBytes);
    histogram('istio_response_bytes', 'HTTP response sizes in bytes: status line, headers and body (local mesh).', (s) => s.responseBytes);
    const tcp = [...this.tcp.values()];
    const counter = (name: string, help: string, pick: (s: TcpSeries) => number): void => {
      lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} counter`);
      for (const s of tcp) lines.push(`${name}{${s.labels}} ${pick(s)}`);
    };
    counter('istio_tcp_sent_bytes_total', 'Bytes sent to the client of a TCP connection, server to client (local mesh).', (s) => s.sent);
    counter('istio_tcp_received_bytes_total', 'Bytes received from the client of a TCP connection, client to server (local mesh).', (s) => s.received);
    counter('istio_tcp_connections_opened_total', 'TCP connections opened (local mesh).', (s) => s.opened);
    counter('istio_tcp_connections_closed_total', 'TCP connections closed (local mesh).', (s) => s.closed);
    return `${lines.join('\n')}\n`;
  }
}
