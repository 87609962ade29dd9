import { connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect, type ConnectionOptions } from 'node:tls';

const VT = 0x0b;
const FS = 0x1c;
const CR = 0x0d;

/** Segments joined with CR, the last one ended too (HL7 2.5.1 2.5.2). */
export function hl7(...segments: string[]): string {
  return `${segments.join('\r')}\r`;
}

export function frame(message: string | Buffer): Buffer {
  const payload = typeof message === 'string' ? Buffer.from(message, 'utf8') : message;
  return Buffer.concat([Buffer.from([VT]), payload, Buffer.from([FS, CR])]);
}

/** An acknowledgement as the tests look at it. */
export interface Ack {
  readonly text: string;
  readonly segments: readonly (readonly string[])[];
  /** MSA-1. */
  readonly code: string;
  /** MSA-2: the acknowledged message's MSH-10. */
  readonly acknowledges: string;
  /** The ACK's own MSH-10. */
  readonly controlId: string;
  /** MSH-9. */
  readonly type: string;
  /** ERR-3.1, ERR-2 and ERR-8 when there is an ERR segment. */
  readonly error?: { readonly code: string; readonly location: string; readonly text: string };
}

/** Splits an ACK on its own delimiters (MSH-1, MSH-2); values stay escaped. */
export function parseAck(text: string): Ack {
  const field = text[3] ?? '|';
  const component = text[4] ?? '^';
  const segments = text
    .split(/\r\n|\r|\n/)
    .filter(Boolean)
    .map((s) => s.split(field));
  const seg = (name: string) => segments.find((s) => s[0] === name);
  const msh = seg('MSH') ?? [];
  const msa = seg('MSA') ?? [];
  const err = seg('ERR');
  return {
    text,
    segments,
    code: msa[1] ?? '',
    acknowledges: msa[2] ?? '',
    // MSH-n is part n-1 (MSH-1 is the separator itself).
    controlId: msh[9] ?? '',
    type: msh[8] ?? '',
    error: err ? { code: (err[3] ?? '').split(component)[0] ?? '', location: err[2] ?? '', text: err[8] ?? '' } : undefined,
  };
}

/**
 * A minimal MLLP client for the tests: sends frames (or any bytes) on one kept-open connection and
 * reads the framed answers in order. Not node-hl7-client's Client: the tests need to send broken
 * frames and see exactly what comes back.
 */
export class MllpClient {
  private buffer: Buffer = Buffer.alloc(0);
  private readonly frames: Buffer[] = [];
  private waiters: ((f: Buffer | Error) => void)[] = [];
  private ended = false;
  private readonly endedPromise: Promise<void>;

  private constructor(private readonly socket: Socket) {
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.read(chunk));
    this.endedPromise = new Promise((resolve) => {
      socket.on('close', () => {
        this.ended = true;
        for (const w of this.waiters) w(new Error('connection closed'));
        this.waiters = [];
        resolve();
      });
    });
    socket.on('error', () => undefined);
  }

  static connect(port: number, options: { host?: string; tls?: ConnectionOptions } = {}): Promise<MllpClient> {
    const host = options.host ?? '127.0.0.1';
    return new Promise((resolve, reject) => {
      const socket = options.tls ? tlsConnect({ host, port, ...options.tls }) : netConnect({ host, port });
      socket.once(options.tls ? 'secureConnect' : 'connect', () => resolve(new MllpClient(socket)));
      socket.once('error', reject);
    });
  }

  get closed(): boolean {
    return this.ended;
  }

  /** Resolves when the server closes the connection. */
  whenClosed(): Promise<void> {
    return this.endedPromise;
  }

  /** Sends one framed message. */
  send(message: string | Buffer): void {
    this.socket.write(frame(message));
  }

  /** Sends bytes as they are (broken frames, garbage). */
  sendRaw(bytes: Buffer): Promise<void> {
    return new Promise((resolve, reject) => this.socket.write(bytes, (e) => (e ? reject(e) : resolve())));
  }

  /** The next framed answer. */
  nextFrame(timeoutMs = 15_000): Promise<Buffer> {
    const ready = this.frames.shift();
    if (ready) return Promise.resolve(ready);
    if (this.ended) return Promise.reject(new Error('connection closed'));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== waiter);
        reject(new Error(`no MLLP answer within ${timeoutMs} ms`));
      }, timeoutMs);
      const waiter = (f: Buffer | Error): void => {
        clearTimeout(timer);
        if (f instanceof Error) reject(f);
        else resolve(f);
      };
      this.waiters.push(waiter);
    });
  }

  async nextAck(timeoutMs?: number, encoding: BufferEncoding = 'utf8'): Promise<Ack> {
    return parseAck((await this.nextFrame(timeoutMs)).toString(encoding));
  }

  /** Sends a message and waits for its ACK. */
  async request(message: string | Buffer, timeoutMs?: number): Promise<Ack> {
    this.send(message);
    return this.nextAck(timeoutMs);
  }

  /** True when nothing arrives within `ms` (and the connection stays open). */
  async silentFor(ms: number): Promise<boolean> {
    await new Promise((r) => setTimeout(r, ms));
    return this.frames.length === 0 && !this.ended;
  }

  close(): Promise<void> {
    this.socket.end();
    const timer = setTimeout(() => this.socket.destroy(), 1000);
    return this.endedPromise.finally(() => clearTimeout(timer));
  }

  private read(chunk: Buffer): void {
    this.buffer = this.buffer.length ? Buffer.concat([this.buffer, chunk]) : chunk;
    for (;;) {
      const start = this.buffer.indexOf(VT);
      if (start < 0) {
        this.buffer = Buffer.alloc(0);
        return;
      }
      const end = this.buffer.indexOf(FS, start);
      if (end < 0) {
        this.buffer = this.buffer.subarray(start);
        return;
      }
      const payload = Buffer.from(this.buffer.subarray(start + 1, end));
      this.buffer = this.buffer.subarray(this.buffer[end + 1] === CR ? end + 2 : end + 1);
      const waiter = this.waiters.shift();
      if (waiter) waiter(payload);
      else this.frames.push(payload);
    }
  }
}
