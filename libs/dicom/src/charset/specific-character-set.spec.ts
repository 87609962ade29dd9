import { describe, expect, it } from '@jest/globals';
import {
  DEFINED_TERMS,
  interpretSpecificCharacterSet,
  resolveSpecificCharacterSet,
} from './specific-character-set.js';

const registrations = (values: readonly string[] | undefined) => {
  const cs = interpretSpecificCharacterSet(values);
  return {
    g0: cs.initialG0.registration,
    g1: cs.initialG1?.registration,
    elements: cs.codeElements.map((e) => e.registration),
    variable: cs.variableLength,
    warnings: cs.warnings.length,
  };
};

describe('interpretSpecificCharacterSet (PS3.3 C.12.1.1.2)', () => {
  it('knows every defined term of Tables C.12-2 to C.12-5', () => {
    expect([...DEFINED_TERMS].sort()).toEqual(
      [
        // C.12-2
        'ISO_IR 100', 'ISO_IR 101', 'ISO_IR 109', 'ISO_IR 110', 'ISO_IR 144', 'ISO_IR 127',
        'ISO_IR 126', 'ISO_IR 138', 'ISO_IR 148', 'ISO_IR 203', 'ISO_IR 13', 'ISO_IR 166',
        // C.12-3
        'ISO 2022 IR 6', 'ISO 2022 IR 100', 'ISO 2022 IR 101', 'ISO 2022 IR 109', 'ISO 2022 IR 110',
        'ISO 2022 IR 144', 'ISO 2022 IR 127', 'ISO 2022 IR 126', 'ISO 2022 IR 138', 'ISO 2022 IR 148',
        'ISO 2022 IR 203', 'ISO 2022 IR 13', 'ISO 2022 IR 166',
        // C.12-4
        'ISO 2022 IR 87', 'ISO 2022 IR 159', 'ISO 2022 IR 149', 'ISO 2022 IR 58',
        // C.12-5
        'ISO_IR 192', 'GB18030', 'GBK',
      ].sort(),
    );
  });

  it.each(DEFINED_TERMS.filter((t) => !/IR (87|159|149|58)$/.test(t)))('accepts %s as value 1 without warnings', (term) => {
    expect(interpretSpecificCharacterSet([term]).warnings).toEqual([]);
  });

  it.each(['ISO 2022 IR 87', 'ISO 2022 IR 159', 'ISO 2022 IR 149', 'ISO 2022 IR 58'])(
    'accepts %s as value 2 without warnings',
    (term) => {
      expect(interpretSpecificCharacterSet(['', term]).warnings).toEqual([]);
      expect(interpretSpecificCharacterSet(['ISO 2022 IR 6', term]).warnings).toEqual([]);
    },
  );

  it('treats a missing attribute, no value, or one empty value as the default repertoire', () => {
    for (const v of [undefined, [], [''], ['  ']]) {
      expect(registrations(v)).toEqual({ g0: 'ISO-IR 6', g1: undefined, elements: ['ISO-IR 6'], variable: undefined, warnings: 0 });
    }
  });

  it('designates the ISO 8859 right half to G1 for single-byte terms', () => {
    expect(registrations(['ISO_IR 100'])).toMatchObject({ g0: 'ISO-IR 6', g1: 'ISO-IR 100' });
    expect(registrations(['ISO_IR 144'])).toMatchObject({ g0: 'ISO-IR 6', g1: 'ISO-IR 144' });
    expect(registrations(['ISO 2022 IR 166'])).toMatchObject({ g0: 'ISO-IR 6', g1: 'ISO-IR 166' });
  });

  it('gives ISO_IR 13 JIS X 0201 Romaji in G0 and Katakana in G1 (Table C.12-2)', () => {
    expect(registrations(['ISO_IR 13'])).toMatchObject({ g0: 'ISO-IR 14', g1: 'ISO-IR 13' });
  });

  it('lists every declared code element, value 1 first (PS3.5 6.1.2.5.4 c)', () => {
    expect(registrations(['ISO 2022 IR 13', 'ISO 2022 IR 87', 'ISO 2022 IR 159'])).toEqual({
      g0: 'ISO-IR 14',
      g1: 'ISO-IR 13',
      elements: ['ISO-IR 14', 'ISO-IR 13', 'ISO-IR 87', 'ISO-IR 159'],
      variable: undefined,
      warnings: 0,
    });
    expect(registrations(['', 'ISO 2022 IR 149'])).toMatchObject({
      g0: 'ISO-IR 6',
      g1: undefined,
      elements: ['ISO-IR 6', 'ISO-IR 149'],
    });
  });

  it('recognises the variable-length encodings of Table C.12-5', () => {
    expect(registrations(['ISO_IR 192']).variable).toBe('utf-8');
    expect(registrations(['GB18030']).variable).toBe('gb18030');
    expect(registrations(['GBK']).variable).toBe('gbk');
  });

  it('ignores stray spaces and NUL padding around values', () => {
    const cs = interpretSpecificCharacterSet([' ISO 2022 IR 100 ', 'ISO  2022 IR 144\0']);
    expect(cs.warnings).toEqual([]);
    expect(cs.terms).toEqual(['ISO 2022 IR 100', 'ISO 2022 IR 144']);
  });

  it('reads misspelt defined terms, with a warning', () => {
    const cs = interpretSpecificCharacterSet(['ISO-IR 100']);
    expect(cs.terms).toEqual(['ISO_IR 100']);
    expect(cs.initialG1?.registration).toBe('ISO-IR 100');
    expect(cs.warnings).toHaveLength(1);
    expect(interpretSpecificCharacterSet(['ISO_IR_192']).variableLength).toBe('utf-8');
    expect(interpretSpecificCharacterSet(['utf-8']).variableLength).toBe('utf-8');
    expect(interpretSpecificCharacterSet(['ISO_IR 6']).initialG1).toBeUndefined();
  });

  it('does not crash on an unknown value 1: Latin-1, and a warning naming the term', () => {
    const cs = interpretSpecificCharacterSet(['ISO_IR 999']);
    expect(cs.initialG0.registration).toBe('ISO-IR 6');
    expect(cs.initialG1?.registration).toBe('ISO-IR 100');
    expect(cs.terms).toEqual([undefined]);
    expect(cs.warnings).toEqual([expect.stringContaining('"ISO_IR 999"')]);
  });

  it('ignores an unknown later value, with a warning', () => {
    const cs = interpretSpecificCharacterSet(['', 'ISO 2022 IR 87', 'KLINGON']);
    expect(cs.codeElements.map((e) => e.registration)).toEqual(['ISO-IR 6', 'ISO-IR 87']);
    expect(cs.warnings).toEqual([expect.stringContaining('"KLINGON"')]);
  });

  it('reads a multi-byte term given as value 1 as if value 1 were empty', () => {
    const cs = interpretSpecificCharacterSet(['ISO 2022 IR 149']);
    expect(cs.initialG0.registration).toBe('ISO-IR 6');
    expect(cs.initialG1).toBeUndefined();
    expect(cs.codeElements.map((e) => e.registration)).toEqual(['ISO-IR 6', 'ISO-IR 149']);
    expect(cs.fallbackG1.registration).toBe('ISO-IR 149');
    expect(cs.warnings).toHaveLength(1);
  });

  it('reads non-extension terms in a multi-valued attribute as their ISO 2022 counterparts', () => {
    const cs = interpretSpecificCharacterSet(['ISO_IR 100', 'ISO_IR 144']);
    expect(cs.initialG1?.registration).toBe('ISO-IR 100');
    expect(cs.codeElements.map((e) => e.registration)).toEqual(['ISO-IR 6', 'ISO-IR 100', 'ISO-IR 144']);
    expect(cs.warnings).toHaveLength(2);
  });

  it('keeps UTF-8, GB18030 and GBK alone, ignoring other values with a warning', () => {
    const cs = interpretSpecificCharacterSet(['ISO_IR 192', 'ISO 2022 IR 87']);
    expect(cs.variableLength).toBe('utf-8');
    expect(cs.warnings).toHaveLength(1);
    const later = interpretSpecificCharacterSet(['ISO 2022 IR 100', 'GB18030']);
    expect(later.variableLength).toBeUndefined();
    expect(later.warnings).toHaveLength(1);
  });

  it('labels the set as DICOM writes it', () => {
    expect(interpretSpecificCharacterSet(['', 'ISO 2022 IR 87']).label).toBe('\\ISO 2022 IR 87');
    expect(interpretSpecificCharacterSet(undefined).label).toBe('(default repertoire)');
  });

  it('caches interpretations and passes an interpretation through', () => {
    const a = resolveSpecificCharacterSet(['ISO_IR 100']);
    expect(resolveSpecificCharacterSet(['ISO_IR 100'])).toBe(a);
    expect(resolveSpecificCharacterSet(a)).toBe(a);
    expect(resolveSpecificCharacterSet(['ISO_IR 100', ''])).not.toBe(a);
  });
});
