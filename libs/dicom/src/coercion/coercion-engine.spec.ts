import type { DicomJson } from '../json/dicom-json.js';
import { CoercionRuleError } from './coercion-rule.js';
import { CoercionRuleSet, compileRule, normalizeDate, normalizeDateTime, normalizePersonName, normalizeTime } from './coercion-engine.js';
import { validateRuleSpec } from './rule-validation.js';
import { reportInvalidValues } from './value-checks.js';

const base = (): DicomJson => ({
  '00080016': { vr: 'UI', Value: ['1.2.840.10008.5.1.4.1.1.2'] },
  '00080020': { vr: 'DA', Value: ['1993.04.30'] },
  '00080030': { vr: 'TM', Value: ['14:05:09'] },
  '00080060': { vr: 'CS', Value: ['CT'] },
  '00080070': { vr: 'LO', Value: ['G.E. Medical Systems'] },
  '00100010': { vr: 'PN', Value: [{ Alphabetic: ' Doe ^ John  Paul ^^ ' }] },
  '00100020': { vr: 'LO', Value: ['12345'] },
  '00081030': { vr: 'LO', Value: ['  chest  '] },
  '00200013': { vr: 'IS', Value: [7] },
});

let n = 0;
function run(rule: Record<string, unknown>, json: DicomJson = base(), ctx = { aet: 'CT1', sourceKind: 'dimse' }) {
  const compiled = compileRule({ id: String(++n), version: 1 }, { name: `r${n}`, phase: 'ingest', ...rule });
  return new CoercionRuleSet([compiled], 'ingest').apply(json, ctx);
}

const value = (json: DicomJson, key: string) => json[key]?.Value;

