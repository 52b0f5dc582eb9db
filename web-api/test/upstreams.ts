// Fake and real upstreams for web-api tests, all on loopback port 0.
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface RecordedRequest {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
}

export interface Upstream {
  url: string;
  requests: RecordedRequest[];
  close(): Promise<void>;
}

/** Listens on a free loopback port with any request listener (a plain handler or an Express app). */
export async function listen(handler: http.RequestListener): Promise<Upstream> {
  const requests: RecordedRequest[] = [];
  const server = http.createServer((req, res) => {
    requests.push({ method: req.method!, url: req.url!, headers: req.headers });
    handler(req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: () => {
      server.closeAllConnections();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** A handler that answers JSON (or never answers when `status` is `'hang'`). */
export function json(status: number | 'hang', body?: unknown): http.RequestListener {
  return (_req, res) => {
    if (status === 'hang') return;
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  };
}

/** A URL on which nothing listens (a port that was free a moment ago). */
export async function deadUrl(): Promise<string> {
  const upstream = await listen(json(200, {}));
  await upstream.close();
  return upstream.url;
}
