import { describe, expect, it } from '@jest/globals';
import { DicomDataset } from '../element.js';
import { EXPLICIT_LE, IMPLICIT_LE, readWholeDataset, type Encoding } from '../reader/dataset-reader.js';
import { Tag } from '../tags.js';
import { encodeDataset, type WriteElement } from '../writer/dataset-writer.js';
import { datasetToJson, type DicomJson, jsonToElements } from './dicom-json.js';

const BIG_ENDIAN: Encoding = { explicitVR: true, littleEndian: false };
const ESC = 0x1b;
const ascii = (s: string): number[] => Array.from(s, (c) => c.charCodeAt(0));
const bytes = (...parts: (string | number[])[]): Buffer => Buffer.from(parts.flatMap((p) => (typeof p === 'string' ? ascii(p) : p)));
const JIS = [ESC, 0x24, 0x42]; // ESC $ B
const ASCII = [ESC, 0x28, 0x42]; // ESC ( B

/** Elements written with the archive's writer and read back with its reader: a real dataset. */
function dataset(elements: readonly WriteElement[], enc: Encoding = EXPLICIT_LE): DicomDataset {
  return readWholeDataset(encodeDataset(elements, enc), enc);
}

function json(elements: readonly WriteElement[], enc: Encoding = EXPLICIT_LE, warnings?: string[]): DicomJson {
  return datasetToJson(dataset(elements, enc), { warnings });
}

const ReferencedSeriesSequence = 0x00081115;
const SliceThickness = 0x00180050;
const ImagePositionPatient = 0x00200032;
const WindowCenter = 0x00281050;
const ImageComments = 0x00204000;
const FrameIncrementPointer = 0x00280009;
const RedPaletteLUTData = 0x00281201;
const RetrieveURL = 0x00081190;
const TextValue = 0x0040a160;
const InstitutionAddress = 0x00080081;

