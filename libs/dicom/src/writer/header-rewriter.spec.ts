import { describe, expect, it } from '@jest/globals';
import { datasetToJson } from '../json/dicom-json.js';
import { EXPLICIT_LE, IMPLICIT_LE, readWholeDataset, type Encoding } from '../reader/dataset-reader.js';
import { Tag } from '../tags.js';
import { encodeDataset, type WriteElement } from './dataset-writer.js';
import { rewriteHeader } from './header-rewriter.js';

const BIG: Encoding = { explicitVR: true, littleEndian: false };

const header = (charset: string | undefined): WriteElement[] => [
  ...(charset ? [{ tag: Tag.SpecificCharacterSet, vr: 'CS', value: charset } as WriteElement] : []),
  { tag: Tag.SOPInstanceUID, vr: 'UI', value: '1.2.3.4' },
  { tag: Tag.StudyDescription, vr: 'LO', value: charset === 'ISO_IR 100' ? 'Schädel' : 'HEAD' },
  { tag: 0x00081110, vr: 'SQ', value: [[{ tag: 0x00081030, vr: 'LO', value: charset === 'ISO_IR 100' ? 'Knöchel' : 'ANKLE' }]] },
  { tag: 0x00090010, vr: 'LO', value: 'ACME' },
  { tag: 0x00091001, vr: 'OB', value: Buffer.from([9, 8, 7, 6]) },
  { tag: Tag.PatientName, vr: 'PN', value: charset === 'ISO_IR 100' ? 'Müler^Jürgen' : 'SMITH^JON' },
  { tag: Tag.PatientID, vr: 'LO', value: 'OLD-1' },
];

