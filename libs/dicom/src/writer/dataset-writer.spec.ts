import { describe, expect, it } from '@jest/globals';
import { CharsetEncodeError } from '../charset/index.js';
import { EXPLICIT_LE, IMPLICIT_LE, readWholeDataset, type Encoding } from '../reader/dataset-reader.js';
import { Tag } from '../tags.js';
import { DicomWriteError, encodeDataset, type WriteElement } from './dataset-writer.js';

const BIG_ENDIAN: Encoding = { explicitVR: true, littleEndian: false };
const hex = (h: string): Buffer => Buffer.from(h.replace(/\s+/g, ''), 'hex');
const one = (el: WriteElement, enc: Encoding = EXPLICIT_LE, charset?: readonly string[]): Buffer => encodeDataset([el], enc, charset);

describe('encodeDataset', () => {
  describe('padding to even length (PS3.5 6.2, 7.1.1)', () => {
    it('UI with NUL', () => {
      expect(one({ tag: Tag.SOPInstanceUID, vr: 'UI', value: '1.2.3' })).toEqual(hex('0800 1800 5549 0600 312e322e3300'));
    });

    it('text VRs with a space', () => {
      for (const vr of ['AE', 'AS', 'CS', 'DA', 'DS', 'DT', 'IS', 'LO', 'LT', 'PN', 'SH', 'ST', 'TM', 'UC', 'UR', 'UT']) {
        const b = one({ tag: 0x00091010, vr, value: '123' });
        expect(b.subarray(b.length - 4)).toEqual(Buffer.from('123 '));
      }
    });

    it('binary values with NUL', () => {
      for (const vr of ['OB', 'UN']) {
        const b = one({ tag: 0x00091010, vr, value: Buffer.from([1, 2, 3]) });
        expect(b.readUInt32LE(8)).toBe(4);
        expect(b.subarray(12)).toEqual(Buffer.from([1, 2, 3, 0]));
      }
    });

    it('leaves even lengths alone, and writes empty values with length 0', () => {
      expect(one({ tag: Tag.PatientID, vr: 'LO', value: 'AB' })).toEqual(hex('1000 2000 4c4f 0200 4142'));
      expect(one({ tag: Tag.PatientID, vr: 'LO', value: '' })).toEqual(hex('1000 2000 4c4f 0000'));
    });

    it('pads text after character set encoding, by bytes not characters', () => {
      // "é" is two bytes in UTF-8: "é1" is three bytes, padded to four.
      const b = one({ tag: Tag.PatientID, vr: 'LO', value: 'é1' }, EXPLICIT_LE, ['ISO_IR 192']);
      expect(b.readUInt16LE(6)).toBe(4);
      expect(b.subarray(8)).toEqual(Buffer.from([0xc3, 0xa9, 0x31, 0x20]));
    });

    it('joins multiple values with a backslash, empty values kept', () => {
      const b = one({ tag: Tag.ImageType, vr: 'CS', value: ['ORIGINAL', null, 'AXIAL'] });
      expect(b.subarray(8).toString('latin1')).toBe('ORIGINAL\\\\AXIAL ');
    });
  });

  describe('headers', () => {
    it('explicit VR little endian, short VR: tag, VR, 16-bit length', () => {
      expect(one({ tag: Tag.Rows, vr: 'US', value: [512] })).toEqual(hex('2800 1000 5553 0200 0002'));
    });

    it('explicit VR little endian, long VRs: tag, VR, two reserved bytes, 32-bit length', () => {
      for (const vr of ['OB', 'OD', 'OF', 'OL', 'OV', 'OW', 'UN']) {
        const b = one({ tag: 0x00091010, vr, value: Buffer.alloc(8, 0xaa) });
        expect(b.subarray(0, 12)).toEqual(Buffer.concat([hex('0900 1010'), Buffer.from(vr), hex('0000 08000000')]));
      }
      for (const vr of ['UC', 'UR', 'UT']) {
        const b = one({ tag: 0x00091010, vr, value: 'abcd' });
        expect(b).toEqual(Buffer.concat([hex('0900 1010'), Buffer.from(vr), hex('0000 04000000'), Buffer.from('abcd')]));
      }
      for (const vr of ['SV', 'UV']) {
        const b = one({ tag: 0x00091010, vr, value: [1] });
        expect(b).toEqual(Buffer.concat([hex('0900 1010'), Buffer.from(vr), hex('0000 08000000 0100000000000000')]));
      }
    });

    it('implicit VR little endian: tag and 32-bit length, no VR', () => {
      expect(one({ tag: Tag.Rows, vr: 'US', value: [512] }, IMPLICIT_LE)).toEqual(hex('2800 1000 02000000 0002'));
      expect(one({ tag: Tag.PatientID, vr: 'LO', value: 'ABC' }, IMPLICIT_LE)).toEqual(hex('1000 2000 04000000 41424320'));
    });

    it('explicit VR big endian: group, element, length and numbers most significant byte first', () => {
      expect(one({ tag: Tag.Rows, vr: 'US', value: [512] }, BIG_ENDIAN)).toEqual(hex('0028 0010 5553 0002 0200'));
      expect(one({ tag: 0x00186016, vr: 'UL', value: [0x01020304] }, BIG_ENDIAN)).toEqual(hex('0018 6016 554c 0004 01020304'));
      expect(one({ tag: 0x00091010, vr: 'OB', value: Buffer.from([1, 2]) }, BIG_ENDIAN)).toEqual(hex('0009 1010 4f42 0000 00000002 0102'));
    });

    it('numbers of every binary VR in both byte orders', () => {
      const cases: [string, number[], string, string][] = [
        ['SS', [-2], 'feff', 'fffe'],
        ['SL', [-2], 'feffffff', 'fffffffe'],
        ['FL', [1.5], '0000c03f', '3fc00000'],
        ['FD', [1.5], '000000000000f83f', '3ff8000000000000'],
        ['SV', [-2], 'feffffffffffffff', 'fffffffffffffffe'],
        ['UV', [258], '0201000000000000', '0000000000000102'],
        ['AT', [0x7fe00010], 'e07f1000', '7fe00010'],
      ];
      for (const [vr, value, le, be] of cases) {
        const headerLength = ['SV', 'UV'].includes(vr) ? 12 : 8;
        expect(one({ tag: 0x00091010, vr, value }).subarray(headerLength)).toEqual(hex(le));
        expect(one({ tag: 0x00091010, vr, value }, BIG_ENDIAN).subarray(headerLength)).toEqual(hex(be));
      }
    });

    it('sequences and items get defined lengths; item headers carry no VR', () => {
      const b = encodeDataset([{ tag: 0x00081115, vr: 'SQ', value: [[{ tag: Tag.SeriesInstanceUID, vr: 'UI', value: '1.2' }]] }], EXPLICIT_LE);
      expect(b).toEqual(hex('0800 1511 5351 0000 14000000  feff 00e0 0c000000  2000 0e00 5549 0400 312e3200'));
      const implicit = encodeDataset([{ tag: 0x00081115, vr: 'SQ', value: [[{ tag: Tag.SeriesInstanceUID, vr: 'UI', value: '1.2' }]] }], IMPLICIT_LE);
      expect(implicit).toEqual(hex('0800 1511 14000000  feff 00e0 0c000000  2000 0e00 04000000 312e3200'));
      const big = encodeDataset([{ tag: 0x00081115, vr: 'SQ', value: [[{ tag: Tag.SeriesInstanceUID, vr: 'UI', value: '1.2' }]] }], BIG_ENDIAN);
      expect(big).toEqual(hex('0008 1115 5351 0000 00000014  fffe e000 0000000c  0020 000e 5549 0004 312e3200'));
    });

    it('an empty sequence has length 0', () => {
      expect(encodeDataset([{ tag: 0x00400260, vr: 'SQ', value: [] }], EXPLICIT_LE)).toEqual(hex('4000 6002 5351 0000 00000000'));
    });
  });

  describe('lengths', () => {
    it('long VRs take values beyond 64 KiB in explicit VR', () => {
      const b = one({ tag: 0x00091010, vr: 'OB', value: Buffer.alloc(70_000) });
      expect(b.readUInt32LE(8)).toBe(70_000);
      const ut = one({ tag: 0x0040a160, vr: 'UT', value: 'x'.repeat(70_001) });
      expect(ut.readUInt32LE(8)).toBe(70_002);
    });

    it('a short VR value over 65535 bytes is refused in explicit VR', () => {
      expect(() => one({ tag: Tag.PatientID, vr: 'LO', value: 'x'.repeat(70_000) })).toThrow(DicomWriteError);
      expect(() => one({ tag: Tag.PatientID, vr: 'LO', value: 'x'.repeat(70_000) }, BIG_ENDIAN)).toThrow(DicomWriteError);
      expect(() => one({ tag: 0x00091010, vr: 'US', value: new Array<number>(40_000).fill(1) })).toThrow(/too long/);
    });

    it('the largest short value (65534 bytes after padding) fits', () => {
      const b = one({ tag: Tag.PatientID, vr: 'LO', value: 'x'.repeat(65_533) });
      expect(b.readUInt16LE(6)).toBe(65_534);
    });

    it('implicit VR has a 32-bit length for every VR', () => {
      const b = one({ tag: Tag.PatientID, vr: 'LO', value: 'x'.repeat(70_000) }, IMPLICIT_LE);
      expect(b.readUInt32LE(4)).toBe(70_000);
    });
  });

  describe('order and charset', () => {
    it('sorts elements by tag as unsigned numbers', () => {
      const b = encodeDataset(
        [
          { tag: 0xfffcfffc, vr: 'OB', value: Buffer.alloc(2) },
          { tag: Tag.PatientID, vr: 'LO', value: 'P1' },
          { tag: Tag.PixelData, vr: 'OW', value: Buffer.alloc(2) },
          { tag: Tag.SOPInstanceUID, vr: 'UI', value: '12' },
        ],
        EXPLICIT_LE,
      );
      expect([...readWholeDataset(b, EXPLICIT_LE).elements.keys()]).toEqual([Tag.SOPInstanceUID, Tag.PatientID, Tag.PixelData, 0xfffcfffc]);
    });

    it('encodes text in the character set the elements declare', () => {
      const b = encodeDataset(
        [
          { tag: Tag.PatientName, vr: 'PN', value: 'Buc^Jérôme' },
          { tag: Tag.SpecificCharacterSet, vr: 'CS', value: 'ISO_IR 100' },
        ],
        EXPLICIT_LE,
      );
      expect(readWholeDataset(b, EXPLICIT_LE).bytes(Tag.PatientName)).toEqual(Buffer.from('Buc^Jérôme', 'latin1'));
    });

    it('items use their own declared character set, else the one they inherit', () => {
      const b = encodeDataset(
        [
          { tag: Tag.SpecificCharacterSet, vr: 'CS', value: 'ISO_IR 100' },
          {
            tag: 0x00081115,
            vr: 'SQ',
            value: [
              [{ tag: Tag.SeriesDescription, vr: 'LO', value: 'é' }],
              [
                { tag: Tag.SpecificCharacterSet, vr: 'CS', value: 'ISO_IR 192' },
                { tag: Tag.SeriesDescription, vr: 'LO', value: 'é' },
              ],
            ],
          },
        ],
        EXPLICIT_LE,
      );
      const items = readWholeDataset(b, EXPLICIT_LE).get(0x00081115)!.items!;
      expect(items[0]!.bytes(Tag.SeriesDescription)).toEqual(Buffer.from([0xe9, 0x20]));
      expect(items[1]!.bytes(Tag.SeriesDescription)).toEqual(Buffer.from([0xc3, 0xa9]));
    });

    it('refuses text the character set cannot hold', () => {
      expect(() => one({ tag: Tag.PatientName, vr: 'PN', value: 'Jérôme' })).toThrow(CharsetEncodeError);
      expect(() => one({ tag: Tag.PatientName, vr: 'PN', value: '山田' }, EXPLICIT_LE, ['ISO_IR 100'])).toThrow(CharsetEncodeError);
    });

    it('never writes a character a default-repertoire VR cannot represent as some other character', () => {
      // "山" (U+5C71) would become 0x71, "q", if it were written as Latin-1.
      expect(() => one({ tag: Tag.Modality, vr: 'CS', value: '山' }, EXPLICIT_LE, ['ISO_IR 192'])).toThrow();
      expect(() => one({ tag: Tag.SOPInstanceUID, vr: 'UI', value: '1.2.山' })).toThrow();
    });

    it('raw bytes are written as given, whatever the charset', () => {
      const raw = Buffer.from([0x1b, 0x24, 0x42, 0x3b, 0x33]);
      expect(one({ tag: Tag.PatientName, vr: 'PN', value: raw }).subarray(8)).toEqual(Buffer.concat([raw, Buffer.from(' ')]));
    });
  });

  describe('empty values (PS3.5 7.4: any attribute may be present with length 0)', () => {
    it('text VRs from an empty list or string', () => {
      expect(one({ tag: Tag.PatientID, vr: 'LO', value: [] })).toEqual(hex('1000 2000 4c4f 0000'));
    });

    for (const [vr, tag, header] of [
      ['US', Tag.Rows, '2800 1000 5553 0000'],
      ['FD', 0x00189087, '1800 8790 4644 0000'],
      ['AT', 0x00280009, '2800 0900 4154 0000'],
      ['OB', 0x00420011, '4200 1100 4f42 0000 00000000'],
    ] as const) {
      it(`${vr} from an empty list (as jsonToElements gives for an attribute without Value)`, () => {
        expect(one({ tag, vr, value: [] })).toEqual(hex(header));
      });
    }
  });

  describe('refusals', () => {
    it('text for a binary VR, numbers for a text VR', () => {
      expect(() => one({ tag: Tag.Rows, vr: 'US', value: '512' })).toThrow(DicomWriteError);
      expect(() => one({ tag: 0x00091010, vr: 'OB', value: 'abc' })).toThrow(DicomWriteError);
      expect(() => one({ tag: Tag.PatientID, vr: 'LO', value: [1, 2] })).toThrow(DicomWriteError);
    });
  });
});
