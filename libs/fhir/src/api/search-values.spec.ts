import { describe, expect, it } from '@jest/globals';
import { FhirError } from '../fhir.errors.js';
import { dateCondition, orValues, parseDate, parseReference, parseToken } from './search-values.js';

describe('FHIR search values (R4 3.1.1)', () => {
  it('splits ORs on unescaped commas', () => {
    expect(orValues('a,b\\,c, d')).toEqual(['a', 'b,c', 'd']);
  });

  it('parses tokens', () => {
    expect(parseToken('CT')).toEqual({ code: 'CT' });
    expect(parseToken('http://x|CT')).toEqual({ system: 'http://x', code: 'CT' });
    expect(parseToken('|CT')).toEqual({ system: '', code: 'CT' });
    expect(parseToken('http://x|')).toEqual({ system: 'http://x' });
    expect(() => parseToken('|')).toThrow(FhirError);
  });

  it('parses references of a type', () => {
    expect(parseReference('Patient/r1', 'Patient')).toBe('r1');
    expect(parseReference('https://vna/fhir/R4/Patient/p2', 'Patient')).toBe('p2');
    expect(parseReference('r3', 'Patient')).toBe('r3');
    expect(parseReference('Group/4', 'Patient')).toBeUndefined();
    expect(() => parseReference('a b', 'Patient')).toThrow(FhirError);
  });

  it('parses dates with prefixes into day ranges', () => {
    expect(parseDate('2024')).toEqual({ prefix: 'eq', low: '20240101', high: '20241231' });
    expect(parseDate('ge2024-02')).toEqual({ prefix: 'ge', low: '20240201', high: '20240229' });
    expect(parseDate('lt2024-03-05T10:00:00Z')).toEqual({ prefix: 'lt', low: '20240305', high: '20240305' });
    for (const bad of ['2024-13', '2024-02-30', 'xx2024', '24', '2024-1-1']) expect(() => parseDate(bad)).toThrow(FhirError);
  });

  it('turns a date range into SQL by prefix', () => {
    const params: unknown[] = [];
    const add = (v: unknown): string => {
      params.push(v);
      return `$${params.length}`;
    };
    expect(dateCondition('d', parseDate('2024'), add)).toBe('(d BETWEEN $1 AND $2)');
    expect(dateCondition('d', parseDate('sa2024'), add)).toBe('(d > $3)');
    expect(dateCondition('d', parseDate('eb2024'), add)).toBe('(d < $4)');
    expect(params).toEqual(['20240101', '20241231', '20241231', '20240101']);
  });
});
