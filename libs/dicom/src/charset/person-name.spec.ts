import { describe, expect, it } from '@jest/globals';
import {
  formatNameComponents,
  formatPersonName,
  parseNameComponents,
  parsePersonName,
  splitNameComponents,
} from './person-name.js';
import { splitValues, trimPadding } from './text-vr.js';

describe('parsePersonName (PS3.5 6.2.1)', () => {
  it('splits the three component groups', () => {
    expect(parsePersonName('Yamada^Tarou=山田^太郎=やまだ^たろう')).toEqual({
      alphabetic: 'Yamada^Tarou',
      ideographic: '山田^太郎',
      phonetic: 'やまだ^たろう',
    });
  });

  it('drops trailing empty groups', () => {
    expect(parsePersonName('Wang^XiaoDong=王^小東=')).toEqual({ alphabetic: 'Wang^XiaoDong', ideographic: '王^小東' });
    expect(parsePersonName('Doe^John==')).toEqual({ alphabetic: 'Doe^John' });
    expect(parsePersonName('')).toEqual({});
  });

  it('keeps an empty group that precedes a non-empty one', () => {
    expect(parsePersonName('=山田^太郎')).toEqual({ alphabetic: '', ideographic: '山田^太郎' });
    expect(parsePersonName('==やまだ')).toEqual({ alphabetic: '', ideographic: '', phonetic: 'やまだ' });
  });

  it('ignores groups beyond the third', () => {
    expect(parsePersonName('A=B=C=D')).toEqual({ alphabetic: 'A', ideographic: 'B', phonetic: 'C' });
  });

  it('is undone by formatPersonName', () => {
    for (const s of ['Yamada^Tarou=山田^太郎=やまだ^たろう', 'Doe^John', '=山田', '', '==x']) {
      expect(formatPersonName(parsePersonName(s))).toBe(s);
    }
    expect(formatPersonName({ alphabetic: 'A', phonetic: 'C' })).toBe('A==C');
  });
});

describe('name components', () => {
  it('splits on ^ and drops trailing empty components', () => {
    expect(splitNameComponents('Adams^John Robert Quincy^^Rev.^B.A. M.Div.')).toEqual([
      'Adams',
      'John Robert Quincy',
      '',
      'Rev.',
      'B.A. M.Div.',
    ]);
    expect(splitNameComponents('Doe^John^^^')).toEqual(['Doe', 'John']);
    expect(splitNameComponents('')).toEqual([]);
  });

  it('names the five components', () => {
    expect(parseNameComponents('Adams^John Robert Quincy^^Rev.^B.A. M.Div.')).toEqual({
      familyName: 'Adams',
      givenName: 'John Robert Quincy',
      namePrefix: 'Rev.',
      nameSuffix: 'B.A. M.Div.',
    });
    expect(parseNameComponents('ABC Farms^Running on Water')).toEqual({ familyName: 'ABC Farms', givenName: 'Running on Water' });
  });

  it('is undone by formatNameComponents', () => {
    expect(formatNameComponents(parseNameComponents('Adams^John Robert Quincy^^Rev.^B.A. M.Div.'))).toBe(
      'Adams^John Robert Quincy^^Rev.^B.A. M.Div.',
    );
    expect(formatNameComponents({ givenName: 'Fluffy' })).toBe('^Fluffy');
  });
});

describe('value helpers', () => {
  it('trimPadding removes trailing spaces and NULs only', () => {
    expect(trimPadding('  Doe^John  ')).toBe('  Doe^John');
    expect(trimPadding('1.2.840.10008\0')).toBe('1.2.840.10008');
    expect(trimPadding('   ')).toBe('');
    expect(trimPadding('abc')).toBe('abc');
  });

  it('splitValues splits multi-valued VRs only', () => {
    expect(splitValues('Doe^John\\Roe^Jane', 'PN')).toEqual(['Doe^John', 'Roe^Jane']);
    expect(splitValues('A\\B', 'UC')).toEqual(['A', 'B']);
    expect(splitValues('C:\\temp', 'UT')).toEqual(['C:\\temp']);
    expect(splitValues('', 'LO')).toEqual(['']);
  });
});