describe('coercion actions', () => {
  it('set writes a value with the dictionary VR; onlyIfMissing leaves a present one', () => {
    const r = run({ actions: [{ op: 'set', attribute: 'InstitutionName', value: 'General Hospital' }] });
    expect(r.json['00080080']).toEqual({ vr: 'LO', Value: ['General Hospital'] });
    expect(r.received['00080080']).toBeNull();
    expect(r.changed['00080080']).toEqual({ vr: 'LO', Value: ['General Hospital'] });
    const kept = run({ actions: [{ op: 'set', attribute: 'Modality', value: 'MR', onlyIfMissing: true }] });
    expect(kept.applied).toEqual([]);
    expect(value(kept.json, '00080060')).toEqual(['CT']);
  });

  it('set on a numeric VR stores numbers, on a private tag needs its VR', () => {
    expect(value(run({ actions: [{ op: 'set', attribute: 'SeriesNumber', value: '12' }] }).json, '00200011')).toEqual([12]);
    expect(() => run({ actions: [{ op: 'set', attribute: '00091010', value: 'x' }] })).toThrow(/VR of 00091010/);
    expect(run({ actions: [{ op: 'set', attribute: '00091010', vr: 'LO', value: 'x' }] }).json['00091010']).toEqual({ vr: 'LO', Value: ['x'] });
  });

  it('copy takes one attribute into another, converting through text', () => {
    const r = run({ actions: [{ op: 'copy', from: 'PatientID', to: 'OtherPatientIDs' }] });
    expect(r.json['00101000']).toEqual({ vr: 'LO', Value: ['12345'] });
    expect(value(run({ actions: [{ op: 'copy', from: 'InstanceNumber', to: 'StudyID' }] }).json, '00200010')).toEqual(['7']);
  });

  it('map looks a whole value up in a table (optionally ignoring case) with a default', () => {
    const table = { 'G.E. MEDICAL SYSTEMS': 'GE Healthcare' };
    expect(value(run({ actions: [{ op: 'map', attribute: 'Manufacturer', table }] }).json, '00080070')).toEqual(['G.E. Medical Systems']);
    expect(value(run({ actions: [{ op: 'map', attribute: 'Manufacturer', table, ignoreCase: true }] }).json, '00080070')).toEqual(['GE Healthcare']);
    expect(value(run({ actions: [{ op: 'map', attribute: 'Modality', table: { MR: 'MR' }, default: 'OT' }] }).json, '00080060')).toEqual(['OT']);
  });

  it('replace applies a regular expression to every match', () => {
    const r = run({ actions: [{ op: 'replace', attribute: 'PatientID', pattern: '(\\d)', replacement: '<$1>' }] });
    expect(value(r.json, '00100020')).toEqual(['<1><2><3><4><5>']);
  });

  it('remove drops an attribute and remembers it as received', () => {
    const r = run({ actions: [{ op: 'remove', attribute: 'StudyDescription' }] });
    expect(r.json['00081030']).toBeUndefined();
    expect(r.changed['00081030']).toBeNull();
    expect(r.received['00081030']).toEqual({ vr: 'LO', Value: ['  chest  '] });
  });

  it('trim and case', () => {
    expect(value(run({ actions: [{ op: 'trim', attribute: 'StudyDescription' }] }).json, '00081030')).toEqual(['chest']);
    expect(value(run({ actions: [{ op: 'case', attribute: 'StudyDescription', to: 'upper' }] }).json, '00081030')).toEqual(['  CHEST  ']);
    expect(value(run({ actions: [{ op: 'case', attribute: 'Modality', to: 'lower' }] }).json, '00080060')).toEqual(['ct']);
  });

  it('person-name removes stray spaces and trailing carets in every group', () => {
    const r = run({ actions: [{ op: 'person-name', attribute: 'PatientName' }] });
    expect(value(r.json, '00100010')).toEqual([{ Alphabetic: 'Doe^John Paul' }]);
    expect(normalizePersonName('Yamada^Tarou^^^=山田^太郎^=やまだ^たろう^^')).toBe('Yamada^Tarou=山田^太郎=やまだ^たろう');
    expect(normalizePersonName('DOE^JOHN===')).toBe('DOE^JOHN');
    expect(normalizePersonName('^^^')).toBe('');
  });

  it('date and time bring legacy spellings to DA, TM and DT', () => {
    expect(value(run({ actions: [{ op: 'date', attribute: 'StudyDate' }] }).json, '00080020')).toEqual(['19930430']);
    expect(value(run({ actions: [{ op: 'time', attribute: 'StudyTime' }] }).json, '00080030')).toEqual(['140509']);
    expect(normalizeDate('1993-4-3')).toBe('19930403');
    expect(normalizeDate('1993/02/30')).toBeUndefined();
    expect(normalizeDate('19930430')).toBe('19930430');
    expect(normalizeTime('7:05')).toBe('0705');
    expect(normalizeTime('23:59:59.123')).toBe('235959.123');
    expect(normalizeTime('25:00')).toBeUndefined();
    expect(normalizeDateTime('1993-04-30T14:05:09+01:00')).toBe('19930430140509+0100');
  });

  it('an unparseable date is reported and left as received, never fatal', () => {
    const json = { ...base(), '00080020': { vr: 'DA', Value: ['last tuesday'] } };
    const r = run({ actions: [{ op: 'date', attribute: 'StudyDate' }] }, json);
    expect(value(r.json, '00080020')).toEqual(['last tuesday']);
    expect(r.warnings).toEqual([expect.stringMatching(/00080020.*not a date/)]);
    expect(r.warnings[0]).not.toContain('tuesday');
  });

  it('issuer fills a missing IssuerOfPatientID from the rule or the source default, never overwrites unless told', () => {
    expect(value(run({ actions: [{ op: 'issuer', value: 'HOSP_A' }] }).json, '00100021')).toEqual(['HOSP_A']);
    expect(value(run({ actions: [{ op: 'issuer' }] }, base(), { aet: 'CT1', sourceKind: 'dimse', defaultIssuer: 'SITE' } as never).json, '00100021')).toEqual(['SITE']);
    const present = { ...base(), '00100021': { vr: 'LO', Value: ['OTHER'] } };
    expect(value(run({ actions: [{ op: 'issuer', value: 'HOSP_A' }] }, present).json, '00100021')).toEqual(['OTHER']);
    expect(value(run({ actions: [{ op: 'issuer', value: 'HOSP_A', overwrite: true }] }, present).json, '00100021')).toEqual(['HOSP_A']);
    expect(run({ actions: [{ op: 'issuer' }] }).applied).toEqual([]);
  });

  it('prefix puts a prefix before an id once', () => {
    expect(value(run({ actions: [{ op: 'prefix', attribute: 'PatientID', prefix: 'A-' }] }).json, '00100020')).toEqual(['A-12345']);
    const already = { ...base(), '00100020': { vr: 'LO', Value: ['A-1'] } };
    expect(run({ actions: [{ op: 'prefix', attribute: 'PatientID', prefix: 'A-' }] }, already).applied).toEqual([]);
  });

  it('leaves the input untouched (copy on write) and returns it when nothing changed', () => {
    const json = base();
    const frozen = JSON.stringify(json);
    const r = run({ actions: [{ op: 'remove', attribute: 'Modality' }] }, json);
    expect(JSON.stringify(json)).toBe(frozen);
    expect(r.json).not.toBe(json);
    const none = run({ actions: [{ op: 'trim', attribute: 'PatientID' }] }, json);
    expect(none.json).toBe(json);
    expect(none.changed).toEqual({});
  });

  it('in place (ingest) changes the input itself, with the same result as a copy', () => {
    const rule = compileRule({ id: 'p', version: 1 }, { name: 'p', phase: 'ingest', actions: [{ op: 'date', attribute: 'StudyDate' }, { op: 'remove', attribute: 'Modality' }] });
    const set = new CoercionRuleSet([rule], 'ingest');
    const ctx = { aet: 'CT1', sourceKind: 'dimse' };
    const copied = set.apply(base(), ctx);
    const json = base();
    const inPlace = set.apply(json, ctx, { inPlace: true });
    expect(inPlace.json).toBe(json);
    expect(json['00080020']).toEqual({ vr: 'DA', Value: ['19930430'] });
    expect(json['00080060']).toBeUndefined();
    expect(JSON.stringify(inPlace)).toBe(JSON.stringify(copied));
    expect(inPlace.received).toEqual({ '00080020': { vr: 'DA', Value: ['1993.04.30'] }, '00080060': { vr: 'CS', Value: ['CT'] } });
  });
});

