import iconv from 'iconv-lite';
import { codeElementForEscape } from './code-elements.js';
import type { CodeElement } from './code-elements.js';
import { resolveSpecificCharacterSet } from './specific-character-set.js';
import type { SpecificCharacterSet, VariableLengthEncoding } from './specific-character-set.js';
import { delimitersFor, isCharsetVr } from './text-vr.js';

export interface DecodeOptions {
  /** Told of every oddity met (unknown terms, undeclared escapes, broken characters). */
  readonly onWarning?: (message: string) => void;
}

const ESC = 0x1b;
const DEL = 0x7f;
const REPLACEMENT = 0xfffd;

function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** Collects UTF-16 code units and strings without quadratic concatenation. */
class TextBuilder {
  private readonly parts: string[] = [];
  private units: number[] = [];

  unit(u: number): void {
    this.units.push(u);
    if (this.units.length >= 8192) this.flush();
  }

  text(s: string): void {
    if (s.length === 1) {
      this.unit(s.charCodeAt(0));
      return;
    }
    this.flush();
    this.parts.push(s);
  }

  private flush(): void {
    if (this.units.length > 0) {
      this.parts.push(String.fromCharCode(...this.units));
      this.units = [];
    }
  }

  toString(): string {
    this.flush();
    return this.parts.join('');
  }
}

function decodeVariableLength(bytes: Uint8Array, encoding: VariableLengthEncoding): string {
  const buf = asBuffer(bytes);
  // Decoding the whole field at once is what keeps a GB18030/GBK trail byte 0x5C from being
  // taken for a value delimiter; UTF-8 never has 0x5C inside a character.
  return encoding === 'utf-8' ? buf.toString('utf8') : iconv.decode(buf, encoding);
}

/**
 * ISO 2022 decoding (PS3.5 6.1.2.5): a G0 set in GL and a G1 set in GR, both switched by escape
 * sequences and both back to the initial designation at every reset point (6.1.2.5.3).
 */
function decodeIso2022(
  bytes: Uint8Array,
  cs: SpecificCharacterSet,
  delimiters: ReadonlySet<number>,
  warn: (message: string) => void,
): string {
  let g0 = cs.initialG0;
  let g1: CodeElement | undefined = cs.initialG1;
  const reset = () => {
    g0 = cs.initialG0;
    g1 = cs.initialG1;
  };
  const out = new TextBuilder();
  const n = bytes.length;
  let i = 0;
  while (i < n) {
    const b = bytes[i]!;

    if (b === ESC) {
      // ESC, intermediate bytes 02/00-02/15, one final byte 03/00-07/14 (ISO/IEC 2022 13.1).
      let j = i + 1;
      while (j < n && bytes[j]! >= 0x20 && bytes[j]! <= 0x2f) j++;
      if (j < n && bytes[j]! >= 0x30 && bytes[j]! <= 0x7e) {
        const seq = String.fromCharCode(...bytes.subarray(i + 1, j + 1));
        const element = codeElementForEscape(seq);
        if (element) {
          if (element.register === 'G0') g0 = element;
          else g1 = element;
          if (!cs.codeElements.includes(element)) {
            warn(`escape sequence ESC ${seq} designates ${element.registration}, which Specific Character Set "${cs.label}" does not declare`);
          }
        } else {
          warn(`unknown escape sequence ESC ${seq} ignored`);
        }
        i = j + 1;
      } else {
        warn('incomplete escape sequence ignored');
        i = j;
      }
      continue;
    }

    if (b < 0x20 || b === DEL) {
      // Every control character but ESC is preceded by a return to the initial designation.
      out.unit(b);
      if (b !== DEL) reset();
      i++;
      continue;
    }

    if (b === 0x20) {
      // SPACE is not part of any 94-character set: it is space whatever G0 holds.
      out.unit(b);
      i++;
      continue;
    }

    if (b < 0x80) {
      if (g0.bytesPerChar === 1) {
        if (delimiters.has(b)) {
          // A delimiter is ASCII by definition (in ISO-IR 14, 05/12 still separates values).
          out.unit(b);
          reset();
        } else {
          out.text(g0.decode(b, 0));
        }
        i++;
      } else {
        // Two-byte G0 (JIS X 0208/0212): take bytes in pairs, so a 0x5C, 0x5E or 0x3D that is
        // the second byte of a character is never a delimiter.
        const b2 = i + 1 < n ? bytes[i + 1]! : -1;
        if (b2 >= 0x21 && b2 <= 0x7e) {
          out.text(g0.decode(b, b2));
          i += 2;
        } else {
          warn(`lone byte 0x${b.toString(16)} in a two-byte ${g0.registration} run`);
          out.unit(REPLACEMENT);
          i++;
        }
      }
      continue;
    }

    // GR: the G1 set.
    if (b < 0xa0) {
      // 08/00-09/15 are C1 controls in every ISO 2022 8-bit code (ISO/IEC 2022 8.3).
      out.unit(b);
      i++;
      continue;
    }
    let element = g1;
    if (!element) {
      // Nothing designated to G1 (value 1 empty, or after a reset). Many writers put one escape
      // at the start of the value, or none at all: read GR with the first G1 set declared.
      element = cs.fallbackG1;
      warn(`GR byte 0x${b.toString(16)} with no G1 designation; read as ${element.registration}`);
    }
    if (element.bytesPerChar === 1) {
      out.text(element.decode(b & 0x7f, 0));
      i++;
    } else {
      const b2 = i + 1 < n ? bytes[i + 1]! : -1;
      if (b >= 0xa1 && b <= 0xfe && b2 >= 0xa1 && b2 <= 0xfe) {
        out.text(element.decode(b & 0x7f, b2 & 0x7f));
        i += 2;
      } else {
        warn(`lone byte 0x${b.toString(16)} in a two-byte ${element.registration} run`);
        out.unit(REPLACEMENT);
        i++;
      }
    }
  }
  return out.toString();
}

function isPlainAscii(bytes: Uint8Array): boolean {
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i]!;
    if (b >= 0x80 || b === ESC) return false;
  }
  return true;
}

/**
 * Decode a whole value field (every value, delimiters included) to a string. Only SH, LO, ST,
 * LT, UT, UC and PN use the character set (PS3.5 6.1.2.3); any other VR is read as ASCII, with
 * bytes above 0x7F kept as Latin-1 so nothing is lost.
 *
 * Split the result on '\\' afterwards (see splitValues): decoding first is what makes a 0x5C
 * inside a multi-byte character safe. Padding is left in place (see trimPadding).
 */
export function decodeText(
  bytes: Uint8Array,
  specificCharacterSet: readonly string[] | SpecificCharacterSet | undefined,
  vr: string,
  options: DecodeOptions = {},
): string {
  if (!isCharsetVr(vr)) return asBuffer(bytes).toString('latin1');
  const cs = resolveSpecificCharacterSet(specificCharacterSet);
  const warned = new Set<string>();
  const warn = (message: string) => {
    if (options.onWarning && !warned.has(message)) {
      warned.add(message);
      options.onWarning(message);
    }
  };
  cs.warnings.forEach(warn);
  if (cs.variableLength) return decodeVariableLength(bytes, cs.variableLength);
  // The common case: ASCII G0 and nothing but ASCII in the value.
  if (cs.initialG0.registration === 'ISO-IR 6' && isPlainAscii(bytes)) return asBuffer(bytes).toString('latin1');
  return decodeIso2022(bytes, cs, delimitersFor(vr), warn);
}
