import { encodeText } from '../charset/index.js';
import type { Encoding } from '../reader/dataset-reader.js';
import { Tag } from '../tags.js';

/** A value to write: text (one or many values), numbers, raw bytes, or sequence items. */
export type WriteValue = string | readonly (string | null)[] | readonly number[] | Buffer | readonly WriteItem[];

export interface WriteElement {
  readonly tag: number;
  readonly vr: string;
  readonly value: WriteValue;
}

export type WriteItem = readonly WriteElement[];

const LONG_VRS = new Set(['OB', 'OD', 'OF', 'OL', 'OV', 'OW', 'SQ', 'SV', 'UC', 'UN', 'UR', 'UT', 'UV']);
/** VRs whose text the Specific Character Set applies to (PS3.5 6.1.2.3). */
const CHARSET_VRS = new Set(['SH', 'LO', 'ST', 'LT', 'UT', 'UC', 'PN']);
const TEXT_VRS = new Set(['AE', 'AS', 'CS', 'DA', 'DS', 'DT', 'IS', 'LO', 'LT', 'PN', 'SH', 'ST', 'TM', 'UC', 'UI', 'UR', 'UT']);

export class DicomWriteError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DicomWriteError';
  }
}

function isItems(value: WriteValue): value is readonly WriteItem[] {
  return Array.isArray(value) && value.length > 0 && Array.isArray(value[0]);
}

function numbers(vr: string, values: readonly number[], le: boolean): Buffer {
  const size = { US: 2, SS: 2, UL: 4, SL: 4, FL: 4, FD: 8, SV: 8, UV: 8, AT: 4 }[vr];
  if (!size) throw new DicomWriteError(`cannot write numbers as ${vr}`);
  const b = Buffer.alloc(size * values.length);
  values.forEach((n, i) => {
    const at = i * size;
    switch (vr) {
      case 'US': le ? b.writeUInt16LE(n, at) : b.writeUInt16BE(n, at); break;
      case 'SS': le ? b.writeInt16LE(n, at) : b.writeInt16BE(n, at); break;
      case 'UL': le ? b.writeUInt32LE(n, at) : b.writeUInt32BE(n, at); break;
      case 'SL': le ? b.writeInt32LE(n, at) : b.writeInt32BE(n, at); break;
      case 'FL': le ? b.writeFloatLE(n, at) : b.writeFloatBE(n, at); break;
      case 'FD': le ? b.writeDoubleLE(n, at) : b.writeDoubleBE(n, at); break;
      case 'SV': le ? b.writeBigInt64LE(BigInt(n), at) : b.writeBigInt64BE(BigInt(n), at); break;
      case 'UV': le ? b.writeBigUInt64LE(BigInt(n), at) : b.writeBigUInt64BE(BigInt(n), at); break;
      case 'AT':
        // A tag is written as two 16-bit numbers, group first (PS3.5 6.2).
        le ? b.writeUInt16LE(n >>> 16, at) : b.writeUInt16BE(n >>> 16, at);
        le ? b.writeUInt16LE(n & 0xffff, at + 2) : b.writeUInt16BE(n & 0xffff, at + 2);
        break;
    }
  });
  return b;
}

/** Word size of binary VRs whose values are words (swapped for big endian; PS3.5 7.3). */
const WORD_SIZE: Record<string, number> = { OW: 2, OF: 4, OL: 4, OD: 8, OV: 8 };

function valueBytes(el: WriteElement, enc: Encoding, charset: readonly string[] | undefined): Buffer {
  const { vr, value } = el;
  if (Buffer.isBuffer(value)) {
    // Binary words are given little endian (as in the JSON model, PS3.18 F.2.7) and swapped for big endian.
    const width = WORD_SIZE[vr];
    if (enc.littleEndian || !width || value.length % width !== 0) return value;
    const swapped = Buffer.from(value);
    if (width === 2) swapped.swap16();
    else if (width === 4) swapped.swap32();
    else swapped.swap64();
    return swapped;
  }
  if (Array.isArray(value) && value.length === 0) return Buffer.alloc(0);
  if (TEXT_VRS.has(vr)) {
    const list = typeof value === 'string' ? [value] : (value as readonly (string | number | null)[]);
    // Numbers are text only for the number-string VRs (IS, DS).
    if (vr !== 'IS' && vr !== 'DS' && list.some((v) => typeof v === 'number')) throw new DicomWriteError(`cannot write numbers as ${vr}`);
    const text = list.map((v) => (v === null ? '' : String(v))).join('\\');
    // Default-repertoire VRs go through the same encoder, which refuses what they cannot hold.
    return encodeText(text, CHARSET_VRS.has(vr) ? charset : undefined, vr);
  }
  if (typeof value === 'string' || (Array.isArray(value) && typeof value[0] !== 'number')) {
    throw new DicomWriteError(`cannot write text as ${vr}`);
  }
  return numbers(vr, value as readonly number[], enc.littleEndian);
}

