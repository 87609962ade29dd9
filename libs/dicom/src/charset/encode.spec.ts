import { describe, expect, it } from '@jest/globals';
import { decodeText } from './decode.js';
import { chooseCharacterSetFor, encodeText } from './encode.js';
import { CharsetEncodeError } from './errors.js';
import { interpretSpecificCharacterSet } from './specific-character-set.js';

const ESC = 0x1b;
const ascii = (s: string) => Array.from(s, (c) => c.charCodeAt(0));
const bytes = (...parts: (string | number | number[])[]) =>
  Buffer.from(parts.flatMap((p) => (typeof p === 'string' ? ascii(p) : typeof p === 'number' ? [p] : p)));
const JIS = [ESC, 0x24, 0x42]; // ESC $ B
const ASCII = [ESC, 0x28, 0x42]; // ESC ( B
const JAPANESE = ['', 'ISO 2022 IR 87'];

const thrown = (f: () => unknown): unknown => {
  try {
    f();
  } catch (e) {
    return e;
  }
  throw new Error('expected an exception');
};

describe('encodeText', () => {
  describe('ISO 2022 (PS3.5 6.1.2.5, Annex H)', () => {
    it('returns to ASCII before a space inside Japanese text, and designates again after it', () => {
      expect(encodeText('山 田', JAPANESE, 'LO')).toEqual(bytes(JIS, [0x3b, 0x33], ASCII, ' ', JIS, [0x45, 0x44], ASCII));
    });

    it('returns to ASCII before CR and LF in text', () => {
      expect(encodeText('山\r\n田', JAPANESE, 'LT')).toEqual(bytes(JIS, [0x3b, 0x33], ASCII, '\r\n', JIS, [0x45, 0x44], ASCII));
    });

    it('returns to the initial set before every value delimiter', () => {
      expect(encodeText('山\\田', JAPANESE, 'LO')).toEqual(bytes(JIS, [0x3b, 0x33], ASCII, '\\', JIS, [0x45, 0x44], ASCII));
    });

    it('uses JIS X 0212 (ESC $ ( D) for what JIS X 0208 lacks', () => {
      expect(encodeText('丂', ['', 'ISO 2022 IR 87', 'ISO 2022 IR 159'], 'LO')).toEqual(
        bytes([ESC, 0x24, 0x28, 0x44], [0x30, 0x21], ASCII),
      );
    });

    it('writes the JIS mapping of WAVE DASH (U+301C) as JIS X 0208 0x2141', () => {
      const encoded = encodeText('〜', JAPANESE, 'LO');
      expect(encoded).toEqual(bytes(JIS, [0x21, 0x41], ASCII));
      // iconv-lite reads 0x2141 with the Microsoft mapping, FULLWIDTH TILDE.
      expect(decodeText(encoded, JAPANESE, 'LO')).toBe('\uff5e');
    });

    it('writes nothing extra for text that needs no extension', () => {
      expect(encodeText('Yamada^Tarou', JAPANESE, 'PN')).toEqual(bytes('Yamada^Tarou'));
    });

    it('switches G1 between declared 96-character sets and back to value 1 at the end', () => {
      expect(encodeText('é Ж é', ['ISO 2022 IR 100', 'ISO 2022 IR 144'], 'LO')).toEqual(
        bytes(0xe9, ' ', [ESC, 0x2d, 0x4c], 0xb6, ' ', [ESC, 0x2d, 0x41], 0xe9),
      );
    });

    it('mixes Latin-1 and Korean G1 sets', () => {
      const encoded = encodeText('é홍', ['ISO 2022 IR 100', 'ISO 2022 IR 149'], 'LO');
      expect(encoded).toEqual(bytes(0xe9, [ESC, 0x24, 0x29, 0x43], [0xc8, 0xab], [ESC, 0x2d, 0x41]));
      expect(decodeText(encoded, ['ISO 2022 IR 100', 'ISO 2022 IR 149'], 'LO')).toBe('é홍');
    });

    it('writes JIS X 0201 Romaji YEN SIGN in text, where 05/12 is not a delimiter', () => {
      expect(encodeText('¥100', ['ISO_IR 13'], 'LT')).toEqual(bytes(0x5c, '100'));
    });
  });

  describe('CharsetEncodeError', () => {
    it('names the character, its position and the character set', () => {
      const e = thrown(() => encodeText('Jos\u00e9 Ж', ['ISO_IR 100'], 'PN'));
      expect(e).toBeInstanceOf(CharsetEncodeError);
      expect(e).toBeInstanceOf(Error);
      const err = e as CharsetEncodeError;
      expect(err.name).toBe('CharsetEncodeError');
      expect(err.character).toBe('Ж');
      expect(err.codePoint).toBe(0x416);
      expect(err.index).toBe(5);
      expect(err.characterSet).toBe('ISO_IR 100');
      expect(err.vr).toBe('PN');
      expect(err.message).toContain('U+0416');
      expect(err.message).toContain('ISO_IR 100');
    });

    it.each([
      ['kanji in the default repertoire', '山', undefined, 'LO'],
      ['Cyrillic in Latin-1', 'Ж', ['ISO_IR 100'], 'LO'],
      ['Hangul with only Japanese declared', '홍', JAPANESE, 'PN'],
      ['Japanese kana in GB 2312 declared as ISO 2022 IR 58', 'ｱ', ['', 'ISO 2022 IR 58'], 'LO'],
      ['an emoji in GBK', '😀', ['GBK'], 'LO'],
      ['a lone surrogate in UTF-8', 'a\ud800b', ['ISO_IR 192'], 'LT'],
      ['a lone surrogate in GB18030', '\udc00', ['GB18030'], 'LT'],
      ['YEN SIGN in a PN with JIS X 0201 Romaji (05/12 is the delimiter there)', '¥', ['ISO_IR 13'], 'PN'],
      ['a backslash in LT with JIS X 0201 Romaji', '\\', ['ISO_IR 13'], 'LT'],
      ['ESC in the text', 'a\u001bb', ['ISO_IR 100'], 'LT'],
      ['non-ASCII in a CS value', 'É', ['ISO_IR 100'], 'CS'],
    ])('is thrown for %s', (_what, text, cs, vr) => {
      expect(() => encodeText(text, cs, vr)).toThrow(CharsetEncodeError);
    });

    it('reports the first unrepresentable character of a GBK value', () => {
      const err = thrown(() => encodeText('王😀', ['GBK'], 'LO')) as CharsetEncodeError;
      expect(err.character).toBe('😀');
      expect(err.index).toBe(1);
    });
  });

  it('adds no padding', () => {
    expect(encodeText('ABC', undefined, 'LO')).toEqual(bytes('ABC'));
  });

  it('writes an unknown defined term as Latin-1, the way it is read', () => {
    expect(encodeText('José', ['ISO_IR 999'], 'PN')).toEqual(bytes('Jos', 0xe9));
  });

  it('writes non-text VRs as ASCII whatever the character set', () => {
    expect(encodeText('1.2.840\0', ['ISO_IR 192'], 'UI')).toEqual(bytes('1.2.840', 0));
  });
});

