import { createHash } from 'node:crypto';
import { type HL7Node, Message } from 'node-hl7-client';
import { decodeHl7 } from './hl7-charset.js';
import { type Hl7Delimiters, encodingCharacters, unescapeHl7 } from './hl7-escape.js';
import { Hl7ErrorCode, Hl7ProcessingError } from './hl7-handler.js';
import type { Hl7Message, Hl7Segment } from './hl7-message.js';

/**
 * What could be read of a frame's MSH, even when the rest cannot be used: enough to address an AR
 * to its sender (HL7 2.5.1 2.9.2: MSA-2 names the message when its MSH-10 could be read).
 * Values are as received (escaped, in the message's delimiters when `delimiters` is set).
 */
export interface Hl7HeaderFields {
  /** The message's own delimiters, when MSH-1 and MSH-2 are valid. */
  readonly delimiters?: Hl7Delimiters;
  /** MSH-3, MSH-4, MSH-5, MSH-6, MSH-9, MSH-10, MSH-11, MSH-12 and MSH-18: whole fields, raw. */
  readonly fields: Readonly<Partial<Record<3 | 4 | 5 | 6 | 9 | 10 | 11 | 12 | 18, string>>>;
  /** The iconv-lite label the message was decoded with (the ACK is encoded with it too). */
  readonly charset: string;
}

export type Hl7ParseOutcome =
  | {
      readonly ok: true;
      readonly message: ParsedHl7Message;
      readonly header: Hl7HeaderFields;
      /**
       * SHA-256 of what the message says, for telling a re-sent copy from a different message under
       * a reused control id: MSH-9 and every byte after the MSH segment (not MSH-7, which some
       * senders renew when they send a message again).
       */
      readonly contentDigest: Buffer;
    }
  | { readonly ok: false; readonly error: Hl7ProcessingError; readonly header: Hl7HeaderFields };

const HEADER_FIELDS = [3, 4, 5, 6, 9, 10, 11, 12, 18] as const;

function isDelimiter(ch: string | undefined): boolean {
  return ch !== undefined && ch.length === 1 && ch >= '!' && ch <= '~' && !/[A-Za-z0-9]/.test(ch);
}

/** MSH-1 and MSH-2 (HL7 2.5.1 2.5.4): printable, not alphanumeric, all different; four of them, or five (2.7 truncation). */
function readDelimiters(mshLine: string): Hl7Delimiters | undefined {
  const field = mshLine[3];
  if (!isDelimiter(field)) return undefined;
  const end = mshLine.indexOf(field!, 4);
  const enc = [...mshLine.slice(4, end < 0 ? undefined : end)];
  if (enc.length < 4 || enc.length > 5 || !enc.every(isDelimiter)) return undefined;
  if (new Set([field, ...enc]).size !== enc.length + 1) return undefined;
  return { field: field!, component: enc[0]!, repetition: enc[1]!, escape: enc[2]!, subcomponent: enc[3]!, truncation: enc[4] };
}

/** Header fields by position from a raw MSH line split on its field separator (MSH-n is part n-1). */
function headerFields(mshLine: string, field: string | undefined): Hl7HeaderFields['fields'] {
  if (!field || !isDelimiter(field)) return {};
  const parts = mshLine.split(field);
  const out: Partial<Record<(typeof HEADER_FIELDS)[number], string>> = {};
  for (const n of HEADER_FIELDS) {
    const v = parts[n - 1];
    if (v) out[n] = v;
  }
  return out;
}

const NOT_A_MESSAGE = (text: string): Hl7ProcessingError => new Hl7ProcessingError('AR', Hl7ErrorCode.SegmentSequenceError, text, 'MSH');

/**
 * A frame's bytes to a message (HL7 2.5.1 2.5-2.7): the MSH first, its delimiters checked, the
 * bytes decoded in the MSH-18 character set (whole, before splitting: see hl7-charset.ts), segment
 * terminators CR (LF and CR LF forgiven), then node-hl7-client splits segments, fields,
 * repetitions, components and subcomponents; values are unescaped when read (hl7-escape.ts).
 * A frame this cannot read gets an `Hl7ProcessingError` AR and whatever of the header could be read.
 */
