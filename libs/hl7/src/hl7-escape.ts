import iconv from 'iconv-lite';

/** A message's delimiters, from its MSH-1 and MSH-2 (HL7 2.5.1 2.5.4). */
export interface Hl7Delimiters {
  readonly field: string;
  readonly component: string;
  readonly repetition: string;
  readonly escape: string;
  readonly subcomponent: string;
  /** HL7 2.7's fifth encoding character, when MSH-2 has one. */
  readonly truncation?: string;
}

export const DEFAULT_DELIMITERS: Hl7Delimiters = { field: '|', component: '^', repetition: '~', escape: '\\', subcomponent: '&' };

/** MSH-2 as the delimiters write it. */
export function encodingCharacters(d: Hl7Delimiters): string {
  return `${d.component}${d.repetition}${d.escape}${d.subcomponent}${d.truncation ?? ''}`;
}

const HEX = /^X((?:[0-9A-Fa-f]{2})+)$/;

/**
 * Replaces the escape sequences of HL7 2.5.1 2.7 in one primitive value (a subcomponent, after
 * splitting: an escaped delimiter never splits). `charset` is the iconv-lite label the message was
 * decoded with: \Xhh..\ stands for bytes in the message's own character set (so \XC3A9\ is one
 * "é" in UTF-8 and two characters in 8859/1).
 *
 * - \F\ \S\ \T\ \R\ \E\ (and 2.7's \P\): the delimiter itself.
 * - \H\ \N\ (highlighting) and \Cxxyy\ \Mxxyyzz\ (character set switches, not supported) and
 *   \Z..\ (locally defined): dropped.
 * - Formatting commands of FT (2.7.6): \.br\ and \.sp n\ become line breaks, the others are dropped.
 * - Anything else, or an escape character without its closing one, stays as received.
 */
export function unescapeHl7(text: string, d: Hl7Delimiters, charset: string): string {
  const esc = d.escape;
  let start = text.indexOf(esc);
  if (start < 0) return text;
  let out = '';
  let at = 0;
  while (start >= 0) {
    const end = text.indexOf(esc, start + 1);
    if (end < 0) break;
    const body = text.slice(start + 1, end);
    const replacement = sequence(body, d, charset);
    out += text.slice(at, start);
    if (replacement === undefined) {
      // Not an escape sequence: keep the opening character and look again from the closing one.
      out += esc;
      at = start + 1;
      start = end;
      continue;
    }
    out += replacement;
    at = end + 1;
    start = text.indexOf(esc, at);
  }
  return out + text.slice(at);
}

function sequence(body: string, d: Hl7Delimiters, charset: string): string | undefined {
  switch (body) {
    case 'F':
      return d.field;
    case 'S':
      return d.component;
    case 'T':
      return d.subcomponent;
    case 'R':
      return d.repetition;
    case 'E':
      return d.escape;
    case 'P':
      return d.truncation;
    case 'H':
    case 'N':
      return '';
  }
  const hex = HEX.exec(body);
  if (hex) {
    const bytes = Buffer.from(hex[1]!, 'hex');
    return charset === 'utf-8' ? bytes.toString('utf8') : iconv.decode(bytes, charset);
  }
  if (/^\.br$/i.test(body)) return '\n';
  const sp = /^\.sp\s*(\d*)$/i.exec(body);
  if (sp) return '\n'.repeat(Math.min(Number(sp[1] || 1), 100));
  if (/^\.(fi|nf|in|ti|sk|ce)\b/i.test(body)) return '';
  if (/^[CM][0-9A-Fa-f]+$/.test(body) || /^Z/.test(body)) return '';
  return undefined;
}

/**
 * Escapes text for one primitive value of a message written with delimiters `d` (the ACK's own
 * text, echoed values). CR and LF would end the segment: they go as \X0D\ and \X0A\.
 */
export function escapeHl7(text: string, d: Hl7Delimiters): string {
  let out = '';
  for (const ch of text) {
    if (ch === d.escape) out += `${d.escape}E${d.escape}`;
    else if (ch === d.field) out += `${d.escape}F${d.escape}`;
    else if (ch === d.component) out += `${d.escape}S${d.escape}`;
    else if (ch === d.subcomponent) out += `${d.escape}T${d.escape}`;
    else if (ch === d.repetition) out += `${d.escape}R${d.escape}`;
    else if (d.truncation && ch === d.truncation) out += `${d.escape}P${d.escape}`;
    else if (ch === '\r') out += `${d.escape}X0D${d.escape}`;
    else if (ch === '\n') out += `${d.escape}X0A${d.escape}`;
    else out += ch;
  }
  return out;
}
