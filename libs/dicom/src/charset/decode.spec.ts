import { describe, expect, it } from '@jest/globals';
import { decodeText } from './decode.js';
import { splitValues } from './text-vr.js';

const ESC = 0x1b;
const ascii = (s: string) => Array.from(s, (c) => c.charCodeAt(0));
const bytes = (...parts: (string | number | number[])[]) =>
  Buffer.from(parts.flatMap((p) => (typeof p === 'string' ? ascii(p) : typeof p === 'number' ? [p] : p)));
const JIS = [ESC, 0x24, 0x42]; // ESC $ B
const ASCII = [ESC, 0x28, 0x42]; // ESC ( B
const JAPANESE = ['', 'ISO 2022 IR 87'];

const decodeWithWarnings = (b: Uint8Array, cs: readonly string[] | undefined, vr: string) => {
  const warnings: string[] = [];
  const text = decodeText(b, cs, vr, { onWarning: (w) => warnings.push(w) });
  return { text, warnings };
};

describe('decodeText', () => {
  describe('VRs (PS3.5 6.1.2.3)', () => {
    it('ignores the character set for VRs other than SH, LO, ST, LT, UT, UC and PN', () => {
      const latin = Buffer.from([0x41, 0xe9]);
      for (const vr of ['CS', 'AE', 'DA', 'UI', 'UR', 'DS', 'IS', 'AS', 'TM', 'DT']) {
        expect(decodeText(latin, ['ISO_IR 144'], vr)).toBe('A\u00e9');
      }
      expect(decodeText(latin, ['ISO_IR 144'], 'LO')).toBe('A\u0449');
    });

    it('keeps every byte of a non-text VR (Latin-1), even with UTF-8 declared', () => {
      const all = Uint8Array.from({ length: 256 }, (_, i) => i);
      const decoded = decodeText(all, ['ISO_IR 192'], 'CS');
      expect(Array.from(decoded, (c) => c.charCodeAt(0))).toEqual(Array.from(all));
    });
  });

  describe('0x5C inside a multi-byte character (PS3.5 6.1.2.5.3)', () => {
    it('does not split a JIS X 0208 character whose second byte is 0x5C', () => {
      // 尺 is JIS X 0208 0x3C5C; its 0x5C must not become a value delimiter.
      const field = bytes(JIS, [0x3c, 0x5c], ASCII, '\\', 'ABC', '\\', JIS, [0x5c, 0x21], ASCII);
      const decoded = decodeText(field, JAPANESE, 'LO');
      expect(decoded).toBe('尺\\ABC\\棔');
      expect(splitValues(decoded, 'LO')).toEqual(['尺', 'ABC', '棔']);
    });

    it('does not take a 0x5E or 0x3D second byte for a PN delimiter', () => {
      // 党 is 0x455E and 十 is 0x3D3D: no '^' or '=' in them.
      const field = bytes('A^B=', JIS, [0x45, 0x5e, 0x3d, 0x3d], ASCII, '^', JIS, [0x3c, 0x5c], ASCII);
      expect(decodeText(field, JAPANESE, 'PN')).toBe('A^B=党十^尺');
    });

    it('does not split a GBK or GB18030 character whose trail byte is 0x5C', () => {
      // 乗 is GBK 0x81 0x5C.
      const field = bytes([0x81, 0x5c], '\\', 'X');
      for (const cs of [['GBK'], ['GB18030']]) {
        const decoded = decodeText(field, cs, 'LO');
        expect(decoded).toBe('乗\\X');
        expect(splitValues(decoded, 'LO')).toEqual(['乗', 'X']);
      }
    });
  });

  describe('multi-valued text', () => {
    it('keeps value delimiters in single-byte sets', () => {
      const field = bytes('Caf', 0xe9, '\\', 'Cr', 0xe8, 'me', '\\', '\\');
      const decoded = decodeText(field, ['ISO_IR 100'], 'LO');
      expect(splitValues(decoded, 'LO')).toEqual(['Café', 'Crème', '', '']);
    });

    it('resets to the initial designation at each value delimiter', () => {
      // Value 1 of the field switches G1 to Cyrillic; value 2 starts with Latin-1 again.
      const field = bytes([ESC, 0x2d, 0x4c], 0xbb, '\\', 0xe9);
      const decoded = decodeText(field, ['ISO 2022 IR 100', 'ISO 2022 IR 144'], 'LO');
      expect(splitValues(decoded, 'LO')).toEqual(['Л', 'é']);
    });

    it('treats a backslash as a character in ST, LT and UT', () => {
      const field = bytes('C:', '\\', 'dir');
      expect(splitValues(decodeText(field, undefined, 'ST'), 'ST')).toEqual(['C:\\dir']);
    });

    it('in ISO-IR 14 (JIS X 0201 Romaji) reads 0x5C as the delimiter in LO and as YEN SIGN in LT', () => {
      const field = bytes('100', '\\', '200~');
      expect(decodeText(field, ['ISO_IR 13'], 'LO')).toBe('100\\200\u203e');
      expect(decodeText(field, ['ISO_IR 13'], 'LT')).toBe('100\u00a5200\u203e');
    });
  });

  describe('code extensions (PS3.5 6.1.2.5)', () => {
    it('returns to the initial G0 at CR, LF, TAB and FF in text', () => {
      // 0x3B33 after the LF is ASCII ";3": the LF reset G0 even without ESC ( B.
      const field = bytes(JIS, [0x3b, 0x33], 0x0a, [0x3b, 0x33], 0x09, JIS, [0x45, 0x44], 0x0c, 'x');
      expect(decodeText(field, JAPANESE, 'LT')).toBe('山\n;3\t田\fx');
    });

    it('returns G1 to value 1 at PN delimiters', () => {
      // ESC - L designates Cyrillic; after '^' G1 is Latin-1 again (value 1).
      const field = bytes([ESC, 0x2d, 0x4c], 0xbb, '^', 0xe9);
      expect(decodeText(field, ['ISO 2022 IR 100', 'ISO 2022 IR 144'], 'PN')).toBe('Л^é');
    });

    it('reads JIS X 0212 (ISO 2022 IR 159) through ESC $ ( D', () => {
      // 丂 is JIS X 0212 0x3021 (EUC-JP 0x8F 0xB0 0xA1): iconv-lite has the table.
      const field = bytes('A', [ESC, 0x24, 0x28, 0x44], [0x30, 0x21], ASCII, '^', JIS, [0x30, 0x21], ASCII);
      expect(decodeText(field, ['', 'ISO 2022 IR 87', 'ISO 2022 IR 159'], 'PN')).toBe('A丂^亜');
    });

    it('reads half-width katakana designated with ESC ) I in a later value', () => {
      const field = bytes([ESC, 0x29, 0x49], 0xb1, 0xb2);
      expect(decodeText(field, ['ISO 2022 IR 6', 'ISO 2022 IR 13'], 'LO')).toBe('ｱｲ');
    });

    it('reads ESC $ @ (JIS C 6226-1978) as JIS X 0208', () => {
      expect(decodeText(bytes([ESC, 0x24, 0x40], [0x3b, 0x33], ASCII), JAPANESE, 'LO')).toBe('山');
    });

    it('reads a space inside a JIS X 0208 run as a space', () => {
      expect(decodeText(bytes(JIS, [0x3b, 0x33], ' ', [0x45, 0x44], ASCII), JAPANESE, 'LO')).toBe('山 田');
    });
  });

  describe('lenient reading', () => {
    it('does not crash on an unknown defined term: Latin-1 and a warning', () => {
      const { text, warnings } = decodeWithWarnings(bytes('Jos', 0xe9), ['ISO_IR 999'], 'PN');
      expect(text).toBe('José');
      expect(warnings).toEqual([expect.stringContaining('ISO_IR 999')]);
    });

    it('reads Latin-1 bytes in a value with no Specific Character Set', () => {
      const { text, warnings } = decodeWithWarnings(bytes('M', 0xfc, 'ller'), undefined, 'PN');
      expect(text).toBe('Müller');
      expect(warnings).toHaveLength(1);
    });

    it('reads Korean GR bytes without any escape sequence as KS X 1001', () => {
      // Common in practice: "\ISO 2022 IR 149" declared, escapes never written.
      const { text, warnings } = decodeWithWarnings(bytes('Hong^Gildong=', [0xc8, 0xab], '^', [0xb1, 0xe6, 0xb5, 0xbf]), ['', 'ISO 2022 IR 149'], 'PN');
      expect(text).toBe('Hong^Gildong=홍^길동');
      expect(warnings.length).toBeGreaterThan(0);
    });

    it('reads an escape to a set that is not declared, with a warning', () => {
      const { text, warnings } = decodeWithWarnings(bytes(JIS, [0x3b, 0x33], ASCII), ['ISO_IR 100'], 'LO');
      expect(text).toBe('山');
      expect(warnings).toEqual([expect.stringContaining('ISO-IR 87')]);
    });

    it('drops unknown and incomplete escape sequences', () => {
      expect(decodeText(bytes('A', [ESC, 0x28, 0x5a], 'B', ESC), ['ISO_IR 100'], 'LO')).toBe('AB');
    });

    it('replaces a lone byte of a two-byte character', () => {
      expect(decodeText(bytes(JIS, [0x3b, 0x33, 0x45]), JAPANESE, 'LO')).toBe('山\ufffd');
      expect(decodeText(bytes([ESC, 0x24, 0x29, 0x43], 0xc8, 'A'), ['', 'ISO 2022 IR 149'], 'LO')).toBe('\ufffdA');
    });

    it('replaces invalid UTF-8 rather than failing', () => {
      expect(decodeText(Buffer.from([0x41, 0xff, 0x42]), ['ISO_IR 192'], 'LO')).toBe('A\ufffdB');
    });

    it('accepts a Uint8Array that is a view into a larger buffer', () => {
      const whole = Buffer.from('xxCaf\u00e9yy', 'latin1');
      expect(decodeText(new Uint8Array(whole.buffer, whole.byteOffset + 2, 4), ['ISO_IR 100'], 'SH')).toBe('Café');
    });
  });
});
