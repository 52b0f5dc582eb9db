/**
 * One upstream try (Envoy's `UpstreamRequest`): an undici dispatch handler for one endpoint that reports to the
 * router through `UpstreamCallbacks` and gives its slot, body stream and span back exactly once. It uses undici's
 * classic handler callbacks (onConnect/onHeaders/onData/...), which undici 7's core calls directly; the newer
 * controller-style API goes through an adapter that re-parses every header block.
 */
import type { Dispatcher } from 'undici';
import type { Endpoint } from '../model';
import { HOP_BY_HOP } from './headers';
import type { AttemptTrace } from './tracing';
import type { UpstreamHost } from './upstream/cluster-manager';

/** How the router hears of one try (Envoy's UpstreamRequest → Router::Filter callbacks). */
export interface UpstreamCallbacks {
  /** `headers`: the upstream's, lower-case, without hop-by-hop headers and `server` (the proxy writes its own). */
  onUpstreamHeaders(request: UpstreamRequest, status: number, headers: string[]): void;
  /** False pauses the upstream socket until `request.resume()`. */
  onUpstreamData(request: UpstreamRequest, chunk: Buffer): boolean;
  onUpstreamEnd(request: UpstreamRequest): void;
  onUpstreamError(request: UpstreamRequest, error: Error): void;
}

export class UpstreamRequest implements Dispatcher.DispatchHandler {
  private abortUpstream?: (error: Error) => void;
  private resumeUpstream?: () => void;
  cancelled = false;
  settled = false;
  readonly startedAt = performance.now();
  status = 0;
  readonly endpoint: Endpoint;

  constructor(
    private readonly callbacks: UpstreamCallbacks,
    readonly host: UpstreamHost,
    /** The request body this try sends (a stream or the kept copy). */
    readonly body: Buffer | NodeJS.ReadableStream | null,
    /** Called once the try is over, so its body stream no longer holds the client back. */
    private readonly releaseBody: (() => void) | undefined,
    readonly trace: AttemptTrace | undefined,
  ) {
    this.endpoint = host.endpoint;
  }

  /** `flags`: why the proxy cut the try, for its span (default: a timeout). */
  cancel(flags = 'UT'): void {
    this.cancelled = true;
    this.settle(flags);
    this.abortUpstream?.(new Error('cancelled by the proxy'));
  }

  resume = (): void => this.resumeUpstream?.();

  /** Returns the pool slot, the endpoint's active count, the body and the span exactly once. */
  settle(failure?: Error | string): void {
    if (this.settled) return;
    this.settled = true;
    this.releaseBody?.();
    this.trace?.end(this.status, failure);
    this.host.release();
  }

  onConnect(abort: (error?: Error) => void): void {
    this.abortUpstream = abort;
    if (this.cancelled) abort(new Error('cancelled by the proxy'));
  }

  onHeaders(statusCode: number, rawHeaders: Buffer[], resume: () => void): boolean {
    if (this.cancelled || statusCode < 200) return true;
    this.status = statusCode;
    this.resumeUpstream = resume;
    const headers: string[] = [];
    for (let i = 0; i < rawHeaders.length; i += 2) {
      const lower = rawHeaders[i].toString('latin1').toLowerCase();
      if (HOP_BY_HOP.has(lower) || lower === 'server') continue;
      headers.push(lower, rawHeaders[i + 1].toString('latin1'));
    }
    this.callbacks.onUpstreamHeaders(this, statusCode, headers);
    return true;
  }

  onData(chunk: Buffer): boolean {
    if (this.cancelled) return true;
    return this.callbacks.onUpstreamData(this, chunk);
  }

  onComplete(): void {
    this.settle();
    if (!this.cancelled) this.callbacks.onUpstreamEnd(this);
  }

  onError(error: Error): void {
    this.settle(error);
    if (!this.cancelled) this.callbacks.onUpstreamError(this, error);
  }
}
