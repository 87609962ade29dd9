import { describe, expect, it } from '@jest/globals';
import { Tag } from '../tags.js';
import { encodeDataset, type WriteElement } from '../writer/dataset-writer.js';
import { buildPart10Header } from '../writer/part10-writer.js';
import { EXPLICIT_LE, IMPLICIT_LE, readWholeDataset, type Encoding } from './dataset-reader.js';
import { DatasetStreamParser } from './dataset-stream-parser.js';
import { DicomParseError } from './errors.js';
import { readPart10Prefix } from './part10-reader.js';

const BIG_ENDIAN: Encoding = { explicitVR: true, littleEndian: false };

function sample(pixelBytes = 4096): WriteElement[] {
  return [
    { tag: Tag.SpecificCharacterSet, vr: 'CS', value: 'ISO_IR 100' },
    { tag: Tag.SOPClassUID, vr: 'UI', value: '1.2.840.10008.5.1.4.1.1.2' },
    { tag: Tag.SOPInstanceUID, vr: 'UI', value: '1.2.3.4.5' },
    { tag: Tag.PatientName, vr: 'PN', value: 'Buc^Jérôme' },
    { tag: Tag.PatientID, vr: 'LO', value: 'PID1' },
    {
      tag: 0x00081115, // ReferencedSeriesSequence
      vr: 'SQ',
      value: [[{ tag: Tag.SeriesInstanceUID, vr: 'UI', value: '1.2.3.9' }], [{ tag: Tag.SeriesInstanceUID, vr: 'UI', value: '1.2.3.10' }]],
    },
    { tag: 0x00090010, vr: 'LO', value: 'ACME 1.0' }, // private creator
    { tag: 0x00091001, vr: 'OB', value: Buffer.alloc(70_000, 7) }, // large private value: bulk
    { tag: Tag.Rows, vr: 'US', value: [32] },
    { tag: Tag.Columns, vr: 'US', value: [64] },
    { tag: Tag.PixelData, vr: 'OW', value: Buffer.alloc(pixelBytes, 1) },
    { tag: 0xfffcfffc, vr: 'OB', value: Buffer.alloc(10) }, // trailing padding after pixel data
  ];
}

function parseInChunks(bytes: Buffer, enc: Encoding, chunk: number, base = 0) {
  const parser = new DatasetStreamParser({ encoding: enc, baseOffset: base });
  for (let i = 0; i < bytes.length; i += chunk) parser.push(bytes.subarray(i, i + chunk));
  return parser.end();
}

