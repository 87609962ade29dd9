import iconv from 'iconv-lite';

/**
 * The graphic character sets that DICOM lets a value use, as ISO/IEC 2022 code elements
 * (PS3.5 6.1.2.5, PS3.3 C.12.1.1.2 Tables C.12-2 to C.12-4).
 *
 * Every element works on 7-bit positions (the byte with its high bit cleared): a G0 element is
 * invoked in GL (0x21-0x7E), a G1 element in GR (0xA1-0xFE, 0xA0-0xFF for 96-character sets),
 * so the decoder and encoder add or strip the high bit according to the register.
 */
export type Register = 'G0' | 'G1';

export interface CodeElement {
  /** ISO-IR registration number of the set, e.g. "ISO-IR 87". */
  readonly registration: string;
  readonly description: string;
  readonly register: Register;
  /** The escape sequence that designates the set, ESC included (PS3.3 Tables C.12-3, C.12-4). */
  readonly escape: readonly number[];
  readonly bytesPerChar: 1 | 2;
  /** The character at a position (second byte only for two-byte sets); U+FFFD if unassigned. */
  decode(first: number, second: number): string;
  /** The position(s) of one character (one code point), or undefined if the set lacks it. */
  encode(char: string): readonly number[] | undefined;
}

const ESC = 0x1b;
const REPLACEMENT = '\ufffd';

/** ISO-IR 6, ASCII: the default repertoire (PS3.5 6.1.2.1). */
export const ISO_IR_6: CodeElement = {
  registration: 'ISO-IR 6',
  description: 'ISO 646 (ASCII)',
  register: 'G0',
  escape: [ESC, 0x28, 0x42], // ESC ( B
  bytesPerChar: 1,
  decode: (p) => String.fromCharCode(p),
  encode(char) {
    const cp = char.codePointAt(0) ?? -1;
    return cp >= 0x20 && cp <= 0x7e ? [cp] : undefined;
  },
};

/**
 * ISO-IR 14, JIS X 0201 Romaji: ASCII except that 05/12 is YEN SIGN and 07/14 is OVERLINE.
 * It is the G0 half of ISO_IR 13 (PS3.3 Table C.12-2).
 */
export const ISO_IR_14: CodeElement = {
  registration: 'ISO-IR 14',
  description: 'JIS X 0201 Romaji',
  register: 'G0',
  escape: [ESC, 0x28, 0x4a], // ESC ( J
  bytesPerChar: 1,
  decode(p) {
    if (p === 0x5c) return '\u00a5';
    if (p === 0x7e) return '\u203e';
    return String.fromCharCode(p);
  },
  encode(char) {
    if (char === '\u00a5') return [0x5c];
    if (char === '\u203e') return [0x7e];
    const cp = char.codePointAt(0) ?? -1;
    return cp >= 0x20 && cp <= 0x7e && cp !== 0x5c && cp !== 0x7e ? [cp] : undefined;
  },
};

/** ISO-IR 13, JIS X 0201 Katakana: half-width katakana at 0xA1-0xDF (G1 of ISO_IR 13). */
export const ISO_IR_13: CodeElement = {
  registration: 'ISO-IR 13',
  description: 'JIS X 0201 Katakana',
  register: 'G1',
  escape: [ESC, 0x29, 0x49], // ESC ) I
  bytesPerChar: 1,
  decode: (p) => (p >= 0x21 && p <= 0x5f ? String.fromCharCode(0xff61 + p - 0x21) : REPLACEMENT),
  encode(char) {
    const cp = char.codePointAt(0) ?? -1;
    return cp >= 0xff61 && cp <= 0xff9f ? [cp - 0xff61 + 0x21] : undefined;
  },
};

/**
 * A 96-character set designated to G1 (the right half of an ISO 8859 part, or TIS 620).
 * Tables come from iconv-lite once, on first use.
 */
function rightHalf(ir: number, description: string, label: string, final: number): CodeElement {
  let table: string[] | undefined;
  let reverse: Map<string, number> | undefined;
  const load = (): [string[], Map<string, number>] => {
    if (!table || !reverse) {
      const all = new Uint8Array(0x60).map((_, i) => 0xa0 + i);
      const chars = Array.from(iconv.decode(all, label));
      // A decoder that did not give one character per byte would shift the whole table.
      if (chars.length !== 0x60) throw new Error(`iconv-lite ${label} did not decode byte by byte`);
      table = chars;
      reverse = new Map();
      chars.forEach((c, i) => {
        if (c !== REPLACEMENT && !reverse!.has(c)) reverse!.set(c, 0x20 + i);
      });
    }
    return [table, reverse];
  };
  return {
    registration: `ISO-IR ${ir}`,
    description,
    register: 'G1',
    escape: [ESC, 0x2d, final], // ESC - F: designate a 96-set to G1
    bytesPerChar: 1,
    decode: (p) => load()[0][p - 0x20] ?? REPLACEMENT,
    encode(char) {
      const p = load()[1].get(char);
      return p === undefined ? undefined : [p];
    },
  };
}

