import { describe, expect, it } from '@jest/globals';
import { DEFAULT_DELIMITERS, escapeHl7, type Hl7Delimiters, unescapeHl7 } from './hl7-escape.js';

const d = DEFAULT_DELIMITERS;

describe('HL7 escape sequences (HL7 2.5.1 2.7)', () => {
  it('replaces the delimiter escapes', () => {
    expect(unescapeHl7('a\\F\\b\\S\\c\\T\\d\\R\\e\\E\\f', d, 'ascii')).toBe('a|b^c&d~e\\f');
  });

  it('reads \\Xhh\\ as bytes in the message character set', () => {
    expect(unescapeHl7('caf\\XC3A9\\', d, 'utf-8')).toBe('café');
    expect(unescapeHl7('caf\\XE9\\', d, 'iso-8859-1')).toBe('café');
    expect(unescapeHl7('\\XC3A9\\', d, 'iso-8859-1')).toBe('Ã©');
    expect(unescapeHl7('\\X0D0A\\', d, 'ascii')).toBe('\r\n');
  });

  it('drops highlighting and character set switches, turns \\.br\\ and \\.sp\\ into line breaks', () => {
    expect(unescapeHl7('\\H\\bold\\N\\ text', d, 'ascii')).toBe('bold text');
    expect(unescapeHl7('one\\.br\\two\\.sp 2\\three\\.in 4\\', d, 'ascii')).toBe('one\ntwo\n\nthree');
    expect(unescapeHl7('\\C2842\\abc\\ZLOCAL\\', d, 'ascii')).toBe('abc');
  });

  it('keeps what is not an escape sequence', () => {
    expect(unescapeHl7('C:\\path\\to', d, 'ascii')).toBe('C:\\path\\to');
    expect(unescapeHl7('lonely \\ backslash', d, 'ascii')).toBe('lonely \\ backslash');
    expect(unescapeHl7('\\Q\\F\\', d, 'ascii')).toBe('\\Q|');
    expect(unescapeHl7('\\X1\\', d, 'ascii')).toBe('\\X1\\');
  });

  it('uses the message’s own encoding characters', () => {
    const own: Hl7Delimiters = { field: '#', component: '!', repetition: '@', escape: '$', subcomponent: '%', truncation: '*' };
    expect(unescapeHl7('a$F$b$S$c$T$d$R$e$E$f$P$', own, 'ascii')).toBe('a#b!c%d@e$f*');
    expect(unescapeHl7('a\\F\\b', own, 'ascii')).toBe('a\\F\\b');
  });

  it('escapes text so that it reads back the same', () => {
    const text = 'a|b^c&d~e\\f\r\nend';
    const escaped = escapeHl7(text, d);
    expect(escaped).toBe('a\\F\\b\\S\\c\\T\\d\\R\\e\\E\\f\\X0D\\\\X0A\\end');
    expect(unescapeHl7(escaped, d, 'ascii')).toBe(text);
  });
});
