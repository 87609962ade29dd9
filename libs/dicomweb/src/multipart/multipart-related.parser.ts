import { Readable } from 'node:stream';
import { assertParsableBoundary } from './boundary.js';
import { ByteSource } from './byte-source.js';
import { MultipartError } from './multipart.error.js';

/**
 * Streaming multipart/related (RFC 2387) body parser for STOW-RS requests (PS3.18 10.5) and
 * WADO-RS responses (PS3.18 8.6), following the RFC 2046 5.1.1 grammar:
 *
 *   multipart-body := [preamble CRLF] dash-boundary transport-padding CRLF
 *                     body-part *encapsulation close-delimiter transport-padding [CRLF epilogue]
 *   encapsulation  := delimiter transport-padding CRLF body-part
 *   delimiter      := CRLF dash-boundary          dash-boundary := "--" boundary
 *   close-delimiter := delimiter "--"            body-part := MIME-part-headers [CRLF *OCTET]
 *
 * Bodies are never buffered whole: each part body is a Readable fed from the source chunk by chunk,
 * only as fast as its consumer reads (backpressure reaches the source).
 */

export interface MultipartParseOptions {
  /** Largest header block of one part, in bytes (excluding the blank line). Default 16 KiB. */
  readonly maxHeaderBytes?: number;
  /** Largest body of one part, in bytes. Default unlimited. */
  readonly maxPartBytes?: number;
  /** Largest whole input (preamble and epilogue included), in bytes. Default unlimited. */
  readonly maxTotalBytes?: number;
}

export interface MultipartPart {
  /** 0-based position in the message. */
  readonly index: number;
  /** Header fields with lower-case names; repeated fields joined with ", " (RFC 9110 5.3). */
  readonly headers: Readonly<Record<string, string>>;
  /** The raw Content-Type header value, when the part has one. */
  readonly contentType?: string;
  /** The part's content. Read it (or destroy it) before asking the iterator for the next part. */
  readonly body: Readable;
}

export const DEFAULT_MAX_HEADER_BYTES = 16 * 1024;
/** Transport padding (RFC 2046 5.1.1) is unbounded in the grammar; a line of kilobytes of it is abuse. */
const MAX_TRANSPORT_PADDING = 1024;
/** Buffered ahead per part body; one 64 KiB source chunk already exceeds it, so at most ~one chunk waits. */
const PART_HIGH_WATER_MARK = 64 * 1024;

const CR = 0x0d;
const LF = 0x0a;
const DASH = 0x2d;
const SP = 0x20;
const HT = 0x09;
const EMPTY = Buffer.alloc(0);
const noop = (): void => {};

/**
 * Parses a multipart body. The iterator yields each part once its header block is read; the
 * part's body then streams from the source. Asking for the next part first finishes the current
 * one: a body never read is discarded, one being read is let run to its end.
 *
 * Errors are MultipartError (codes MALFORMED, TRUNCATED, HEADER_TOO_LARGE, TOO_LARGE), or the
 * source's own error. An error in the middle of a body destroys that body with it *and* is thrown
 * by the iterator. Part bodies carry a no-op 'error' listener so that an abandoned body can never
 * crash the process; `pipeline()`/`for await` still see the error.
 *
 * Leaving the loop early (break/throw) does not destroy `body`: it is left paused, with the
 * remainder unread, so an HTTP response can still be sent on the same connection.
 *
 * @throws MultipartError INVALID_BOUNDARY synchronously, for a boundary the parser cannot use
 */
export function parseMultipart(body: Readable, boundary: string, opts: MultipartParseOptions = {}): AsyncIterable<MultipartPart> {
  assertParsableBoundary(boundary);
  const limits: Limits = {
    maxHeaderBytes: limit(opts.maxHeaderBytes, DEFAULT_MAX_HEADER_BYTES, 'maxHeaderBytes'),
    maxPartBytes: limit(opts.maxPartBytes, Infinity, 'maxPartBytes'),
    maxTotalBytes: limit(opts.maxTotalBytes, Infinity, 'maxTotalBytes'),
  };
  return iterateParts(body, boundary, limits);
}