export const ISO_IR_100 = rightHalf(100, 'Latin alphabet No. 1 (ISO 8859-1)', 'iso-8859-1', 0x41);
export const ISO_IR_101 = rightHalf(101, 'Latin alphabet No. 2 (ISO 8859-2)', 'iso-8859-2', 0x42);
export const ISO_IR_109 = rightHalf(109, 'Latin alphabet No. 3 (ISO 8859-3)', 'iso-8859-3', 0x43);
export const ISO_IR_110 = rightHalf(110, 'Latin alphabet No. 4 (ISO 8859-4)', 'iso-8859-4', 0x44);
export const ISO_IR_144 = rightHalf(144, 'Cyrillic (ISO 8859-5)', 'iso-8859-5', 0x4c);
export const ISO_IR_127 = rightHalf(127, 'Arabic (ISO 8859-6)', 'iso-8859-6', 0x47);
export const ISO_IR_126 = rightHalf(126, 'Greek (ISO 8859-7)', 'iso-8859-7', 0x46);
export const ISO_IR_138 = rightHalf(138, 'Hebrew (ISO 8859-8)', 'iso-8859-8', 0x48);
export const ISO_IR_148 = rightHalf(148, 'Latin alphabet No. 5 (ISO 8859-9)', 'iso-8859-9', 0x4d);
export const ISO_IR_203 = rightHalf(203, 'Latin alphabet No. 9 (ISO 8859-15)', 'iso-8859-15', 0x62);
// TIS 620-2533 is ISO 8859-11 without NBSP at 0xA0; 8859-11 is the superset that iconv-lite has.
export const ISO_IR_166 = rightHalf(166, 'Thai (TIS 620-2533)', 'iso-8859-11', 0x54);

/** One character per table slot, and never a private-use code point (user-defined areas). */
function isAssigned(s: string): boolean {
  const cps = Array.from(s);
  if (cps.length !== 1) return false;
  const cp = s.codePointAt(0) ?? 0xfffd;
  return cp !== 0xfffd && !(cp >= 0xe000 && cp <= 0xf8ff);
}

interface DoubleByteSpec {
  readonly ir: number;
  readonly description: string;
  readonly register: Register;
  readonly escape: readonly number[];
  /** Bytes that iconv-lite decodes for row/cell positions (both 0x21-0x7E). */
  readonly bytes: (p1: number, p2: number) => number[];
  readonly label: string;
  /** Rows (1-94) the standard itself assigns; others are vendor extensions, read but never written. */
  readonly rows: (row: number) => boolean;
  /** Unicode characters mapped differently by different converters, written as this position. */
  readonly aliases?: ReadonlyMap<string, readonly [number, number]>;
}

/**
 * A 94x94 set, with tables built from iconv-lite on first use: decoding one pair at a time
 * keeps a 0x5C or 0x5E inside a character from ever being taken for a delimiter.
 */
function doubleByte(spec: DoubleByteSpec): CodeElement {
  let table: (string | undefined)[] | undefined;
  let reverse: Map<string, readonly [number, number]> | undefined;
  const load = (): [(string | undefined)[], Map<string, readonly [number, number]>] => {
    if (!table || !reverse) {
      table = new Array<string | undefined>(94 * 94);
      reverse = new Map();
      for (let p1 = 0x21; p1 <= 0x7e; p1++) {
        for (let p2 = 0x21; p2 <= 0x7e; p2++) {
          const s = iconv.decode(Uint8Array.from(spec.bytes(p1, p2)), spec.label);
          if (!isAssigned(s)) continue;
          table[(p1 - 0x21) * 94 + (p2 - 0x21)] = s;
          if (spec.rows(p1 - 0x20) && !reverse.has(s)) reverse.set(s, [p1, p2]);
        }
      }
      for (const [c, pos] of spec.aliases ?? []) if (!reverse.has(c)) reverse.set(c, pos);
    }
    return [table, reverse];
  };
  return {
    registration: `ISO-IR ${spec.ir}`,
    description: spec.description,
    register: spec.register,
    escape: spec.escape,
    bytesPerChar: 2,
    decode(p1, p2) {
      if (p1 < 0x21 || p1 > 0x7e || p2 < 0x21 || p2 > 0x7e) return REPLACEMENT;
      return load()[0][(p1 - 0x21) * 94 + (p2 - 0x21)] ?? REPLACEMENT;
    },
    encode: (char) => load()[1].get(char),
  };
}

