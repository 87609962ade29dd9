import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from '@jest/globals';
import { datasetToJson } from '../json/dicom-json.js';
import { EXPLICIT_LE, IMPLICIT_LE, readWholeDataset } from '../reader/dataset-reader.js';
import { Tag } from '../tags.js';
import { TS } from '../transfer-syntax.js';
import { encodeDataset, type WriteElement } from './dataset-writer.js';
import { transcodeLittleEndian, transcodeLittleEndianFile } from './little-endian-transcoder.js';

const elements: WriteElement[] = [
  { tag: Tag.SpecificCharacterSet, vr: 'CS', value: 'ISO_IR 192' },
  { tag: Tag.SOPInstanceUID, vr: 'UI', value: '1.2.3.4' },
  { tag: Tag.PatientName, vr: 'PN', value: 'Ωμέγα^Ζωή' },
  { tag: 0x00081115, vr: 'SQ', value: [[{ tag: Tag.SeriesInstanceUID, vr: 'UI', value: '1.2.3.5' }, { tag: 0x00081160, vr: 'IS', value: '7' }]] },
  { tag: 0x00090010, vr: 'LO', value: 'ACME' },
  { tag: 0x00091001, vr: 'OB', value: Buffer.from([1, 2, 3, 4]) },
  { tag: Tag.Rows, vr: 'US', value: [2] },
  { tag: Tag.PixelData, vr: 'OW', value: Buffer.from([1, 0, 2, 0, 3, 0, 4, 0]) },
];

describe('transcodeLittleEndian', () => {
  it('converts explicit to implicit and back without changing any value', () => {
    const explicit = encodeDataset(elements, EXPLICIT_LE);
    const implicit = transcodeLittleEndian(explicit, TS.ExplicitVRLittleEndian, TS.ImplicitVRLittleEndian);
    const back = transcodeLittleEndian(implicit, TS.ImplicitVRLittleEndian, TS.ExplicitVRLittleEndian);
    const a = datasetToJson(readWholeDataset(explicit, EXPLICIT_LE));
    const b = datasetToJson(readWholeDataset(implicit, IMPLICIT_LE));
    const c = datasetToJson(readWholeDataset(back, EXPLICIT_LE));
    // The private OB reads back as UN from implicit data (no VR on the wire, no dictionary entry), same bytes.
    expect({ ...b, '00091001': a['00091001'] }).toEqual(a);
    expect(b['00091001']).toEqual({ vr: 'UN', InlineBinary: a['00091001']!.InlineBinary });
    expect(c['00100010']).toEqual(a['00100010']);
    expect(c['7FE00010']).toEqual(a['7FE00010']);
  });

  it('returns the input when nothing is to change and refuses compressed syntaxes', () => {
    const explicit = encodeDataset(elements, EXPLICIT_LE);
    expect(transcodeLittleEndian(explicit, TS.ExplicitVRLittleEndian, TS.ExplicitVRLittleEndian)).toBe(explicit);
    expect(() => transcodeLittleEndian(explicit, TS.JPEGBaseline8Bit, TS.ExplicitVRLittleEndian)).toThrow(/without decoding/);
  });
});

describe('transcodeLittleEndianFile', () => {
  // Values over 64 KiB are bulk to the streaming parser: copied from the file by range, not held.
  const pixels = Buffer.alloc(3 * 1024 * 1024);
  for (let i = 0; i < pixels.length; i++) pixels[i] = (i * 7) & 0xff;
  const big: WriteElement[] = [
    ...elements.filter((e) => e.tag !== Tag.PixelData && e.tag !== 0x00091001),
    { tag: 0x00091001, vr: 'OB', value: Buffer.alloc(100 * 1024, 9) },
    { tag: Tag.PixelData, vr: 'OW', value: pixels },
    { tag: 0xfffcfffc, vr: 'OB', value: Buffer.alloc(6) },
  ];

  it('writes the same bytes as the in-memory conversion, both ways, for an object whose values exceed 64 KiB', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'vna-transcode-'));
    try {
      const explicit = encodeDataset(big, EXPLICIT_LE);
      writeFileSync(join(dir, 'explicit'), explicit);
      await transcodeLittleEndianFile(join(dir, 'explicit'), join(dir, 'implicit'), TS.ExplicitVRLittleEndian, TS.ImplicitVRLittleEndian);
      const implicit = readFileSync(join(dir, 'implicit'));
      expect(implicit.equals(transcodeLittleEndian(explicit, TS.ExplicitVRLittleEndian, TS.ImplicitVRLittleEndian))).toBe(true);
      expect(readWholeDataset(implicit, IMPLICIT_LE).get(Tag.PixelData)!.length).toBe(pixels.length);
      await transcodeLittleEndianFile(join(dir, 'implicit'), join(dir, 'back'), TS.ImplicitVRLittleEndian, TS.ExplicitVRLittleEndian);
      expect(readFileSync(join(dir, 'back')).equals(transcodeLittleEndian(implicit, TS.ImplicitVRLittleEndian, TS.ExplicitVRLittleEndian))).toBe(true);
      // Pixel data comes back byte for byte.
      const back = readFileSync(join(dir, 'back'));
      const el = readWholeDataset(back, EXPLICIT_LE).get(Tag.PixelData)!;
      expect(back.subarray(el.offset, el.offset + el.length).equals(pixels)).toBe(true);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses a compressed syntax and a truncated source, leaving no target behind on refusal', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'vna-transcode-'));
    try {
      const explicit = encodeDataset(big, EXPLICIT_LE);
      writeFileSync(join(dir, 'cut'), explicit.subarray(0, explicit.length - 1000));
      await expect(transcodeLittleEndianFile(join(dir, 'cut'), join(dir, 'out'), TS.JPEGBaseline8Bit, TS.ExplicitVRLittleEndian)).rejects.toThrow(/without decoding/);
      await expect(transcodeLittleEndianFile(join(dir, 'cut'), join(dir, 'out'), TS.ExplicitVRLittleEndian, TS.ImplicitVRLittleEndian)).rejects.toThrow(/truncated/);
      expect(() => readFileSync(join(dir, 'out'))).toThrow();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
