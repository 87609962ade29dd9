import iconv from 'iconv-lite';
import type { CodeElement } from './code-elements.js';
import { CharsetEncodeError } from './errors.js';
import { resolveSpecificCharacterSet } from './specific-character-set.js';
import type { SpecificCharacterSet, VariableLengthEncoding } from './specific-character-set.js';
import { delimitersFor, isCharsetVr } from './text-vr.js';

const ESC = 0x1b;
const DEL = 0x7f;

const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

function encodeVariableLength(
  text: string,
  encoding: VariableLengthEncoding,
  cs: SpecificCharacterSet,
  vr: string,
): Buffer {
  const lone = LONE_SURROGATE.exec(text);
  if (lone) throw new CharsetEncodeError(lone[0], cs.label, lone.index, vr, 'not well-formed UTF-16');
  if (encoding === 'utf-8') return Buffer.from(text, 'utf8');
  const out = iconv.encode(text, encoding);
  // iconv-lite writes '?' for what it cannot map; a round trip is the only reliable test.
  if (iconv.decode(out, encoding) === text) return out;
  let index = 0;
  for (const ch of text) {
    if (iconv.decode(iconv.encode(ch, encoding), encoding) !== ch) {
      throw new CharsetEncodeError(ch, cs.label, index, vr);
    }
    index += ch.length;
  }
  return out;
}

/**
 * ISO 2022 encoding (PS3.5 6.1.2.5, Annexes H, I, K). Each character goes in the G0 or G1 set
 * in force if they have it, else in the first declared set that does, after that set's escape
 * sequence. Before every control character and delimiter, and at the end of the value, the
 * initial designation is restored (6.1.2.5.3): ESC ( B or ESC ( J back to the initial G0, and
 * the initial G1's escape if value 1 has a G1 set. A G1 set that value 1 lacks cannot be
 * undone by an escape, so it is simply designated again where next needed, as Annex I shows.
 */
function encodeIso2022(text: string, cs: SpecificCharacterSet, vr: string): Buffer {
  const delimiters = delimitersFor(vr);
  const out: number[] = [];
  let g0: CodeElement = cs.initialG0;
  let g1: CodeElement | undefined = cs.initialG1;
  const restore = () => {
    if (g0 !== cs.initialG0) {
      out.push(...cs.initialG0.escape);
      g0 = cs.initialG0;
    }
    if (g1 !== cs.initialG1) {
      if (cs.initialG1) out.push(...cs.initialG1.escape);
      g1 = cs.initialG1;
    }
  };
  // A single-byte G0 position that is a delimiter of this VR can only mean the delimiter
  // (05/12 is YEN SIGN in ISO-IR 14, yet it still separates values): never write a character there.
  const positionsIn = (e: CodeElement | undefined, ch: string): readonly number[] | undefined => {
    if (!e) return undefined;
    const p = e.encode(ch);
    if (p && e.register === 'G0' && e.bytesPerChar === 1 && delimiters.has(p[0]!)) return undefined;
    return p;
  };
  const emit = (e: CodeElement, positions: readonly number[]) => {
    for (const p of positions) out.push(e.register === 'G1' ? p | 0x80 : p);
  };

  let index = 0;
  for (const ch of text) {
    const cp = ch.codePointAt(0)!;
    if (cp === ESC) {
      throw new CharsetEncodeError(ch, cs.label, index, vr, 'ESC would start an escape sequence');
    }
    if (cp < 0x20 || cp === DEL || (cp < 0x80 && delimiters.has(cp))) {
      restore();
      out.push(cp);
      index += ch.length;
      continue;
    }
    let done = false;
    for (const current of [g0, g1]) {
      const p = positionsIn(current, ch);
      if (current && p) {
        emit(current, p);
        done = true;
        break;
      }
    }
    if (!done) {
      for (const e of cs.codeElements) {
        if (e === g0 || e === g1) continue;
        const p = positionsIn(e, ch);
        if (!p) continue;
        out.push(...e.escape);
        if (e.register === 'G0') g0 = e;
        else g1 = e;
        emit(e, p);
        done = true;
        break;
      }
    }
    if (!done) throw new CharsetEncodeError(ch, cs.label, index, vr);
    index += ch.length;
  }
  restore();
  return Buffer.from(out);
}

/** Default repertoire only (PS3.5 6.1.2.3): what every VR but the seven text VRs may hold. */
function encodeDefaultRepertoire(text: string, cs: SpecificCharacterSet, vr: string): Buffer {
  let index = 0;
  for (const ch of text) {
    if (ch.codePointAt(0)! > 0x7f) {
      throw new CharsetEncodeError(ch, cs.label, index, vr, `${vr} is limited to the default repertoire (PS3.5 6.1.2.3)`);
    }
    index += ch.length;
  }
  return Buffer.from(text, 'latin1');
}

/**
 * Encode a whole value field (values joined with '\\', PN groups with '=' and components with
 * '^') in the given Specific Character Set. Throws CharsetEncodeError for a character the set
 * cannot represent. No padding is added: making the length even is the writer's business.
 */
export function encodeText(
  text: string,
  specificCharacterSet: readonly string[] | SpecificCharacterSet | undefined,
  vr: string,
): Buffer {
  const cs = resolveSpecificCharacterSet(specificCharacterSet);
  if (!isCharsetVr(vr)) return encodeDefaultRepertoire(text, cs, vr);
  if (cs.variableLength) return encodeVariableLength(text, cs.variableLength, cs, vr);
  return encodeIso2022(text, cs, vr);
}

/**
 * The Specific Character Set to write text with: none (the default repertoire) for pure ASCII,
 * otherwise UTF-8, which represents everything and needs no code extensions.
 */
export function chooseCharacterSetFor(text: string): string[] {
  // eslint-disable-next-line no-control-regex
  return /^[\u0000-\u007f]*$/.test(text) ? [] : ['ISO_IR 192'];
}