interface Limits {
  readonly maxHeaderBytes: number;
  readonly maxPartBytes: number;
  readonly maxTotalBytes: number;
}

function limit(value: number | undefined, fallback: number, name: string): number {
  if (value === undefined) return fallback;
  if (!(value >= 0)) throw new RangeError(`${name} must be a non-negative number`);
  return value;
}

async function* iterateParts(body: Readable, boundary: string, limits: Limits): AsyncGenerator<MultipartPart, void, undefined> {
  const parser = new MultipartParser(body, boundary, limits);
  try {
    for (;;) {
      const part = await parser.nextPart();
      if (!part) return;
      yield part;
    }
  } finally {
    parser.release();
  }
}

type State = 'preamble' | 'headers' | 'body' | 'epilogue' | 'done' | 'failed';

interface PartState {
  readonly body: Readable;
  readonly done: Promise<void>;
  resolve: () => void;
  reject: (err: Error) => void;
  settled: boolean;
  /** The consumer will not read on: drop the rest of this body. */
  discard: boolean;
  /** Bytes at the start of `pending` that belong to the header/body separator, see scanHeaders. */
  skip: number;
  bytes: number;
  pumping: boolean;
  /** `_read` was called while a pump was already running. */
  kick: boolean;
}

const MORE = 0;
const BAD = 1;
type DelimiterTail = typeof MORE | typeof BAD | { readonly close: boolean; readonly next: number };

class MultipartParser {
  private readonly source: ByteSource;
  /** CRLF "--" boundary: the delimiter of RFC 2046 5.1.1, searched for with Buffer.indexOf. */
  private readonly delimiter: Buffer;
  /**
   * Unconsumed input. It starts as a virtual CRLF so that a dash-boundary at the very start of the
   * body (no preamble) is found by the same CRLF-dash-boundary search as every later delimiter.
   */
  private pending: Buffer = Buffer.from('\r\n', 'latin1');
  private state: State = 'preamble';
  /** Where the header-block line scan resumes, so a header block split over many chunks is scanned once. */
  private headerScan = 0;
  private current: PartState | undefined;
  private error: Error | undefined;
  private released = false;
  private total = 0;
  private partCount = 0;

  constructor(
    body: Readable,
    boundary: string,
    private readonly limits: Limits,
  ) {
    this.source = new ByteSource(body);
    this.delimiter = Buffer.from(`\r\n--${boundary}`, 'latin1');
  }

  async nextPart(): Promise<MultipartPart | undefined> {
    if (this.error) throw this.error;
    try {
      const previous = this.current;
      if (previous) {
        await this.finish(previous);
        this.current = undefined;
      }
      for (;;) {
        switch (this.state) {
          case 'preamble':
            if (this.scanPreamble()) continue;
            break;
          case 'headers': {
            const part = this.scanHeaders();
            if (part) return part;
            break;
          }
          case 'epilogue':
            // RFC 2046 5.1.1: the epilogue is to be ignored; it is still read so the input is consumed
            // (and counted against maxTotalBytes).
            this.pending = EMPTY;
            break;
          case 'done':
            return undefined;
          default:
            throw new Error(`multipart parser: nextPart in state ${this.state}`);
        }
        if (!(await this.fill())) {
          if (this.state === 'epilogue') {
            this.state = 'done';
            this.source.detach();
            return undefined;
          }
          if (this.state === 'preamble' && !startsWith(this.pending, this.delimiter)) {
            throw new MultipartError('MALFORMED', 'no multipart boundary found in the body');
          }
          throw new MultipartError('TRUNCATED', this.state === 'preamble' ? 'the body ends on its first boundary' : 'the body ends inside a part header block');
        }
      }
    } catch (err) {
      this.fail(asError(err));
      throw err;
    }
  }

  /** The iterator is finished or abandoned. */
  release(): void {
    this.released = true;
    const part = this.current;
    if (part && !part.settled && !part.body.destroyed && part.body.readableFlowing === null) part.body.destroy();
    // A body still being read keeps the source until it reaches its end (see settle).
    if (!part || part.settled || part.body.destroyed) this.source.detach();
  }