describe('coercion conditions', () => {
  const set = { op: 'set', attribute: 'InstitutionName', value: 'X' };
  const fires = (conditions: unknown[], ctx?: { aet: string; sourceKind: string }) => run({ conditions, actions: [set] }, base(), ctx).applied.length === 1;

  it('on the source AE title and kind', () => {
    expect(fires([{ context: 'aet', equals: 'CT1' }])).toBe(true);
    expect(fires([{ context: 'aet', equals: ['MR1', 'MR2'] }])).toBe(false);
    expect(fires([{ context: 'aet', matches: '^ct\\d$', flags: 'i' }])).toBe(true);
    expect(fires([{ context: 'sourceKind', equals: 'stow' }])).toBe(false);
    const batch = run({ conditions: [{ context: 'batch', equals: 'MIGRATION-2019' }], actions: [set] }, base(), { aet: 'key', sourceKind: 'import', batch: 'MIGRATION-2019' } as never);
    expect(batch.applied).toHaveLength(1);
    expect(fires([{ context: 'batch', present: true }])).toBe(false);
  });

  it('on Manufacturer, Modality, SOP class and other attribute values', () => {
    expect(fires([{ attribute: 'Manufacturer', matches: '^G\\.?E\\.?\\s+MEDICAL', ignoreCase: true }])).toBe(true);
    expect(fires([{ attribute: 'Manufacturer', equals: 'g.e. medical systems', ignoreCase: true }])).toBe(true);
    expect(fires([{ attribute: 'Manufacturer', equals: 'g.e. medical systems' }])).toBe(false);
    expect(fires([{ attribute: 'Modality', equals: ['CT', 'MR'] }])).toBe(true);
    expect(fires([{ attribute: 'SOPClassUID', equals: '1.2.840.10008.5.1.4.1.1.2' }])).toBe(true);
    expect(fires([{ attribute: '00100010', matches: 'Doe' }])).toBe(true);
  });

  it('present, negate, and all conditions together', () => {
    expect(fires([{ attribute: 'IssuerOfPatientID', present: false }])).toBe(true);
    expect(fires([{ attribute: 'PatientID', present: true }])).toBe(true);
    expect(fires([{ attribute: 'Modality', equals: 'CT', negate: true }])).toBe(false);
    expect(fires([{ attribute: 'Modality', equals: 'CT' }, { context: 'aet', equals: 'MR1' }])).toBe(false);
  });
});