describe('chooseCharacterSetFor', () => {
  it('needs no Specific Character Set for ASCII', () => {
    expect(chooseCharacterSetFor('')).toEqual([]);
    expect(chooseCharacterSetFor('Doe^John\\Smith\r\n')).toEqual([]);
  });

  it('chooses UTF-8 for anything else', () => {
    expect(chooseCharacterSetFor('Buc^Jérôme')).toEqual(['ISO_IR 192']);
    expect(chooseCharacterSetFor('山田')).toEqual(['ISO_IR 192']);
  });
});

/** Deterministic PRNG (mulberry32), so a failing round trip can be reproduced. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const printableAscii = Array.from({ length: 0x5f }, (_, i) => String.fromCharCode(0x20 + i));

/** Every character any declared code element holds, plus ASCII: the candidates to test. */
function candidates(charset: readonly string[]): string[] {
  const cs = interpretSpecificCharacterSet(charset);
  const out = new Set(printableAscii);
  for (const e of cs.codeElements) {
    for (let p1 = 0x20; p1 <= 0x7f; p1++) {
      if (e.bytesPerChar === 1) out.add(e.decode(p1, 0));
      else for (let p2 = 0x21; p2 <= 0x7e; p2++) out.add(e.decode(p1, p2));
    }
  }
  out.delete('\ufffd');
  return [...out];
}

/** What encodeText accepts for this charset and VR, one character at a time. */
function repertoire(chars: readonly string[], charset: readonly string[], vr: string): string[] {
  return chars.filter((c) => {
    try {
      encodeText(c, charset, vr);
      return true;
    } catch (e) {
      if (!(e instanceof CharsetEncodeError)) throw e;
      return false;
    }
  });
}

function roundTrip(charset: readonly string[], vr: string, pool: readonly string[], seed: number, runs = 300): void {
  const next = random(seed);
  const controls = vr === 'LT' ? ['\r\n', '\t'] : [];
  const tokens = [...pool, ...controls];
  for (let run = 0; run < runs; run++) {
    const length = Math.floor(next() * 24);
    let s = '';
    for (let k = 0; k < length; k++) s += tokens[Math.floor(next() * tokens.length)]!;
    const encoded = encodeText(s, charset, vr);
    const decoded = decodeText(encoded, charset, vr, {
      onWarning: (w) => {
        throw new Error(`warning while reading our own output of ${JSON.stringify(s)}: ${w}`);
      },
    });
    if (decoded !== s) {
      throw new Error(`round trip of ${JSON.stringify(s)} in ${charset.join('\\')} ${vr}: got ${JSON.stringify(decoded)} from ${encoded.toString('hex')}`);
    }
  }
}

