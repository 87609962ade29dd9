import iconv from 'iconv-lite';

/**
 * MSH-18 values (HL7 table 0211) the archive reads, and the iconv-lite label for each. Every one
 * is a superset of ASCII in which a delimiter byte is always that delimiter once decoded, which is
 * why a message is decoded whole before it is split (for GB 18030 and BIG-5, whose second bytes
 * can be 0x5C '\' or 0x7C '|', splitting the bytes first would cut characters in half).
 * The ISO 2022 sets (ISO IR14, ISO IR87, ISO IR159), CNS 11643 and UTF-16/32 are refused.
 */
const CHARSETS: Readonly<Record<string, string>> = {
  ASCII: 'ascii',
  '8859/1': 'iso-8859-1',
  '8859/2': 'iso-8859-2',
  '8859/3': 'iso-8859-3',
  '8859/4': 'iso-8859-4',
  '8859/5': 'iso-8859-5',
  '8859/6': 'iso-8859-6',
  '8859/7': 'iso-8859-7',
  '8859/8': 'iso-8859-8',
  '8859/9': 'iso-8859-9',
  '8859/15': 'iso-8859-15',
  'UNICODE UTF-8': 'utf-8',
  // Deprecated in 2.5.1 (retained for backward compatibility); what senders mean by it today is UTF-8.
  UNICODE: 'utf-8',
  'GB 18030-2000': 'gb18030',
  'KS X 1001': 'euc-kr',
  'BIG-5': 'big5',
};

export type CharsetOutcome =
  | { readonly ok: true; readonly text: string; readonly charset: string }
  | { readonly ok: false; readonly reason: 'unsupported' | 'invalid' };

const utf8 = new TextDecoder('utf-8', { fatal: true });

function validUtf8(bytes: Buffer): string | undefined {
  try {
    return utf8.decode(bytes);
  } catch {
    return undefined;
  }
}

/**
 * Decodes a message's bytes in the character set its MSH-18 names. UTF-8 must be valid (a name
 * with U+FFFD in it is worse than a refusal). With no MSH-18, or ASCII, the standard's default, a
 * message that is not pure ASCII is read as UTF-8 when it is valid UTF-8 and as 8859/1 otherwise:
 * senders that leave MSH-18 empty send one or the other, and both read ASCII the same.
 */
export function decodeHl7(bytes: Buffer, msh18: string): CharsetOutcome {
  const name = msh18.trim().toUpperCase();
  if (name === '' || name === 'ASCII') {
    let ascii = true;
    for (let i = 0; i < bytes.length; i++) {
      if (bytes[i]! > 0x7f) {
        ascii = false;
        break;
      }
    }
    if (ascii) return { ok: true, text: bytes.toString('latin1'), charset: 'ascii' };
    const text = validUtf8(bytes);
    return text === undefined ? { ok: true, text: bytes.toString('latin1'), charset: 'iso-8859-1' } : { ok: true, text, charset: 'utf-8' };
  }
  const charset = CHARSETS[name];
  if (!charset) return { ok: false, reason: 'unsupported' };
  if (charset === 'utf-8') {
    const text = validUtf8(bytes);
    return text === undefined ? { ok: false, reason: 'invalid' } : { ok: true, text, charset };
  }
  return { ok: true, text: iconv.decode(bytes, charset), charset };
}

/** Text in a charset decodeHl7 returned (the ACK goes back in the message's own character set). */
export function encodeHl7(text: string, charset: string): Buffer {
  if (charset === 'utf-8') return Buffer.from(text, 'utf8');
  if (charset === 'ascii' || charset === 'iso-8859-1') return Buffer.from(text, 'latin1');
  return iconv.encode(text, charset);
}

export function supportedCharsets(): string[] {
  return Object.keys(CHARSETS);
}