describe('rule sets', () => {
  it('run by priority, each rule seeing what the previous did, and record the versions that changed something', () => {
    const a = compileRule({ id: '1', version: 3 }, { name: 'b-fold', phase: 'ingest', priority: 20, conditions: [{ attribute: 'Manufacturer', equals: 'GE Healthcare' }], actions: [{ op: 'set', attribute: 'InstitutionName', value: 'seen' }] });
    const b = compileRule({ id: '2', version: 1 }, { name: 'a-map', phase: 'ingest', priority: 10, actions: [{ op: 'replace', attribute: 'Manufacturer', pattern: '^G\\.?E\\.? MEDICAL SYSTEMS$', flags: 'i', replacement: 'GE Healthcare' }] });
    const off = compileRule({ id: '3', version: 1 }, { name: 'off', phase: 'ingest', enabled: false, actions: [{ op: 'remove', attribute: 'Modality' }] });
    const egress = compileRule({ id: '4', version: 1 }, { name: 'out', phase: 'egress', actions: [{ op: 'remove', attribute: 'Modality' }] });
    const set = new CoercionRuleSet([a, b, off, egress], 'ingest');
    expect(set.size).toBe(2);
    const r = set.apply(base(), {});
    expect(r.applied).toEqual([{ id: '2', version: 1 }, { id: '1', version: 3 }]);
    expect(value(r.json, '00080080')).toEqual(['seen']);
    expect(value(r.json, '00080060')).toEqual(['CT']);
  });

  it('an index-only rule changes the index but not what leaves; a later rule laying its own value over it does', () => {
    const fold = compileRule({ id: '1', version: 1 }, { name: 'fold', phase: 'ingest', indexOnly: true, actions: [{ op: 'set', attribute: 'Manufacturer', value: 'GE' }, { op: 'trim', attribute: 'StudyDescription' }] });
    const later = compileRule({ id: '2', version: 1 }, { name: 'later', phase: 'ingest', priority: 200, actions: [{ op: 'case', attribute: 'StudyDescription', to: 'upper' }] });
    const r = new CoercionRuleSet([fold, later], 'ingest').apply(base(), {});
    expect(Object.keys(r.changed).sort()).toEqual(['00080070', '00081030']);
    expect(r.overlay).toEqual({ '00081030': { vr: 'LO', Value: ['CHEST'] } });
    expect(() => validateRuleSpec({ name: 'x', phase: 'egress', indexOnly: true, actions: [{ op: 'trim', attribute: 'PatientID' }] })).toThrow(/indexOnly/);
  });

  it('tell before looking at an object whether any rule could apply in a context', () => {
    const toOld = compileRule({ id: '1', version: 1 }, { name: 'old', phase: 'egress', conditions: [{ context: 'aet', equals: 'OLDPACS' }, { attribute: 'Modality', equals: 'CT' }], actions: [{ op: 'remove', attribute: 'Modality' }] });
    const set = new CoercionRuleSet([toOld], 'egress');
    expect(set.anyFor({ aet: 'OLDPACS' })).toBe(true);
    expect(set.anyFor({ aet: 'NEWPACS' })).toBe(false);
    expect(set.anyFor({ sourceKind: 'dicomweb' })).toBe(false);
    expect(new CoercionRuleSet([compileRule({ id: '2', version: 1 }, { name: 'all', phase: 'egress', actions: [{ op: 'remove', attribute: 'Modality' }] })], 'egress').anyFor({})).toBe(true);
  });

  it('a change undone by a later rule is no change', () => {
    const r = run({ actions: [{ op: 'set', attribute: 'Modality', value: 'MR' }, { op: 'set', attribute: 'Modality', value: 'CT' }] });
    expect(r.changed).toEqual({});
  });
});

