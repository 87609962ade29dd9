/** MLLP framing (HL7 v2 Minimal Lower Layer Protocol, release 2): VT payload FS CR. */
export const VT = 0x0b;
export const FS = 0x1c;
export const CR = 0x0d;

/** How much of an oversized frame is kept: enough for its MSH, so that the AR can name the message. */
const OVERSIZED_HEAD_BYTES = 64 * 1024;

/**
 * Bytes thrown away: before a VT ('outside-frame', CR/LF between frames do not count), a frame that
 * a new VT or the end of the connection interrupted before its FS ('unterminated': cut in half, or
 * FS missing), or one that stopped arriving ('timeout').
 */
export interface MllpDiscard {
  readonly kind: 'discarded';
  readonly reason: 'outside-frame' | 'unterminated' | 'timeout';
  readonly bytes: number;
}

export type MllpEvent =
  /** A complete frame (the bytes between VT and FS). */
  | { readonly kind: 'frame'; readonly payload: Buffer }
  | MllpDiscard
  /** A frame past the limit: its first bytes (for the AR); the rest is not read. */
  | { readonly kind: 'oversized'; readonly head: Buffer; readonly bytes: number };

/**
 * Splits a connection's bytes into MLLP frames, holding at most `maxBytes` of an open frame.
 * Pure: the listener feeds it chunks and acts on the events. A frame ends at FS; the CR after it
 * is expected but a missing one is forgiven (some senders omit it). After an oversized frame the
 * framer reads nothing more (the listener answers AR and closes the connection).
 */
export class MllpFramer {
  private state: 'outside' | 'inside' | 'after-fs' | 'stopped' = 'outside';
  private parts: Buffer[] = [];
  private size = 0;
  private garbage = 0;

  constructor(private readonly maxBytes: number) {}

  /** A frame has begun and not yet ended. */
  get inFrame(): boolean {
    return this.state === 'inside';
  }

  push(chunk: Buffer): MllpEvent[] {
    const events: MllpEvent[] = [];
    let at = 0;
    while (at < chunk.length && this.state !== 'stopped') {
      if (this.state === 'after-fs') {
        if (chunk[at] === CR) at++;
        this.state = 'outside';
        continue;
      }
      if (this.state === 'outside') {
        const vt = chunk.indexOf(VT, at);
        const end = vt < 0 ? chunk.length : vt;
        for (let i = at; i < end; i++) if (chunk[i] !== CR && chunk[i] !== 0x0a) this.garbage++;
        if (vt < 0) {
          at = chunk.length;
          break;
        }
        this.flushGarbage(events);
        this.state = 'inside';
        at = vt + 1;
        continue;
      }
      // Inside a frame: up to FS, or up to a VT that starts another frame (this one was never ended).
      const fs = chunk.indexOf(FS, at);
      const vt = chunk.indexOf(VT, at);
      const interrupted = vt >= 0 && (fs < 0 || vt < fs);
      const end = interrupted ? vt : fs < 0 ? chunk.length : fs;
      if (this.size + (end - at) > this.maxBytes) {
        this.keep(chunk.subarray(at, end));
        const head = Buffer.concat(this.parts).subarray(0, OVERSIZED_HEAD_BYTES);
        events.push({ kind: 'oversized', head, bytes: this.size });
        this.reset();
        this.state = 'stopped';
        break;
      }
      this.keep(chunk.subarray(at, end));
      if (interrupted) {
        events.push({ kind: 'discarded', reason: 'unterminated', bytes: this.size });
        this.reset();
        at = vt + 1; // still inside: the VT opens the next frame
        continue;
      }
      if (fs < 0) break;
      events.push({ kind: 'frame', payload: this.parts.length === 1 ? this.parts[0]! : Buffer.concat(this.parts, this.size) });
      this.reset();
      this.state = 'after-fs';
      at = fs + 1;
    }
    return events;
  }

  /** Throws away an open frame (the listener's timeout): returns what was dropped, if anything. */
  abandon(reason: 'timeout' | 'unterminated'): MllpDiscard | undefined {
    if (this.state !== 'inside') return undefined;
    const bytes = this.size;
    this.reset();
    this.state = 'outside';
    return { kind: 'discarded', reason, bytes };
  }

  /** Bytes outside any frame not yet reported (reported when the next frame starts, or on close). */
  takeGarbage(): MllpDiscard | undefined {
    const events: MllpDiscard[] = [];
    this.flushGarbage(events);
    return events[0];
  }

  private keep(part: Buffer): void {
    if (part.length === 0) return;
    // Views of the socket's chunks (each read is a fresh buffer); joined once, when the frame ends.
    this.parts.push(part);
    this.size += part.length;
  }

  private flushGarbage(events: MllpEvent[]): void {
    if (this.garbage > 0) events.push({ kind: 'discarded', reason: 'outside-frame', bytes: this.garbage });
    this.garbage = 0;
  }

  private reset(): void {
    this.parts = [];
    this.size = 0;
  }
}

/** One payload framed for the wire. */
export function mllpFrame(payload: Buffer): Buffer {
  const out = Buffer.allocUnsafe(payload.length + 3);
  out[0] = VT;
  payload.copy(out, 1);
  out[payload.length + 1] = FS;
  out[payload.length + 2] = CR;
  return out;
}
