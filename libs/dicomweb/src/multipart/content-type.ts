import { assertParsableBoundary } from './boundary.js';
import { MultipartError } from './multipart.error.js';

/**
 * Media types as in RFC 9110 8.3.1 / 5.6.6:
 *   media-type = type "/" subtype parameters
 *   parameters = *( OWS ";" OWS [ parameter ] )
 *   parameter  = parameter-name "=" parameter-value
 *   parameter-value = ( token / quoted-string )
 * Type, subtype and parameter names are case-insensitive and are returned lower-cased;
 * parameter values keep their case (a boundary is case-sensitive, RFC 2046 5.1.1).
 */
export interface MediaType {
  /** e.g. 'multipart' */
  readonly type: string;
  /** e.g. 'related' */
  readonly subtype: string;
  /** `${type}/${subtype}`, e.g. 'multipart/related' */
  readonly essence: string;
  /** Lower-case names; unquoted values. When a name repeats, the first occurrence wins. */
  readonly parameters: Readonly<Record<string, string>>;
}

/** One member of an Accept header (RFC 9110 12.5.1), weight split out of the parameters. */
export interface MediaRange extends MediaType {
  /** The weight, 0..1 (RFC 9110 12.4.2); 1 when absent. 0 means "not acceptable". */
  readonly q: number;
}

// RFC 9110 5.6.2: tchar = "!" / "#" / "$" / "%" / "&" / "'" / "*" / "+" / "-" / "." / "^" / "_" / "`" / "|" / "~" / DIGIT / ALPHA
const TCHAR = new Uint8Array(128);
for (const c of "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ") TCHAR[c.charCodeAt(0)] = 1;

function isTchar(code: number): boolean {
  return code < 128 && TCHAR[code] === 1;
}

/** True when `s` can be sent as a bare RFC 9110 token. */
export function isToken(s: string): boolean {
  if (s.length === 0) return false;
  for (let i = 0; i < s.length; i++) if (!isTchar(s.charCodeAt(i))) return false;
  return true;
}

interface Cursor {
  readonly s: string;
  i: number;
}

function skipOws(c: Cursor): void {
  while (c.i < c.s.length && (c.s[c.i] === ' ' || c.s[c.i] === '\t')) c.i++;
}

function readToken(c: Cursor): string {
  const start = c.i;
  while (c.i < c.s.length && isTchar(c.s.charCodeAt(c.i))) c.i++;
  return c.s.slice(start, c.i);
}

/** RFC 9110 5.6.4 quoted-string with quoted-pair escapes; cursor on the opening DQUOTE. Undefined if unterminated. */
function readQuotedString(c: Cursor): string | undefined {
  let out = '';
  c.i++; // opening DQUOTE
  while (c.i < c.s.length) {
    const ch = c.s[c.i++];
    if (ch === '"') return out;
    if (ch === '\\') {
      if (c.i >= c.s.length) return undefined;
      out += c.s[c.i++];
    } else {
      out += ch;
    }
  }
  return undefined;
}

/**
 * A parameter value. Quoted strings follow RFC 9110; unquoted values are read liberally up to
 * the next ";" (or "," in a list) so common deviations such as `type=application/dicom`
 * (the "/" is not a tchar, PS3.18 examples quote it) still parse. Whitespace and DQUOTE
 * inside an unquoted value stay errors: they would be ambiguous.
 */
function readParameterValue(c: Cursor, list: boolean): string | undefined {
  if (c.s[c.i] === '"') return readQuotedString(c);
  const start = c.i;
  while (c.i < c.s.length) {
    const code = c.s.charCodeAt(c.i);
    if (code === 0x3b /* ; */ || (list && code === 0x2c) /* , */ || code <= 0x20 || code === 0x22 || code === 0x7f) break;
    c.i++;
  }
  return c.i > start ? c.s.slice(start, c.i) : undefined;
}

