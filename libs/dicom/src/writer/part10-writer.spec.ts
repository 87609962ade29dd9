import { describe, expect, it } from '@jest/globals';
import { EXPLICIT_LE, readWholeDataset } from '../reader/dataset-reader.js';
import { readPart10Prefix } from '../reader/part10-reader.js';
import { Tag } from '../tags.js';
import { IMPLEMENTATION_CLASS_UID, IMPLEMENTATION_VERSION_NAME } from '../uid.js';
import { encodeDataset } from './dataset-writer.js';
import { buildPart10Header } from './part10-writer.js';

const info = { sopClassUid: '1.2.840.10008.5.1.4.1.1.2', sopInstanceUid: '1.2.826.0.1.3680043.2.1125.1.11', transferSyntaxUid: '1.2.840.10008.1.2.4.50' };

describe('buildPart10Header (PS3.10 7.1)', () => {
  it('is the same bytes for the same dataset identity, every time', () => {
    const a = buildPart10Header(info);
    const b = buildPart10Header({ ...info });
    expect(a.equals(b)).toBe(true);
  });

  it('differs when any of the three identities differs', () => {
    const base = buildPart10Header(info);
    expect(buildPart10Header({ ...info, sopInstanceUid: `${info.sopInstanceUid}2` }).equals(base)).toBe(false);
    expect(buildPart10Header({ ...info, sopClassUid: '1.2.840.10008.5.1.4.1.1.4' }).equals(base)).toBe(false);
    expect(buildPart10Header({ ...info, transferSyntaxUid: '1.2.840.10008.1.2.1' }).equals(base)).toBe(false);
  });

  it('starts with a zero preamble and "DICM"', () => {
    const h = buildPart10Header(info);
    expect(h.subarray(0, 128).equals(Buffer.alloc(128))).toBe(true);
    expect(h.subarray(128, 132).toString('latin1')).toBe('DICM');
  });

  it('has a group length that counts exactly the meta elements after it', () => {
    const h = buildPart10Header(info);
    // (0002,0000) UL 4 right after DICM.
    expect(h.subarray(132, 140)).toEqual(Buffer.from([0x02, 0x00, 0x00, 0x00, 0x55, 0x4c, 0x04, 0x00]));
    const groupLength = h.readUInt32LE(140);
    expect(144 + groupLength).toBe(h.length);
  });

  it('holds the meta elements in order, in explicit VR little endian, even lengths throughout', () => {
    const h = buildPart10Header(info);
    const meta = readWholeDataset(h.subarray(132), EXPLICIT_LE);
    expect([...meta.elements.keys()]).toEqual([
      Tag.FileMetaInformationGroupLength,
      Tag.FileMetaInformationVersion,
      Tag.MediaStorageSOPClassUID,
      Tag.MediaStorageSOPInstanceUID,
      Tag.TransferSyntaxUID,
      Tag.ImplementationClassUID,
      Tag.ImplementationVersionName,
    ]);
    for (const el of meta.elements.values()) expect(el.length % 2).toBe(0);
    expect(meta.get(Tag.FileMetaInformationVersion)).toMatchObject({ vr: 'OB', value: Buffer.from([0x00, 0x01]) });
    expect(meta.ascii(Tag.MediaStorageSOPClassUID)).toBe(info.sopClassUid);
    expect(meta.ascii(Tag.MediaStorageSOPInstanceUID)).toBe(info.sopInstanceUid);
    expect(meta.ascii(Tag.TransferSyntaxUID)).toBe(info.transferSyntaxUid);
    expect(meta.ascii(Tag.ImplementationClassUID)).toBe(IMPLEMENTATION_CLASS_UID);
    expect(meta.ascii(Tag.ImplementationVersionName)).toBe(IMPLEMENTATION_VERSION_NAME);
    // UIDs are padded with NUL, not space (PS3.5 9.1); this one has an odd length.
    expect(info.sopInstanceUid.length % 2).toBe(1);
    expect(meta.bytes(Tag.MediaStorageSOPInstanceUID)!.at(-1)).toBe(0);
  });

  it('is read back by the Part 10 reader, the dataset starting right after it', () => {
    const h = buildPart10Header(info);
    const dataset = encodeDataset([{ tag: Tag.SOPInstanceUID, vr: 'UI', value: info.sopInstanceUid }], EXPLICIT_LE);
    const prefix = readPart10Prefix(Buffer.concat([h, dataset]), false)!;
    expect(prefix.datasetOffset).toBe(h.length);
    expect(prefix.transferSyntaxUid).toBe(info.transferSyntaxUid);
  });

  it('keeps the implementation identity within its limits', () => {
    expect(IMPLEMENTATION_CLASS_UID.length).toBeLessThanOrEqual(64);
    expect(IMPLEMENTATION_VERSION_NAME.length).toBeLessThanOrEqual(16);
  });
});
