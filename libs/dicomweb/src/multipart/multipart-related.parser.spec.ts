import { describe, expect, it } from '@jest/globals';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { MultipartError } from './multipart.error.js';
import { parseMultipart } from './multipart-related.parser.js';
import type { MultipartParseOptions, MultipartPart } from './multipart-related.parser.js';

const bytes = (s: string): Buffer => Buffer.from(s, 'latin1');

/** An object-mode source, so each Buffer arrives as exactly one chunk. */
function source(...chunks: Array<string | Buffer>): Readable {
  return Readable.from(chunks.map((c) => (typeof c === 'string' ? bytes(c) : c)));
}

function splitAt(data: Buffer, cuts: readonly number[]): Buffer[] {
  const out: Buffer[] = [];
  let from = 0;
  for (const cut of [...cuts].sort((a, b) => a - b)) {
    out.push(data.subarray(from, cut));
    from = cut;
  }
  out.push(data.subarray(from));
  return out;
}

async function readAll(body: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of body) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

interface Parsed {
  headers: Record<string, string>;
  contentType?: string;
  body: string;
}

async function parseAll(input: Readable, boundary: string, opts?: MultipartParseOptions): Promise<Parsed[]> {
  const out: Parsed[] = [];
  for await (const part of parseMultipart(input, boundary, opts)) {
    const body = (await readAll(part.body)).toString('latin1');
    out.push({ headers: { ...part.headers }, ...(part.contentType === undefined ? {} : { contentType: part.contentType }), body });
  }
  return out;
}

async function codeOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (err) {
    return err instanceof MultipartError ? err.code : `not a MultipartError: ${String(err)}`;
  }
  return 'no error';
}

/** A message exercising the awkward corners of RFC 2046 5.1.1, with its expected parts. */
const BOUNDARY = 'frontier';
const TRICKY = bytes(
  'This is the preamble. --frontier is not a boundary here\r\n--frontierX neither\r\n' +
    '--frontier \t \r\n' + // transport padding after the dash-boundary
    'Content-Type: application/dicom\r\n' +
    'Content-Location: a\r\n' +
    '\r\n' +
    'body1 \r\n--frontie \r\n--front\r\r\n--fr --frontier \n--frontier\r\n\r\n-' + // near misses only
    '\r\n--frontier\r\n' +
    'content-type: text/plain\n' + // bare LF header lines
    'X-Folded: a\r\n  b\r\n' + // obsolete line folding
    'X-Dup: 1\r\nx-dup: 2\r\n' +
    '\n' +
    '\r\r\n--frontie' + // body ends in a partial delimiter; the delimiter line then has padding
    '\r\n--frontier   \r\n' +
    '\r\n' + // no headers
    '\r\n--frontier--  \r\n' +
    'epilogue \r\n--frontier\r\n ignored',
);
const TRICKY_PARTS: Parsed[] = [
  {
    headers: { 'content-type': 'application/dicom', 'content-location': 'a' },
    contentType: 'application/dicom',
    body: 'body1 \r\n--frontie \r\n--front\r\r\n--fr --frontier \n--frontier\r\n\r\n-',
  },
  {
    headers: { 'content-type': 'text/plain', 'x-folded': 'a b', 'x-dup': '1, 2' },
    contentType: 'text/plain',
    body: '\r\r\n--frontie',
  },
  { headers: {}, body: '' },
];

