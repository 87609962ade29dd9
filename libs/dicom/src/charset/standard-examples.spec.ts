import { describe, expect, it } from '@jest/globals';
import { decodeText } from './decode.js';
import { encodeText } from './encode.js';
import { parsePersonName } from './person-name.js';
import { trimPadding } from './text-vr.js';

/**
 * The worked examples of PS3.5 Annexes H, I, J and K, byte for byte as the standard prints them
 * (dicom.nema.org, PS3.5 2024d/e; Annex J.3 from 2019e, unchanged since), decoded to the exact
 * string and encoded back to the exact bytes. Single-byte examples (Latin, Greek, Cyrillic,
 * Arabic, Hebrew, Thai) are the names of the classic DICOM character set test files; their
 * bytes are checked by hand against the ISO 8859 / TIS 620 code charts.
 */

const ESC = 0x1b;
const ascii = (s: string) => Array.from(s, (c) => c.charCodeAt(0));
const bytes = (...parts: (string | number | number[])[]) =>
  Buffer.from(parts.flatMap((p) => (typeof p === 'string' ? ascii(p) : typeof p === 'number' ? [p] : p)));
const hex = (h: string) => Buffer.from(h.replace(/\s+/g, ''), 'hex');

interface Example {
  readonly name: string;
  readonly charset: readonly string[];
  readonly vr: string;
  readonly text: string;
  readonly bytes: Buffer;
}

const jis = [ESC, 0x24, 0x42]; // ESC $ B: JIS X 0208 to G0
const ascii0 = [ESC, 0x28, 0x42]; // ESC ( B: ASCII to G0
const romaji0 = [ESC, 0x28, 0x4a]; // ESC ( J: JIS X 0201 Romaji to G0
const ksx1 = [ESC, 0x24, 0x29, 0x43]; // ESC $ ) C: KS X 1001 to G1
const gb1 = [ESC, 0x24, 0x29, 0x41]; // ESC $ ) A: GB 2312 to G1