  /** Reads one more chunk into `pending`; false at the end of the input. */
  private async fill(): Promise<boolean> {
    const chunk = await this.source.read();
    if (this.error) throw this.error;
    if (chunk === null) return false;
    this.total += chunk.length;
    if (this.total > this.limits.maxTotalBytes) {
      throw new MultipartError('TOO_LARGE', `the multipart body exceeds ${this.limits.maxTotalBytes} bytes`);
    }
    // Only a short tail (at most a partial delimiter or an unfinished header block) is ever pending
    // when a chunk arrives, so this concat is rare and small for body data.
    this.pending = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk]);
    return true;
  }

  /** Discards the preamble up to the first dash-boundary line; true once found. */
  private scanPreamble(): boolean {
    const buf = this.pending;
    let from = 0;
    for (;;) {
      const i = buf.indexOf(this.delimiter, from);
      if (i === -1) {
        this.pending = buf.subarray(safeEnd(buf, this.delimiter));
        return false;
      }
      const tail = this.delimiterTail(buf, i + this.delimiter.length);
      if (tail === MORE) {
        this.pending = buf.subarray(i);
        return false;
      }
      if (tail === BAD) {
        // A preamble line that merely starts with the boundary ("--boundaryX"): still preamble.
        from = i + 1;
        continue;
      }
      this.pending = buf.subarray(tail.next);
      this.enterAfterDelimiter(tail.close);
      return true;
    }
  }

  private enterAfterDelimiter(close: boolean): void {
    this.state = close ? 'epilogue' : 'headers';
    this.headerScan = 0;
  }

  /**
   * What follows a matched delimiter at `pos`: "--" (close delimiter; anything after it is
   * epilogue), or transport padding (LWSP, RFC 2046 5.1.1) and then CRLF. A bare LF is accepted
   * too, as in header lines.
   */
  private delimiterTail(buf: Buffer, pos: number): DelimiterTail {
    const len = buf.length;
    if (pos >= len) return MORE;
    if (buf[pos] === DASH) {
      if (pos + 1 >= len) return MORE;
      return buf[pos + 1] === DASH ? { close: true, next: pos + 2 } : BAD;
    }
    let p = pos;
    while (p < len && (buf[p] === SP || buf[p] === HT)) p++;
    if (p - pos > MAX_TRANSPORT_PADDING) return BAD;
    if (p >= len) return MORE;
    if (buf[p] === LF) return { close: false, next: p + 1 };
    if (buf[p] === CR) {
      if (p + 1 >= len) return MORE;
      return buf[p + 1] === LF ? { close: false, next: p + 2 } : BAD;
    }
    return BAD;
  }

  /** Reads a part's header block (RFC 2046 5.1 / RFC 5322 2.2 fields up to a blank line). */
  private scanHeaders(): MultipartPart | undefined {
    const buf = this.pending;
    const max = this.limits.maxHeaderBytes;
    let pos = this.headerScan;
    for (;;) {
      const nl = buf.indexOf(LF, pos);
      if (nl === -1) {
        this.headerScan = pos;
        // A blank line starting at or before `max` would be complete within max + 2 bytes, so this
        // fails the same way whatever the chunking.
        if (pos > max || buf.length > max + 2) throw headerTooLarge(max);
        return undefined;
      }
      if (nl === pos || (nl === pos + 1 && buf[pos] === CR)) {
        if (pos > max) throw headerTooLarge(max);
        const headers = parseHeaderBlock(buf.subarray(0, pos));
        // body-part := MIME-part-headers [CRLF *OCTET] (RFC 2046 5.1.1): when the part has no
        // content, this blank line's CRLF is the next delimiter's CRLF. So a CRLF blank line stays
        // in `pending` (skip = 2) and is dropped only once it is known not to start a delimiter.
        const crlf = nl === pos + 1;
        this.pending = buf.subarray(crlf ? pos : nl + 1);
        return this.startPart(headers, crlf ? 2 : 0);
      }
      // Checked line by line so a body sent without its blank line fails as MALFORMED at once,
      // instead of being buffered as headers up to the limit.
      checkHeaderLine(buf.toString('latin1', pos, nl), pos === 0);
      pos = nl + 1;
    }
  }

  private startPart(headers: Record<string, string>, skip: number): MultipartPart {
    let resolve!: () => void;
    let reject!: (err: Error) => void;
    const done = new Promise<void>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    done.catch(noop); // observed through nextPart; never an unhandled rejection
    const state: PartState = {
      body: new Readable({
        highWaterMark: PART_HIGH_WATER_MARK,
        read: () => this.pump(state),
        destroy: (err, callback) => {
          state.discard = true;
          callback(err);
        },
      }),
      done,
      resolve,
      reject,
      settled: false,
      discard: false,
      skip,
      bytes: 0,
      pumping: false,
      kick: false,
    };
    state.body.on('error', noop);
    this.state = 'body';
    this.current = state;
    const contentType = headers['content-type'];
    const part: MultipartPart = { index: this.partCount++, headers, body: state.body, ...(contentType === undefined ? {} : { contentType }) };
    return part;
  }

  /** Moves body bytes from the source into the part body until backpressure, its end, or an error. */
  private pump(part: PartState): void {
    if (part.pumping) {
      part.kick = true;
      return;
    }
    if (part.settled || this.error) return;
    part.pumping = true;
    void this.pumpLoop(part);
  }

  private async pumpLoop(part: PartState): Promise<void> {
    try {
      for (;;) {
        part.kick = false;
        const result = this.scanBody(part);
        if (result === 'done') return;
        if (result === 'paused' && !part.kick) return; // `_read` will call pump again
        if (result === 'more' && !(await this.fill())) {
          throw new MultipartError('TRUNCATED', `the body ends inside part ${this.partCount - 1}`);
        }
      }
    } catch (err) {
      this.fail(asError(err));
    } finally {
      part.pumping = false;
    }
  }

  /**
   * One pass over `pending` in body state: indexOf for the delimiter, push everything before it.
   * Without a match, everything that cannot be the start of a delimiter is pushed and only a
   * possible partial delimiter at the end is kept, so memory stays at one chunk.
   */
  private scanBody(part: PartState): 'done' | 'paused' | 'more' {
    const buf = this.pending;
    const delimiter = this.delimiter;
    const i = buf.indexOf(delimiter);
    if (i === -1) {
      const end = safeEnd(buf, delimiter);
      if (end <= part.skip) return 'more';
      const flowing = this.emit(part, buf.subarray(part.skip, end));
      part.skip = 0;
      this.pending = end === buf.length ? EMPTY : buf.subarray(end);
      return flowing ? 'more' : 'paused';
    }
    // i === 0 with skip === 2: the header block's blank line was the delimiter's CRLF (empty body).
    if (i > part.skip) this.emit(part, buf.subarray(part.skip, i));
    part.skip = 0;
    this.pending = buf.subarray(i);
    const tail = this.delimiterTail(this.pending, delimiter.length);
    if (tail === MORE) return 'more';
    if (tail === BAD) {
      // RFC 2046 5.1.1: the boundary must not begin any line of a part. Rejected rather than passed
      // through as content, so the body is never ended as if it were complete.
      throw new MultipartError('MALFORMED', `invalid delimiter line after part ${this.partCount - 1}`);
    }
    this.pending = this.pending.subarray(tail.next);
    this.enterAfterDelimiter(tail.close);
    this.settle(part);
    return 'done';
  }

  /** Hands body bytes to the consumer; false when it wants no more for now. */
  private emit(part: PartState, bytes: Buffer): boolean {
    part.bytes += bytes.length;
    if (part.bytes > this.limits.maxPartBytes) {
      throw new MultipartError('TOO_LARGE', `part ${this.partCount - 1} exceeds ${this.limits.maxPartBytes} bytes`);
    }
    if (part.discard || part.body.destroyed) return true;
    return part.body.push(bytes);
  }

  private settle(part: PartState): void {
    part.settled = true;
    if (!part.discard && !part.body.destroyed) part.body.push(null);
    part.resolve();
    if (this.released) this.source.detach();
  }

  /** Called by nextPart: the consumer is done with the current part, whether or not it read all of it. */
  private async finish(part: PartState): Promise<void> {
    if (!part.settled) {
      const body = part.body;
      if (!body.destroyed) {
        // Never touched: nobody will read it, so drop its bytes without going through the stream.
        // Touched: flow it to whoever listens (a pipe keeps getting every byte, with backpressure).
        if (body.readableFlowing === null) body.destroy();
        else body.resume();
      }
      this.pump(part);
    }
    await part.done;
  }

  private fail(err: Error): void {
    if (this.error) return;
    this.error = err;
    this.state = 'failed';
    const part = this.current;
    if (part && !part.settled) {
      part.settled = true;
      part.body.destroy(err);
      part.reject(err);
    }
    this.source.detach();
  }
}

