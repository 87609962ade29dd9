import { randomBytes } from 'node:crypto';

/**
 * Writing HL7 v2 text with the default delimiters |^~\& (HL7 2.5.1 2.5.4, 2.7). Pure.
 */

/** Escapes one primitive value (HL7 2.5.1 2.7.1): the escape character first, then the delimiters. */
export function escapeHl7(text: string): string {
  return text.replace(/\\/g, '\\E\\').replace(/\|/g, '\\F\\').replace(/\^/g, '\\S\\').replace(/&/g, '\\T\\').replace(/~/g, '\\R\\').replace(/[\r\n]+/g, ' ');
}

/** A composite value from its components (each escaped), trailing empty components dropped. */
export function components(...parts: readonly (string | null | undefined)[]): string {
  return parts.map((p) => escapeHl7(p ?? '')).join('^').replace(/\^+$/, '');
}

/** A segment from its fields (already composed), trailing empty fields dropped. */
export function segment(name: string, fields: readonly string[]): string {
  return [name, ...fields].join('|').replace(/\|+$/, '');
}

/** HL7 TS to the second, local time: YYYYMMDDHHMMSS. */
export function hl7Now(d: Date): string {
  const p = (n: number, w = 2): string => String(n).padStart(w, '0');
  return `${p(d.getFullYear(), 4)}${p(d.getMonth() + 1)}${p(d.getDate())}${p(d.getHours())}${p(d.getMinutes())}${p(d.getSeconds())}`;
}

/** A unique MSH-10 for a message the archive sends: at most 20 characters (ST in 2.3.1), time-ordered. */
export function outboundControlId(now = Date.now()): string {
  return `V${now.toString(36).toUpperCase()}${randomBytes(4).toString('hex').toUpperCase()}`;
}

/** DICOM PN (family^given^middle^prefix^suffix) to XPN components (family^given^middle^suffix^prefix). */
export function pnToXpn(pn: string): string {
  const [family = '', given = '', middle = '', prefix = '', suffix = ''] = (pn.split('=')[0] ?? '').split('^');
  return components(family, given, middle, suffix, prefix);
}
