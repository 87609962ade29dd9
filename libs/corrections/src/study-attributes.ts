import { type DicomJsonAttribute, Tag, tagToHex } from '#vna/dicom';
import { CorrectionError } from './corrections.errors.js';

/** The study-level attributes a correction may change: each has an index column queries match on. */
export const CORRECTABLE = {
  StudyDescription: { tag: Tag.StudyDescription, vr: 'LO', column: 'description' },
  AccessionNumber: { tag: Tag.AccessionNumber, vr: 'SH', column: 'accession_number' },
  StudyDate: { tag: Tag.StudyDate, vr: 'DA', column: 'study_date' },
  StudyTime: { tag: Tag.StudyTime, vr: 'TM', column: 'study_time' },
  ReferringPhysicianName: { tag: Tag.ReferringPhysicianName, vr: 'PN', column: 'referring_physician' },
  StudyID: { tag: Tag.StudyID, vr: 'SH', column: 'study_id' },
} as const;

export type CorrectableKeyword = keyof typeof CORRECTABLE;
export type StudyColumn = (typeof CORRECTABLE)[CorrectableKeyword]['column'];

/** One validated change: the column's new value and the DICOM JSON attribute laid over objects. */
export interface AttributeChange {
  readonly keyword: CorrectableKeyword;
  readonly key: string;
  readonly column: StudyColumn;
  readonly columnValue: string | null;
  readonly attribute: DicomJsonAttribute;
}

/** Maximum value lengths in characters (PS3.5 6.2). */
const MAX_LENGTH: Record<string, number> = { LO: 64, SH: 16, PN: 64 };

function validDate(v: string): boolean {
  if (!/^\d{8}$/.test(v)) return false;
  const y = Number(v.slice(0, 4));
  const m = Number(v.slice(4, 6));
  const d = Number(v.slice(6, 8));
  const date = new Date(Date.UTC(y, m - 1, d));
  return date.getUTCFullYear() === y && date.getUTCMonth() === m - 1 && date.getUTCDate() === d;
}

/** TM (PS3.5 6.2): HH, HHMM, HHMMSS or HHMMSS.F{1,6}, in range. */
function validTime(v: string): boolean {
  const m = /^(\d{2})(?:(\d{2})(?:(\d{2})(?:\.\d{1,6})?)?)?$/.exec(v);
  if (!m) return false;
  return Number(m[1]) < 24 && (m[2] === undefined || Number(m[2]) < 60) && (m[3] === undefined || Number(m[3]) < 60);
}

/**
 * Checks a value against its VR (PS3.5 6.2): length, characters (no backslash: a correction sets
 * one value; no control characters), DA and TM forms, PN's at most five components per group.
 */
function checkValue(keyword: string, vr: string, value: string): void {
  const bad = (why: string): never => {
    throw new CorrectionError('invalid', `${keyword}: ${why}`);
  };
  if (/[\\\u0000-\u001f\u007f]/.test(value)) bad('a single value without backslashes or control characters');
  if (vr === 'DA' && !validDate(value)) bad(`"${value}" is not a date (DA: YYYYMMDD)`);
  if (vr === 'TM' && !validTime(value)) bad(`"${value}" is not a time (TM: HHMMSS.FFFFFF)`);
  if (vr === 'PN') {
    const groups = value.split('=');
    if (groups.length > 3) bad('a person name has at most three component groups');
    for (const g of groups) {
      if ([...g].length > 64) bad('a person name component group is at most 64 characters');
      if (g.split('^').length > 5) bad('a person name has at most five components');
    }
  } else if (MAX_LENGTH[vr] !== undefined && [...value].length > MAX_LENGTH[vr]!) {
    bad(`at most ${MAX_LENGTH[vr]} characters (${vr})`);
  }
  if ((vr === 'SH' || vr === 'LO') && value !== value.trim()) bad('no leading or trailing spaces');
}

/**
 * The changes a request asks for, validated: a JSON object of keywords to a string (the new value)
 * or null (the attribute emptied). Anything else is refused as a whole, naming what was wrong.
 */
export function parseAttributeChanges(body: unknown): AttributeChange[] {
  if (!body || typeof body !== 'object' || Array.isArray(body)) throw new CorrectionError('invalid', 'attributes must be an object of keyword to value');
  const entries = Object.entries(body as Record<string, unknown>);
  if (entries.length === 0) throw new CorrectionError('invalid', 'no attribute to change');
  return entries.map(([keyword, value]) => {
    const def = (CORRECTABLE as Record<string, (typeof CORRECTABLE)[CorrectableKeyword]>)[keyword];
    if (!def) throw new CorrectionError('invalid', `${keyword} cannot be corrected here (one of ${Object.keys(CORRECTABLE).join(', ')})`);
    if (value !== null && typeof value !== 'string') throw new CorrectionError('invalid', `${keyword}: a string, or null to empty it`);
    const text = value === null || value === '' ? null : value;
    if (text !== null) checkValue(keyword, def.vr, text);
    const key = tagToHex(def.tag);
    let attribute: DicomJsonAttribute;
    if (text === null) attribute = { vr: def.vr };
    else if (def.vr === 'PN') {
      const [alphabetic, ideographic, phonetic] = text.split('=');
      const pn: Record<string, string> = {};
      if (alphabetic) pn['Alphabetic'] = alphabetic;
      if (ideographic) pn['Ideographic'] = ideographic;
      if (phonetic) pn['Phonetic'] = phonetic;
      attribute = { vr: 'PN', Value: [pn] };
    } else attribute = { vr: def.vr, Value: [text] };
    // The referring physician's column holds the alphabetic group (what PN matching compares).
    const columnValue = def.vr === 'PN' ? (text === null ? '' : (text.split('=')[0] ?? '')) : text;
    return { keyword: keyword as CorrectableKeyword, key, column: def.column, columnValue, attribute };
  });
}
