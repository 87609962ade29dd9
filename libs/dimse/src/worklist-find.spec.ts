import { describe, expect, it } from '@jest/globals';
import { datasetToJson, type DicomJson, encodeDataset, EXPLICIT_LE, IMPLICIT_LE, readWholeDataset, Tag, TS, type WriteElement } from '#vna/dicom';
import { IdentifierError } from './identifier.js';
import { encodeWorklistResponse, readWorklistQuery, shapeWorklistResponse } from './worklist-find.js';

const SPS = 0x00400100;

/** A worklist identifier as a modality sends it. */
function identifier(elements: WriteElement[], ts = EXPLICIT_LE): Buffer {
  return encodeDataset(elements, ts);
}

/** The response as a modality reads it: its declared character set, and its text decoded with it. */
function decode(bytes: Buffer, ts = EXPLICIT_LE): { charset: string[] | undefined; json: DicomJson } {
  const ds = readWholeDataset(bytes, ts);
  return { charset: ds.specificCharacterSet(), json: datasetToJson(ds) };
}

/** A match as WorklistService returns it (every return key; here a few). */
const match: DicomJson = {
  '00080050': { vr: 'SH', Value: ['ACC-1'] },
  '00100010': { vr: 'PN', Value: [{ Alphabetic: 'Müller^Jürgen' }] },
  '00100020': { vr: 'LO', Value: ['P-1'] },
  '0020000D': { vr: 'UI', Value: ['1.2.3.4'] },
  '00400100': {
    vr: 'SQ',
    Value: [
      {
        '00080060': { vr: 'CS', Value: ['CT'] },
        '00400001': { vr: 'AE', Value: ['CT01'] },
        '00400002': { vr: 'DA', Value: ['20241120'] },
        '00400003': { vr: 'TM', Value: ['090000'] },
        '00400009': { vr: 'SH', Value: ['SPS-1'] },
      },
    ],
  },
};

describe('readWorklistQuery', () => {
  it('reads keys inside the Scheduled Procedure Step Sequence, decodes text in the declared set, and keeps the set apart', () => {
    const bytes = identifier([
      { tag: Tag.SpecificCharacterSet, vr: 'CS', value: 'ISO_IR 100' },
      { tag: Tag.PatientName, vr: 'PN', value: 'Müller*' },
      { tag: Tag.PatientID, vr: 'LO', value: '' },
      { tag: SPS, vr: 'SQ', value: [[{ tag: 0x00400001, vr: 'AE', value: 'CT01' }, { tag: 0x00400002, vr: 'DA', value: '20241120-20241121' }]] },
    ]);
    const q = readWorklistQuery(bytes, TS.ExplicitVRLittleEndian);
    expect(q.characterSet).toEqual(['ISO_IR 100']);
    expect(q.keys['00080005']).toBeUndefined();
    expect(q.keys['00100010']?.Value).toEqual([{ Alphabetic: 'Müller*' }]);
    expect(q.keys['00100020']).toEqual({ vr: 'LO' });
    const item = q.keys['00400100']?.Value?.[0] as DicomJson;
    expect(item['00400001']?.Value).toEqual(['CT01']);
    expect(item['00400002']?.Value).toEqual(['20241120-20241121']);
  });

  it('refuses an identifier that cannot be read, or in a syntax it cannot read', () => {
    expect(() => readWorklistQuery(Buffer.from([0x10, 0x00, 0x10, 0x00, 0x50, 0x4e, 0xff, 0x7f, 0x41]), TS.ExplicitVRLittleEndian)).toThrow(IdentifierError);
    expect(() => readWorklistQuery(Buffer.alloc(0), '1.2.840.10008.1.2.4.50')).toThrow(IdentifierError);
  });
});

describe('shapeWorklistResponse', () => {
  it('returns exactly the keys asked for, at every level; a missing one empty; an empty sequence key the whole sequence', () => {
    const asked: DicomJson = {
      '00100010': { vr: 'PN' },
      '00100040': { vr: 'CS' },
      '00400100': { vr: 'SQ', Value: [{ '00400001': { vr: 'AE' }, '00400009': { vr: 'SH' } }] },
    };
    expect(shapeWorklistResponse(match, asked)).toEqual({
      '00100010': match['00100010'],
      '00100040': { vr: 'CS' },
      '00400100': { vr: 'SQ', Value: [{ '00400001': { vr: 'AE', Value: ['CT01'] }, '00400009': { vr: 'SH', Value: ['SPS-1'] } }] },
    });
    expect(shapeWorklistResponse(match, { '00400100': { vr: 'SQ' } })['00400100']).toEqual(match['00400100']);
  });
});

describe('encodeWorklistResponse', () => {
  const asked = (characterSet: string[]) => ({ keys: { '00100010': { vr: 'PN' }, '00100020': { vr: 'LO' } } as DicomJson, characterSet });

  it('writes all-ASCII answers without a character set', () => {
    const ascii: DicomJson = { ...match, '00100010': { vr: 'PN', Value: [{ Alphabetic: 'Doe^John' }] } };
    const bytes = encodeWorklistResponse(ascii, asked([]), TS.ExplicitVRLittleEndian);
    expect(decode(bytes).charset).toBeUndefined();
  });

  it('answers in the declared ISO_IR 100 when the text fits, in the bytes of that set', () => {
    const bytes = encodeWorklistResponse(match, asked(['ISO_IR 100']), TS.ExplicitVRLittleEndian);
    const { charset, json } = decode(bytes);
    expect(charset).toEqual(['ISO_IR 100']);
    expect(json['00100010']?.Value).toEqual([{ Alphabetic: 'Müller^Jürgen' }]);
    expect(bytes.includes(Buffer.from('Müller', 'latin1'))).toBe(true);
  });

  it('falls back to UTF-8 (declared ISO_IR 192) when the declared set cannot write the text, or none was declared', () => {
    const greek: DicomJson = { ...match, '00100010': { vr: 'PN', Value: [{ Alphabetic: 'Ωμέγα^Ζωή' }] } };
    for (const [m, set] of [
      [greek, ['ISO_IR 100']],
      [match, []],
      [match, ['ISO_IR 192']],
    ] as const) {
      const bytes = encodeWorklistResponse(m, asked([...set]), TS.ImplicitVRLittleEndian);
      const { charset, json } = decode(bytes, IMPLICIT_LE);
      expect(charset).toEqual(['ISO_IR 192']);
      expect(json['00100010']?.Value).toEqual(m['00100010']!.Value);
    }
  });
});