/**
 * Length of the prefix of `buf` that cannot contain the start of a delimiter, given that `buf`
 * holds no complete one: everything up to the first CR that begins a partial delimiter at the very
 * end. The delimiter has exactly one CR (its first byte; a boundary has none), so only CRs among the
 * last delimiter.length - 1 bytes are candidates.
 */
function safeEnd(buf: Buffer, delimiter: Buffer): number {
  const len = buf.length;
  let p = buf.indexOf(CR, Math.max(0, len - delimiter.length + 1));
  while (p !== -1) {
    if (buf.compare(delimiter, 0, len - p, p, len) === 0) return p;
    p = buf.indexOf(CR, p + 1);
  }
  return len;
}

function startsWith(buf: Buffer, prefix: Buffer): boolean {
  return buf.length >= prefix.length && buf.compare(prefix, 0, prefix.length, 0, prefix.length) === 0;
}

function headerTooLarge(max: number): MultipartError {
  return new MultipartError('HEADER_TOO_LARGE', `a part header block exceeds ${max} bytes`);
}

/**
 * Header fields (RFC 5322 2.2, as used by MIME parts, RFC 2045 / 2046 5.1): `name: value` lines,
 * with obsolete line folding (a line starting with SP/HT continues the previous field, RFC 5322 2.2.3).
 * Bytes are decoded as latin1, which keeps every octet (as Node's HTTP parser does).
 */