const EXAMPLES: readonly Example[] = [
  {
    name: 'PS3.5 H.3.1 (Japanese, value 1 empty, ISO 2022 IR 87)',
    charset: ['', 'ISO 2022 IR 87'],
    vr: 'PN',
    text: 'Yamada^Tarou=山田^太郎=やまだ^たろう',
    bytes: bytes(
      'Yamada^Tarou=',
      jis, [0x3b, 0x33, 0x45, 0x44], ascii0, '^',
      jis, [0x42, 0x40, 0x4f, 0x3a], ascii0, '=',
      jis, [0x24, 0x64, 0x24, 0x5e, 0x24, 0x40], ascii0, '^',
      jis, [0x24, 0x3f, 0x24, 0x6d, 0x24, 0x26], ascii0,
    ),
  },
  {
    name: 'PS3.5 H.3.2 (Japanese, ISO 2022 IR 13 half-width katakana and ISO 2022 IR 87)',
    charset: ['ISO 2022 IR 13', 'ISO 2022 IR 87'],
    vr: 'PN',
    text: 'ﾔﾏﾀﾞ^ﾀﾛｳ=山田^太郎=やまだ^たろう',
    bytes: bytes(
      [0xd4, 0xcf, 0xc0, 0xde], '^', [0xc0, 0xdb, 0xb3], '=',
      jis, [0x3b, 0x33, 0x45, 0x44], romaji0, '^',
      jis, [0x42, 0x40, 0x4f, 0x3a], romaji0, '=',
      jis, [0x24, 0x64, 0x24, 0x5e, 0x24, 0x40], romaji0, '^',
      jis, [0x24, 0x3f, 0x24, 0x6d, 0x24, 0x26], romaji0,
    ),
  },
  {
    name: 'PS3.5 I.2 (Korean, ISO 2022 IR 149, escape before every Hangul/Hanja component)',
    charset: ['', 'ISO 2022 IR 149'],
    vr: 'PN',
    text: 'Hong^Gildong=洪^吉洞=홍^길동',
    bytes: bytes(
      'Hong^Gildong=',
      ksx1, [0xfb, 0xf3], '^',
      ksx1, [0xd1, 0xce, 0xd4, 0xd7], '=',
      ksx1, [0xc8, 0xab], '^',
      ksx1, [0xb1, 0xe6, 0xb5, 0xbf],
    ),
  },
  {
    name: 'PS3.5 J.1 (Chinese, ISO_IR 192 UTF-8, traditional script)',
    charset: ['ISO_IR 192'],
    vr: 'PN',
    text: 'Wang^XiaoDong=王^小東=',
    bytes: hex('57 61 6e 67 5e 58 69 61 6f 44 6f 6e 67 3d e7 8e 8b 5e e5 b0 8f e6 9d b1 3d'),
  },
  {
    name: 'PS3.5 J.2 (Chinese long text, ISO_IR 192 UTF-8)',
    charset: ['ISO_IR 192'],
    vr: 'LT',
    text: 'The first line includes中文.\r\nThe second line includes中文, too.\r\nThe third line.\r\n',
    bytes: hex(`
      54 68 65 20 66 69 72 73 74 20 6c 69 6e 65 20 69 6e 63 6c 75 64 65 73 e4 b8 ad e6 96 87 2e 0d 0a
      54 68 65 20 73 65 63 6f 6e 64 20 6c 69 6e 65 20 69 6e 63 6c 75 64 65 73 e4 b8 ad e6 96 87 2c 20
      74 6f 6f 2e 0d 0a 54 68 65 20 74 68 69 72 64 20 6c 69 6e 65 2e 0d 0a`),
  },
  {
    // The brief this module was written from quoted 小東; the standard's bytes B6 AB are the
    // simplified 东 ("In this example the simplified script is used"), so that is what we check.
    name: 'PS3.5 J.3 (Chinese, GB18030, simplified script)',
    charset: ['GB18030'],
    vr: 'PN',
    text: 'Wang^XiaoDong=王^小东=',
    bytes: hex('57 61 6e 67 5e 58 69 61 6f 44 6f 6e 67 3d cd f5 5e d0 a1 b6 ab 3d'),
  },
  {
    // Annex J: "the examples of GB 18030 ... are used to demonstrate ... both standards" (GBK too).
    name: 'PS3.5 J.3 read as GBK',
    charset: ['GBK'],
    vr: 'PN',
    text: 'Wang^XiaoDong=王^小东=',
    bytes: hex('57 61 6e 67 5e 58 69 61 6f 44 6f 6e 67 3d cd f5 5e d0 a1 b6 ab 3d'),
  },
  {
    name: 'PS3.5 J.4 (Chinese long text, GB18030)',
    charset: ['GB18030'],
    vr: 'LT',
    text: 'The first line includes中文.\r\nThe second line includes中文, too.\r\nThe third line.\r\n',
    bytes: hex(`
      54 68 65 20 66 69 72 73 74 20 6c 69 6e 65 20 69 6e 63 6c 75 64 65 73 d6 d0 ce c4 2e 0d 0a
      54 68 65 20 73 65 63 6f 6e 64 20 6c 69 6e 65 20 69 6e 63 6c 75 64 65 73 d6 d0 ce c4 2c 20
      74 6f 6f 2e 0d 0a 54 68 65 20 74 68 69 72 64 20 6c 69 6e 65 2e 0d 0a`),
  },
  {
    // Annex K.2 prints the value with its trailing pad byte 0x20; the pad is checked below.
    name: 'PS3.5 K.2 (Chinese, ISO 2022 IR 58, escape before every Hanzi component)',
    charset: ['', 'ISO 2022 IR 58'],
    vr: 'PN',
    text: 'Zhang^XiaoDong=张^小东=',
    bytes: bytes('Zhang^XiaoDong=', gb1, [0xd5, 0xc5], '^', gb1, [0xd0, 0xa1, 0xb6, 0xab], '='),
  },
  {
    name: 'PS3.5 K.3 (Chinese long text, ISO 2022 IR 58, G1 designated again on every line)',
    charset: ['', 'ISO 2022 IR 58'],
    vr: 'LT',
    text: '1.第一行文字。\r\n2.第二行文字。\r\n3.第三行文字。\r\n',
    bytes: bytes(
      '1.', gb1, [0xb5, 0xda, 0xd2, 0xbb, 0xd0, 0xd0, 0xce, 0xc4, 0xd7, 0xd6, 0xa1, 0xa3, 0x0d, 0x0a],
      '2.', gb1, [0xb5, 0xda, 0xb6, 0xfe, 0xd0, 0xd0, 0xce, 0xc4, 0xd7, 0xd6, 0xa1, 0xa3, 0x0d, 0x0a],
      '3.', gb1, [0xb5, 0xda, 0xc8, 0xfd, 0xd0, 0xd0, 0xce, 0xc4, 0xd7, 0xd6, 0xa1, 0xa3, 0x0d, 0x0a],
    ),
  },
  {
    name: 'Latin-1 (ISO_IR 100)',
    charset: ['ISO_IR 100'],
    vr: 'PN',
    text: 'Buc^Jérôme',
    bytes: hex('42 75 63 5e 4a e9 72 f4 6d 65'),
  },
  {
    name: 'Latin-2 (ISO_IR 101)',
    charset: ['ISO_IR 101'],
    vr: 'PN',
    text: 'Wałęsa^Łódź',
    bytes: hex('57 61 b3 ea 73 61 5e a3 f3 64 bc'),
  },
  {
    name: 'Latin-5 (ISO_IR 148)',
    charset: ['ISO_IR 148'],
    vr: 'PN',
    text: 'Öztürk^Şükrü',
    bytes: hex('d6 7a 74 fc 72 6b 5e de fc 6b 72 fc'),
  },
  {
    name: 'Latin-9 (ISO_IR 203)',
    charset: ['ISO_IR 203'],
    vr: 'LO',
    text: 'Œuvre€',
    bytes: hex('bc 75 76 72 65 a4'),
  },
  {
    name: 'Greek (ISO_IR 126)',
    charset: ['ISO_IR 126'],
    vr: 'PN',
    text: 'Διονυσιος',
    bytes: hex('c4 e9 ef ed f5 f3 e9 ef f2'),
  },
  {
    // As in the classic test file: the c, e, y and p are Latin letters among the Cyrillic.
    name: 'Cyrillic (ISO_IR 144)',
    charset: ['ISO_IR 144'],
    vr: 'PN',
    text: 'Люкceмбypг',
    bytes: hex('bb ee da 63 65 dc d1 79 70 d3'),
  },
  {
    name: 'Arabic (ISO_IR 127)',
    charset: ['ISO_IR 127'],
    vr: 'PN',
    text: 'قباني^لنزار',
    bytes: hex('e2 c8 c7 e6 ea 5e e4 e6 d2 c7 d1'),
  },
  {
    name: 'Hebrew (ISO_IR 138)',
    charset: ['ISO_IR 138'],
    vr: 'PN',
    text: 'שרון^דבורה',
    bytes: hex('f9 f8 e5 ef 5e e3 e1 e5 f8 e4'),
  },
  {
    name: 'Thai (ISO_IR 166)',
    charset: ['ISO_IR 166'],
    vr: 'LO',
    text: 'ประเทศไทย',
    bytes: hex('bb c3 d0 e0 b7 c8 e4 b7 c2'),
  },
  {
    name: 'Japanese half-width katakana without code extensions (ISO_IR 13)',
    charset: ['ISO_IR 13'],
    vr: 'PN',
    text: 'ﾔﾏﾀﾞ^ﾀﾛｳ',
    bytes: hex('d4 cf c0 de 5e c0 db b3'),
  },
  {
    name: 'Latin-1 and Cyrillic with code extensions (ISO 2022 IR 100\\ISO 2022 IR 144)',
    charset: ['ISO 2022 IR 100', 'ISO 2022 IR 144'],
    vr: 'PN',
    // Cyrillic is designated with ESC - L and Latin-1, value 1's G1, restored with ESC - A
    // before the delimiter and at the end (PS3.5 6.1.2.5.3).
    text: 'Jérôme^Люк',
    bytes: bytes('J', 0xe9, 'r', 0xf4, 'me^', [ESC, 0x2d, 0x4c], [0xbb, 0xee, 0xda], [ESC, 0x2d, 0x41]),
  },
];

