import { FhirError } from '../fhir.errors.js';

/**
 * FHIR search parameter values (https://hl7.org/fhir/R4/search.html), parsed (pure). Commas are
 * ORs (3.1.1.6); `\,` escapes a comma.
 */
export function orValues(raw: string): string[] {
  return raw
    .split(/(?<!\\),/)
    .map((v) => v.replace(/\\,/g, ',').trim())
    .filter((v) => v.length > 0);
}

export interface Token {
  /** undefined: any system; '': no system (`|code`). */
  readonly system?: string;
  /** undefined: any code (`system|`). */
  readonly code?: string;
}

/** token: `[system]|[code]` or `code` (3.1.1.4.10). */
export function parseToken(value: string): Token {
  const bar = value.search(/(?<!\\)\|/);
  const unescape = (v: string): string => v.replace(/\\\|/g, '|');
  if (bar < 0) return { code: unescape(value) };
  const system = unescape(value.slice(0, bar));
  const code = unescape(value.slice(bar + 1));
  if (!system && !code) throw new FhirError('invalid', `"${value}" is not a token (system|code)`);
  return { system, ...(code ? { code } : {}) };
}

/** A token that must carry a code (an identifier searched for): `parameter` names it in the error. */
export function parseValueToken(value: string, parameter: string): Token & { code: string } {
  const t = parseToken(value);
  if (t.code === undefined) throw new FhirError('invalid', `${parameter} needs a value ("${value}")`);
  return t as Token & { code: string };
}

/** reference: `Type/id`, `id`, or an absolute URL ending in `Type/id` (3.1.1.4.12); the id when of `type`. */
export function parseReference(value: string, type: string): string | undefined {
  const m = /^(?:.*\/)?([A-Za-z]+)\/([A-Za-z0-9\-.]{1,64})(?:\/_history\/[^/]+)?$/.exec(value);
  if (m) return m[1] === type ? m[2] : undefined;
  if (/^[A-Za-z0-9\-.]{1,64}$/.test(value)) return value;
  throw new FhirError('invalid', `"${value}" is not a reference to a ${type}`);
}

export type DatePrefix = 'eq' | 'ne' | 'gt' | 'lt' | 'ge' | 'le' | 'sa' | 'eb' | 'ap';

/** A date parameter as the DICOM DA range [low, high] it stands for (3.1.1.4.3, 3.1.1.5.6). */
export interface DateRange {
  readonly prefix: DatePrefix;
  readonly low: string;
  readonly high: string;
}

const DAYS_IN_MONTH = [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/**
 * `[prefix]YYYY[-MM[-DD[Thh:mm[:ss][zone]]]]`. DICOM study dates carry no time zone, so a time is
 * matched at the precision of its day.
 */
export function parseDate(value: string): DateRange {
  const m = /^(eq|ne|gt|lt|ge|le|sa|eb|ap)?(\d{4})(?:-(\d{2})(?:-(\d{2})(?:T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:\d{2})?)?)?)?$/.exec(value);
  const month = m?.[3] ? Number(m[3]) : undefined;
  const day = m?.[4] ? Number(m[4]) : undefined;
  if (!m || (month !== undefined && (month < 1 || month > 12)) || (day !== undefined && (day < 1 || day > DAYS_IN_MONTH[month! - 1]!))) {
    throw new FhirError('invalid', `"${value}" is not a date search value ([prefix]YYYY[-MM[-DD]])`);
  }
  const prefix = (m[1] ?? 'eq') as DatePrefix;
  const year = m[2]!;
  if (month === undefined) return { prefix, low: `${year}0101`, high: `${year}1231` };
  const mm = String(month).padStart(2, '0');
  if (day === undefined) return { prefix, low: `${year}${mm}01`, high: `${year}${mm}${DAYS_IN_MONTH[month - 1]}` };
  const dd = String(day).padStart(2, '0');
  return { prefix, low: `${year}${mm}${dd}`, high: `${year}${mm}${dd}` };
}

/**
 * SQL for a single-day DA column against a date range, by prefix (R4 3.1.1.4.3 table): the column is
 * the target, a day. `add` adds a parameter and returns its placeholder.
 */
export function dateCondition(column: string, r: DateRange, add: (v: unknown) => string): string {
  switch (r.prefix) {
    case 'eq':
    case 'ap':
      return `(${column} BETWEEN ${add(r.low)} AND ${add(r.high)})`;
    case 'ne':
      return `(${column} NOT BETWEEN ${add(r.low)} AND ${add(r.high)})`;
    case 'gt':
    case 'sa':
      return `(${column} > ${add(r.high)})`;
    case 'lt':
    case 'eb':
      return `(${column} < ${add(r.low)})`;
    case 'ge':
      return `(${column} >= ${add(r.low)})`;
    case 'le':
      return `(${column} <= ${add(r.high)})`;
  }
}
