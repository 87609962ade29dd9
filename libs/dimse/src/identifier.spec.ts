import { describe, expect, it } from '@jest/globals';
import { type DicomJson, encodeDataset, EXPLICIT_LE, IMPLICIT_LE, readWholeDataset, Tag, TS, type WriteElement } from '#vna/dicom';
import { encodeResponseIdentifier, type Identifier, IdentifierError, readIdentifier } from './identifier.js';

const ESC = 0x1b;
const ascii = (s: string): number[] => Array.from(s, (c) => c.charCodeAt(0));
const bytes = (...parts: (string | number[])[]): Buffer => Buffer.from(parts.flatMap((p) => (typeof p === 'string' ? ascii(p) : p)));
const JIS = [ESC, 0x24, 0x42];
const ASCII = [ESC, 0x28, 0x42];

/** PS3.5 H.3.1: Yamada^Tarou=山田^太郎=やまだ^たろう in ISO 2022 IR 87. */
const YAMADA = bytes(
  'Yamada^Tarou=',
  JIS, [0x3b, 0x33, 0x45, 0x44], ASCII, '^', JIS, [0x42, 0x40, 0x4f, 0x3a], ASCII, '=',
  JIS, [0x24, 0x64, 0x24, 0x5e, 0x24, 0x40], ASCII, '^', JIS, [0x24, 0x3f, 0x24, 0x6d, 0x24, 0x26], ASCII,
);

function studyQuery(): WriteElement[] {
  return [
    { tag: Tag.SpecificCharacterSet, vr: 'CS', value: '\\ISO 2022 IR 87' },
    { tag: Tag.QueryRetrieveLevel, vr: 'CS', value: 'STUDY' },
    { tag: Tag.PatientName, vr: 'PN', value: YAMADA },
    { tag: Tag.PatientID, vr: 'LO', value: '' },
    { tag: Tag.StudyDate, vr: 'DA', value: '20200101-20201231' },
    { tag: Tag.StudyInstanceUID, vr: 'UI', value: '' },
    { tag: Tag.StudyDescription, vr: 'LO', value: ' Thorax* ' },
    { tag: Tag.IssuerOfAccessionNumberSequence, vr: 'SQ', value: [] },
    { tag: Tag.NumberOfStudyRelatedInstances, vr: 'IS', value: '' },
    { tag: Tag.Rows, vr: 'US', value: [512] },
  ];
}

