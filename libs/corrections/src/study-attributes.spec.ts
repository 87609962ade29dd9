import { describe, expect, it } from '@jest/globals';
import { CorrectionError } from './corrections.errors.js';
import { parseAttributeChanges } from './study-attributes.js';

describe('parseAttributeChanges', () => {
  it('turns keywords into columns and DICOM JSON attributes', () => {
    const changes = parseAttributeChanges({ StudyDescription: 'CT chest', StudyDate: '20240229', ReferringPhysicianName: 'Who^Doctor=医者', AccessionNumber: null });
    expect(changes.map((c) => [c.keyword, c.key, c.column, c.columnValue])).toEqual([
      ['StudyDescription', '00081030', 'description', 'CT chest'],
      ['StudyDate', '00080020', 'study_date', '20240229'],
      ['ReferringPhysicianName', '00080090', 'referring_physician', 'Who^Doctor'],
      ['AccessionNumber', '00080050', 'accession_number', null],
    ]);
    expect(changes[2]!.attribute).toEqual({ vr: 'PN', Value: [{ Alphabetic: 'Who^Doctor', Ideographic: '医者' }] });
    expect(changes[3]!.attribute).toEqual({ vr: 'SH' });
  });

  it.each([
    [{ StudyDate: '20230230' }, /not a date/],
    [{ StudyDate: 20240101 }, /a string, or null/],
    [{ StudyTime: '2561' }, /not a time/],
    [{ AccessionNumber: 'A'.repeat(17) }, /at most 16/],
    [{ StudyDescription: 'two\\values' }, /single value/],
    [{ StudyDescription: 'x'.repeat(65) }, /at most 64/],
    [{ ReferringPhysicianName: 'a^b^c^d^e^f' }, /five components/],
    [{ PatientName: 'Doe^John' }, /cannot be corrected here/],
    [{}, /no attribute/],
    [['StudyDescription'], /must be an object/],
    [null, /must be an object/],
  ])('refuses %j', (body, message) => {
    expect(() => parseAttributeChanges(body)).toThrow(CorrectionError);
    expect(() => parseAttributeChanges(body)).toThrow(message);
  });

  it('accepts the TM forms', () => {
    for (const t of ['10', '1030', '103000', '103000.123456']) expect(parseAttributeChanges({ StudyTime: t })[0]!.columnValue).toBe(t);
  });
});