describe('round trip: decodeText(encodeText(s)) === s for random strings', () => {
  const cases: ReadonlyArray<{ charset: readonly string[]; atLeast: number; samples: string }> = [
    { charset: ['ISO_IR 100'], atLeast: 190, samples: 'éÿ' },
    { charset: ['ISO_IR 101'], atLeast: 190, samples: 'łŐ' },
    { charset: ['ISO_IR 109'], atLeast: 180, samples: 'ĦĝŬ' },
    { charset: ['ISO_IR 110'], atLeast: 190, samples: 'ĀŖ' },
    { charset: ['ISO_IR 144'], atLeast: 190, samples: 'ЖЯё' },
    { charset: ['ISO_IR 127'], atLeast: 140, samples: 'قب' },
    { charset: ['ISO_IR 126'], atLeast: 180, samples: 'Δως' },
    { charset: ['ISO_IR 138'], atLeast: 150, samples: 'שא' },
    { charset: ['ISO_IR 148'], atLeast: 190, samples: 'Şİ' },
    { charset: ['ISO_IR 203'], atLeast: 190, samples: '€Œ' },
    { charset: ['ISO_IR 166'], atLeast: 170, samples: 'ก๛' },
    { charset: ['ISO_IR 13'], atLeast: 150, samples: 'ｱﾟ‾' },
    { charset: ['ISO 2022 IR 6'], atLeast: 95, samples: 'A~' },
    { charset: ['ISO 2022 IR 6', 'ISO 2022 IR 100', 'ISO 2022 IR 144', 'ISO 2022 IR 126'], atLeast: 350, samples: 'éЖΔ' },
    { charset: ['ISO 2022 IR 203', 'ISO 2022 IR 101', 'ISO 2022 IR 138', 'ISO 2022 IR 166'], atLeast: 350, samples: '€łשก' },
    { charset: ['', 'ISO 2022 IR 87'], atLeast: 6900, samples: '山やヤ＼' },
    { charset: ['', 'ISO 2022 IR 87', 'ISO 2022 IR 159'], atLeast: 13000, samples: '山丂' },
    { charset: ['ISO 2022 IR 13', 'ISO 2022 IR 87'], atLeast: 7000, samples: 'ｱ山' },
    { charset: ['', 'ISO 2022 IR 149'], atLeast: 8000, samples: '홍洪' },
    { charset: ['', 'ISO 2022 IR 58'], atLeast: 7000, samples: '张东' },
    { charset: ['ISO 2022 IR 100', 'ISO 2022 IR 149', 'ISO 2022 IR 87'], atLeast: 10000, samples: 'é홍山' },
  ];

  describe.each(cases)('$charset', ({ charset, atLeast, samples }) => {
    const all = candidates(charset);
    it.each(['PN', 'LO', 'LT'])('%s', (vr) => {
      const pool = repertoire(all, charset, vr);
      expect(pool.length).toBeGreaterThanOrEqual(atLeast);
      for (const c of samples) expect(pool).toContain(c);
      roundTrip(charset, vr, pool, 0x5eed ^ pool.length);
    });
  });

  /** Random Unicode scalar values: ASCII-heavy, with BMP and astral characters. */
  const unicode = (seed: number) => {
    const next = random(seed);
    const pool: string[] = [];
    for (let k = 0; k < 4000; k++) {
      const r = next();
      const cp =
        r < 0.3 ? 0x20 + Math.floor(next() * 0x5f)
        : r < 0.9 ? 0xa0 + Math.floor(next() * (0xd800 - 0xa0))
        : 0x10000 + Math.floor(next() * 0xfffff);
      pool.push(String.fromCodePoint(cp));
    }
    return pool;
  };

  it.each([['ISO_IR 192'], ['GB18030']])('%s represents any Unicode text', (term) => {
    for (const vr of ['PN', 'LO', 'LT', 'UT', 'UC']) roundTrip([term], vr, unicode(vr.charCodeAt(0)), 7, 200);
  });

  it('GBK', () => {
    const cjk = Array.from({ length: 0x9fa5 - 0x4e00 + 1 }, (_, i) => String.fromCharCode(0x4e00 + i));
    const pool = repertoire([...printableAscii, ...cjk, 'é', '€', '，', '。'], ['GBK'], 'LO');
    expect(pool.length).toBeGreaterThan(20000);
    for (const vr of ['PN', 'LO', 'LT']) roundTrip(['GBK'], vr, pool, 11);
  });
});