/** Parses one media type at the cursor, stopping at the end (or at a "," in list mode). Undefined when invalid. */
function parseMediaTypeAt(c: Cursor, list: boolean): MediaType | undefined {
  skipOws(c);
  const type = readToken(c).toLowerCase();
  if (!type) return undefined;
  let subtype: string;
  if (c.s[c.i] === '/') {
    c.i++;
    subtype = readToken(c).toLowerCase();
    if (!subtype) return undefined;
  } else if (list && type === '*') {
    // A bare "*" is an old, widespread sender bug (e.g. Java's default Accept "*; q=.2"): read it as */*.
    subtype = '*';
  } else {
    return undefined;
  }
  // Null prototype: a parameter named "__proto__" or "constructor" is just data.
  const parameters: Record<string, string> = Object.create(null) as Record<string, string>;
  for (;;) {
    skipOws(c);
    if (c.i >= c.s.length || (list && c.s[c.i] === ',')) break;
    if (c.s[c.i] !== ';') return undefined;
    c.i++;
    skipOws(c);
    // RFC 9110 5.6.6 allows empty parameters (";;" or a trailing ";").
    if (c.i >= c.s.length || c.s[c.i] === ';' || (list && c.s[c.i] === ',')) continue;
    const name = readToken(c).toLowerCase();
    if (!name) return undefined;
    skipOws(c); // RFC 9110 forbids whitespace around "=", but senders add it and it is unambiguous
    if (c.s[c.i] !== '=') return undefined;
    c.i++;
    skipOws(c);
    const value = readParameterValue(c, list);
    if (value === undefined) return undefined;
    if (!(name in parameters)) parameters[name] = value;
  }
  return { type, subtype, essence: `${type}/${subtype}`, parameters };
}

/**
 * Parses a Content-Type (or any single media type) header value, e.g.
 * `multipart/related; type="application/dicom"; boundary=abc` or
 * `application/dicom; transfer-syntax=1.2.840.10008.1.2.1`.
 * @throws MultipartError INVALID_MEDIA_TYPE
 */
export function parseMediaType(value: string): MediaType {
  const c: Cursor = { s: value, i: 0 };
  const mediaType = parseMediaTypeAt(c, false);
  skipOws(c);
  if (!mediaType || c.i !== value.length) {
    throw new MultipartError('INVALID_MEDIA_TYPE', `invalid media type: ${JSON.stringify(value.slice(0, 200))}`);
  }
  return mediaType;
}

/**
 * Formats a media type, quoting parameter values that are not tokens (RFC 9110 5.6.6), e.g.
 * formatMediaType('multipart/related', { type: 'application/dicom', boundary: 'x' })
 *   === 'multipart/related; type="application/dicom"; boundary=x'
 * @throws MultipartError INVALID_MEDIA_TYPE for a bad essence, name, or a value with control characters
 */
export function formatMediaType(essence: string, parameters: Readonly<Record<string, string>> = {}): string {
  const slash = essence.indexOf('/');
  if (slash < 0 || !isToken(essence.slice(0, slash)) || !isToken(essence.slice(slash + 1))) {
    throw new MultipartError('INVALID_MEDIA_TYPE', `invalid media type essence: ${JSON.stringify(essence)}`);
  }
  let out = essence;
  for (const [name, value] of Object.entries(parameters)) {
    if (!isToken(name)) throw new MultipartError('INVALID_MEDIA_TYPE', `invalid parameter name: ${JSON.stringify(name)}`);
    // qdtext and quoted-pair admit HTAB, SP, VCHAR and obs-text only: no CR/LF (header injection).
    if (!/^[\t\x20-\x7e\x80-\xff]*$/.test(value)) {
      throw new MultipartError('INVALID_MEDIA_TYPE', `invalid value for parameter ${name}`);
    }
    out += `; ${name}=${isToken(value) ? value : `"${value.replace(/["\\]/g, '\\$&')}"`}`;
  }
  return out;
}

// RFC 9110 12.4.2: qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] ).
// Read a little more liberally (any number of decimals, a leading "."), then range-checked.
const QVALUE = /^(?:[01](?:\.\d*)?|\.\d+)$/;