export function parseHl7(frame: Buffer): Hl7ParseOutcome {
  let start = 0;
  if (frame[0] === 0xef && frame[1] === 0xbb && frame[2] === 0xbf) start = 3; // a UTF-8 byte order mark
  while (start < frame.length && (frame[start] === 0x0d || frame[start] === 0x0a || frame[start] === 0x20)) start++;
  const bytes = frame.subarray(start);
  const cr = bytes.indexOf(0x0d);
  const lf = bytes.indexOf(0x0a);
  const lineEnd = cr < 0 ? lf : lf < 0 ? cr : Math.min(cr, lf);
  // The header fields that matter are ASCII in every supported character set: read it byte for byte.
  const mshLine = bytes.subarray(0, lineEnd < 0 ? bytes.length : lineEnd).toString('latin1');
  const fields = headerFields(mshLine, mshLine.startsWith('MSH') ? mshLine[3] : undefined);
  const fallback: Hl7HeaderFields = { fields, charset: 'ascii' };
  if (!mshLine.startsWith('MSH')) {
    const batch = /^(FHS|BHS)/.test(mshLine);
    return { ok: false, header: { fields: {}, charset: 'ascii' }, error: NOT_A_MESSAGE(batch ? 'batches (FHS/BHS) are not taken: send one message per MLLP frame' : 'the frame does not begin with an MSH segment') };
  }
  const delimiters = readDelimiters(mshLine);
  if (!delimiters) {
    return {
      ok: false,
      header: fallback,
      error: new Hl7ProcessingError('AR', Hl7ErrorCode.DataTypeError, 'MSH-1/MSH-2 are not valid encoding characters (four or five distinct printable non-alphanumeric characters, e.g. |^~\\&)', 'MSH^1^2'),
    };
  }
  const msh18 = (fields[18] ?? '').split(delimiters.repetition)[0]!.split(delimiters.component)[0]!;
  const decoded = decodeHl7(bytes, msh18);
  if (!decoded.ok) {
    const text = decoded.reason === 'unsupported' ? `character set "${msh18}" (MSH-18) is not supported` : `the message is not valid ${msh18} (MSH-18)`;
    const code = decoded.reason === 'unsupported' ? Hl7ErrorCode.TableValueNotFound : Hl7ErrorCode.DataTypeError;
    return { ok: false, header: { delimiters, fields, charset: 'ascii' }, error: new Hl7ProcessingError('AR', code, text, 'MSH^1^18') };
  }
  const header: Hl7HeaderFields = { delimiters, fields: headerFields(decoded.text.slice(0, decoded.text.search(/[\r\n]|$/)), delimiters.field), charset: decoded.charset };
  const lines = decoded.text.split(/\r\n|\r|\n/).filter((l) => l.length > 0);
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    if (!/^[A-Z][A-Z0-9]{2}$/.test(line.slice(0, 3)) || (line.length > 3 && line[3] !== delimiters.field)) {
      return { ok: false, header, error: new Hl7ProcessingError('AR', Hl7ErrorCode.SegmentSequenceError, `segment ${i + 1} does not begin with a segment ID`) };
    }
    if (i > 0 && /^(MSH|BHS|FHS|BTS|FTS)$/.test(line.slice(0, 3))) {
      return { ok: false, header, error: NOT_A_MESSAGE(`segment ${i + 1} is ${line.slice(0, 3)}: one message per MLLP frame, batches are not taken`) };
    }
  }
  let parsed: Message;
  try {
    parsed = new Message({ text: lines.join('\r') });
  } catch (e) {
    return { ok: false, header, error: NOT_A_MESSAGE(`the message cannot be parsed: ${(e as Error).message}`) };
  }
  const digest = createHash('sha256').update(fields[9] ?? '', 'latin1').update('\r');
  if (lineEnd >= 0) digest.update(bytes.subarray(lineEnd));
  return { ok: true, header, message: new ParsedHl7Message(parsed, delimiters, decoded.charset), contentDigest: digest.digest() };
}

/** A node's children, bounds-checked (node-hl7-client's empty node throws on toRaw). */
function child(node: HL7Node | undefined, index: number): HL7Node | undefined {
  if (!node || index < 0 || index >= node.length) return undefined;
  return node.get(index);
}

class ParsedSegment implements Hl7Segment {
  readonly name: string;

  constructor(
    private readonly node: HL7Node,
    private readonly d: Hl7Delimiters,
    private readonly charset: string,
  ) {
    this.name = node.get(0).toRaw();
  }

  private field(n: number): HL7Node | undefined {
    // MSH-1 is the field separator itself: the library's MSH children start at MSH-2.
    return child(this.node, this.name === 'MSH' ? n - 1 : n);
  }

