import { afterAll, describe, expect, it } from '@jest/globals';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { MAX_SEND_PDU, pDataTfPdu, sendPduLength, streamFileMessage } from './pdata-stream.js';

interface Pdu {
  type: number;
  pcId: number;
  command: boolean;
  last: boolean;
  value: Buffer;
}

/** Splits written bytes into P-DATA-TF PDUs of one PDV each, checking both length fields. */
function parsePdus(bytes: Buffer): Pdu[] {
  const out: Pdu[] = [];
  for (let pos = 0; pos < bytes.length; ) {
    const type = bytes[pos]!;
    const length = bytes.readUInt32BE(pos + 2);
    const body = bytes.subarray(pos + 6, pos + 6 + length);
    expect(body.length).toBe(length);
    if (type === 0x04) {
      const pdvLength = body.readUInt32BE(0);
      expect(pdvLength).toBe(length - 4);
      out.push({ type, pcId: body[4]!, command: (body[5]! & 1) === 1, last: (body[5]! & 2) === 2, value: body.subarray(6) });
    } else out.push({ type, pcId: 0, command: false, last: false, value: body });
    pos += 6 + length;
  }
  return out;
}

/** A socket stand-in that takes writes slowly (one per tick) with a small buffer, so backpressure shows. */
class SlowSink extends Writable {
  readonly chunks: Buffer[] = [];
  /** The most bytes buffered at once. */
  peakBuffered = 0;
  falseWrites = 0;

  constructor() {
    super({ highWaterMark: 1024 });
  }

  override write(chunk: Buffer): boolean {
    const ok = super.write(chunk);
    this.peakBuffered = Math.max(this.peakBuffered, this.writableLength);
    if (!ok) this.falseWrites++;
    return ok;
  }

  override _write(chunk: Buffer, _encoding: string, callback: (error?: Error) => void): void {
    this.chunks.push(Buffer.from(chunk));
    setImmediate(callback);
  }

  bytes(): Buffer {
    return Buffer.concat(this.chunks);
  }
}

async function flushed(sink: Writable): Promise<void> {
  while (sink.writableLength > 0) await new Promise((r) => setImmediate(r));
}

