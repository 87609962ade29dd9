/**
 * Which value representations the character set applies to, and where each resets it.
 */

/** Only these VRs use Specific Character Set; all others are default repertoire (PS3.5 6.1.2.3). */
const CHARSET_VRS: ReadonlySet<string> = new Set(['SH', 'LO', 'ST', 'LT', 'UT', 'UC', 'PN']);

/** Single-valued text: a backslash is a character there, not a delimiter (PS3.5 6.2, 6.4). */
const SINGLE_VALUED_TEXT: ReadonlySet<string> = new Set(['ST', 'LT', 'UT']);

export const BACKSLASH = 0x5c;
export const CARET = 0x5e;
export const EQUALS = 0x3d;

export function isCharsetVr(vr: string): boolean {
  return CHARSET_VRS.has(vr);
}

/** True when '\\' separates values of this VR (every string VR but ST, LT, UT). */
export function isMultiValued(vr: string): boolean {
  return !SINGLE_VALUED_TEXT.has(vr);
}

const PN_DELIMITERS: ReadonlySet<number> = new Set([BACKSLASH, CARET, EQUALS]);
const VALUE_DELIMITER: ReadonlySet<number> = new Set([BACKSLASH]);
const NONE: ReadonlySet<number> = new Set();

/**
 * Graphic characters after which the initial designation is back in force (PS3.5 6.1.2.5.3):
 * the value delimiter, and for PN the component group and component delimiters. Control
 * characters (CR, LF, FF, TAB, ...) are reset points for every VR and are not listed here.
 */
export function delimitersFor(vr: string): ReadonlySet<number> {
  if (vr === 'PN') return PN_DELIMITERS;
  return isMultiValued(vr) ? VALUE_DELIMITER : NONE;
}

/**
 * Remove the padding of one value: trailing spaces (PS3.5 6.2, every string VR) and trailing
 * NULs (UI pads with NUL; some writers wrongly pad other VRs with it too). Leading spaces are
 * left alone: they are significant in ST, LT and UT, and the caller knows its VR's rules.
 */
export function trimPadding(value: string): string {
  let end = value.length;
  while (end > 0) {
    const c = value.charCodeAt(end - 1);
    if (c !== 0x20 && c !== 0x00) break;
    end--;
  }
  return end === value.length ? value : value.slice(0, end);
}

/**
 * Split a decoded value field into values. Safe on the output of decodeText for every character
 * set: a 0x5C inside a multi-byte character never became a '\\' (PS3.5 6.1.2.5.3).
 * ST, LT and UT are single-valued, so their text comes back whole.
 */
export function splitValues(decoded: string, vr: string): string[] {
  return isMultiValued(vr) ? decoded.split('\\') : [decoded];
}
