/** The admin server's backend (what the runtime hands it) and the HTTP helpers its route modules share. */
import fs from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { LoadedObject } from '../model';
import type { Graph, MeshTelemetry } from '../telemetry';
import type { TraceStore } from '../telemetry/trace-store';
import type { ConfigStore } from './config-store';
import type { KubeApiBackend } from './kube-api';
import type { EndpointStatus } from './supervisor';

export interface AdminBackend extends KubeApiBackend {
  root: string;
  gatewayUrl: () => string;
  mode: 'istio' | 'kubernetes';
  store: ConfigStore<unknown>;
  telemetry: MeshTelemetry;
  traces: TraceStore;
  endpoints(): EndpointStatus[];
  graph(windowMs?: number): Graph;
  /** Loads a file from disk and applies it; the file is watched from then on. */
  applyFile(file: string): LoadedObject[];
  restartWorkload(name: string): Promise<void>;
}

export const MAX_BODY_BYTES = 1024 * 1024;

/** An answer other than 200: `{ error: message, ...extra }` with this status. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly extra: Record<string, unknown> = {},
  ) {
    super(message);
  }
}

export function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        reject(new HttpError(413, `request body over ${MAX_BODY_BYTES} bytes`));
        req.destroy();
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body, null, 2);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text), 'cache-control': 'no-store' });
  res.end(text);
}

export function sendFile(res: ServerResponse, file: string, contentType: string): void {
  const body = fs.readFileSync(file);
  res.writeHead(200, { 'content-type': contentType, 'content-length': body.length, 'cache-control': 'no-cache' });
  res.end(body);
}
