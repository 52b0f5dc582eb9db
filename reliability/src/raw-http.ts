/**
 * A raw HTTP/1.1 client over a TCP socket: sends exactly the bytes a test wants (duplicate or malformed headers,
 * unknown methods, raw paths) that Node's own client would refuse or normalise, and parses what comes back.
 */
import net from 'node:net';

export interface RawRequest {
  method: string;
  /** Sent as written. */
  path: string;
  /** Sent in order, duplicates kept; a `host` entry with value null means "send no Host header". */
  headers: ReadonlyArray<readonly [string, string | null]>;
  body?: string | Buffer;
}

export interface RawResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
  /** The connection ended without a status line (reset, closed). */
  noAnswer?: string;
}

export function rawRequest(host: string, port: number, request: RawRequest, timeoutMs = 10_000): Promise<RawResponse> {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port });
    const chunks: Buffer[] = [];
    let settled = false;
    const finish = (noAnswer?: string): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      const response = parseResponse(Buffer.concat(chunks), request.method === 'HEAD');
      resolve(response ?? { status: 0, headers: {}, body: '', noAnswer: noAnswer ?? 'connection closed without an answer' });
    };
    const timer = setTimeout(() => finish(`no answer within ${timeoutMs} ms`), timeoutMs);
    socket.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      // Complete once the declared body has arrived (the server may keep the connection open).
      const parsed = parseResponse(Buffer.concat(chunks), request.method === 'HEAD', true);
      if (parsed) finish();
    });
    socket.on('end', () => finish());
    socket.on('close', () => finish());
    // A server may answer (413, 431) and close while the body is still being written: keep what was read.
    socket.on('error', (error: NodeJS.ErrnoException) => {
      if (chunks.length === 0) finish(error.code ?? error.message);
    });
    const body = request.body === undefined ? Buffer.alloc(0) : Buffer.isBuffer(request.body) ? request.body : Buffer.from(request.body, 'utf8');
    const lines = [`${request.method} ${request.path} HTTP/1.1`];
    const hasHost = request.headers.some(([name]) => name.toLowerCase() === 'host');
    if (!hasHost) lines.push(`Host: ${host}:${port}`);
    for (const [name, value] of request.headers) if (value !== null) lines.push(`${name}: ${value}`);
    const framing = request.headers.some(([name]) => ['content-length', 'transfer-encoding'].includes(name.toLowerCase()));
    if (!framing && (body.length > 0 || ['POST', 'PUT', 'PATCH'].includes(request.method))) lines.push(`Content-Length: ${body.length}`);
    lines.push('Connection: close', '', '');
    socket.on('connect', () => {
      socket.write(Buffer.concat([Buffer.from(lines.join('\r\n'), 'latin1'), body]));
    });
  });
}

/**
 * Parses a response from the bytes read so far; undefined while incomplete (with `needComplete`) or when there
 * is no status line.
 */
function parseResponse(data: Buffer, head: boolean, needComplete = false): RawResponse | undefined {
  const end = data.indexOf('\r\n\r\n');
  if (end < 0) return undefined;
  const [statusLine, ...headerLines] = data.subarray(0, end).toString('latin1').split('\r\n');
  const match = /^HTTP\/1\.[01] (\d{3})/.exec(statusLine);
  if (!match) return undefined;
  const headers: Record<string, string> = {};
  for (const line of headerLines) {
    const colon = line.indexOf(':');
    if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  const status = Number(match[1]);
  let raw = data.subarray(end + 4);
  if (head || status === 204 || status === 304) raw = Buffer.alloc(0);
  else if (/chunked/i.test(headers['transfer-encoding'] ?? '')) {
    const decoded = decodeChunked(raw);
    if (!decoded) return needComplete ? undefined : { status, headers, body: raw.toString('utf8') };
    raw = decoded;
  } else if (headers['content-length'] !== undefined) {
    const length = Number(headers['content-length']);
    if (raw.length < length) {
      if (needComplete) return undefined;
    } else raw = raw.subarray(0, length);
  } else if (needComplete) return undefined; // body ends with the connection
  return { status, headers, body: raw.toString('utf8') };
}

/** Decodes a complete chunked body; undefined while the last chunk has not arrived. */
function decodeChunked(data: Buffer): Buffer | undefined {
  const parts: Buffer[] = [];
  let at = 0;
  for (;;) {
    const lineEnd = data.indexOf('\r\n', at);
    if (lineEnd < 0) return undefined;
    const size = parseInt(data.subarray(at, lineEnd).toString('latin1'), 16);
    if (Number.isNaN(size)) return undefined;
    if (size === 0) return Buffer.concat(parts);
    const start = lineEnd + 2;
    if (data.length < start + size + 2) return undefined;
    parts.push(data.subarray(start, start + size));
    at = start + size + 2;
  }
}