describe('broken rules are refused at save time, naming the part', () => {
  const refuse = (rule: Record<string, unknown>): string => {
    try {
      validateRuleSpec({ name: 'x', phase: 'ingest', actions: [{ op: 'trim', attribute: 'PatientID' }], ...rule });
    } catch (e) {
      expect(e).toBeInstanceOf(CoercionRuleError);
      return (e as Error).message;
    }
    throw new Error('accepted');
  };

  it.each([
    [{ actions: [{ op: 'replace', attribute: 'PatientID', pattern: '([a-', replacement: '' }] }, /actions\[0\]\.pattern: invalid regular expression/],
    [{ actions: [{ op: 'trim', attribute: 'PatientNmae' }] }, /actions\[0\]\.attribute: unknown attribute "PatientNmae"/],
    [{ actions: [{ op: 'case', attribute: 'PatientID', to: 'title' }] }, /actions\[0\]\.to: must be upper or lower/],
    [{ actions: [{ op: 'frobnicate', attribute: 'PatientID' }] }, /actions\[0\]\.op: must be one of/],
    [{ actions: [{ op: 'set', attribute: 'PatientID' }] }, /actions\[0\]\.value/],
    [{ actions: [{ op: 'set', attribute: 'SeriesNumber', value: 'twelve' }] }, /numbers/],
    [{ actions: [{ op: 'map', attribute: 'Modality', table: {} }] }, /actions\[0\]\.table/],
    [{ actions: [{ op: 'date', attribute: 'PatientName' }] }, /DA and DT/],
    [{ actions: [{ op: 'remove', attribute: 'SpecificCharacterSet' }] }, /character set/],
    [{ actions: [{ op: 'prefix', attribute: 'SOPInstanceUID', prefix: '1.' }] }, /identifies the object/],
    [{ actions: [{ op: 'set', attribute: 'StudyInstanceUID', value: '1.2.3' }] }, /identifies the object/],
    [{ actions: [{ op: 'trim', attribute: 'PatientID', extra: 1 }] }, /actions\[0\]\.extra: unknown property/],
    [{ actions: [] }, /actions: a non-empty list/],
    [{ phase: 'sometimes' }, /phase: must be ingest or egress/],
    [{ conditions: [{ attribute: 'Modality' }] }, /conditions\[0\]: a condition has exactly one of/],
    [{ conditions: [{ context: 'calledAet', equals: 'X' }] }, /conditions\[0\]\.context/],
    [{ conditions: [{ attribute: 'Modality', matches: '(' }] }, /conditions\[0\]\.matches: invalid regular expression/],
    [{ conditions: [{ attribute: 'Modality', matches: 'x', flags: 'g' }] }, /flags may only be/],
  ])('%j', (rule, message) => {
    expect(refuse(rule)).toMatch(message);
  });
});

describe('value reports', () => {
  it('reports invalid UIDs without touching them', () => {
    const warnings: string[] = [];
    reportInvalidValues({ '00080018': { vr: 'UI', Value: ['1.2.03.4'] }, '0020000D': { vr: 'UI', Value: ['1.2.3'] } }, warnings);
    expect(warnings).toEqual(['invalid UID in 00080018']);
  });
});
