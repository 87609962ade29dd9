/**
 * Attribute matching of PS3.4 C.2.2.2 turned into SQL conditions. Pure: values in, a condition
 * with numbered parameters out. Each function returns undefined for universal matching (no condition).
 */
export interface SqlCondition {
  readonly sql: string;
  readonly params: readonly unknown[];
}

export class QueryValueError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'QueryValueError';
  }
}

/** Collects parameters and hands out placeholders. */
export class SqlParams {
  readonly values: unknown[] = [];
  add(value: unknown): string {
    this.values.push(value);
    return `$${this.values.length}`;
  }
}

/** Wildcards `*` and `?` (C.2.2.2.4) as a LIKE pattern; LIKE's own metacharacters escaped. */
export function wildcardToLike(value: string): string {
  let out = '';
  for (const ch of value) {
    if (ch === '*') out += '%';
    else if (ch === '?') out += '_';
    else if (ch === '%' || ch === '_' || ch === '\\') out += `\\${ch}`;
    else out += ch;
  }
  return out;
}

export function hasWildcard(value: string): boolean {
  return value.includes('*') || value.includes('?');
}

/**
 * Single value or wildcard matching on a text column. A value of only `*` is universal.
 * `caseInsensitive` is used for PN (C.2.2.2.1 lets PN matching ignore case).
 */
export function matchText(column: string, value: string, p: SqlParams, caseInsensitive = false): string | undefined {
  if (value === '' || /^\*+$/.test(value)) return undefined;
  const col = caseInsensitive ? `upper(${column})` : column;
  const v = caseInsensitive ? value.toUpperCase() : value;
  if (hasWildcard(v)) return `${col} LIKE ${p.add(wildcardToLike(v))}`;
  return `${col} = ${p.add(v)}`;
}

/** List of UID matching (C.2.2.2.2): values separated by backslash. */
export function matchUidList(column: string, value: string, p: SqlParams): string | undefined {
  const uids = value.split('\\').map((u) => u.trim()).filter(Boolean);
  if (uids.length === 0) return undefined;
  for (const uid of uids) {
    if (!/^[0-9.]+$/.test(uid) || uid.length > 64) throw new QueryValueError(`"${uid}" is not a UID`);
  }
  return uids.length === 1 ? `${column} = ${p.add(uids[0])}` : `${column} = ANY(${p.add(uids)}::text[])`;
}

/** A list of single values (C.2.2.2.7, e.g. Modality "CT\\MR"). */
export function matchValueList(column: string, value: string, p: SqlParams): string | undefined {
  const values = value.split('\\').map((v) => v.trim()).filter(Boolean);
  if (values.length === 0) return undefined;
  if (values.length === 1) return matchText(column, values[0]!, p);
  return `${column} = ANY(${p.add(values)}::text[])`;
}

export type TemporalVr = 'DA' | 'TM' | 'DT';

const SHAPES: Record<TemporalVr, RegExp> = {
  DA: /^\d{8}$/,
  TM: /^\d{2}(\d{2}(\d{2}(\.\d{1,6})?)?)?$/,
  DT: /^\d{4}(\d{2}(\d{2}(\d{2}(\d{2}(\d{2}(\.\d{1,6})?)?)?)?)?)?([+-]\d{4})?$/,
};

/** Legacy date forms some modalities still send ("2015.01.31") are accepted in queries. */
export function normalizeTemporal(vr: TemporalVr, raw: string): string {
  let v = raw.trim();
  if (vr === 'DA') v = v.replace(/^(\d{4})[.-](\d{2})[.-](\d{2})$/, '$1$2$3');
  if (vr === 'TM') v = v.replace(/^(\d{2}):(\d{2})(?::(\d{2}))?/, (_, h: string, m: string, s?: string) => `${h}${m}${s ?? ''}`);
  if (!SHAPES[vr].test(v)) throw new QueryValueError(`"${raw}" is not a valid ${vr} value`);
  return v;
}

/** The upper end of a partial time or datetime covers the whole unit it names ("1700" = up to 17:00:59.999999). */
export function upperBound(vr: TemporalVr, v: string): string {
  if (vr === 'TM') return v + '235959.999999'.slice(v.length);
  if (vr === 'DT') return v + '9'.repeat(Math.max(0, 21 - v.length));
  return v;
}

/**
 * Single value or range matching of dates and times (C.2.2.2.5): "A", "A-", "-B", "A-B".
 * DA and TM compare as text, which orders like time since the forms are fixed-width.
 */
export function matchTemporal(column: string, vr: TemporalVr, value: string, p: SqlParams): string | undefined {
  const v = value.trim();
  if (v === '' || v === '-') return undefined;
  const dash = v.indexOf('-');
  if (dash < 0) {
    const single = normalizeTemporal(vr, v);
    // A partial time or datetime names a span ("1700" is the minute 17:00).
    if ((vr === 'TM' && single.length < 6) || (vr === 'DT' && single.length < 14)) {
      return `(${column} >= ${p.add(single)} AND ${column} <= ${p.add(upperBound(vr, single))})`;
    }
    return `${column} = ${p.add(single)}`;
  }
  const from = v.slice(0, dash);
  const to = v.slice(dash + 1);
  const parts: string[] = [];
  if (from) parts.push(`${column} >= ${p.add(normalizeTemporal(vr, from))}`);
  if (to) parts.push(`${column} <= ${p.add(upperBound(vr, normalizeTemporal(vr, to)))}`);
  if (parts.length === 0) return undefined;
  return parts.length === 1 ? parts[0] : `(${parts.join(' AND ')})`;
}
