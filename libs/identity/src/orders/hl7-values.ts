import type { Hl7Segment } from '#vna/hl7';
import type { CodedValue, PersonNameGroups } from './order.model.js';

/**
 * HL7 v2 data types to their DICOM forms (HL7 2.5.1 chapter 2A; the mapping of IHE RAD TF-2
 * Appendix B). Pure: segment values in, DICOM text out.
 */

/** Joins PN components, dropping empty trailing ones ('Doe^John^^^' -> 'Doe^John'). */
function pn(components: readonly string[]): string {
  return components.join('^').replace(/\^+$/, '');
}

/**
 * XPN (family&...^given^middle^suffix^prefix^degree^type^representation) to DICOM PN
 * (family^given^middle^prefix^suffix, PS3.5 6.2.1.1).
 */
export function xpnToPn(segment: Hl7Segment, field: number, repetition = 0): string {
  const c = (n: number): string => segment.get(field, n, 1, repetition).trim();
  return pn([c(1), c(2), c(3), c(5), c(4)]);
}

/**
 * A patient name with every repetition of the field: XPN-8 (name representation code, table 4000)
 * says which DICOM group a repetition is: A alphabetic (the default), I ideographic, P phonetic.
 */
export function xpnGroups(segment: Hl7Segment, field: number): PersonNameGroups {
  const groups = { alphabetic: '', ideographic: '', phonetic: '' };
  const count = Math.max(1, segment.repetitions(field));
  for (let r = 0; r < count; r++) {
    const name = xpnToPn(segment, field, r);
    if (!name) continue;
    const code = segment.get(field, 8, 1, r).trim().toUpperCase();
    const group = code === 'I' ? 'ideographic' : code === 'P' ? 'phonetic' : 'alphabetic';
    if (!groups[group]) groups[group] = name;
  }
  return groups;
}

/** XCN (id^family^given^middle^suffix^prefix^degree) to DICOM PN; the id alone when there is no name. */
export function xcnToPn(segment: Hl7Segment, field: number, repetition = 0): string {
  const c = (n: number): string => segment.get(field, n, 1, repetition).trim();
  const name = pn([c(2), c(3), c(4), c(6), c(5)]);
  return name || c(1);
}

/** NDL (name&id...^start^end^...): its first component is a CNN whose subcomponents are id&family&given&middle&suffix&prefix. */
export function ndlToPn(segment: Hl7Segment, field: number): string {
  const s = (n: number): string => segment.get(field, 1, n).trim();
  const name = pn([s(2), s(3), s(4), s(6), s(5)]);
  return name || s(1);
}

/** The group-joined DICOM PN value ('Alphabetic=Ideographic=Phonetic', trailing empty groups dropped). */
export function pnValue(groups: PersonNameGroups): string {
  return [groups.alphabetic, groups.ideographic, groups.phonetic].join('=').replace(/=+$/, '');
}

/**
 * TS/DTM (YYYY[MM[DD[HH[MM[SS[.S+]]]]]][+/-ZZZZ]) to DICOM DA and TM. The time zone is dropped:
 * the worklist's dates and times are local to the department (PS3.4 K.6: no offset in matching).
 * Undefined when the value is not a date.
 */
export function tsToDicom(ts: string): { date: string; time: string } | undefined {
  const m = /^(\d{8})(\d{2}(?:\d{2}(?:\d{2}(?:\.\d{1,6})?)?)?)?(?:[+-]\d{4})?$/.exec(ts.trim());
  if (!m) return undefined;
  // HHMMSS at least, so that stored times compare as text with worklist query ranges.
  const time = m[2] ? (m[2].length < 6 ? m[2].padEnd(6, '0') : m[2]) : '';
  return { date: m[1]!, time };
}

/** A date (TS or DT's date part) to DA; null when absent or not a full date. */
export function dateToDa(ts: string): string | null {
  return tsToDicom(ts)?.date ?? null;
}

/** Administrative sex (table 0001) to DICOM Patient's Sex: M, F, O; unknown stays unknown (null). */
export function sexToDicom(value: string): string | null {
  const v = value.trim().toUpperCase();
  if (v === 'M' || v === 'F') return v;
  if (v === 'O' || v === 'A' || v === 'N') return 'O';
  return null;
}

/**
 * A CE/CWE code (identifier^text^coding system^alternate identifier^alternate text^alternate
 * system) as a DICOM code; `alternate` reads components 4-6. Null when it has no identifier and no text.
 */
export function codedValue(segment: Hl7Segment, field: number, repetition = 0, alternate = false): CodedValue | null {
  const base = alternate ? 3 : 0;
  const value = segment.get(field, base + 1, 1, repetition).trim();
  const meaning = segment.get(field, base + 2, 1, repetition).trim();
  const scheme = segment.get(field, base + 3, 1, repetition).trim();
  if (!value && !meaning) return null;
  return { value, scheme, meaning };
}

/** Every repetition of a coded field. */
export function codedValues(segment: Hl7Segment, field: number): CodedValue[] {
  const out: CodedValue[] = [];
  for (let r = 0; r < segment.repetitions(field); r++) {
    const code = codedValue(segment, field, r);
    if (code) out.push(code);
  }
  return out;
}

/** PL (point of care^room^bed^facility...) as one line of text for Current Patient Location. */
export function locationText(segment: Hl7Segment, field: number): string {
  return [1, 2, 3].map((n) => segment.get(field, n).trim()).filter(Boolean).join(' ');
}