  get(field: number, component = 1, subcomponent = 1, repetition = 0): string {
    if (this.name === 'MSH' && (field === 1 || field === 2)) {
      if (component !== 1 || subcomponent !== 1 || repetition !== 0) return '';
      return field === 1 ? this.d.field : encodingCharacters(this.d);
    }
    if (field < 1) return '';
    const leaf = child(child(child(this.field(field), repetition), component - 1), subcomponent - 1);
    return leaf ? unescapeHl7(leaf.toRaw(), this.d, this.charset) : '';
  }

  repetitions(field: number): number {
    if (this.name === 'MSH' && (field === 1 || field === 2)) return 1;
    const node = field < 1 ? undefined : this.field(field);
    return node && node.toRaw() !== '' ? node.length : 0;
  }
}

/**
 * The Hl7Message handlers see (hl7-message.ts). `get(field)` with no component is component 1,
 * subcomponent 1 of the first repetition: the value of a simple field, the ID of a composite one.
 */
export class ParsedHl7Message implements Hl7Message {
  readonly segments: readonly Hl7Segment[];
  readonly messageType: string;
  readonly triggerEvent: string;
  readonly controlId: string;
  readonly sendingApplication: string;
  readonly sendingFacility: string;
  readonly receivingApplication: string;
  readonly receivingFacility: string;
  readonly version: string;
  readonly dateTime: string;
  /** MSH-11.1. */
  readonly processingId: string;
  /** MSH-18 (first repetition) as received; '' for the default (ASCII). */
  readonly characterSet: string;

  constructor(
    parsed: Message,
    readonly delimiters: Hl7Delimiters,
    /** The iconv-lite label the bytes were decoded with. */
    readonly charset: string,
  ) {
    const segments: Hl7Segment[] = [];
    for (let i = 0; i < parsed.length; i++) segments.push(new ParsedSegment(parsed.get(i), delimiters, charset));
    this.segments = segments;
    const msh = segments[0]!;
    this.messageType = msh.get(9, 1);
    this.triggerEvent = msh.get(9, 2);
    this.controlId = msh.get(10);
    this.sendingApplication = msh.get(3);
    this.sendingFacility = msh.get(4);
    this.receivingApplication = msh.get(5);
    this.receivingFacility = msh.get(6);
    this.version = msh.get(12);
    this.dateTime = msh.get(7);
    this.processingId = msh.get(11);
    this.characterSet = msh.get(18);
  }

  segment(name: string): Hl7Segment | undefined {
    return this.segments.find((s) => s.name === name);
  }

  all(name: string): Hl7Segment[] {
    return this.segments.filter((s) => s.name === name);
  }
}

/**
 * The MSH fields the archive needs before a handler sees the message (HL7 2.5.1 2.14.9: MSH-7, 9,
 * 10, 11 and 12 are required), the processing id (table 0103) and the version (2.x).
 */
export function checkHeader(message: ParsedHl7Message): Hl7ProcessingError | undefined {
  const missing = (location: string, what: string): Hl7ProcessingError =>
    new Hl7ProcessingError('AR', Hl7ErrorCode.RequiredFieldMissing, `${what} is required`, location);
  if (!message.controlId) return missing('MSH^1^10', 'MSH-10 (message control id)');
  if (!message.messageType) return missing('MSH^1^9^1^1', 'MSH-9.1 (message type)');
  if (!message.triggerEvent) return missing('MSH^1^9^1^2', 'MSH-9.2 (trigger event)');
  if (!message.dateTime) return missing('MSH^1^7', 'MSH-7 (date/time of message)');
  if (!message.processingId) return missing('MSH^1^11', 'MSH-11 (processing id)');
  if (!message.version) return missing('MSH^1^12', 'MSH-12 (version id)');
  if (!/^[PDT]$/.test(message.processingId)) {
    return new Hl7ProcessingError('AR', Hl7ErrorCode.UnsupportedProcessingId, `processing id "${message.processingId}" (MSH-11) is not P, D or T`, 'MSH^1^11');
  }
  if (!/^2\.\d+(\.\d+)?$/.test(message.version)) {
    return new Hl7ProcessingError('AR', Hl7ErrorCode.UnsupportedVersionId, `version "${message.version}" (MSH-12) is not an HL7 v2 version`, 'MSH^1^12');
  }
  return undefined;
}