/** Pads to even length: UI with NUL, text with space, binary with NUL (PS3.5 6.2, 7.1.1). */
function padded(vr: string, b: Buffer): Buffer {
  if (b.length % 2 === 0) return b;
  const pad = vr === 'UI' || !TEXT_VRS.has(vr) ? 0x00 : 0x20;
  return Buffer.concat([b, Buffer.of(pad)]);
}

function header(tag: number, vr: string, length: number, enc: Encoding): Buffer {
  const le = enc.littleEndian;
  const w16 = (b: Buffer, v: number, at: number): number => (le ? b.writeUInt16LE(v, at) : b.writeUInt16BE(v, at));
  const w32 = (b: Buffer, v: number, at: number): number => (le ? b.writeUInt32LE(v, at) : b.writeUInt32BE(v, at));
  if (!enc.explicitVR || (tag >>> 16) === 0xfffe) {
    const b = Buffer.alloc(8);
    w16(b, tag >>> 16, 0);
    w16(b, tag & 0xffff, 2);
    w32(b, length, 4);
    return b;
  }
  if (LONG_VRS.has(vr)) {
    const b = Buffer.alloc(12);
    w16(b, tag >>> 16, 0);
    w16(b, tag & 0xffff, 2);
    b.write(vr, 4, 'latin1');
    w32(b, length, 8);
    return b;
  }
  if (length > 0xffff) throw new DicomWriteError(`value of ${vr} element ${tag.toString(16)} too long (${length} bytes)`);
  const b = Buffer.alloc(8);
  w16(b, tag >>> 16, 0);
  w16(b, tag & 0xffff, 2);
  b.write(vr, 4, 'latin1');
  w16(b, length, 6);
  return b;
}

/**
 * Encodes elements (sorted by tag here) in the given encoding. Sequences and items get defined
 * lengths. Text in SH/LO/ST/LT/UT/UC/PN is encoded in the character set the elements declare in
 * (0008,0005), else in `charset` (inherited from an enclosing dataset), so bytes and declaration agree.
 */
export function encodeDataset(elements: readonly WriteElement[], enc: Encoding, charset?: readonly string[]): Buffer {
  const declared = elements.find((e) => e.tag === Tag.SpecificCharacterSet);
  if (declared) charset = textValues(declared.value);
  const parts: Buffer[] = [];
  const sorted = [...elements].sort((a, b) => (a.tag >>> 0) - (b.tag >>> 0));
  for (const el of sorted) {
    if (el.vr === 'SQ') {
      const items = isItems(el.value) ? el.value : [];
      const encodedItems = items.map((item) => {
        const own = item.find((e) => e.tag === Tag.SpecificCharacterSet);
        const itemCharset = own ? textValues(own.value) : charset;
        const body = encodeDataset(item, enc, itemCharset);
        return Buffer.concat([header(Tag.Item, '', body.length, enc), body]);
      });
      const body = Buffer.concat(encodedItems);
      parts.push(header(el.tag, 'SQ', body.length, enc), body);
      continue;
    }
    const value = padded(el.vr, valueBytes(el, enc, charset));
    parts.push(header(el.tag, el.vr, value.length, enc), value);
  }
  return Buffer.concat(parts);
}

function textValues(value: WriteValue): string[] {
  if (typeof value === 'string') return value.split('\\');
  if (Buffer.isBuffer(value)) return value.toString('latin1').split('\\').map((v) => v.trim());
  return (value as readonly unknown[]).map((v) => String(v ?? ''));
}
