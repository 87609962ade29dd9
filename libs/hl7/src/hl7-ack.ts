import { randomBytes } from 'node:crypto';
import { Message } from 'node-hl7-client';
import { encodeHl7 } from './hl7-charset.js';
import { DEFAULT_DELIMITERS, type Hl7Delimiters, escapeHl7 } from './hl7-escape.js';
import { Hl7ErrorCode } from './hl7-handler.js';
import type { Hl7HeaderFields } from './hl7-parser.js';

export type AckCode = 'AA' | 'AE' | 'AR';

/** HL7 table 0357's texts, for ERR-3.2. */
const ERROR_TEXT: Readonly<Record<string, string>> = {
  [Hl7ErrorCode.SegmentSequenceError]: 'Segment sequence error',
  [Hl7ErrorCode.RequiredFieldMissing]: 'Required field missing',
  [Hl7ErrorCode.DataTypeError]: 'Data type error',
  [Hl7ErrorCode.TableValueNotFound]: 'Table value not found',
  [Hl7ErrorCode.UnsupportedMessageType]: 'Unsupported message type',
  [Hl7ErrorCode.UnsupportedEventCode]: 'Unsupported event code',
  [Hl7ErrorCode.UnsupportedProcessingId]: 'Unsupported processing id',
  [Hl7ErrorCode.UnsupportedVersionId]: 'Unsupported version id',
  [Hl7ErrorCode.UnknownKeyIdentifier]: 'Unknown key identifier',
  [Hl7ErrorCode.DuplicateKeyIdentifier]: 'Duplicate key identifier',
  [Hl7ErrorCode.ApplicationRecordLocked]: 'Application record locked',
  [Hl7ErrorCode.ApplicationInternalError]: 'Application internal error',
};

/** The ERR segment's content: why a message got AE or AR. */
export interface AckError {
  /** HL7 table 0357 (ERR-3.1). */
  readonly code: string;
  /** ERR-8, the user message (also MSA-3 for receivers older than 2.5). Never patient data. */
  readonly text: string;
  /** ERR-2: segment^sequence^field^repetition^component^subcomponent, e.g. 'PID^1^3'. */
  readonly location?: string;
}

export interface AckSpec {
  /** What was read of the message's MSH (parseHl7). */
  readonly header: Hl7HeaderFields;
  readonly code: AckCode;
  readonly error?: AckError;
  /** The ACK's own MSH-10 (ackControlId()). */
  readonly controlId: string;
  readonly now: Date;
}

export interface BuiltAck {
  /** The ACK as text (segments ended by CR), as stored and as the message log shows it. */
  readonly text: string;
  /** The ACK in the message's character set, unframed. */
  readonly bytes: Buffer;
}

/** A unique MSH-10 for an ACK: 20 characters at most (ST in 2.5.1), time-ordered, with 40 random bits. */
export function ackControlId(now = Date.now()): string {
  return `A${now.toString(36).toUpperCase()}${randomBytes(5).toString('hex').toUpperCase()}`;
}

/** HL7 TS with seconds and the UTC offset, in local time: YYYYMMDDHHMMSS+ZZZZ. */
export function hl7Timestamp(d: Date): string {
  const p = (n: number, w = 2): string => String(Math.trunc(n)).padStart(w, '0');
  const offset = -d.getTimezoneOffset();
  const sign = offset >= 0 ? '+' : '-';
  return `${p(d.getFullYear(), 4)}${p(d.getMonth() + 1)}${p(d.getDate())}${p(d.getHours())}${p(d.getMinutes())}${p(d.getSeconds())}${sign}${p(Math.abs(offset) / 60)}${p(Math.abs(offset) % 60)}`;
}

/**
 * An acknowledgement in original mode (HL7 2.5.1 2.9.2), built with node-hl7-client: MSH with
 * sender and receiver swapped, the ACK's own control id, MSH-9 ACK^<trigger>^ACK, the message's
 * processing id, version and character set; MSA-1 the code, MSA-2 the message's MSH-10; on AE/AR
 * an ERR segment (2.5.1 layout: ERR-2 location, ERR-3 table 0357 code, ERR-4 severity E, ERR-8 text).
 * Written in the message's own delimiters when it had valid ones, so its fields are echoed exactly.
 */
export function buildAck(spec: AckSpec): BuiltAck {
  const own = spec.header.delimiters;
  // The ACK's MSH-2 has the four classic encoding characters: a truncation character is not echoed.
  const d: Hl7Delimiters = own ? { ...own, truncation: undefined } : DEFAULT_DELIMITERS;
  const ascii = spec.header.charset === 'ascii';
  const text = (s: string): string => escapeHl7(ascii ? s.replace(/[^\x00-\x7f]/g, '?') : s, d);
  /** A field of the message, as received when its delimiters are the ACK's, else as plain text. */
  const echo = (n: keyof Hl7HeaderFields['fields']): string => {
    const raw = spec.header.fields[n] ?? '';
    return own ? raw : text(raw);
  };
  const trigger = own ? (echo(9).split(d.component)[1] ?? '') : '';

  const ack = new Message({
    messageHeader: { msh_9_1: 'ACK', msh_9_2: 'ACK', msh_10: spec.controlId },
    separatorField: d.field,
    separatorComponent: d.component,
    separatorRepetition: d.repetition,
    separatorEscape: d.escape,
    separatorSubComponent: d.subcomponent,
  });
  ack.set('MSH.3', echo(5) || 'VNA');
  ack.set('MSH.4', echo(6));
  ack.set('MSH.5', echo(3));
  ack.set('MSH.6', echo(4));
  ack.set('MSH.7', hl7Timestamp(spec.now));
  ack.set('MSH.9', `ACK${d.component}${trigger}${d.component}ACK`);
  ack.set('MSH.11', echo(11) || 'P');
  ack.set('MSH.12', echo(12) || '2.5.1');
  if (spec.header.fields[18]) ack.set('MSH.18', echo(18));

  const msa = ack.addSegment('MSA');
  msa.set('1', spec.code);
  msa.set('2', echo(10));
  if (spec.error) {
    msa.set('3', text(spec.error.text.slice(0, 80)));
    const err = ack.addSegment('ERR');
    if (spec.error.location) err.set('2', spec.error.location.split('^').map(text).join(d.component));
    err.set('3', [spec.error.code, ERROR_TEXT[spec.error.code] ?? '', 'HL70357'].map(text).join(d.component));
    err.set('4', 'E');
    err.set('8', text(spec.error.text));
  }
  // Every segment ends with CR (HL7 2.5.1 2.5.2), the last one too.
  const out = `${ack.toString()}\r`;
  return { text: out, bytes: encodeHl7(out, spec.header.charset) };
}
