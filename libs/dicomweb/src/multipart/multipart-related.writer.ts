import { Readable } from 'node:stream';
import { assertValidBoundary, createBoundary } from './boundary.js';
import { formatMediaType, isToken } from './content-type.js';
import { MultipartError } from './multipart.error.js';

/** One part to write. A Readable body is streamed (never concatenated); a Buffer is sent as is. */
export interface MultipartWriterPart {
  /** Header fields of the part, e.g. { 'Content-Type': 'application/dicom' }; written in this order. */
  readonly headers: Readonly<Record<string, string>>;
  readonly body: Readable | Uint8Array;
}

export interface MultipartWriter {
  /** The boundary used (RFC 2046 5.1.1); random unless one was given. */
  readonly boundary: string;
  /** The body: start it flowing (pipe it to the response) to pull the parts. */
  readonly stream: Readable;
  /**
   * The Content-Type for the body, e.g. contentType('application/dicom') ===
   * `multipart/related; type="application/dicom"; boundary=…`. RFC 2387 3.1 makes `type`
   * (the root part's media type) mandatory; PS3.18 8.7.3.5 and 10.5.1.1 use it for the DICOM type.
   * Extra parameters (e.g. `start`, or `transfer-syntax` on the type) go between type and boundary.
   */
  contentType(type: string, parameters?: Readonly<Record<string, string>>): string;
}

/**
 * Writes a multipart/related body (RFC 2387, RFC 2046 5.1.1) for a WADO-RS response or a STOW-RS
 * request, streaming: each part is pulled from `parts` and each body chunk read from its stream
 * only when the output stream wants more, so backpressure from the socket reaches the source
 * (a storage read) and memory stays at a few chunks whatever the sizes.
 *
 * Layout: `--B CRLF headers CRLF CRLF body` per part, then `CRLF --B--` CRLF; the first
 * dash-boundary has no leading CRLF and there is no preamble or epilogue. With no parts the body is
 * just the close delimiter (RFC 2046 wants at least one part: callers should answer 204/404 instead).
 *
 * Failure: if a part body or the `parts` iterable errors, `stream` is destroyed with that error, so
 * an HTTP response piped from it is aborted rather than ended as if complete. A bad header name or
 * value destroys it with MultipartError INVALID_HEADER (no header injection). If `stream` is
 * destroyed by its consumer (client gone), the current body stream and the `parts` iterator are
 * closed too, so the storage read stops. Bodies of parts not yet pulled are the caller's: yield parts
 * from an async generator that opens each body when it is asked for, so an aborted response opens
 * nothing more.
 *
 * @throws MultipartError INVALID_BOUNDARY synchronously for a given boundary that RFC 2046 forbids
 */
export function writeMultipart(
  parts: AsyncIterable<MultipartWriterPart> | Iterable<MultipartWriterPart>,
  boundary: string = createBoundary(),
): MultipartWriter {
  assertValidBoundary(boundary);
  const stream = Readable.from(generateBody(parts, boundary), { objectMode: false });
  return {
    boundary,
    stream,
    contentType: (type, parameters = {}) => formatMediaType('multipart/related', { type, ...withoutBoundary(parameters), boundary }),
  };
}

function withoutBoundary(parameters: Readonly<Record<string, string>>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(parameters)) {
    const lower = name.toLowerCase();
    if (lower !== 'boundary' && lower !== 'type') out[name] = value;
  }
  return out;
}

async function* generateBody(parts: AsyncIterable<MultipartWriterPart> | Iterable<MultipartWriterPart>, boundary: string): AsyncGenerator<Buffer, void, undefined> {
  let first = true;
  for await (const part of parts) {
    // The first dash-boundary needs no CRLF before it (no preamble); every later one is a
    // delimiter, CRLF "--" boundary, whose CRLF belongs to the boundary, not to the body before it.
    yield Buffer.from(`${first ? '' : '\r\n'}--${boundary}\r\n${formatHeaders(part.headers)}\r\n`, 'latin1');
    first = false;
    const body = part.body;
    if (body instanceof Uint8Array) {
      if (body.byteLength > 0) yield Buffer.isBuffer(body) ? body : Buffer.from(body.buffer, body.byteOffset, body.byteLength);
      continue;
    }
    // for-await reads with backpressure, rethrows the body's error (which ends this generator and
    // makes Readable.from destroy the output with it), and destroys the body if we are closed early.
    for await (const chunk of body as AsyncIterable<unknown>) {
      const bytes = toBuffer(chunk);
      if (bytes.length > 0) yield bytes;
    }
  }
  yield Buffer.from(`${first ? '' : '\r\n'}--${boundary}--\r\n`, 'latin1');
}

/** Header lines, each ending in CRLF. Values are latin1 text without CR/LF/NUL (RFC 5322 2.2). */
function formatHeaders(headers: Readonly<Record<string, string>>): string {
  let out = '';
  for (const [name, value] of Object.entries(headers)) {
    if (!isToken(name)) throw new MultipartError('INVALID_HEADER', `invalid part header name: ${JSON.stringify(name)}`);
    if (!/^[\t\x20-\x7e\x80-\xff]*$/.test(value)) {
      throw new MultipartError('INVALID_HEADER', `invalid value for part header ${name}: control characters or non-latin1 text`);
    }
    out += `${name}: ${value}\r\n`;
  }
  return out;
}

function toBuffer(chunk: unknown): Buffer {
  if (Buffer.isBuffer(chunk)) return chunk;
  if (chunk instanceof Uint8Array) return Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
  if (typeof chunk === 'string') return Buffer.from(chunk, 'utf8');
  throw new TypeError(`multipart part body chunks must be bytes, got ${typeof chunk}`);
}