/**
 * Parses an Accept header (RFC 9110 12.5.1) into media ranges, highest q first; members with the
 * same q keep their order in the header (a stable sort), so a client's stated preference among
 * equally weighted ranges is kept. Ranges with q=0 are kept (at the end) because they exclude.
 *
 * Per RFC 9110 12.5.1 a parameter named "q" is the weight wherever it appears; every other
 * parameter belongs to the range, e.g. for PS3.18 8.7.3
 * `multipart/related; type="application/dicom"; transfer-syntax=*; q=0.9`
 * gives { essence: 'multipart/related', parameters: { type: 'application/dicom', 'transfer-syntax': '*' }, q: 0.9 }.
 *
 * Lenient by design (a server should not fail a request over one odd member): an invalid member,
 * an invalid q, or a range like "*\/json" is dropped and the rest are kept. An absent or empty
 * header gives [] which callers treat as "*\/*" (RFC 9110 12.5.1).
 */
export function parseAccept(value: string | undefined): MediaRange[] {
  if (value === undefined) return [];
  const ranges: MediaRange[] = [];
  const c: Cursor = { s: value, i: 0 };
  while (c.i < value.length) {
    skipOws(c);
    if (c.i >= value.length) break;
    if (value[c.i] === ',') {
      c.i++; // RFC 9110 5.6.1: empty list elements are allowed and ignored
      continue;
    }
    const start = c.i;
    const range = parseMediaTypeAt(c, true);
    const atSeparator = c.i >= value.length || value[c.i] === ',';
    const accepted = range && atSeparator ? toMediaRange(range) : undefined;
    if (accepted) {
      ranges.push(accepted);
    } else {
      c.i = start;
      skipListMember(c);
    }
  }
  return ranges
    .map((range, index) => ({ range, index }))
    .sort((a, b) => b.range.q - a.range.q || a.index - b.index)
    .map(({ range }) => range);
}

function toMediaRange(mt: MediaType): MediaRange | undefined {
  // RFC 9110 12.5.1: media-range = "*/*" / ( type "/*" ) / ( type "/" subtype ) -- no "*/subtype".
  if (mt.type === '*' && mt.subtype !== '*') return undefined;
  let q = 1;
  const parameters: Record<string, string> = Object.create(null) as Record<string, string>;
  for (const [name, v] of Object.entries(mt.parameters)) {
    if (name === 'q') {
      if (!QVALUE.test(v)) return undefined;
      q = Number(v.startsWith('.') ? `0${v}` : v);
      if (!(q >= 0 && q <= 1)) return undefined;
    } else {
      parameters[name] = v;
    }
  }
  return { type: mt.type, subtype: mt.subtype, essence: mt.essence, parameters, q };
}

/** Skips to just past the next top-level "," (commas inside quoted strings do not count). */
function skipListMember(c: Cursor): void {
  while (c.i < c.s.length) {
    const ch = c.s[c.i];
    if (ch === ',') {
      c.i++;
      return;
    }
    if (ch === '"') {
      if (readQuotedString(c) === undefined) c.i = c.s.length;
    } else {
      c.i++;
    }
  }
}

/**
 * The boundary of a multipart Content-Type header (RFC 2046 5.1.1), validated for the parser.
 * @throws MultipartError UNSUPPORTED_MEDIA_TYPE (absent or not multipart/*), INVALID_MEDIA_TYPE
 *   (unparsable), MISSING_BOUNDARY, INVALID_BOUNDARY
 */
export function boundaryFromContentType(contentType: string | undefined): string {
  if (contentType === undefined || contentType.trim() === '') {
    throw new MultipartError('UNSUPPORTED_MEDIA_TYPE', 'no Content-Type: a multipart body needs one to carry its boundary');
  }
  const mt = parseMediaType(contentType);
  if (mt.type !== 'multipart') {
    throw new MultipartError('UNSUPPORTED_MEDIA_TYPE', `expected multipart/*, got ${mt.essence}`);
  }
  const boundary = mt.parameters['boundary'];
  if (boundary === undefined || boundary === '') {
    throw new MultipartError('MISSING_BOUNDARY', `${mt.essence} without a boundary parameter`);
  }
  assertParsableBoundary(boundary);
  return boundary;
}