describe('parseMultipart: framing', () => {
  it('parses preamble, padding, near-miss delimiters, bare LF headers, folding, an empty part and the epilogue', async () => {
    expect(await parseAll(source(TRICKY), BOUNDARY)).toEqual(TRICKY_PARTS);
  });

  it('gives the same parts with the input split at every byte position', async () => {
    for (let cut = 0; cut <= TRICKY.length; cut++) {
      const parts = await parseAll(source(...splitAt(TRICKY, [cut])), BOUNDARY);
      if (JSON.stringify(parts) !== JSON.stringify(TRICKY_PARTS)) {
        throw new Error(`split at ${cut}: ${JSON.stringify(parts)}`);
      }
    }
  });

  it('gives the same parts with the input in 1-byte chunks', async () => {
    const chunks = Array.from(TRICKY, (b) => Buffer.from([b]));
    expect(await parseAll(source(...chunks), BOUNDARY)).toEqual(TRICKY_PARTS);
  });

  it('gives the same parts with the input split at every pair of positions of a small message', async () => {
    const message = bytes('--b\r\nA: 1\r\n\r\nx\r\n--b\r\n\r\n\r\n--\r\n-b\r\n--b\r\nB: 2\r\n\r\nyz\r\n--b--');
    const expected = [
      { headers: { a: '1' }, body: 'x' },
      { headers: {}, body: '\r\n--\r\n-b' },
      { headers: { b: '2' }, body: 'yz' },
    ];
    for (let i = 0; i <= message.length; i++) {
      for (let j = i; j <= message.length; j++) {
        const parts = await parseAll(source(...splitAt(message, [i, j])), 'b');
        if (JSON.stringify(parts) !== JSON.stringify(expected)) throw new Error(`split at ${i},${j}: ${JSON.stringify(parts)}`);
      }
    }
  });

  it('gives the same parts for random chunkings of random binary bodies', async () => {
    let seed = 42;
    const random = (n: number): number => {
      seed = (seed * 1103515245 + 12345) >>> 0;
      return seed % n;
    };
    const boundary = 'r4nd0m';
    const alphabet = bytes(`\r\n-${boundary}x`); // biased towards delimiter fragments
    for (let round = 0; round < 200; round++) {
      const bodies = Array.from({ length: 1 + random(4) }, () => {
        let body = Buffer.from(Array.from({ length: random(300) }, () => alphabet[random(alphabet.length)] ?? 0));
        // Remove accidental complete delimiters, which a sender must not produce (RFC 2046 5.1.1).
        while (body.includes(`\r\n--${boundary}`)) body = Buffer.from(body.toString('latin1').replace(`\r\n--${boundary}`, '\r\n-x'), 'latin1');
        return body;
      });
      const message = Buffer.concat([
        ...bodies.flatMap((body, i) => [bytes(`${i === 0 ? '' : '\r\n'}--${boundary}\r\nN: ${i}\r\n\r\n`), body]),
        bytes(`\r\n--${boundary}--\r\n`),
      ]);
      const cuts = Array.from({ length: random(12) }, () => random(message.length + 1));
      const parts = await parseAll(source(...splitAt(message, cuts)), boundary);
      expect(parts.map((p) => p.body)).toEqual(bodies.map((b) => b.toString('latin1')));
      expect(parts.map((p) => p.headers['n'])).toEqual(bodies.map((_, i) => String(i)));
    }
  });

  it('accepts a body with no preamble, no final CRLF and no epilogue', async () => {
    expect(await parseAll(source('--b\r\n\r\nx\r\n--b--'), 'b')).toEqual([{ headers: {}, body: 'x' }]);
  });

  it('accepts a part whose header block runs straight into the next delimiter (empty content)', async () => {
    // body-part := MIME-part-headers [CRLF *OCTET]: the CRLF ending the headers is the delimiter's CRLF.
    expect(await parseAll(source('--b\r\nA: 1\r\n\r\n--b\r\n\r\n--b--'), 'b')).toEqual([
      { headers: { a: '1' }, body: '' },
      { headers: {}, body: '' },
    ]);
  });

  it('keeps a body that starts with CRLF', async () => {
    expect(await parseAll(source('--b\r\n\r\n\r\nx\r\n--b--'), 'b')).toEqual([{ headers: {}, body: '\r\nx' }]);
  });

  it('reads a close delimiter with no parts as an empty message', async () => {
    expect(await parseAll(source('--b--\r\n'), 'b')).toEqual([]);
  });

  it('passes binary bytes through unchanged, including every byte value in headers', async () => {
    const payload = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
    const input = Buffer.concat([bytes('--b\r\nX-Raw: \xe9\xff\r\n\r\n'), payload, payload, bytes('\r\n--b--')]);
    const parts = await parseAll(source(input), 'b');
    expect(parts[0]?.headers['x-raw']).toBe('\xe9\xff');
    expect(bytes(parts[0]?.body ?? '')).toEqual(Buffer.concat([payload, payload]));
  });

  it('accepts strings and Uint8Arrays as source chunks', async () => {
    const input = Readable.from(['--b\r\n\r\n', new Uint8Array([0x61, 0x62]), '\r\n--b--']);
    expect(await parseAll(input, 'b')).toEqual([{ headers: {}, body: 'ab' }]);
  });

  it('numbers parts and exposes headers with lower-case names on a null-prototype object', async () => {
    const seen: Array<{ index: number; proto: unknown }> = [];
    for await (const part of parseMultipart(source('--b\r\nConstructor: x\r\n\r\n1\r\n--b\r\n\r\n2\r\n--b--'), 'b')) {
      seen.push({ index: part.index, proto: Object.getPrototypeOf(part.headers) });
      part.body.resume();
    }
    expect(seen).toEqual([
      { index: 0, proto: null },
      { index: 1, proto: null },
    ]);
  });
});