describe('DatasetStreamParser', () => {
  for (const [name, enc] of [
    ['explicit LE', EXPLICIT_LE],
    ['implicit LE', IMPLICIT_LE],
    ['explicit BE', BIG_ENDIAN],
  ] as const) {
    it(`reads ${name} the same whatever the chunking`, () => {
      const bytes = encodeDataset(sample(), enc, ['ISO_IR 100']);
      for (const chunk of [1, 2, 3, 7, 64, 1000, 65536, bytes.length]) {
        const ds = parseInChunks(bytes, enc, chunk, 1000);
        expect(ds.ascii(Tag.SOPInstanceUID)).toBe('1.2.3.4.5');
        expect(ds.uint16(Tag.Rows)).toBe(32);
        const seq = ds.get(0x00081115)!;
        expect(seq.items?.map((item) => item.ascii(Tag.SeriesInstanceUID))).toEqual(['1.2.3.9', '1.2.3.10']);
        const pixels = ds.get(Tag.PixelData)!;
        expect(pixels.bulk).toBe(true);
        expect(pixels.value).toBeUndefined();
        expect(pixels.length).toBe(4096);
        // Offsets point into the original bytes (plus the base offset given).
        expect(bytes[pixels.offset - 1000]).toBe(1);
        const priv = ds.get(0x00091001)!;
        expect(priv.bulk).toBe(true);
        expect(bytes.subarray(priv.offset - 1000, priv.offset - 1000 + 3)).toEqual(Buffer.from([7, 7, 7]));
        expect(ds.get(0xfffcfffc)?.value?.length).toBe(10);
      }
    });
  }

  it('reads encapsulated pixel data fragment by fragment without keeping them', () => {
    const head = encodeDataset(sample().filter((e) => e.tag !== Tag.PixelData && e.tag !== 0xfffcfffc), EXPLICIT_LE);
    const item = (len: number, fill: number): Buffer => {
      const h = Buffer.alloc(8);
      h.writeUInt16LE(0xfffe, 0);
      h.writeUInt16LE(0xe000, 2);
      h.writeUInt32LE(len, 4);
      return Buffer.concat([h, Buffer.alloc(len, fill)]);
    };
    const pixelHeader = Buffer.from([0xe0, 0x7f, 0x10, 0x00, 0x4f, 0x42, 0, 0, 0xff, 0xff, 0xff, 0xff]);
    const delimiter = Buffer.from([0xfe, 0xff, 0xdd, 0xe0, 0, 0, 0, 0]);
    const bytes = Buffer.concat([head, pixelHeader, item(0, 0), item(1000, 2), item(2000, 3), delimiter]);
    for (const chunk of [5, 100, 4096]) {
      const ds = parseInChunks(bytes, EXPLICIT_LE, chunk);
      const px = ds.get(Tag.PixelData)!;
      expect(px.fragments?.map((f) => f.length)).toEqual([0, 1000, 2000]);
      expect(bytes[px.fragments![2]!.offset]).toBe(3);
    }
  });

  it('reports truncation instead of inventing data', () => {
    const bytes = encodeDataset(sample(), EXPLICIT_LE);
    for (const cut of [3, 20, 100, bytes.length - 5]) {
      expect(() => parseInChunks(bytes.subarray(0, cut), EXPLICIT_LE, 50)).toThrow(DicomParseError);
    }
  });

  it('rejects a sequence item of impossible length', () => {
    const bad = encodeDataset([{ tag: 0x00081115, vr: 'SQ', value: [[{ tag: Tag.SeriesInstanceUID, vr: 'UI', value: '1.2' }]] }], EXPLICIT_LE);
    bad.writeUInt32LE(0x7fffffff, 16); // the item's length
    expect(() => readWholeDataset(bad, EXPLICIT_LE)).toThrow(DicomParseError);
  });

  it('reads undefined-length sequences and UN of undefined length as implicit VR (PS3.5 6.2.2)', () => {
    const inner = encodeDataset([{ tag: Tag.SeriesInstanceUID, vr: 'UI', value: '1.2.3' }], IMPLICIT_LE);
    const header = Buffer.from([0x09, 0x00, 0x20, 0x10, 0x55, 0x4e, 0, 0, 0xff, 0xff, 0xff, 0xff]); // (0009,1020) UN, undefined
    const itemStart = Buffer.from([0xfe, 0xff, 0x00, 0xe0, 0xff, 0xff, 0xff, 0xff]);
    const itemEnd = Buffer.from([0xfe, 0xff, 0x0d, 0xe0, 0, 0, 0, 0]);
    const seqEnd = Buffer.from([0xfe, 0xff, 0xdd, 0xe0, 0, 0, 0, 0]);
    const bytes = Buffer.concat([header, itemStart, inner, itemEnd, seqEnd]);
    const ds = parseInChunks(bytes, EXPLICIT_LE, 3);
    const el = ds.get(0x00091020)!;
    expect(el.vr).toBe('SQ');
    expect(el.items?.[0]?.ascii(Tag.SeriesInstanceUID)).toBe('1.2.3');
  });

  it('keeps memory flat for huge pixel data: nothing of it is buffered', () => {
    const parser = new DatasetStreamParser({ encoding: EXPLICIT_LE, baseOffset: 0 });
    const head = encodeDataset([{ tag: Tag.SOPInstanceUID, vr: 'UI', value: '1.2' }], EXPLICIT_LE);
    const pixelHeader = Buffer.alloc(12);
    pixelHeader.writeUInt16LE(0x7fe0, 0);
    pixelHeader.writeUInt16LE(0x0010, 2);
    pixelHeader.write('OB', 4, 'latin1');
    const size = 1024 * 1024 * 1024;
    pixelHeader.writeUInt32LE(size, 8);
    parser.push(Buffer.concat([head, pixelHeader]));
    const chunk = Buffer.alloc(1024 * 1024);
    for (let i = 0; i < size / chunk.length; i++) parser.push(chunk);
    const ds = parser.end();
    expect(ds.get(Tag.PixelData)?.length).toBe(size);
  });
});

describe('readPart10Prefix', () => {
  it('reads the meta information and finds the dataset', () => {
    const header = buildPart10Header({ sopClassUid: '1.2.840.10008.5.1.4.1.1.7', sopInstanceUid: '1.2.3', transferSyntaxUid: '1.2.840.10008.1.2.1' });
    const dataset = encodeDataset([{ tag: Tag.SOPInstanceUID, vr: 'UI', value: '1.2.3' }], EXPLICIT_LE);
    const file = Buffer.concat([header, dataset]);
    expect(readPart10Prefix(file.subarray(0, 140), false)).toBeUndefined();
    const prefix = readPart10Prefix(file, false)!;
    expect(prefix.transferSyntaxUid).toBe('1.2.840.10008.1.2.1');
    expect(prefix.datasetOffset).toBe(header.length);
  });

  it('refuses what is not DICOM', () => {
    expect(() => readPart10Prefix(Buffer.alloc(200, 0x41), false)).toThrow(/not a DICOM file/);
  });
});