describe('datasetToJson (PS3.18 F.2)', () => {
  describe('strings', () => {
    it('default-repertoire VRs: values split on backslash, padding trimmed, empty values null', () => {
      const out = json([
        { tag: Tag.ImageType, vr: 'CS', value: 'ORIGINAL\\\\AXIAL\\' },
        { tag: Tag.SOPInstanceUID, vr: 'UI', value: '1.2.3' }, // odd length: NUL padded
        { tag: Tag.StudyDate, vr: 'DA', value: '20200131' },
        { tag: Tag.StudyTime, vr: 'TM', value: '1700' },
        { tag: Tag.PatientAge, vr: 'AS', value: '042Y' },
        { tag: Tag.RetrieveAETitle, vr: 'AE', value: ' VNA ' },
      ]);
      expect(out['00080008']).toEqual({ vr: 'CS', Value: ['ORIGINAL', null, 'AXIAL', null] });
      expect(out['00080018']).toEqual({ vr: 'UI', Value: ['1.2.3'] });
      expect(out['00080020']).toEqual({ vr: 'DA', Value: ['20200131'] });
      expect(out['00080030']).toEqual({ vr: 'TM', Value: ['1700'] });
      expect(out['00101010']).toEqual({ vr: 'AS', Value: ['042Y'] });
      expect(out['00080054']).toEqual({ vr: 'AE', Value: ['VNA'] });
    });

    it('SH, LO and UC decode with the character set and split into values', () => {
      const out = json([
        { tag: Tag.SpecificCharacterSet, vr: 'CS', value: 'ISO_IR 100' },
        { tag: Tag.StudyDescription, vr: 'LO', value: Buffer.from('Thorax \\\\Abdomen ', 'latin1') },
        { tag: Tag.StationName, vr: 'SH', value: Buffer.from('Salle Gérôme', 'latin1') },
      ]);
      expect(out['00081030']).toEqual({ vr: 'LO', Value: ['Thorax', null, 'Abdomen'] });
      expect(out['00081010']).toEqual({ vr: 'SH', Value: ['Salle Gérôme'] });
    });

    it('ST, LT and UT are one value: backslashes and leading spaces kept, trailing padding removed', () => {
      const out = json([
        { tag: ImageComments, vr: 'LT', value: '  C:\\dir\\file  ' },
        { tag: TextValue, vr: 'UT', value: 'a\\b' },
        { tag: InstitutionAddress, vr: 'ST', value: 'x ' },
      ]);
      expect(out['00204000']).toEqual({ vr: 'LT', Value: ['  C:\\dir\\file'] });
      expect(out['0040A160']).toEqual({ vr: 'UT', Value: ['a\\b'] });
      expect(out['00080081']).toEqual({ vr: 'ST', Value: ['x'] });
    });

    it('UR is one value', () => {
      expect(json([{ tag: RetrieveURL, vr: 'UR', value: 'http://x/a\\b ' }])['00081190']).toEqual({ vr: 'UR', Value: ['http://x/a\\b'] });
    });

    it('an empty value has a VR and no Value', () => {
      const out = json([
        { tag: Tag.AccessionNumber, vr: 'SH', value: '' },
        { tag: Tag.PatientName, vr: 'PN', value: '' },
        { tag: Tag.SeriesNumber, vr: 'IS', value: '' },
      ]);
      expect(out['00080050']).toEqual({ vr: 'SH' });
      expect(out['00100010']).toEqual({ vr: 'PN' });
      expect(out['00200011']).toEqual({ vr: 'IS' });
    });
  });

  describe('PN', () => {
    it('splits component groups (ISO 2022 IR 87, PS3.5 H.3.1)', () => {
      const out = json([
        { tag: Tag.SpecificCharacterSet, vr: 'CS', value: '\\ISO 2022 IR 87' },
        {
          tag: Tag.PatientName,
          vr: 'PN',
          value: bytes(
            'Yamada^Tarou=',
            JIS, [0x3b, 0x33, 0x45, 0x44], ASCII, '^', JIS, [0x42, 0x40, 0x4f, 0x3a], ASCII, '=',
            JIS, [0x24, 0x64, 0x24, 0x5e, 0x24, 0x40], ASCII, '^', JIS, [0x24, 0x3f, 0x24, 0x6d, 0x24, 0x26], ASCII,
          ),
        },
      ]);
      expect(out['00100010']).toEqual({
        vr: 'PN',
        Value: [{ Alphabetic: 'Yamada^Tarou', Ideographic: '山田^太郎', Phonetic: 'やまだ^たろう' }],
      });
      // The text is Unicode now: the JSON carries no character set of its own.
      expect(out['00080005']).toBeUndefined();
    });

    it('keeps a later group when an earlier one is empty, and gives null for empty names among several', () => {
      const out = json([
        { tag: Tag.SpecificCharacterSet, vr: 'CS', value: 'ISO_IR 192' },
        { tag: Tag.PatientName, vr: 'PN', value: Buffer.from('=山田^太郎') },
        { tag: 0x00101001, vr: 'PN', value: Buffer.from('Doe^John\\\\Roe^Jane=') },
      ]);
      expect(out['00100010']).toEqual({ vr: 'PN', Value: [{ Ideographic: '山田^太郎' }] });
      expect(out['00101001']).toEqual({ vr: 'PN', Value: [{ Alphabetic: 'Doe^John' }, null, { Alphabetic: 'Roe^Jane' }] });
    });
  });

  describe('IS and DS', () => {
    it('become numbers; empty values null', () => {
      const out = json([
        { tag: Tag.SeriesNumber, vr: 'IS', value: ' 12\\-3\\\\+4 ' },
        { tag: ImagePositionPatient, vr: 'DS', value: '-125.5\\1e2\\0.000' },
      ]);
      expect(out['00200011']).toEqual({ vr: 'IS', Value: [12, -3, null, 4] });
      expect(out['00200032']).toEqual({ vr: 'DS', Value: [-125.5, 100, 0] });
    });

    it('invalid values become null with a warning naming the tag, and do not stop the rest', () => {
      const warnings: string[] = [];
      const out = json(
        [
          { tag: Tag.InstanceNumber, vr: 'IS', value: '1.5' },
          { tag: SliceThickness, vr: 'DS', value: 'abc\\2.5' },
          { tag: WindowCenter, vr: 'DS', value: '40' },
        ],
        EXPLICIT_LE,
        warnings,
      );
      expect(out['00200013']).toEqual({ vr: 'IS', Value: [null] });
      expect(out['00180050']).toEqual({ vr: 'DS', Value: [null, 2.5] });
      expect(out['00281050']).toEqual({ vr: 'DS', Value: [40] });
      // In tag order: (0018,0050) before (0020,0013).
      expect(warnings).toHaveLength(2);
      expect(warnings[0]).toContain('DS');
      expect(warnings[0]).toContain('00180050');
      expect(warnings[1]).toContain('IS');
      expect(warnings[1]).toContain('00200013');
    });
  });

  it('IS and DS are decimal: hexadecimal text is not a number (PS3.5 6.2)', () => {
    const warnings: string[] = [];
    const out = json(
      [
        { tag: Tag.SeriesNumber, vr: 'IS', value: '0x10' },
        { tag: SliceThickness, vr: 'DS', value: '0x1A' },
      ],
      EXPLICIT_LE,
      warnings,
    );
    expect(out['00200011']).toEqual({ vr: 'IS', Value: [null] });
    expect(out['00180050']).toEqual({ vr: 'DS', Value: [null] });
    expect(warnings).toHaveLength(2);
  });

  describe('binary numbers', () => {
    const numeric: WriteElement[] = [
      { tag: Tag.Rows, vr: 'US', value: [512, 65535] },
      { tag: 0x00189219, vr: 'SS', value: [-32768, 7] }, // TagAngleSecondAxis
      { tag: 0x00186016, vr: 'UL', value: [4294967295] }, // RegionFlags
      { tag: 0x00186020, vr: 'SL', value: [-2147483648] }, // ReferencePixelX0
      { tag: 0x00109431, vr: 'FL', value: [1.5, -0.25] }, // ExaminedBodyThickness
      { tag: 0x00189087, vr: 'FD', value: [Math.PI] }, // DiffusionBValue
      { tag: 0x00720082, vr: 'SV', value: [-9007199254740991] }, // SelectorSVValue
      { tag: 0x00720083, vr: 'UV', value: [9007199254740991] }, // SelectorUVValue
    ];
    const expected: DicomJson = {
      '00280010': { vr: 'US', Value: [512, 65535] },
      '00189219': { vr: 'SS', Value: [-32768, 7] },
      '00186016': { vr: 'UL', Value: [4294967295] },
      '00186020': { vr: 'SL', Value: [-2147483648] },
      '00109431': { vr: 'FL', Value: [1.5, -0.25] },
      '00189087': { vr: 'FD', Value: [Math.PI] },
      '00720082': { vr: 'SV', Value: [-9007199254740991] },
      '00720083': { vr: 'UV', Value: [9007199254740991] },
    };

    it('little endian', () => {
      expect(json(numeric)).toEqual(expected);
    });

    it('big endian', () => {
      expect(json(numeric, BIG_ENDIAN)).toEqual(expected);
    });

    it('implicit VR takes the VR from the dictionary', () => {
      expect(json(numeric, IMPLICIT_LE)).toEqual(expected);
    });
  });

  describe('AT', () => {
    it('gives tags as eight hex digits, group first, in either byte order', () => {
      const el: WriteElement = { tag: FrameIncrementPointer, vr: 'AT', value: [0x00181063, 0x7fe00010] };
      expect(json([el])['00280009']).toEqual({ vr: 'AT', Value: ['00181063', '7FE00010'] });
      expect(json([el], BIG_ENDIAN)['00280009']).toEqual({ vr: 'AT', Value: ['00181063', '7FE00010'] });
    });
  });

  describe('binary values', () => {
    it('go inline as base64; OB is not swapped', () => {
      const out = json([{ tag: 0x00091010, vr: 'OB', value: Buffer.from([1, 2, 3, 4]) }], BIG_ENDIAN);
      expect(out['00091010']).toEqual({ vr: 'OB', InlineBinary: Buffer.from([1, 2, 3, 4]).toString('base64') });
    });

    it('keeps the pad byte of an odd-length OB value (it is part of the value)', () => {
      const out = json([{ tag: 0x00091010, vr: 'OB', value: Buffer.from([1, 2, 3]) }]);
      expect(out['00091010']).toEqual({ vr: 'OB', InlineBinary: Buffer.from([1, 2, 3, 0]).toString('base64') });
    });

    it('big endian OW, OF, OL, OD and OV words are swapped to little endian (PS3.18 F.2.7)', () => {
      // The writer takes binary words little endian and swaps them for big endian; so to have the
      // bytes 1..8 on the wire, give it each word already swapped.
      const wire = Buffer.from([1, 2, 3, 4, 5, 6, 7, 8]);
      const swapped = (width: number): Buffer => {
        const b = Buffer.from(wire);
        if (width === 2) b.swap16();
        else if (width === 4) b.swap32();
        else b.swap64();
        return b;
      };
      const ds = dataset(
        [
          { tag: 0x00091010, vr: 'OW', value: swapped(2) },
          { tag: 0x00091011, vr: 'OF', value: swapped(4) },
          { tag: 0x00091012, vr: 'OL', value: swapped(4) },
          { tag: 0x00091013, vr: 'OD', value: swapped(8) },
          { tag: 0x00091014, vr: 'OV', value: swapped(8) },
          { tag: 0x00091015, vr: 'UN', value: wire },
        ],
        BIG_ENDIAN,
      );
      for (const tag of [0x00091010, 0x00091011, 0x00091012, 0x00091013, 0x00091014, 0x00091015]) expect(ds.bytes(tag)).toEqual(wire);
      const out = datasetToJson(ds);
      const b64 = (a: number[]): string => Buffer.from(a).toString('base64');
      expect(out['00091010']).toEqual({ vr: 'OW', InlineBinary: b64([2, 1, 4, 3, 6, 5, 8, 7]) });
      expect(out['00091011']).toEqual({ vr: 'OF', InlineBinary: b64([4, 3, 2, 1, 8, 7, 6, 5]) });
      expect(out['00091012']).toEqual({ vr: 'OL', InlineBinary: b64([4, 3, 2, 1, 8, 7, 6, 5]) });
      expect(out['00091013']).toEqual({ vr: 'OD', InlineBinary: b64([8, 7, 6, 5, 4, 3, 2, 1]) });
      expect(out['00091014']).toEqual({ vr: 'OV', InlineBinary: b64([8, 7, 6, 5, 4, 3, 2, 1]) });
      expect(out['00091015']).toEqual({ vr: 'UN', InlineBinary: b64([1, 2, 3, 4, 5, 6, 7, 8]) });
    });

    it('does not swap little endian data, nor the source buffer', () => {
      const ds = dataset([{ tag: 0x00091010, vr: 'OW', value: Buffer.from([2, 1, 4, 3]) }], BIG_ENDIAN);
      expect(ds.bytes(0x00091010)).toEqual(Buffer.from([1, 2, 3, 4]));
      datasetToJson(ds);
      expect(ds.bytes(0x00091010)).toEqual(Buffer.from([1, 2, 3, 4]));
      expect(json([{ tag: 0x00091010, vr: 'OW', value: Buffer.from([1, 2, 3, 4]) }])['00091010']).toEqual({
        vr: 'OW',
        InlineBinary: Buffer.from([1, 2, 3, 4]).toString('base64'),
      });
    });

    it('above the inline limit: a BulkDataURI when there is one, else only the VR', () => {
      const ds = dataset([{ tag: RedPaletteLUTData, vr: 'OW', value: Buffer.alloc(100, 1) }]);
      expect(datasetToJson(ds, { inlineBinaryLimit: 99 })['00281201']).toEqual({ vr: 'OW' });
      expect(datasetToJson(ds, { inlineBinaryLimit: 100 })['00281201']?.InlineBinary).toBe(Buffer.alloc(100, 1).toString('base64'));
      const uri = datasetToJson(ds, { inlineBinaryLimit: 99, bulkDataUri: (el) => `bulk/${el.tag.toString(16)}` });
      expect(uri['00281201']).toEqual({ vr: 'OW', BulkDataURI: 'bulk/281201' });
    });
  });

  describe('bulk data', () => {
    function withBulkPixels(): DicomDataset {
      const ds = dataset([{ tag: Tag.SOPInstanceUID, vr: 'UI', value: '1.2' }]);
      ds.set({ tag: Tag.PixelData, vr: 'OW', offset: 1000, length: 1 << 30, bulk: true });
      return ds;
    }

    it('elements left in the file get the URI the caller gives', () => {
      const seen: number[] = [];
      const out = datasetToJson(withBulkPixels(), {
        bulkDataUri: (el) => {
          seen.push(el.offset, el.length);
          return 'https://vna/bulk/7FE00010';
        },
      });
      expect(out['7FE00010']).toEqual({ vr: 'OW', BulkDataURI: 'https://vna/bulk/7FE00010' });
      expect(seen).toEqual([1000, 1 << 30]);
    });

    it('without a URI only the VR is kept', () => {
      expect(datasetToJson(withBulkPixels())['7FE00010']).toEqual({ vr: 'OW' });
    });

    it('omit leaves top-level elements out', () => {
      const out = datasetToJson(withBulkPixels(), { omit: new Set([Tag.PixelData]) });
      expect(out['7FE00010']).toBeUndefined();
      expect(out['00080018']).toEqual({ vr: 'UI', Value: ['1.2'] });
    });
  });

  describe('what is left out', () => {
    it('group lengths and the meta group', () => {
      const ds = dataset([
        { tag: 0x00080000, vr: 'UL', value: [10] },
        { tag: Tag.SOPInstanceUID, vr: 'UI', value: '1.2' },
      ]);
      ds.set({ tag: Tag.TransferSyntaxUID, vr: 'UI', offset: 0, length: 4, value: Buffer.from('1.2\0') });
      expect(Object.keys(datasetToJson(ds))).toEqual(['00080018']);
    });

    it('keys are in tag order, private tags included', () => {
      const out = json([
        { tag: 0x00091001, vr: 'LO', value: 'x' },
        { tag: 0x00090010, vr: 'LO', value: 'ACME' },
        { tag: Tag.PatientID, vr: 'LO', value: 'P' },
      ]);
      expect(Object.keys(out)).toEqual(['00090010', '00091001', '00100020']);
    });
  });

  describe('sequences', () => {
    it('nest items, an item inheriting the character set or declaring its own', () => {
      const out = json([
        { tag: Tag.SpecificCharacterSet, vr: 'CS', value: 'ISO_IR 100' },
        { tag: Tag.PatientName, vr: 'PN', value: Buffer.from('Buc^Jérôme', 'latin1') },
        {
          tag: ReferencedSeriesSequence,
          vr: 'SQ',
          value: [
            // inherits ISO_IR 100
            [
              { tag: Tag.SeriesDescription, vr: 'LO', value: Buffer.from('Série Ça', 'latin1') },
              { tag: Tag.SeriesInstanceUID, vr: 'UI', value: '1.2.3' },
            ],
            // its own ISO_IR 192, with a nested sequence that inherits that
            [
              { tag: Tag.SpecificCharacterSet, vr: 'CS', value: 'ISO_IR 192' },
              { tag: Tag.SeriesDescription, vr: 'LO', value: Buffer.from('Série 山') },
              {
                tag: 0x00400275,
                vr: 'SQ',
                value: [[{ tag: 0x00321060, vr: 'LO', value: Buffer.from('Ж') }]],
              },
            ],
          ],
        },
        { tag: 0x00400260, vr: 'SQ', value: [] },
      ]);
      expect(out['00100010']).toEqual({ vr: 'PN', Value: [{ Alphabetic: 'Buc^Jérôme' }] });
      expect(out['00081115']).toEqual({
        vr: 'SQ',
        Value: [
          { '0008103E': { vr: 'LO', Value: ['Série Ça'] }, '0020000E': { vr: 'UI', Value: ['1.2.3'] } },
          { '0008103E': { vr: 'LO', Value: ['Série 山'] }, '00400275': { vr: 'SQ', Value: [{ '00321060': { vr: 'LO', Value: ['Ж'] } }] } },
        ],
      });
      expect(out['00400260']).toEqual({ vr: 'SQ', Value: [] });
    });

    it('a top-level omit does not apply inside items', () => {
      const ds = dataset([
        { tag: Tag.SOPInstanceUID, vr: 'UI', value: '1.2' },
        { tag: ReferencedSeriesSequence, vr: 'SQ', value: [[{ tag: Tag.SOPInstanceUID, vr: 'UI', value: '1.3' }]] },
      ]);
      const out = datasetToJson(ds, { omit: new Set([Tag.SOPInstanceUID]) });
      expect(out['00080018']).toBeUndefined();
      expect(out['00081115']).toEqual({ vr: 'SQ', Value: [{ '00080018': { vr: 'UI', Value: ['1.3'] } }] });
    });

    it('reads big endian items too', () => {
      const out = json(
        [{ tag: ReferencedSeriesSequence, vr: 'SQ', value: [[{ tag: Tag.Rows, vr: 'US', value: [258] }]] }],
        BIG_ENDIAN,
      );
      expect(out['00081115']).toEqual({ vr: 'SQ', Value: [{ '00280010': { vr: 'US', Value: [258] } }] });
    });
  });
});

