import { describe, expect, it } from '@jest/globals';
import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { parseMultipart } from './multipart-related.parser.js';
import { writeMultipart } from './multipart-related.writer.js';

/**
 * Volume tests: a 200 MB part through the parser with bounded memory, and a throughput figure.
 * Both generate their data lazily, so the test itself never holds a whole part either.
 */

const MB = 1024 * 1024;
const CHUNK = 64 * 1024;

/** A real gc(), so memory samples measure what is live rather than what V8 has yet to collect. */
function exposeGc(): () => void {
  setFlagsFromString('--expose-gc');
  return runInNewContext('gc') as () => void;
}

/** A byte-mode Readable over lazily produced chunks. */
function lazySource(next: () => Buffer | null): Readable {
  return new Readable({
    highWaterMark: CHUNK,
    read() {
      this.push(next());
    },
  });
}

describe('parseMultipart at volume', () => {
  it('streams a 200 MB part with bounded memory, byte-exact, with near-miss delimiters at every chunk seam', async () => {
    const gc = exposeGc();
    const boundary = 'vol-boundary-1234';
    const total = 200 * MB;
    const nearMiss = Buffer.from(`\r\n--${boundary.slice(0, -1)}`, 'latin1');

    // Every chunk ends with a partial delimiter and the next starts with a byte that breaks it: the
    // parser's worst case (it must hold back and re-join the tail at every seam).
    const sentHash = createHash('sha1');
    let produced = 0;
    let stage = 0;
    const input = lazySource(() => {
      if (stage === 0) {
        stage = 1;
        return Buffer.from(`preamble\r\n--${boundary}\r\nContent-Type: application/dicom\r\n\r\n`, 'latin1');
      }
      if (stage === 1) {
        const size = Math.min(CHUNK, total - produced);
        const chunk = Buffer.allocUnsafe(size).fill(0x41 + ((produced / CHUNK) % 20)); // A-T: never completes the boundary
        if (size > nearMiss.length + 1) {
          chunk[0] = 0x58; // 'X'
          nearMiss.copy(chunk, size - nearMiss.length);
          nearMiss.copy(chunk, 1000); // and one inside the chunk
        }
        produced += size;
        sentHash.update(chunk);
        if (produced === total) stage = 2;
        return chunk;
      }
      if (stage === 2) {
        stage = 3;
        return Buffer.from(`\r\n--${boundary}\r\nContent-Type: text/plain\r\n\r\nsmall\r\n--${boundary}--\r\n`, 'latin1');
      }
      return null;
    });

    gc();
    const base = process.memoryUsage();
    let peakArrayBuffers = 0;
    let peakRss = 0;
    const sample = (): void => {
      gc();
      const now = process.memoryUsage();
      peakArrayBuffers = Math.max(peakArrayBuffers, now.arrayBuffers - base.arrayBuffers);
      peakRss = Math.max(peakRss, now.rss - base.rss);
    };

    const received: Array<{ type: string | undefined; bytes: number; sha1: string }> = [];
    for await (const part of parseMultipart(input, boundary)) {
      const hash = createHash('sha1');
      let bytes = 0;
      let chunks = 0;
      for await (const chunk of part.body) {
        hash.update(chunk as Buffer);
        bytes += (chunk as Buffer).length;
        // Every 4 MB. V8 frees ArrayBuffer memory lazily after a GC, so each sample still counts the
        // garbage made since the previous one (~2 chunks per chunk here): sampling often keeps that small.
        if (++chunks % 64 === 0) sample();
      }
      received.push({ type: part.contentType, bytes, sha1: hash.digest('hex') });
    }
    sample();

    expect(received).toEqual([
      { type: 'application/dicom', bytes: total, sha1: sentHash.digest('hex') },
      { type: 'text/plain', bytes: 5, sha1: createHash('sha1').update('small').digest('hex') },
    ]);
    process.stdout.write(`multipart 200 MB part: peak growth arrayBuffers ${(peakArrayBuffers / MB).toFixed(1)} MB, rss ${(peakRss / MB).toFixed(1)} MB\n`);
    expect(peakArrayBuffers).toBeLessThan(64 * MB);
    expect(peakRss).toBeLessThan(64 * MB);
  }, 120_000);

  it('parses well over 500 MB/s of 64 KB chunks, and writes + parses in a loop', async () => {
    const boundary = randomBytes(24).toString('base64url');
    const pool = Array.from({ length: 16 }, () => randomBytes(CHUNK));
    const totalChunks = 8192; // 512 MB

    const header = Buffer.from(`--${boundary}\r\nContent-Type: application/dicom\r\n\r\n`, 'latin1');
    const trailer = Buffer.from(`\r\n--${boundary}--\r\n`, 'latin1');
    let sent = -1;
    const input = lazySource(() => {
      sent++;
      if (sent === 0) return header;
      if (sent <= totalChunks) return pool[sent % pool.length] ?? null;
      if (sent === totalChunks + 1) return trailer;
      return null;
    });

    const started = process.hrtime.bigint();
    let bytes = 0;
    for await (const part of parseMultipart(input, boundary)) {
      part.body.on('data', (chunk: Buffer) => {
        bytes += chunk.length;
      });
      await new Promise((resolve) => part.body.once('end', resolve));
    }
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    expect(bytes).toBe(totalChunks * CHUNK);
    const parseRate = bytes / MB / seconds;

    // Writer -> parser in one process: both halves together.
    let written = 0;
    const body = lazySource(() => (written++ < totalChunks / 2 ? (pool[written % pool.length] ?? null) : null));
    const writer = writeMultipart([{ headers: { 'Content-Type': 'application/dicom' }, body }]);
    const loopStarted = process.hrtime.bigint();
    let loopBytes = 0;
    for await (const part of parseMultipart(writer.stream, writer.boundary)) {
      for await (const chunk of part.body) loopBytes += (chunk as Buffer).length;
    }
    const loopSeconds = Number(process.hrtime.bigint() - loopStarted) / 1e9;
    expect(loopBytes).toBe((totalChunks / 2) * CHUNK);
    const loopRate = loopBytes / MB / loopSeconds;

    process.stdout.write(`multipart throughput: parse ${parseRate.toFixed(0)} MB/s, write+parse ${loopRate.toFixed(0)} MB/s\n`);
    // A loose floor so a loaded CI machine does not flake; the figure above is the measurement.
    expect(parseRate).toBeGreaterThan(150);
  }, 120_000);
});