describe('streamFileMessage', () => {
  const dir = mkdtempSync(join(tmpdir(), 'pdata-stream-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const file = (name: string, bytes: Buffer): string => {
    const path = join(dir, name);
    writeFileSync(path, bytes);
    return path;
  };
  const pattern = (n: number): Buffer => {
    const b = Buffer.allocUnsafe(n);
    for (let i = 0; i < n; i++) b[i] = (i * 7 + (i >> 8)) & 0xff;
    return b;
  };
  const command = Buffer.from('command set bytes!');

  it('sends the command set in one PDU, then the dataset in PDUs of at most the Maximum Length, the last fragment marked on the last only', async () => {
    const data = pattern(10_000);
    const sink = new SlowSink();
    let sent = 0;
    await streamFileMessage(sink, 5, command, { path: file('ten-k', data), offset: 0 }, 4096, { sent: (n) => (sent += n) });
    await flushed(sink);
    const pdus = parsePdus(sink.bytes());
    expect(pdus.map((p) => [p.type, p.pcId, p.command, p.last, p.value.length])).toEqual([
      [4, 5, true, true, command.length],
      [4, 5, false, false, 4090],
      [4, 5, false, false, 4090],
      [4, 5, false, true, 10_000 - 2 * 4090],
    ]);
    expect(pdus[0]!.value).toEqual(command);
    expect(Buffer.concat(pdus.slice(1).map((p) => p.value)).equals(data)).toBe(true);
    // No PDU exceeds the peer's Maximum Length (the PDU length field, PS3.8 D.1).
    for (const p of pdus) expect(p.value.length + 6).toBeLessThanOrEqual(4096);
    expect(sent).toBe(sink.bytes().length);
  });

  it("waits for 'drain' when the socket is behind: a few PDUs buffered at most, however long the dataset", async () => {
    const data = pattern(400_000);
    const sink = new SlowSink();
    let progressed = 0;
    await streamFileMessage(sink, 1, command, { path: file('four-hundred-k', data), offset: 0 }, 4096, { sent: () => undefined, progressed: () => progressed++, batchBytes: 4096 });
    await flushed(sink);
    expect(sink.falseWrites).toBeGreaterThan(90);
    expect(progressed).toBe(sink.falseWrites);
    expect(sink.peakBuffered).toBeLessThanOrEqual(2 * 4102);
    const pdus = parsePdus(sink.bytes());
    expect(pdus.filter((p) => p.last && !p.command)).toHaveLength(1);
    expect(pdus.at(-1)!.last).toBe(true);
    expect(Buffer.concat(pdus.slice(1).map((p) => p.value)).equals(data)).toBe(true);
  });

  it('hands the socket about a MiB of whole PDUs at a time, two batches buffered at most', async () => {
    const data = pattern(3 * 1024 * 1024 + 5);
    const sink = new SlowSink();
    const writes: Buffer[] = [];
    const write = sink.write.bind(sink);
    sink.write = (chunk: Buffer): boolean => {
      writes.push(chunk);
      return write(chunk);
    };
    await streamFileMessage(sink, 9, command, { path: file('three-mib', data), offset: 0 }, 16_384, { sent: () => undefined });
    await flushed(sink);
    // 16,378-byte fragments, 64 to a batch: the command, three full batches and a batch of one.
    expect(writes.map((w) => parsePdus(w).length)).toEqual([1, 64, 64, 64, 1]);
    const pdus = parsePdus(sink.bytes());
    expect(pdus.slice(1).every((p) => p.value.length === 16_378 || p === pdus.at(-1))).toBe(true);
    expect(pdus.filter((p) => p.last && !p.command)).toEqual([pdus.at(-1)]);
    expect(Buffer.concat(pdus.slice(1).map((p) => p.value)).equals(data)).toBe(true);
    expect(sink.peakBuffered).toBeLessThanOrEqual(2 * 64 * 16_390);
  });

  it('sends a byte range of the file', async () => {
    const data = pattern(9000);
    const sink = new SlowSink();
    await streamFileMessage(sink, 3, command, { path: file('range', data), offset: 100, length: 5000 }, 4096, { sent: () => undefined });
    await flushed(sink);
    const pdus = parsePdus(sink.bytes());
    expect(pdus.map((p) => p.value.length)).toEqual([command.length, 4090, 910]);
    expect(Buffer.concat(pdus.slice(1).map((p) => p.value)).equals(data.subarray(100, 5100))).toBe(true);
  });

  it('sends an empty dataset as one empty last fragment', async () => {
    const sink = new SlowSink();
    await streamFileMessage(sink, 1, command, { path: file('empty', Buffer.alloc(0)), offset: 0 }, 4096, { sent: () => undefined });
    await flushed(sink);
    expect(parsePdus(sink.bytes()).map((p) => [p.command, p.last, p.value.length])).toEqual([
      [true, true, command.length],
      [false, true, 0],
    ]);
  });

  it('takes PDUs of 4 MiB at most when the peer sets no limit (0)', async () => {
    expect(sendPduLength(0)).toBe(MAX_SEND_PDU);
    expect(sendPduLength(16_384)).toBe(16_384);
    expect(sendPduLength(64 * 1024 * 1024)).toBe(MAX_SEND_PDU);
    const data = pattern(MAX_SEND_PDU + 10);
    const sink = new SlowSink();
    await streamFileMessage(sink, 1, command, { path: file('big', data), offset: 0 }, 0, { sent: () => undefined });
    await flushed(sink);
    expect(parsePdus(sink.bytes()).map((p) => p.value.length)).toEqual([command.length, MAX_SEND_PDU - 6, 16]);
  });

  it('sends nothing and rejects when the file is gone', async () => {
    const sink = new SlowSink();
    await expect(streamFileMessage(sink, 1, command, { path: join(dir, 'missing'), offset: 0 }, 4096, { sent: () => undefined })).rejects.toThrow(/ENOENT/);
    expect(sink.chunks).toHaveLength(0);
  });

  it('rejects when the file is shorter than the range', async () => {
    const sink = new SlowSink();
    await expect(streamFileMessage(sink, 1, command, { path: file('short', pattern(5000)), offset: 0, length: 9000 }, 4096, { sent: () => undefined })).rejects.toThrow(/ended after 5000 of 9000 bytes/);
  });

  it('rejects, on a PDU boundary, when the socket closes mid-dataset', async () => {
    const sink = new SlowSink();
    let writes = 0;
    const handed: Buffer[] = [];
    const write = sink.write.bind(sink);
    sink.write = (chunk: Buffer): boolean => {
      handed.push(chunk);
      const ok = write(chunk);
      if (++writes === 3) setImmediate(() => sink.destroy());
      return ok;
    };
    await expect(streamFileMessage(sink, 1, command, { path: file('cut', pattern(100_000)), offset: 0 }, 4096, { sent: () => undefined, batchBytes: 4096 })).rejects.toThrow(/connection closed/);
    expect(writes).toBe(3);
    // What went out is whole PDUs: the command and two data fragments, none marked last.
    expect(parsePdus(Buffer.concat(handed)).map((p) => [p.command, p.last, p.value.length])).toEqual([
      [true, true, command.length],
      [false, false, 4090],
      [false, false, 4090],
    ]);
  });

  it('stops when the association is being aborted', async () => {
    const sink = new SlowSink();
    let stop = false;
    let writes = 0;
    const write = sink.write.bind(sink);
    sink.write = (chunk: Buffer): boolean => {
      if (++writes === 2) stop = true;
      return write(chunk);
    };
    await expect(streamFileMessage(sink, 1, command, { path: file('aborted', pattern(100_000)), offset: 0 }, 4096, { sent: () => undefined, stopped: () => stop, batchBytes: 4096 })).rejects.toThrow(/aborted/);
    expect(writes).toBe(2);
  });
});

describe('pDataTfPdu', () => {
  it('frames one PDV: type 4, lengths, context id, control header', () => {
    expect([...pDataTfPdu(7, Buffer.from([0xaa, 0xbb]), false, true)]).toEqual([4, 0, 0, 0, 0, 8, 0, 0, 0, 4, 7, 2, 0xaa, 0xbb]);
    expect(pDataTfPdu(7, Buffer.alloc(0), true, false)[11]).toBe(1);
    expect(pDataTfPdu(7, Buffer.alloc(0), true, true)[11]).toBe(3);
  });
});