describe('jsonToElements + encodeDataset: the JSON model back to bytes', () => {
  /** Every VR family; text beyond Latin-1 so that the character set matters. */
  const model: DicomJson = {
    '00080008': { vr: 'CS', Value: ['ORIGINAL', null, 'AXIAL'] },
    '00080016': { vr: 'UI', Value: ['1.2.840.10008.5.1.4.1.1.2'] },
    '00080018': { vr: 'UI', Value: ['1.2.3.4.5'] },
    '00080020': { vr: 'DA', Value: ['20200131'] },
    '00080030': { vr: 'TM', Value: ['170000.123'] },
    '00080050': { vr: 'SH' },
    '00080054': { vr: 'AE', Value: ['VNA'] },
    '00080081': { vr: 'ST', Value: ['Rue 1\\2, Genève'] },
    '00080119': { vr: 'UC', Value: ['long code 山', 'two'] },
    '0008010E': { vr: 'UR', Value: ['http://vna/codes'] },
    '00080201': { vr: 'SH', Value: ['+0100'] },
    '00081010': { vr: 'SH', Value: ['Salle 1', 'Raum Ü'] },
    '00081030': { vr: 'LO', Value: ['Thorax 山田'] },
    '00081115': {
      vr: 'SQ',
      Value: [
        { '0008103E': { vr: 'LO', Value: ['Série Ж'] }, '0020000E': { vr: 'UI', Value: ['1.2.3.9'] } },
        { '0020000E': { vr: 'UI', Value: ['1.2.3.10'] } },
      ],
    },
    '00090010': { vr: 'LO', Value: ['ACME 1.0'] },
    '00100010': {
      vr: 'PN',
      Value: [{ Alphabetic: 'Yamada^Tarou', Ideographic: '山田^太郎', Phonetic: 'やまだ^たろう' }, { Ideographic: '山田' }],
    },
    '00100020': { vr: 'LO', Value: ['PID-1'] },
    '00101010': { vr: 'AS', Value: ['042Y'] },
    '00109431': { vr: 'FL', Value: [1.5] },
    '00180050': { vr: 'DS', Value: [1.25, -3] },
    '00186016': { vr: 'UL', Value: [4294967295] },
    '00186020': { vr: 'SL', Value: [-5] },
    '00189087': { vr: 'FD', Value: [Math.E] },
    '00189219': { vr: 'SS', Value: [-1] },
    '00200011': { vr: 'IS', Value: [7, null] },
    '00200032': { vr: 'DS', Value: [-125.5, 0, 1e-7] },
    '00204000': { vr: 'LT', Value: ['  line 1\r\nline\\2'] },
    '00280009': { vr: 'AT', Value: ['00181063', '7FE00010'] },
    '00280010': { vr: 'US', Value: [512] },
    '00400260': { vr: 'SQ', Value: [] },
    '0040A160': { vr: 'UT', Value: ['a\\b'] },
    '00420011': { vr: 'OB', InlineBinary: Buffer.from([1, 2, 3, 4, 5, 6]).toString('base64') },
    '00640009': { vr: 'OF', InlineBinary: Buffer.from([0, 0, 0xc0, 0x3f]).toString('base64') },
    '00660022': { vr: 'OD', InlineBinary: Buffer.from([1, 2, 3, 4, 5, 6, 7, 8]).toString('base64') },
    '00720075': { vr: 'OL', InlineBinary: Buffer.from([1, 2, 3, 4]).toString('base64') },
    '00720081': { vr: 'OV', InlineBinary: Buffer.from([1, 2, 3, 4, 5, 6, 7, 8]).toString('base64') },
    '00720082': { vr: 'SV', Value: [-42] },
    '00720083': { vr: 'UV', Value: [42] },
    '7FE00010': { vr: 'OW', InlineBinary: Buffer.from([0x10, 0x00, 0x20, 0x00]).toString('base64') },
  };

  function roundTrip(input: DicomJson, enc: Encoding): DicomJson {
    const elements = [...jsonToElements(input), { tag: Tag.SpecificCharacterSet, vr: 'CS', value: 'ISO_IR 192' } as WriteElement];
    const warnings: string[] = [];
    const out = datasetToJson(readWholeDataset(encodeDataset(elements, enc), enc), { warnings });
    expect(warnings).toEqual([]);
    return out;
  }

  for (const [name, enc] of [
    ['explicit VR little endian', EXPLICIT_LE],
    ['implicit VR little endian', IMPLICIT_LE],
    ['explicit VR big endian', BIG_ENDIAN],
  ] as const) {
    it(`gives back the same JSON (${name})`, () => {
      expect(roundTrip(model, enc)).toEqual(model);
    });
  }

  it('gives back the same JSON in ISO 2022 IR 87 as in UTF-8', () => {
    const japanese: DicomJson = {
      '00100010': { vr: 'PN', Value: [{ Alphabetic: 'Yamada^Tarou', Ideographic: '山田^太郎', Phonetic: 'やまだ^たろう' }] },
      '00081030': { vr: 'LO', Value: ['胸部', 'CT'] },
    };
    const elements = [...jsonToElements(japanese), { tag: Tag.SpecificCharacterSet, vr: 'CS', value: ['', 'ISO 2022 IR 87'] } as WriteElement];
    const encoded = encodeDataset(elements, EXPLICIT_LE);
    // ISO 2022 bytes, not UTF-8: escape sequences and no byte above 0x7F.
    expect(encoded.includes(Buffer.from(JIS))).toBe(true);
    expect([...encoded].every((b) => b < 0x80)).toBe(true);
    expect(datasetToJson(readWholeDataset(encoded, EXPLICIT_LE))).toEqual(japanese);
  });

  it('writes PN groups as "=" joined text without trailing empty groups', () => {
    const [el] = jsonToElements({ '00100010': { vr: 'PN', Value: [{ Alphabetic: 'A^B' }, { Ideographic: 'C' }, null] } });
    expect(el).toEqual({ tag: Tag.PatientName, vr: 'PN', value: ['A^B', '=C', ''] });
  });

  describe('an attribute without a value survives the round trip, whatever its VR (empty values are legal, PS3.5 7.4)', () => {
    const empty: DicomJson = {
      '00080050': { vr: 'SH' },
      '00100010': { vr: 'PN' },
      '00200013': { vr: 'IS' },
      '00280010': { vr: 'US' },
      '00280009': { vr: 'AT' },
      '00189087': { vr: 'FD' },
      '00420011': { vr: 'OB' },
      '7FE00010': { vr: 'OW' },
    };
    for (const [key, attr] of Object.entries(empty)) {
      it(`${attr.vr} (${key})`, () => {
        expect(roundTrip({ [key]: attr }, EXPLICIT_LE)).toEqual({ [key]: attr });
      });
    }
  });
});