describe('rewriteHeader (the egress overlay)', () => {
  for (const [name, enc] of [
    ['explicit LE', EXPLICIT_LE],
    ['implicit LE', IMPLICIT_LE],
    ['explicit BE', BIG],
  ] as const) {
    it(`replaces and adds elements, keeping every other byte (${name})`, () => {
      const source = encodeDataset(header('ISO_IR 100'), enc);
      const { bytes, charsetChangedTo } = rewriteHeader(source, enc, [
        { tag: Tag.PatientName, vr: 'PN', value: 'Müller^Jürgen' },
        { tag: Tag.PatientID, vr: 'LO', value: 'NEW-7' },
        { tag: Tag.IssuerOfPatientID, vr: 'LO', value: 'HOSP' },
      ]);
      expect(charsetChangedTo).toBeUndefined();
      const out = datasetToJson(readWholeDataset(bytes, enc));
      const before = datasetToJson(readWholeDataset(source, enc));
      expect(out['00100010']?.Value).toEqual([{ Alphabetic: 'Müller^Jürgen' }]);
      expect(out['00100020']?.Value).toEqual(['NEW-7']);
      expect(out['00100021']?.Value).toEqual(['HOSP']);
      for (const key of ['00080018', '00081030', '00081110', '00090010', '00091001']) expect(out[key]).toEqual(before[key]);
      // Untouched elements are the same bytes: the private OB, the sequence.
      expect(bytes.includes(Buffer.from([9, 8, 7, 6]))).toBe(true);
    });
  }

  it('moves the whole header to UTF-8 when the declared character set cannot hold the new values', () => {
    const source = encodeDataset(header('ISO_IR 100'), EXPLICIT_LE);
    const { bytes, charsetChangedTo } = rewriteHeader(source, EXPLICIT_LE, [{ tag: Tag.PatientName, vr: 'PN', value: 'Yamada^Tarou=山田^太郎' }]);
    expect(charsetChangedTo).toEqual(['ISO_IR 192']);
    const ds = readWholeDataset(bytes, EXPLICIT_LE);
    expect(ds.specificCharacterSet()).toEqual(['ISO_IR 192']);
    const out = datasetToJson(ds);
    expect(out['00100010']?.Value).toEqual([{ Alphabetic: 'Yamada^Tarou', Ideographic: '山田^太郎' }]);
    // Latin-1 text elsewhere, nested too, is now UTF-8 and still reads the same.
    expect(out['00081030']?.Value).toEqual(['Schädel']);
    expect((out['00081110']?.Value?.[0] as Record<string, { Value: unknown[] }>)['00081030']?.Value).toEqual(['Knöchel']);
    expect(bytes.includes(Buffer.from('Schädel', 'utf8'))).toBe(true);
    expect(out['00091001']).toEqual(datasetToJson(readWholeDataset(source, EXPLICIT_LE))['00091001']);
  });

  it('declares UTF-8 where the dataset had no character set and the new name needs one', () => {
    const source = encodeDataset(header(undefined), EXPLICIT_LE);
    const { bytes } = rewriteHeader(source, EXPLICIT_LE, [{ tag: Tag.PatientName, vr: 'PN', value: 'Ωμέγα^Ζωή' }]);
    const ds = readWholeDataset(bytes, EXPLICIT_LE);
    expect(ds.specificCharacterSet()).toEqual(['ISO_IR 192']);
    expect(datasetToJson(ds)['00100010']?.Value).toEqual([{ Alphabetic: 'Ωμέγα^Ζωή' }]);
  });

  it('leaves out removed elements and keeps the rest byte for byte', () => {
    const source = encodeDataset(header('ISO_IR 100'), EXPLICIT_LE);
    const { bytes, charsetChangedTo } = rewriteHeader(source, EXPLICIT_LE, [], { remove: [Tag.StudyDescription] });
    expect(charsetChangedTo).toBeUndefined();
    const out = datasetToJson(readWholeDataset(bytes, EXPLICIT_LE));
    expect(out['00081030']).toBeUndefined();
    expect(out['00100010']?.Value).toEqual([{ Alphabetic: 'Müler^Jürgen' }]);
    expect(bytes.length).toBe(source.length - 8 - 8);
  });

  it('moves the header to the destination character set when it accepts only that one', () => {
    const source = encodeDataset([{ tag: Tag.SpecificCharacterSet, vr: 'CS', value: 'ISO_IR 192' }, ...header(undefined).slice(0, 3), { tag: Tag.PatientName, vr: 'PN', value: 'Müller^Jürgen' }], EXPLICIT_LE);
    const { bytes, charsetChangedTo } = rewriteHeader(source, EXPLICIT_LE, [], { target: ['ISO_IR 100'], forceTarget: true });
    expect(charsetChangedTo).toEqual(['ISO_IR 100']);
    const ds = readWholeDataset(bytes, EXPLICIT_LE);
    expect(ds.specificCharacterSet()).toEqual(['ISO_IR 100']);
    expect(bytes.includes(Buffer.from('Müller', 'latin1'))).toBe(true);
    expect(datasetToJson(ds)['00100010']?.Value).toEqual([{ Alphabetic: 'Müller^Jürgen' }]);
  });

  it('falls back to UTF-8 when even the destination character set cannot hold the values', () => {
    const source = encodeDataset(header('ISO_IR 100'), EXPLICIT_LE);
    const { bytes, charsetChangedTo } = rewriteHeader(source, EXPLICIT_LE, [{ tag: Tag.PatientName, vr: 'PN', value: 'Иванов^Иван' }], { target: ['ISO_IR 100'] });
    expect(charsetChangedTo).toEqual(['ISO_IR 192']);
    expect(datasetToJson(readWholeDataset(bytes, EXPLICIT_LE))['00100010']?.Value).toEqual([{ Alphabetic: 'Иванов^Иван' }]);
  });

  it('keeps an ISO 2022 Japanese header in ISO 2022 when the new name fits, moves it to UTF-8 when it does not', () => {
    const jis: WriteElement[] = [
      { tag: Tag.SpecificCharacterSet, vr: 'CS', value: ['', 'ISO 2022 IR 87'] },
      { tag: Tag.StudyDescription, vr: 'LO', value: '胸部' },
      { tag: Tag.PatientName, vr: 'PN', value: 'Yamada^Tarou=山田^太郎=やまだ^たろう' },
    ];
    const source = encodeDataset(jis, EXPLICIT_LE);
    const same = rewriteHeader(source, EXPLICIT_LE, [{ tag: Tag.PatientName, vr: 'PN', value: 'Yamada^Hanako=山田^花子=やまだ^はなこ' }]);
    expect(same.charsetChangedTo).toBeUndefined();
    const sameDs = readWholeDataset(same.bytes, EXPLICIT_LE);
    expect(sameDs.specificCharacterSet()).toEqual(['', 'ISO 2022 IR 87']);
    expect(datasetToJson(sameDs)['00100010']?.Value).toEqual([{ Alphabetic: 'Yamada^Hanako', Ideographic: '山田^花子', Phonetic: 'やまだ^はなこ' }]);
    const moved = rewriteHeader(source, EXPLICIT_LE, [{ tag: Tag.PatientName, vr: 'PN', value: 'Hong^Gildong=홍^길동' }]);
    expect(moved.charsetChangedTo).toEqual(['ISO_IR 192']);
    const out = datasetToJson(readWholeDataset(moved.bytes, EXPLICIT_LE));
    expect(out['00100010']?.Value).toEqual([{ Alphabetic: 'Hong^Gildong', Ideographic: '홍^길동' }]);
    expect(out['00081030']?.Value).toEqual(['胸部']);
    expect(moved.bytes.includes(Buffer.from('胸部', 'utf8'))).toBe(true);
  });
});