const between = (lo: number, hi: number) => (row: number) => row >= lo && row <= hi;

/**
 * iconv-lite decodes JIS X 0208 with Microsoft's mappings (0x2141 is U+FF5E, ...). Text that
 * came from a converter using the JIS mappings (U+301C WAVE DASH, ...) must still be writable.
 */
const JIS_X_0208_ALIASES: ReadonlyMap<string, readonly [number, number]> = new Map([
  ['\u301c', [0x21, 0x41]], // WAVE DASH
  ['\u2016', [0x21, 0x42]], // DOUBLE VERTICAL LINE
  ['\u2014', [0x21, 0x3d]], // EM DASH
  ['\u2212', [0x21, 0x5d]], // MINUS SIGN
  ['\u00a2', [0x21, 0x71]], // CENT SIGN
  ['\u00a3', [0x21, 0x72]], // POUND SIGN
  ['\u00ac', [0x22, 0x4c]], // NOT SIGN
]);

/** ISO-IR 87, JIS X 0208 in G0 (PS3.3 Table C.12-4; PS3.5 Annex H): EUC-JP is the pair with high bits set. */
export const JIS_X_0208 = doubleByte({
  ir: 87,
  description: 'JIS X 0208 (Kanji)',
  register: 'G0',
  escape: [ESC, 0x24, 0x42], // ESC $ B
  bytes: (p1, p2) => [p1 | 0x80, p2 | 0x80],
  label: 'euc-jp',
  rows: (r) => between(1, 8)(r) || between(16, 84)(r),
  aliases: JIS_X_0208_ALIASES,
});

/** ISO-IR 159, JIS X 0212 in G0: EUC-JP code set 3, i.e. SS3 (0x8F) then the pair with high bits set. */
export const JIS_X_0212 = doubleByte({
  ir: 159,
  description: 'JIS X 0212 (Supplementary Kanji)',
  register: 'G0',
  escape: [ESC, 0x24, 0x28, 0x44], // ESC $ ( D
  bytes: (p1, p2) => [0x8f, p1 | 0x80, p2 | 0x80],
  label: 'euc-jp',
  rows: () => true,
});

/** ISO-IR 149, KS X 1001 in G1 (PS3.5 Annex I): the GR pair is EUC-KR. */
export const KS_X_1001 = doubleByte({
  ir: 149,
  description: 'KS X 1001 (Hangul and Hanja)',
  register: 'G1',
  escape: [ESC, 0x24, 0x29, 0x43], // ESC $ ) C
  bytes: (p1, p2) => [p1 | 0x80, p2 | 0x80],
  label: 'euc-kr',
  rows: () => true,
});

/**
 * ISO-IR 58, GB 2312 in G1 (PS3.5 Annex K): the GR pair is EUC-CN, which GBK contains. Rows
 * 10-15 and 88-94 are GBK's user-defined areas, not GB 2312, so they are never written.
 */
export const GB_2312 = doubleByte({
  ir: 58,
  description: 'GB 2312 (Simplified Chinese)',
  register: 'G1',
  escape: [ESC, 0x24, 0x29, 0x41], // ESC $ ) A
  bytes: (p1, p2) => [p1 | 0x80, p2 | 0x80],
  label: 'gbk',
  rows: (r) => between(1, 9)(r) || between(16, 87)(r),
});

const ALL: readonly CodeElement[] = [
  ISO_IR_6,
  ISO_IR_14,
  ISO_IR_13,
  ISO_IR_100,
  ISO_IR_101,
  ISO_IR_109,
  ISO_IR_110,
  ISO_IR_144,
  ISO_IR_127,
  ISO_IR_126,
  ISO_IR_138,
  ISO_IR_148,
  ISO_IR_203,
  ISO_IR_166,
  JIS_X_0208,
  JIS_X_0212,
  KS_X_1001,
  GB_2312,
];

/** Escape sequences (the bytes after ESC, as a latin1 string) to the element they designate. */
const BY_ESCAPE = new Map<string, CodeElement>(
  ALL.map((e) => [String.fromCharCode(...e.escape.slice(1)), e] as const),
);
// ESC $ @ designates JIS C 6226-1978, the predecessor of JIS X 0208; some Japanese equipment
// still sends it, and reading it as JIS X 0208 is right for all but a handful of characters.
BY_ESCAPE.set('$@', JIS_X_0208);

/** The element an escape sequence designates (`afterEsc` is the bytes after ESC), if known. */
export function codeElementForEscape(afterEsc: string): CodeElement | undefined {
  return BY_ESCAPE.get(afterEsc);
}
