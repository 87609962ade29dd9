import type { Readable } from 'node:stream';
import { MultipartError } from './multipart.error.js';

/**
 * Pull-based reader over a Readable: one chunk per `read()`, nothing read ahead of demand, so the
 * source sees exactly the backpressure of whoever consumes the parts.
 *
 * Not `for await (… of stream)`: returning from that iterator destroys the stream, and for an
 * HTTP request that destroys the socket the error response must go out on. Detaching here leaves
 * the source paused and intact; its owner decides whether to resume() (discard) or destroy() it.
 */
export class ByteSource {
  private ended: boolean;
  private failure: Error | undefined;
  private waiter: (() => void) | undefined;
  private attached = true;

  private readonly onReadable = (): void => this.wake();
  private readonly onEnd = (): void => {
    this.ended = true;
    this.wake();
  };
  private readonly onError = (err: Error): void => {
    this.failure ??= err;
    this.wake();
  };
  private readonly onClose = (): void => {
    // A close without 'end' (e.g. destroy() without an error) means the input stopped short.
    if (!this.ended && !this.failure) this.failure = new MultipartError('TRUNCATED', 'the body stream closed before it ended');
    this.wake();
  };

  constructor(private readonly stream: Readable) {
    this.ended = stream.readableEnded;
    this.failure = stream.errored ?? undefined;
    if (!this.ended && !this.failure && stream.destroyed) {
      this.failure = new MultipartError('TRUNCATED', 'the body stream was already destroyed');
    }
    stream.on('readable', this.onReadable);
    stream.on('end', this.onEnd);
    stream.on('error', this.onError);
    stream.on('close', this.onClose);
  }

  /** The next chunk, or null at the end of the stream; rejects with the stream's error. */
  async read(): Promise<Buffer | null> {
    for (;;) {
      if (this.failure) throw this.failure;
      if (!this.attached) throw new Error('ByteSource: read after detach');
      const chunk: unknown = this.stream.read();
      if (chunk !== null) return toBuffer(chunk);
      if (this.ended) return null;
      await new Promise<void>((resolve) => {
        this.waiter = resolve;
      });
    }
  }

  /** Stops listening. The stream is left as it is (paused, unconsumed remainder kept). */
  detach(): void {
    if (!this.attached) return;
    this.attached = false;
    this.stream.off('readable', this.onReadable);
    this.stream.off('end', this.onEnd);
    this.stream.off('error', this.onError);
    this.stream.off('close', this.onClose);
    this.wake();
  }

  private wake(): void {
    const waiter = this.waiter;
    this.waiter = undefined;
    waiter?.();
  }
}

function toBuffer(chunk: unknown): Buffer {
  if (Buffer.isBuffer(chunk)) return chunk;
  if (chunk instanceof Uint8Array) return Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
  // Object-mode sources such as Readable.from(['...']) yield strings.
  if (typeof chunk === 'string') return Buffer.from(chunk, 'utf8');
  throw new TypeError(`multipart body chunks must be bytes, got ${typeof chunk}`);
}