describe('readIdentifier', () => {
  for (const [name, ts, enc] of [
    ['implicit VR little endian', TS.ImplicitVRLittleEndian, IMPLICIT_LE],
    ['explicit VR little endian', TS.ExplicitVRLittleEndian, EXPLICIT_LE],
  ] as const) {
    it(`decodes keys with the identifier's own character set (${name})`, () => {
      const id = readIdentifier(encodeDataset(studyQuery(), enc), ts);
      expect(id.level).toBe('STUDY');
      expect(id.keys.get(Tag.PatientName)).toBe('Yamada^Tarou=山田^太郎=やまだ^たろう');
      expect(id.keys.get(Tag.StudyDate)).toBe('20200101-20201231');
      expect(id.keys.get(Tag.StudyDescription)).toBe('Thorax*');
    });
  }

  it('keeps empty return keys as empty strings, sequences and binary keys included', () => {
    const id = readIdentifier(encodeDataset(studyQuery(), IMPLICIT_LE), TS.ImplicitVRLittleEndian);
    expect(id.keys.get(Tag.PatientID)).toBe('');
    expect(id.keys.get(Tag.StudyInstanceUID)).toBe('');
    expect(id.keys.get(Tag.IssuerOfAccessionNumberSequence)).toBe('');
    expect(id.keys.get(Tag.NumberOfStudyRelatedInstances)).toBe('');
    expect(id.keys.get(Tag.Rows)).toBe('');
  });

  it('lists every requested tag in order, without Specific Character Set and Query/Retrieve Level', () => {
    const id = readIdentifier(encodeDataset(studyQuery(), EXPLICIT_LE), TS.ExplicitVRLittleEndian);
    expect(id.requested).toEqual([
      Tag.StudyDate,
      Tag.IssuerOfAccessionNumberSequence,
      Tag.StudyDescription,
      Tag.PatientName,
      Tag.PatientID,
      Tag.StudyInstanceUID,
      Tag.NumberOfStudyRelatedInstances,
      Tag.Rows,
    ]);
    expect([...id.keys.keys()]).toEqual(id.requested);
  });

  it('skips group lengths', () => {
    const elements: WriteElement[] = [{ tag: 0x00100000, vr: 'UL', value: [10] }, { tag: Tag.PatientID, vr: 'LO', value: 'P1' }];
    const id = readIdentifier(encodeDataset(elements, EXPLICIT_LE), TS.ExplicitVRLittleEndian);
    expect(id.requested).toEqual([Tag.PatientID]);
    expect(id.level).toBe('');
  });

  it('reads explicit VR big endian identifiers', () => {
    const id = readIdentifier(encodeDataset(studyQuery(), { explicitVR: true, littleEndian: false }), TS.ExplicitVRBigEndian);
    expect(id.keys.get(Tag.PatientName)).toBe('Yamada^Tarou=山田^太郎=やまだ^たろう');
  });

  it('refuses bytes that are not a dataset', () => {
    const good = encodeDataset(studyQuery(), IMPLICIT_LE);
    expect(() => readIdentifier(good.subarray(0, good.length - 3), TS.ImplicitVRLittleEndian)).toThrow(IdentifierError);
    expect(() => readIdentifier(good.subarray(0, 5), TS.ImplicitVRLittleEndian)).toThrow(IdentifierError);
    const lying = Buffer.from(good);
    lying.writeUInt32LE(0x00100000, 4); // the first element claims 1 MiB
    expect(() => readIdentifier(lying, TS.ImplicitVRLittleEndian)).toThrow(IdentifierError);
    const item = Buffer.from([0xfe, 0xff, 0x00, 0xe0, 0x00, 0x00, 0x00, 0x00]); // an item at the top level
    expect(() => readIdentifier(item, TS.ImplicitVRLittleEndian)).toThrow(IdentifierError);
  });

  it('refuses transfer syntaxes an identifier cannot be in', () => {
    const good = encodeDataset(studyQuery(), EXPLICIT_LE);
    for (const ts of [TS.JPEGBaseline8Bit, TS.DeflatedExplicitVRLittleEndian, '1.2.3.4']) {
      expect(() => readIdentifier(good, ts)).toThrow(IdentifierError);
    }
  });
});

