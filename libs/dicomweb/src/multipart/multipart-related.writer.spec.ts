import { describe, expect, it } from '@jest/globals';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { PassThrough, Readable } from 'node:stream';
import { isValidBoundary } from './boundary.js';
import { boundaryFromContentType, parseMediaType } from './content-type.js';
import { MultipartError } from './multipart.error.js';
import { parseMultipart } from './multipart-related.parser.js';
import { writeMultipart } from './multipart-related.writer.js';
import type { MultipartWriterPart } from './multipart-related.writer.js';

async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

async function failureOf(stream: Readable): Promise<unknown> {
  try {
    await readAll(stream);
  } catch (err) {
    return err;
  }
  return undefined;
}

/** A body stream in several chunks, so the writer really streams it. */
function chunked(data: Buffer, size = 1000): Readable {
  const chunks: Buffer[] = [];
  for (let i = 0; i < data.length; i += size) chunks.push(data.subarray(i, i + size));
  return Readable.from(chunks);
}

describe('writeMultipart', () => {
  it('writes the RFC 2046 layout: first dash-boundary, CRLF delimiters, close delimiter', async () => {
    const writer = writeMultipart(
      [
        { headers: { 'Content-Type': 'application/dicom' }, body: Buffer.from('one') },
        { headers: {}, body: Readable.from([Buffer.from('tw'), Buffer.from('o')]) },
        { headers: { A: '1', B: '2' }, body: Buffer.alloc(0) },
      ],
      'XYZ',
    );
    expect(writer.boundary).toBe('XYZ');
    expect((await readAll(writer.stream)).toString('latin1')).toBe(
      '--XYZ\r\nContent-Type: application/dicom\r\n\r\none' + '\r\n--XYZ\r\n\r\ntwo' + '\r\n--XYZ\r\nA: 1\r\nB: 2\r\n\r\n' + '\r\n--XYZ--\r\n',
    );
  });

  it('gives the Content-Type with type (RFC 2387 3.1) and boundary', () => {
    const writer = writeMultipart([], 'abc');
    expect(writer.contentType('application/dicom')).toBe('multipart/related; type="application/dicom"; boundary=abc');
    expect(writer.contentType('application/dicom+xml', { start: '<root@x>', boundary: 'ignored' })).toBe(
      'multipart/related; type="application/dicom+xml"; start="<root@x>"; boundary=abc',
    );
    expect(boundaryFromContentType(writer.contentType('application/octet-stream'))).toBe('abc');
  });

  it('quotes a given boundary that is not a token', () => {
    const writer = writeMultipart([], "it's ok");
    expect(writer.contentType('application/dicom')).toBe('multipart/related; type="application/dicom"; boundary="it\'s ok"');
    expect(parseMediaType(writer.contentType('application/dicom')).parameters['boundary']).toBe("it's ok");
  });

  it('makes random RFC 2046 boundaries that need no quoting', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 200; i++) {
      const { boundary, contentType } = writeMultipart([]);
      expect(isValidBoundary(boundary)).toBe(true);
      expect(boundary.length).toBeGreaterThanOrEqual(32);
      expect(contentType('application/dicom').endsWith(`; boundary=${boundary}`)).toBe(true);
      seen.add(boundary);
    }
    expect(seen.size).toBe(200);
  });

  it('writes zero parts as a lone close delimiter, which parses as no parts', async () => {
    const writer = writeMultipart([], 'b');
    const body = await readAll(writer.stream);
    expect(body.toString()).toBe('--b--\r\n');
    const parts: unknown[] = [];
    for await (const part of parseMultipart(Readable.from([body]), 'b')) parts.push(part);
    expect(parts).toEqual([]);
  });

  it('round-trips through the parser: buffers, streams, empty bodies, bodies that look like delimiters', async () => {
    const inputs: Array<{ headers: Record<string, string>; body: Buffer }> = [
      { headers: { 'Content-Type': 'application/dicom', 'Content-Location': '/studies/1.2/series/3/instances/4' }, body: randomBytes(300_000) },
      { headers: { 'Content-Type': 'application/dicom+json' }, body: Buffer.from('[{"00080018":{"vr":"UI"}}]') },
      { headers: {}, body: Buffer.alloc(0) },
      { headers: { 'X-Trap': '1' }, body: Buffer.from('\r\n--\r\n--x\r\n\r\n--') },
      { headers: { 'Content-Type': 'application/octet-stream' }, body: randomBytes(70_000) },
    ];
    for (const asStream of [false, true]) {
      const writer = writeMultipart(inputs.map((p) => ({ headers: p.headers, body: asStream ? chunked(p.body, 4096) : p.body })));
      const output: Array<{ headers: Record<string, string>; body: Buffer }> = [];
      for await (const part of parseMultipart(writer.stream, boundaryFromContentType(writer.contentType('application/dicom')))) {
        output.push({ headers: { ...part.headers }, body: await readAll(part.body) });
      }
      expect(output.map((p) => p.body.equals(inputs[output.indexOf(p)]?.body ?? Buffer.alloc(1)))).toEqual(inputs.map(() => true));
      expect(output.map((p) => p.headers)).toEqual(
        inputs.map((p) => Object.fromEntries(Object.entries(p.headers).map(([k, v]) => [k.toLowerCase(), v]))),
      );
    }
  });

  it('pulls parts lazily from an async iterable', async () => {
    const pulled: number[] = [];
    async function* parts(): AsyncGenerator<MultipartWriterPart> {
      for (let i = 0; i < 3; i++) {
        pulled.push(i);
        yield { headers: { N: String(i) }, body: Buffer.alloc(100_000, 0x30 + i) };
      }
    }
    const writer = writeMultipart(parts(), 'b');
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(pulled).toEqual([]); // nothing is read before the stream is consumed
    const bodies: string[] = [];
    for await (const part of parseMultipart(writer.stream, 'b')) bodies.push((await readAll(part.body)).toString().slice(0, 2));
    expect(bodies).toEqual(['00', '11', '22']);
  });

  it('reads a body only as fast as the output is consumed (backpressure)', async () => {
    const chunkSize = 64 * 1024;
    let produced = 0;
    const body = new Readable({
      read() {
        produced += chunkSize;
        this.push(produced > 1024 * chunkSize ? null : Buffer.alloc(chunkSize));
      },
    });
    const writer = writeMultipart([{ headers: {}, body }], 'b');
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(produced).toBe(0); // nothing is read before the output is

    let consumed = 0;
    while (consumed < 8 * chunkSize) {
      const chunk = writer.stream.read() as Buffer | null;
      if (chunk) consumed += chunk.length;
      else await once(writer.stream, 'readable');
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(produced - consumed).toBeLessThanOrEqual(4 * chunkSize); // of the 64 MB on offer

    writer.stream.destroy();
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect(body.destroyed).toBe(true); // closing the output closes the body (the storage read stops)
  });

  it('destroys the output with a part body error, after the bytes before it', async () => {
    const body = new PassThrough();
    const boom = new Error('storage read failed');
    const writer = writeMultipart([{ headers: {}, body: Buffer.from('first') }, { headers: {}, body }], 'b');
    const received: Buffer[] = [];
    writer.stream.on('data', (c: Buffer) => received.push(c));
    const failed = new Promise<unknown>((resolve) => writer.stream.once('error', resolve));
    body.write('partial');
    setTimeout(() => body.destroy(boom), 10);
    expect(await failed).toBe(boom);
    expect(Buffer.concat(received).toString()).toBe('--b\r\n\r\nfirst\r\n--b\r\n\r\npartial');
    expect(writer.stream.destroyed).toBe(true);
  });

  it('destroys the output when the parts iterable fails', async () => {
    const boom = new Error('query failed');
    async function* parts(): AsyncGenerator<MultipartWriterPart> {
      yield { headers: {}, body: Buffer.from('x') };
      throw boom;
    }
    expect(await failureOf(writeMultipart(parts(), 'b').stream)).toBe(boom);
  });

  it('refuses header names and values that would inject headers', async () => {
    const cases: Array<Record<string, string>> = [{ 'X-A': 'x\r\nX-Injected: 1' }, { 'X-A': 'x\ny' }, { 'Bad Name': 'x' }, { 'X-A': '\u20ac' }];
    for (const headers of cases) {
      const error = await failureOf(writeMultipart([{ headers, body: Buffer.from('x') }], 'b').stream);
      expect(error).toBeInstanceOf(MultipartError);
      expect((error as MultipartError).code).toBe('INVALID_HEADER');
    }
  });

  it('refuses a given boundary that RFC 2046 does not allow', () => {
    for (const boundary of ['', 'x'.repeat(71), 'ends with space ', 'semi;colon', 'new\r\nline', 'caf\u00e9']) {
      expect(() => writeMultipart([], boundary)).toThrow(expect.objectContaining({ code: 'INVALID_BOUNDARY' }) as unknown as Error);
    }
    expect(() => writeMultipart([], 'x'.repeat(70))).not.toThrow();
  });
});
