import { describe, expect, it } from '@jest/globals';
import { PduFramer } from './pdu-framer.js';

function pdu(type: number, body: Buffer): Buffer {
  const header = Buffer.alloc(6);
  header[0] = type;
  header.writeUInt32BE(body.length, 2);
  return Buffer.concat([header, body]);
}

describe('PduFramer', () => {
  const stream = Buffer.concat([pdu(1, Buffer.alloc(100, 1)), pdu(4, Buffer.alloc(70_000, 4)), pdu(4, Buffer.alloc(0)), pdu(5, Buffer.alloc(4, 5))]);

  it('emits the same whole PDUs however the bytes are cut', () => {
    for (const size of [1, 2, 5, 6, 7, 100, 4096, 65536, stream.length]) {
      const out: Buffer[] = [];
      const framer = new PduFramer((p) => out.push(Buffer.from(p)));
      for (let i = 0; i < stream.length; i += size) framer.push(stream.subarray(i, i + size));
      expect(out.map((p) => [p[0], p.length])).toEqual([
        [1, 106],
        [4, 70_006],
        [4, 6],
        [5, 10],
      ]);
      expect(Buffer.concat(out).equals(stream)).toBe(true);
    }
  });

  it('passes PDUs that arrive whole without copying them', () => {
    const out: Buffer[] = [];
    new PduFramer((p) => out.push(p)).push(stream);
    expect(out[1]!.buffer).toBe(stream.buffer);
  });
});
