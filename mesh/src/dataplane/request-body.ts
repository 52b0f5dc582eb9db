/**
 * A client's request body as Envoy's router handles it: streamed to the current upstream try as it arrives (never
 * collected first), and kept on the side for a retry or a mirror only while it fits the buffer limit
 * (`retry_shadow_buffer_limit`, the connection buffer limit, 1 MiB by default). Once it outgrows the limit the
 * kept copy is dropped and the request can no longer be retried or mirrored (source/common/router/router.cc,
 * Filter::decodeData).
 */
import type { IncomingMessage } from 'node:http';
import { PassThrough } from 'node:stream';

/** undici may destroy a try's body stream when it aborts the try; writes after that must not throw. */
function newSink(): PassThrough {
  const sink = new PassThrough();
  sink.on('error', () => undefined);
  return sink;
}

export class RequestBody {
  private readonly kept: Buffer[] = [];
  private keptBytes = 0;
  private started = false;
  private sink?: PassThrough;
  /** Shadow copies (mirror) fed as the body streams; they never hold the client back. */
  private readonly shadows: PassThrough[] = [];
  /** The client sent its last byte. */
  ended = false;
  /** Body bytes read from the client so far (telemetry's request size). */
  received = 0;
  /** The body outgrew the limit: nothing is kept, so no retry or mirror can replay it. */
  overflowed = false;
  /** Called once when buffering is given up. */
  onOverflow?: () => void;

  constructor(
    private readonly req: IncomingMessage,
    private readonly limit: number,
    /** False when the route can neither retry nor mirror: nothing needs keeping. */
    keep: boolean,
  ) {
    if (!keep) this.overflowed = true;
  }

  /**
   * The body for the next upstream try: the live stream on the first call; later the kept bytes (a Buffer once
   * the client has finished, else a stream that continues with what is still to come). Undefined when the body
   * can no longer be replayed.
   */
  forAttempt(): PassThrough | Buffer | undefined {
    if (!this.started) {
      this.started = true;
      this.sink = newSink();
      this.req.on('data', (chunk: Buffer) => this.onData(chunk));
      this.req.once('end', () => this.onEnd());
      return this.sink;
    }
    if (this.overflowed) return undefined;
    if (this.ended) return Buffer.concat(this.kept, this.keptBytes);
    this.detach();
    const sink = newSink();
    for (const chunk of this.kept) sink.write(chunk);
    this.sink = sink;
    return sink;
  }

  /**
   * A stream for a mirror (Envoy >= 1.36 always streams shadows): it gets the body as it arrives, whatever its
   * size; a shadow that falls more than the buffer limit behind is dropped rather than slowing the client. Call it
   * before the first try starts reading.
   */
  shadow(): PassThrough | undefined {
    if (this.started) return undefined;
    const shadow = newSink();
    this.shadows.push(shadow);
    return shadow;
  }

  /**
   * A try is over (answered, failed or cut): stop feeding its stream so the client is never stalled by a reader
   * that left; what the client still sends is kept (within the limit) or dropped.
   */
  release(body: unknown): void {
    if (body === this.sink) this.detach();
  }

  private detach(): void {
    const sink = this.sink;
    if (!sink) return;
    this.sink = undefined;
    sink.removeAllListeners('drain');
    if (!sink.writableEnded) sink.end();
    this.req.resume();
  }

  private onData(chunk: Buffer): void {
    this.received += chunk.length;
    if (!this.overflowed) {
      if (this.keptBytes + chunk.length > this.limit) {
        this.overflowed = true;
        this.kept.length = 0;
        this.keptBytes = 0;
        this.onOverflow?.();
      } else {
        this.kept.push(chunk);
        this.keptBytes += chunk.length;
      }
    }
    for (const shadow of this.shadows) {
      if (shadow.destroyed) continue;
      if (shadow.writableLength > this.limit) shadow.destroy();
      else shadow.write(chunk);
    }
    const sink = this.sink;
    if (sink && !sink.write(chunk)) {
      // Back-pressure: the upstream reads slower than the client sends.
      this.req.pause();
      sink.once('drain', () => this.req.resume());
    }
  }

  private onEnd(): void {
    this.ended = true;
    this.sink?.end();
    for (const shadow of this.shadows) if (!shadow.destroyed) shadow.end();
  }
}