describe('encodeResponseIdentifier', () => {
  const request: Identifier = {
    level: 'STUDY',
    keys: new Map<number, string>([
      [Tag.PatientName, ''],
      [Tag.PatientID, ''],
      [Tag.StudyDate, ''],
      [Tag.StudyInstanceUID, ''],
      [Tag.AccessionNumber, ''],
    ]),
    requested: [Tag.PatientName, Tag.PatientID, Tag.StudyDate, Tag.StudyInstanceUID, Tag.AccessionNumber],
  };

  const asciiMatch: DicomJson = {
    '00080020': { vr: 'DA', Value: ['20200131'] },
    '00080061': { vr: 'CS', Value: ['CT'] },
    '00081030': { vr: 'LO', Value: ['not asked for'] },
    '00100010': { vr: 'PN', Value: [{ Alphabetic: 'Doe^John' }] },
    '00100020': { vr: 'LO', Value: ['PID1'] },
    '0020000D': { vr: 'UI', Value: ['1.2.3'] },
  };

  const japaneseMatch: DicomJson = {
    ...asciiMatch,
    '00100010': { vr: 'PN', Value: [{ Alphabetic: 'Yamada^Tarou', Ideographic: '山田^太郎', Phonetic: 'やまだ^たろう' }] },
  };

  for (const [name, ts, enc] of [
    ['implicit VR little endian', TS.ImplicitVRLittleEndian, IMPLICIT_LE],
    ['explicit VR little endian', TS.ExplicitVRLittleEndian, EXPLICIT_LE],
  ] as const) {
    describe(name, () => {
      it('holds exactly the requested keys, absent ones empty, plus the level', () => {
        const ds = readWholeDataset(encodeResponseIdentifier(asciiMatch, request, 'STUDY', ts), enc);
        expect([...ds.elements.keys()]).toEqual([Tag.StudyDate, Tag.AccessionNumber, Tag.QueryRetrieveLevel, Tag.PatientName, Tag.PatientID, Tag.StudyInstanceUID]);
        expect(ds.get(Tag.AccessionNumber)!.length).toBe(0);
        expect(ds.ascii(Tag.QueryRetrieveLevel)).toBe('STUDY');
        expect(ds.ascii(Tag.StudyDate)).toBe('20200131');
        expect(ds.ascii(Tag.StudyInstanceUID)).toBe('1.2.3');
        expect(ds.bytes(Tag.PatientName)!.toString('latin1').trim()).toBe('Doe^John');
      });

      it('declares no character set when everything is ASCII', () => {
        const ds = readWholeDataset(encodeResponseIdentifier(asciiMatch, request, 'STUDY', ts), enc);
        expect(ds.has(Tag.SpecificCharacterSet)).toBe(false);
      });

      it('declares ISO_IR 192 and writes UTF-8 when a value is not ASCII', () => {
        const ds = readWholeDataset(encodeResponseIdentifier(japaneseMatch, request, 'STUDY', ts), enc);
        expect(ds.specificCharacterSet()).toEqual(['ISO_IR 192']);
        expect(ds.bytes(Tag.PatientName)!.toString('utf8').trim()).toBe('Yamada^Tarou=山田^太郎=やまだ^たろう');
      });

      it('round-trips through readIdentifier', () => {
        const back = readIdentifier(encodeResponseIdentifier(japaneseMatch, request, 'STUDY', ts), ts);
        expect(back.level).toBe('STUDY');
        expect(back.keys.get(Tag.PatientName)).toBe('Yamada^Tarou=山田^太郎=やまだ^たろう');
        expect(back.requested).toEqual([Tag.StudyDate, Tag.AccessionNumber, Tag.PatientName, Tag.PatientID, Tag.StudyInstanceUID]);
      });
    });
  }

  it('writes the VRs in explicit VR', () => {
    const b = encodeResponseIdentifier(asciiMatch, request, 'STUDY', TS.ExplicitVRLittleEndian);
    const ds = readWholeDataset(b, EXPLICIT_LE);
    expect(ds.get(Tag.PatientName)!.vr).toBe('PN');
    expect(ds.get(Tag.StudyDate)!.vr).toBe('DA');
    expect(b.subarray(4, 6).toString('latin1')).toBe('DA');
  });

  it('leaves out a requested key the dictionary does not know and the match does not have', () => {
    const withPrivate: Identifier = { ...request, requested: [...request.requested, 0x00091099] };
    const ds = readWholeDataset(encodeResponseIdentifier(asciiMatch, withPrivate, 'STUDY', TS.ImplicitVRLittleEndian), IMPLICIT_LE);
    expect(ds.has(0x00091099)).toBe(false);
  });

  it('answers an absent key of a binary VR with an empty element (an SR instance has no Rows)', () => {
    const imageRequest: Identifier = {
      level: 'IMAGE',
      keys: new Map<number, string>([
        [Tag.SOPInstanceUID, ''],
        [Tag.Rows, ''],
      ]),
      requested: [Tag.SOPInstanceUID, Tag.Rows],
    };
    // What QueryService gives at IMAGE level for an instance without Rows: the attribute, no Value.
    const match: DicomJson = { '00080018': { vr: 'UI', Value: ['1.2.3.4'] }, '00280010': { vr: 'US' } };
    for (const [ts, enc] of [
      [TS.ImplicitVRLittleEndian, IMPLICIT_LE],
      [TS.ExplicitVRLittleEndian, EXPLICIT_LE],
    ] as const) {
      const ds = readWholeDataset(encodeResponseIdentifier(match, imageRequest, 'IMAGE', ts), enc);
      expect(ds.get(Tag.Rows)?.length).toBe(0);
      expect(ds.ascii(Tag.SOPInstanceUID)).toBe('1.2.3.4');
      // Requested but not in the match at all: the same.
      const ds2 = readWholeDataset(encodeResponseIdentifier({ '00080018': { vr: 'UI', Value: ['1.2.3.4'] } }, imageRequest, 'IMAGE', ts), enc);
      expect(ds2.get(Tag.Rows)?.length).toBe(0);
    }
  });
});