const FIELD_NAME = /^[!#$%&'*+\-.^_`|~0-9a-z]+$/;

/** `line` (without its LF) is a field or, unless it is the first line, a continuation. */
function checkHeaderLine(line: string, first: boolean): void {
  if (line.startsWith(' ') || line.startsWith('\t')) {
    if (first) throw new MultipartError('MALFORMED', 'a part header block starts with a continuation line');
    return;
  }
  const colon = line.indexOf(':');
  if (colon <= 0 || !FIELD_NAME.test(line.slice(0, colon).trimEnd().toLowerCase())) {
    throw new MultipartError('MALFORMED', `invalid part header line: ${JSON.stringify(line.slice(0, 100))}`);
  }
}

function parseHeaderBlock(block: Buffer): Record<string, string> {
  const headers: Record<string, string> = Object.create(null) as Record<string, string>;
  if (block.length === 0) return headers;
  const lines = block.toString('latin1').split('\n');
  lines.pop(); // the block ends with LF: the last element is empty
  let last: string | undefined;
  for (const raw of lines) {
    const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    if (line.startsWith(' ') || line.startsWith('\t')) {
      if (last === undefined) throw new MultipartError('MALFORMED', 'a part header block starts with a continuation line');
      headers[last] = `${headers[last] ?? ''} ${line.trim()}`.trimStart();
      continue;
    }
    const colon = line.indexOf(':');
    const name = colon > 0 ? line.slice(0, colon).trimEnd().toLowerCase() : '';
    if (!FIELD_NAME.test(name)) {
      throw new MultipartError('MALFORMED', `invalid part header line: ${JSON.stringify(line.slice(0, 100))}`);
    }
    const value = line.slice(colon + 1).trim();
    const existing = headers[name];
    headers[name] = existing === undefined ? value : `${existing}, ${value}`;
    last = name;
  }
  return headers;
}

function asError(err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err));
}
