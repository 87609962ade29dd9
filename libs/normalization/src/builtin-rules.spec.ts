import { describe, expect, it } from '@jest/globals';
import { CoercionRuleSet, compileRule, type DicomJson } from '#vna/dicom';
import { BUILTIN_RULES } from '../../persistence/src/migrations/1732700000000-coercion-rules.js';

/** The rules the migration ships: each must compile, and do what the README promises. */
const set = new CoercionRuleSet(
  BUILTIN_RULES.map((r, i) => compileRule({ id: String(i + 1), version: 1 }, r)),
  'ingest',
);
const run = (json: DicomJson, aet = 'CT1', defaultIssuer?: string) => set.apply(json, { aet, sourceKind: 'dimse', defaultIssuer });
const manufacturer = (value: string) => run({ '00080070': { vr: 'LO', Value: [value] } });

describe('shipped coercion rules', () => {
  it.each([
    ['GE MEDICAL SYSTEMS', 'GE Healthcare'],
    ['GE Medical Systems', 'GE Healthcare'],
    ['G.E. Medical Systems', 'GE Healthcare'],
    ['GE Healthcare', 'GE Healthcare'],
    ['GE MEDICAL SYSTEMS, LLC', 'GE Healthcare'],
    ['SIEMENS', 'Siemens Healthineers'],
    ['Siemens Healthcare GmbH', 'Siemens Healthineers'],
    ['Philips Medical Systems', 'Philips'],
    ['TOSHIBA', 'Canon Medical Systems'],
    ['CANON_MEC', 'CANON_MEC'],
    ['GEMINI Imaging', 'GEMINI Imaging'],
  ])('fold Manufacturer %s to %s, for the index only', (sent, folded) => {
    const r = manufacturer(sent);
    expect(r.json['00080070']?.Value).toEqual([folded]);
    expect(r.overlay['00080070']).toBeUndefined();
  });

  it('normalize legacy dates and times, and names with stray spaces or carets; objects carry them', () => {
    const r = run({
      '00080020': { vr: 'DA', Value: ['1993.04.30'] },
      '00100030': { vr: 'DA', Value: ['1950/2/1'] },
      '00080030': { vr: 'TM', Value: ['9:05:00'] },
      '00100010': { vr: 'PN', Value: [{ Alphabetic: 'Doe ^John^^', Ideographic: '山田 ^ 太郎' }] },
      '00080090': { vr: 'PN', Value: [{ Alphabetic: 'Referrer^Rita' }] },
    });
    expect(r.json['00080020']?.Value).toEqual(['19930430']);
    expect(r.json['00100030']?.Value).toEqual(['19500201']);
    expect(r.json['00080030']?.Value).toEqual(['090500']);
    expect(r.json['00100010']?.Value).toEqual([{ Alphabetic: 'Doe^John', Ideographic: '山田^太郎' }]);
    expect(r.changed['00080090']).toBeUndefined();
    expect(Object.keys(r.overlay).sort()).toEqual(['00080020', '00080030', '00100010', '00100030']);
  });

  it("give a missing IssuerOfPatientID the source's default, and leave sources without one alone", () => {
    expect(run({ '00100020': { vr: 'LO', Value: ['1'] } }, 'CT1', 'NORTHSIDE').json['00100021']).toEqual({ vr: 'LO', Value: ['NORTHSIDE'] });
    expect(run({ '00100020': { vr: 'LO', Value: ['1'] }, '00100021': { vr: 'LO', Value: ['X'] } }, 'CT1', 'NORTHSIDE').changed).toEqual({});
    expect(run({ '00100020': { vr: 'LO', Value: ['1'] } }).changed).toEqual({});
  });

  it('leave a clean object untouched (no copy, no record)', () => {
    const json: DicomJson = { '00080020': { vr: 'DA', Value: ['20240101'] }, '00100010': { vr: 'PN', Value: [{ Alphabetic: 'Doe^John' }] }, '00080070': { vr: 'LO', Value: ['ACME'] } };
    const r = run(json);
    expect(r.json).toBe(json);
    expect(r.applied).toEqual([]);
  });
});