describe('PS3.5 worked examples', () => {
  describe.each(EXAMPLES)('$name', ({ charset, vr, text, bytes: encoded }) => {
    it('decodes to the exact string', () => {
      expect(decodeText(encoded, charset, vr)).toBe(text);
    });
    it('encodes to the exact bytes', () => {
      expect(encodeText(text, charset, vr).toString('hex')).toBe(encoded.toString('hex'));
    });
    it('decodes without warnings', () => {
      const warnings: string[] = [];
      decodeText(encoded, charset, vr, { onWarning: (w) => warnings.push(w) });
      expect(warnings).toEqual([]);
    });
  });

  it('K.2 as printed, with its pad byte, decodes and trims to the name', () => {
    const printed = hex(`5A 68 61 6E 67 5E 58 69 61 6F 44 6F 6E 67 3D 1B 24 29 41 D5 C5 5E
                         1B 24 29 41 D0 A1 B6 AB 3D 20`);
    const decoded = decodeText(printed, ['', 'ISO 2022 IR 58'], 'PN');
    expect(decoded).toBe('Zhang^XiaoDong=张^小东= ');
    expect(trimPadding(decoded)).toBe('Zhang^XiaoDong=张^小东=');
  });

  it('splits the examples into component groups', () => {
    expect(parsePersonName(decodeText(EXAMPLES[0]!.bytes, ['', 'ISO 2022 IR 87'], 'PN'))).toEqual({
      alphabetic: 'Yamada^Tarou',
      ideographic: '山田^太郎',
      phonetic: 'やまだ^たろう',
    });
    expect(parsePersonName(decodeText(EXAMPLES[3]!.bytes, ['ISO_IR 192'], 'PN'))).toEqual({
      alphabetic: 'Wang^XiaoDong',
      ideographic: '王^小東',
    });
  });

  it('I.3: reads Korean long text with the escape at the head of each line', () => {
    // Annex I.3 puts ESC $ ) C at the start of each line rather than before the first Hangul.
    const text = bytes(
      ksx1, 'The first line includes', [0xc7, 0xd1, 0xb1, 0xdb], '.\r\n',
      ksx1, 'The second line includes', [0xc7, 0xd1, 0xb1, 0xdb], ', too.\r\n',
      'The third line',
    );
    expect(decodeText(text, ['', 'ISO 2022 IR 149'], 'LT')).toBe(
      'The first line includes한글.\r\nThe second line includes한글, too.\r\nThe third line',
    );
  });
});