describe('parseMultipart: consumers', () => {
  const THREE = '--b\r\nN: 1\r\n\r\none\r\n--b\r\nN: 2\r\n\r\ntwo\r\n--b\r\nN: 3\r\n\r\nthree\r\n--b--\r\n';

  it('drains a part the consumer never reads', async () => {
    const bodies: string[] = [];
    for await (const part of parseMultipart(source(...splitAt(bytes(THREE), [20, 30, 40])), 'b')) {
      if (part.headers['n'] === '2') continue;
      bodies.push((await readAll(part.body)).toString());
    }
    expect(bodies).toEqual(['one', 'three']);
  });

  it('drains a large skipped part without pushing it through a stream, and the skipped body is unusable', async () => {
    const big = Buffer.alloc(5 * 1024 * 1024, 0x41);
    const input = source(bytes('--b\r\n\r\n'), ...splitAt(big, [1000, 70000, 3000000]), bytes('\r\n--b\r\n\r\nend\r\n--b--'));
    const parts: MultipartPart[] = [];
    const bodies: string[] = [];
    for await (const part of parseMultipart(input, 'b')) {
      parts.push(part);
      if (part.index === 1) bodies.push((await readAll(part.body)).toString());
    }
    expect(bodies).toEqual(['end']);
    expect(parts[0]?.body.destroyed).toBe(true);
    expect(parts[0]?.body.readableLength).toBe(0);
  });

  it('continues after the consumer destroys a part body half way', async () => {
    const chunk = Buffer.alloc(100 * 1024, 0x61);
    const input = source('--b\r\n\r\n', chunk, chunk, chunk, '\r\n--b\r\n\r\nnext\r\n--b--');
    let firstBodyBytes = 0;
    const bodies: string[] = [];
    for await (const part of parseMultipart(input, 'b')) {
      if (part.index === 0) {
        for await (const data of part.body) {
          firstBodyBytes += (data as Buffer).length;
          break; // destroys the body
        }
        expect(part.body.destroyed).toBe(true);
      } else {
        bodies.push((await readAll(part.body)).toString());
      }
    }
    expect(firstBodyBytes).toBeGreaterThan(0);
    expect(firstBodyBytes).toBeLessThan(3 * chunk.length);
    expect(bodies).toEqual(['next']);
  });

  it('lets a piped body finish when the consumer asks for the next part without waiting', async () => {
    const received: string[] = [];
    const sinks: Array<Promise<void>> = [];
    for await (const part of parseMultipart(source(...splitAt(bytes(THREE), [18, 19, 33])), 'b')) {
      const chunks: Buffer[] = [];
      sinks.push(
        pipeline(
          part.body,
          new Writable({
            highWaterMark: 1,
            write(chunk: Buffer, _enc, cb) {
              chunks.push(chunk);
              setImmediate(cb); // a slow sink
            },
          }),
        ).then(() => {
          received[part.index] = Buffer.concat(chunks).toString();
        }),
      );
    }
    await Promise.all(sinks);
    expect(received).toEqual(['one', 'two', 'three']);
  });

  it('leaves the source intact and paused when the consumer stops early', async () => {
    const input = source('--b\r\n\r\none\r\n--b\r\n\r\ntwo\r\n--b--', 'rest');
    for await (const part of parseMultipart(input, 'b')) {
      expect((await readAll(part.body)).toString()).toBe('one');
      break;
    }
    expect(input.destroyed).toBe(false);
    expect(input.listenerCount('readable')).toBe(0);
    const rest: string[] = [];
    for await (const chunk of input) rest.push((chunk as Buffer).toString());
    expect(rest).toEqual(['rest']);
  });

  it('does not read the source ahead of a slow consumer (backpressure)', async () => {
    const chunkSize = 64 * 1024;
    let produced = 0;
    let sent = 0;
    const input = new Readable({
      read() {
        if (sent === 0) this.push(bytes('--b\r\n\r\n'));
        else if (sent > 1000) this.push(null);
        else {
          produced += chunkSize;
          this.push(Buffer.alloc(chunkSize, 0x42));
        }
        sent++;
      },
    });
    const iterator = parseMultipart(input, 'b')[Symbol.asyncIterator]();
    const first = await iterator.next();
    const body = (first.value as MultipartPart).body;
    let consumed = 0;
    for await (const chunk of body) {
      consumed += (chunk as Buffer).length;
      if (consumed >= 4 * chunkSize) break;
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
    // source hwm + parser pending + part body hwm: a few chunks, never the 64 MB on offer
    expect(produced - consumed).toBeLessThanOrEqual(4 * chunkSize);
    input.destroy();
  });
});

describe('parseMultipart: errors', () => {
  it('rejects a body with no boundary as MALFORMED', async () => {
    expect(await codeOf(parseAll(source('just some bytes\r\n'), 'b'))).toBe('MALFORMED');
    expect(await codeOf(parseAll(source(''), 'b'))).toBe('MALFORMED');
    expect(await codeOf(parseAll(source('--c\r\n\r\nx\r\n--c--'), 'b'))).toBe('MALFORMED');
    expect(await codeOf(parseAll(source('--bb\r\n\r\nx\r\n--bb--'), 'b'))).toBe('MALFORMED');
  });

  it('rejects a header line without a name, or a leading continuation line, as MALFORMED', async () => {
    expect(await codeOf(parseAll(source('--b\r\nno colon here\r\n\r\nx\r\n--b--'), 'b'))).toBe('MALFORMED');
    expect(await codeOf(parseAll(source('--b\r\n: empty name\r\n\r\nx\r\n--b--'), 'b'))).toBe('MALFORMED');
    expect(await codeOf(parseAll(source('--b\r\n folded: first\r\n\r\nx\r\n--b--'), 'b'))).toBe('MALFORMED');
    expect(await codeOf(parseAll(source('--b\r\n--b--\r\n'), 'b'))).toBe('MALFORMED');
  });

  it('rejects a delimiter line with text after the boundary as MALFORMED, on the body and the iterator', async () => {
    const iterator = parseMultipart(source('--b\r\n\r\nabc\r\n--bX\r\n\r\nx\r\n--b--'), 'b')[Symbol.asyncIterator]();
    const part = (await iterator.next()).value as MultipartPart;
    expect(await codeOf(readAll(part.body))).toBe('MALFORMED');
    expect(await codeOf(iterator.next())).toBe('MALFORMED');
    expect(await codeOf(parseAll(source('--b\r\n\r\nabc\r\n--b-x'), 'b'))).toBe('MALFORMED');
    expect(await codeOf(parseAll(source('--b\r\n\r\nabc\r\n--b \rx'), 'b'))).toBe('MALFORMED');
    expect(await codeOf(parseAll(source(`--b\r\n\r\nabc\r\n--b${' '.repeat(2000)}\r\n`), 'b'))).toBe('MALFORMED');
  });

  it('reports TRUNCATED on the part body and on the iterator when the input ends inside a body', async () => {
    const iterator = parseMultipart(source('--b\r\nA: 1\r\n\r\npartial data\r\n--'), 'b')[Symbol.asyncIterator]();
    const part = (await iterator.next()).value as MultipartPart;
    const chunks: Buffer[] = [];
    part.body.on('data', (c: Buffer) => chunks.push(c));
    const error = await new Promise<unknown>((resolve) => part.body.once('error', resolve));
    expect((error as MultipartError).code).toBe('TRUNCATED');
    expect(Buffer.concat(chunks).toString()).toBe('partial data');
    expect(await codeOf(iterator.next())).toBe('TRUNCATED');
    expect(await iterator.next()).toEqual({ done: true, value: undefined }); // a failed generator is finished
  });

  it('reports TRUNCATED through the iterator when the truncated body is never read', async () => {
    expect(await codeOf(parseAll(source('--b\r\n\r\nabc'), 'b', {}).then(() => undefined))).toBe('TRUNCATED');
    const run = async (): Promise<void> => {
      for await (const part of parseMultipart(source('--b\r\n\r\nabc'), 'b')) void part; // body skipped
    };
    expect(await codeOf(run())).toBe('TRUNCATED');
  });

  it('reports TRUNCATED wherever the input stops before the close delimiter', async () => {
    const cases = ['--b', '--b ', '--b\r', '--b\r\n', '--b\r\nA: 1', '--b\r\nA: 1\r\n', '--b\r\n\r\nx\r\n--b', '--b\r\n\r\nx\r\n--b-', '--b\r\n\r\nx\r\n--b\r\n'];
    for (const input of cases) expect([input, await codeOf(parseAll(source(input), 'b'))]).toEqual([input, 'TRUNCATED']);
  });

  it('reports TRUNCATED when the source is destroyed without an error, and the source error when it has one', async () => {
    const closing = new Readable({ read() {} });
    closing.push(bytes('--b\r\n\r\nabc'));
    setTimeout(() => closing.destroy(), 10);
    expect(await codeOf(parseAll(closing, 'b'))).toBe('TRUNCATED');

    const failing = new Readable({ read() {} });
    failing.push(bytes('--b\r\n\r\nabc'));
    const boom = new Error('socket hang up');
    setTimeout(() => failing.destroy(boom), 10);
    const iterator = parseMultipart(failing, 'b')[Symbol.asyncIterator]();
    const part = (await iterator.next()).value as MultipartPart;
    await expect(readAll(part.body)).rejects.toBe(boom);
    await expect(iterator.next()).rejects.toBe(boom);
  });

  it('rejects a header block over maxHeaderBytes with HEADER_TOO_LARGE, whatever the chunking', async () => {
    const headerBlock = `X-Long: ${'v'.repeat(100)}\r\n`; // 110 bytes
    const message = bytes(`--b\r\n${headerBlock}\r\nx\r\n--b--`);
    for (const cut of [0, 10, 60, 114, 117, 118, message.length]) {
      expect(await codeOf(parseAll(source(...splitAt(message, [cut])), 'b', { maxHeaderBytes: 109 }))).toBe('HEADER_TOO_LARGE');
      expect(await parseAll(source(...splitAt(message, [cut])), 'b', { maxHeaderBytes: 110 })).toHaveLength(1);
    }
    // A header block that never ends is cut off at the limit, not buffered for ever.
    const endless = new Readable({
      read() {
        this.push(bytes('X: y\r\n'));
      },
    });
    endless.push(bytes('--b\r\n'));
    expect(await codeOf(parseAll(endless, 'b'))).toBe('HEADER_TOO_LARGE');
    endless.destroy();
  });

  it('rejects a part over maxPartBytes with TOO_LARGE, on the body and the iterator', async () => {
    const message = bytes('--b\r\n\r\n0123456789\r\n--b\r\n\r\n01234567890\r\n--b--');
    for (const cut of [0, 10, 17, 19, 30, 45]) {
      const iterator = parseMultipart(source(...splitAt(message, [cut])), 'b', { maxPartBytes: 10 })[Symbol.asyncIterator]();
      expect(await readAll(((await iterator.next()).value as MultipartPart).body)).toEqual(bytes('0123456789'));
      const second = (await iterator.next()).value as MultipartPart;
      expect(await codeOf(readAll(second.body))).toBe('TOO_LARGE');
      expect(await codeOf(iterator.next())).toBe('TOO_LARGE');
    }
    // also when the consumer skips the part
    expect(await codeOf((async () => { for await (const p of parseMultipart(source(message), 'b', { maxPartBytes: 10 })) void p; })())).toBe('TOO_LARGE');
  });

  it('rejects an input over maxTotalBytes with TOO_LARGE', async () => {
    const message = bytes('--b\r\n\r\n0123456789\r\n--b--\r\n');
    expect(await parseAll(source(message), 'b', { maxTotalBytes: message.length })).toHaveLength(1);
    expect(await codeOf(parseAll(source(message), 'b', { maxTotalBytes: message.length - 1 }))).toBe('TOO_LARGE');
    expect(await codeOf(parseAll(source(message, 'epilogue'), 'b', { maxTotalBytes: message.length }))).toBe('TOO_LARGE');
  });

  it('refuses unusable boundaries and limits synchronously', () => {
    for (const boundary of ['', 'a\r\nb', 'x'.repeat(201), 'caf\u00e9']) {
      expect(() => parseMultipart(source(''), boundary)).toThrow(expect.objectContaining({ code: 'INVALID_BOUNDARY' }) as unknown as Error);
    }
    expect(() => parseMultipart(source(''), 'b', { maxPartBytes: -1 })).toThrow(RangeError);
  });

  it('suggests 400 for malformed input and 413 for limits', async () => {
    const statusOf = async (promise: Promise<unknown>): Promise<number | undefined> =>
      promise.then(
        () => undefined,
        (err: unknown) => (err as MultipartError).httpStatus,
      );
    expect(await statusOf(parseAll(source('nothing'), 'b'))).toBe(400);
    expect(await statusOf(parseAll(source('--b\r\n\r\nabc'), 'b'))).toBe(400);
    expect(await statusOf(parseAll(source('--b\r\n\r\nabc\r\n--b--'), 'b', { maxPartBytes: 2 }))).toBe(413);
  });
});
