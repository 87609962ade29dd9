import { Readable } from 'node:stream';
import { describe, expect, it } from '@jest/globals';
import { encodeDataset, EXPLICIT_LE, readWholeDataset, Tag, TS } from '#vna/dicom';
import { EgressContributorRegistry } from './egress-contributors.js';
import { EgressOverlay } from './egress-overlay.js';
import type { InstanceRow } from './instance-row.js';

// A stored file: 132 bytes standing for the meta header, then a dataset whose pixel data follows its header.
const META = Buffer.alloc(132, 0x4d);
const pixels = Buffer.alloc(300_000);
for (let i = 0; i < pixels.length; i++) pixels[i] = (i * 31) & 0xff;
const dataset = encodeDataset(
  [
    { tag: Tag.SpecificCharacterSet, vr: 'CS', value: 'ISO_IR 100' },
    { tag: Tag.SOPInstanceUID, vr: 'UI', value: '1.2.3.4' },
    { tag: Tag.PatientName, vr: 'PN', value: 'Received^Name' },
    { tag: 0x00090010, vr: 'LO', value: 'ACME' },
    { tag: 0x00091001, vr: 'OB', value: Buffer.from([9, 8, 7, 6]) },
    { tag: Tag.PixelData, vr: 'OW', value: pixels },
  ],
  EXPLICIT_LE,
);
const file = Buffer.concat([META, dataset]);
const pixelElement = readWholeDataset(dataset, EXPLICIT_LE).get(Tag.PixelData)!;

const row = (over: Partial<InstanceRow> = {}): InstanceRow =>
  ({
    instanceOverlay: null,
    patientOverlay: { '00100010': { vr: 'PN', Value: [{ Alphabetic: 'Registry^Name' }] } },
    studyOverlay: {},
    seriesOverlay: {},
    transferSyntaxUid: TS.ExplicitVRLittleEndian,
    datasetOffset: META.length,
    pixelOffset: META.length + pixelElement.offset,
    bulkElements: null,
    sizeBytes: file.length,
    ...over,
  }) as InstanceRow;

function chunked(bytes: Buffer, size: number, failAfter?: number): Readable {
  async function* gen(): AsyncGenerator<Buffer> {
    for (let at = 0; at < bytes.length; at += size) {
      if (failAfter !== undefined && at >= failAfter) throw new Error('disk read failed');
      yield bytes.subarray(at, at + size);
    }
  }
  return Readable.from(gen(), { objectMode: false });
}

async function collect(stream: Readable): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const chunk of stream) parts.push(chunk as Buffer);
  return Buffer.concat(parts);
}

describe('EgressOverlay.apply', () => {
  const overlay = new EgressOverlay(new EgressContributorRegistry());

  it('hands back the stored stream itself when there is nothing to lay over', async () => {
    const original = chunked(file, 4096);
    expect(await overlay.apply(row({ patientOverlay: {} }), original, 'dicomweb')).toBe(original);
  });

  it('rewrites the header and passes the meta header, private tags and pixel data byte for byte, however the reads are cut', async () => {
    const outputs = await Promise.all([7, 4096, 65_536, file.length].map(async (size) => collect(await overlay.apply(row(), chunked(file, size), 'dicomweb'))));
    for (const out of outputs) expect(out.equals(outputs[0]!)).toBe(true);
    const out = outputs[0]!;
    expect(out.subarray(0, META.length).equals(META)).toBe(true);
    const ds = readWholeDataset(out.subarray(META.length), EXPLICIT_LE);
    expect(ds.get(Tag.PatientName)!.value!.toString('latin1').trim()).toBe('Registry^Name');
    expect(ds.get(0x00091001)!.value!.equals(Buffer.from([9, 8, 7, 6]))).toBe(true);
    const px = ds.get(Tag.PixelData)!;
    expect(out.subarray(META.length + px.offset, META.length + px.offset + px.length).equals(pixels)).toBe(true);
  });

  it('fails the retrieve when the stored object cannot be read, before or after its header', async () => {
    await expect(collect(await overlay.apply(row(), chunked(file, 64, 128), 'dicomweb'))).rejects.toThrow('disk read failed');
    await expect(collect(await overlay.apply(row(), chunked(file, 65_536, 200_000), 'dicomweb'))).rejects.toThrow('disk read failed');
  });

  it('fails the retrieve when the stored object ends before its header', async () => {
    await expect(collect(await overlay.apply(row(), chunked(file.subarray(0, 200), 64), 'dicomweb'))).rejects.toThrow(/ended before its header/);
  });

  it('stops reading the stored object when the retrieve is cut short', async () => {
    const original = chunked(file, 4096);
    const out = await overlay.apply(row(), original, 'dicomweb');
    for await (const _ of out) break;
    await new Promise((resolve) => setImmediate(resolve));
    expect(original.destroyed).toBe(true);
    // Also when nothing was read yet (a read-ahead body never reached).
    const unread = chunked(file, 4096);
    (await overlay.apply(row(), unread, 'dicomweb')).destroy();
    await new Promise((resolve) => setImmediate(resolve));
    expect(unread.destroyed).toBe(true);
  });
});
