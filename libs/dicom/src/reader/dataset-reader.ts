import { implicitVr } from '../dictionary.js';
import { DicomDataset, type DicomElement, type Fragment } from '../element.js';
import { Tag } from '../tags.js';
import { DicomParseError, NEED_MORE } from './errors.js';

/** How a dataset is encoded (PS3.5 7.1): explicit or implicit VR, byte order. */
export interface Encoding {
  readonly explicitVR: boolean;
  readonly littleEndian: boolean;
}

export const EXPLICIT_LE: Encoding = { explicitVR: true, littleEndian: true };
export const IMPLICIT_LE: Encoding = { explicitVR: false, littleEndian: true };

export const UNDEFINED_LENGTH = 0xffffffff;

/** VRs with a 2-byte reserved field and a 4-byte length in explicit VR (PS3.5 Table 7.1-1). */
const LONG_VRS = new Set(['OB', 'OD', 'OF', 'OL', 'OV', 'OW', 'SQ', 'SV', 'UC', 'UN', 'UR', 'UT', 'UV']);

/** Binary VRs whose large values the archive leaves in the file instead of memory. */
export const BULK_VRS = new Set(['OB', 'OD', 'OF', 'OL', 'OV', 'OW', 'UN']);

const MAX_DEPTH = 64;

/** Values inside sequences larger than this are not copied out (they are read from the file if needed). */
const NESTED_INLINE_LIMIT = 4 * 1024 * 1024;

export interface ElementHeader {
  readonly tag: number;
  readonly vr: string;
  readonly length: number;
  readonly headerLength: number;
}

function isUpperLetter(c: number): boolean {
  return c >= 0x41 && c <= 0x5a;
}

/** Reads an element header at `pos`; undefined when the buffer ends first. */
export function readHeader(b: Buffer, pos: number, enc: Encoding): ElementHeader | undefined {
  if (pos + 8 > b.length) return undefined;
  const le = enc.littleEndian;
  const group = le ? b.readUInt16LE(pos) : b.readUInt16BE(pos);
  const element = le ? b.readUInt16LE(pos + 2) : b.readUInt16BE(pos + 2);
  const tag = ((group << 16) | element) >>> 0;
  if (group === 0xfffe) {
    // Item and delimiter tags never carry a VR (PS3.5 7.5).
    return { tag, vr: '', length: le ? b.readUInt32LE(pos + 4) : b.readUInt32BE(pos + 4), headerLength: 8 };
  }
  if (enc.explicitVR) {
    const c1 = b[pos + 4] ?? 0;
    const c2 = b[pos + 5] ?? 0;
    if (isUpperLetter(c1) && isUpperLetter(c2)) {
      const vr = String.fromCharCode(c1, c2);
      if (LONG_VRS.has(vr)) {
        if (pos + 12 > b.length) return undefined;
        return { tag, vr, length: le ? b.readUInt32LE(pos + 8) : b.readUInt32BE(pos + 8), headerLength: 12 };
      }
      return { tag, vr, length: le ? b.readUInt16LE(pos + 6) : b.readUInt16BE(pos + 6), headerLength: 8 };
    }
    // Not two letters: some writers emit implicit VR elements inside explicit VR data. Read the
    // element as implicit VR, as dcmtk does, rather than refusing a vendor's object.
  }
  return { tag, vr: implicitVr(tag), length: le ? b.readUInt32LE(pos + 4) : b.readUInt32BE(pos + 4), headerLength: 8 };
}

export function isPixelDataTag(tag: number): boolean {
  return tag === Tag.PixelData || tag === Tag.FloatPixelData || tag === Tag.DoubleFloatPixelData;
}

interface ReadContext {
  readonly b: Buffer;
  /** Absolute file offset of b[0]. */
  readonly base: number;
  /** True when the buffer holds everything there is: running out is truncation, not a wait. */
  readonly final: boolean;
}

function needMore(ctx: ReadContext, pos: number, what: string): never {
  if (ctx.final) throw new DicomParseError(`truncated: ${what} runs past the end of the data`, ctx.base + pos);
  throw NEED_MORE;
}

/**
 * Reads one complete element (value, sequence or encapsulated pixel data) starting at `pos`.
 * Throws NEED_MORE when the buffer ends first (unless `final`), DicomParseError on bad data.
 */
export function readElement(
  ctx: ReadContext,
  pos: number,
  enc: Encoding,
  depth: number,
): { element: DicomElement; pos: number } {
  const header = readHeader(ctx.b, pos, enc);
  if (!header) needMore(ctx, pos, 'element header');
  const valuePos = pos + header.headerLength;
  const { tag, length } = header;
  const vr = header.vr;

  if (length === UNDEFINED_LENGTH) {
    if (isPixelDataTag(tag) && vr !== 'SQ') {
      const { fragments, end } = readFragments(ctx, valuePos);
      return {
        element: { tag, vr: vr === 'UN' ? 'OB' : vr, offset: ctx.base + valuePos, headerLength: header.headerLength, length: end - valuePos, undefinedLength: true, bulk: true, fragments },
        pos: end,
      };
    }
    // An undefined length means a sequence; an UN one is encoded implicit VR LE (PS3.5 6.2.2).
    const itemEncoding = vr === 'UN' ? IMPLICIT_LE : enc;
    const { items, end } = readItems(ctx, valuePos, undefined, itemEncoding, depth + 1);
    return {
      element: { tag, vr: 'SQ', offset: ctx.base + valuePos, headerLength: header.headerLength, length: end - valuePos, undefinedLength: true, items },
      pos: end,
    };
  }

  const end = valuePos + length;
  if (end > ctx.b.length) needMore(ctx, pos, `element (${tag.toString(16).padStart(8, '0')})`);
  if (vr === 'SQ') {
    const { items } = readItems(ctx, valuePos, end, enc, depth + 1);
    return { element: { tag, vr, offset: ctx.base + valuePos, headerLength: header.headerLength, length, items }, pos: end };
  }
  if (depth > 0 && length > NESTED_INLINE_LIMIT) {
    return { element: { tag, vr, offset: ctx.base + valuePos, headerLength: header.headerLength, length, bulk: true }, pos: end };
  }
  // Copy: the source buffer is a network or file chunk that must not stay pinned in memory.
  const value = Buffer.from(ctx.b.subarray(valuePos, end));
  return { element: { tag, vr, offset: ctx.base + valuePos, headerLength: header.headerLength, length, value }, pos: end };
}

/** Sequence items until `end` (defined length) or the Sequence Delimitation Item (PS3.5 7.5.1). */
function readItems(
  ctx: ReadContext,
  pos: number,
  end: number | undefined,
  enc: Encoding,
  depth: number,
): { items: DicomDataset[]; end: number } {
  if (depth > MAX_DEPTH) throw new DicomParseError('sequences nested too deeply', ctx.base + pos);
  const items: DicomDataset[] = [];
  for (;;) {
    if (end !== undefined && pos >= end) return { items, end };
    const header = readHeader(ctx.b, pos, enc);
    if (!header) needMore(ctx, pos, 'sequence item');
    if (header.tag === Tag.SequenceDelimitationItem) {
      if (end !== undefined) throw new DicomParseError('sequence delimiter in a sequence of defined length', ctx.base + pos);
      return { items, end: pos + 8 };
    }
    if (header.tag !== Tag.Item) {
      throw new DicomParseError(`expected an item in a sequence, found tag ${header.tag.toString(16).padStart(8, '0')}`, ctx.base + pos);
    }
    const itemStart = pos + 8;
    if (header.length === UNDEFINED_LENGTH) {
      const { dataset, pos: next } = readDataset(ctx, itemStart, undefined, enc, depth);
      items.push(dataset);
      pos = next;
    } else {
      const itemEnd = itemStart + header.length;
      if (end !== undefined && itemEnd > end) throw new DicomParseError('item runs past the end of its sequence', ctx.base + pos);
      if (itemEnd > ctx.b.length) needMore(ctx, pos, 'sequence item');
      const { dataset } = readDataset(ctx, itemStart, itemEnd, enc, depth);
      items.push(dataset);
      pos = itemEnd;
    }
  }
}

/**
 * Elements until `end` (defined length) or the Item Delimitation Item (undefined-length item).
 * Returns the position after the item delimiter in the latter case.
 */
export function readDataset(
  ctx: ReadContext,
  pos: number,
  end: number | undefined,
  enc: Encoding,
  depth: number,
): { dataset: DicomDataset; pos: number } {
  const dataset = new DicomDataset(enc.littleEndian);
  for (;;) {
    if (end !== undefined && pos >= end) {
      if (pos > end) throw new DicomParseError('element runs past the end of its item', ctx.base + pos);
      return { dataset, pos };
    }
    if (end === undefined) {
      const header = readHeader(ctx.b, pos, enc);
      if (!header) needMore(ctx, pos, 'item');
      if (header.tag === Tag.ItemDelimitationItem) return { dataset, pos: pos + 8 };
    }
    const { element, pos: next } = readElement(ctx, pos, enc, depth);
    if (element.tag === Tag.Item || element.tag === Tag.SequenceDelimitationItem) {
      throw new DicomParseError('unexpected item tag inside an item', ctx.base + pos);
    }
    dataset.set(element);
    pos = next;
  }
}

/** Encapsulated pixel data: item headers and their lengths, skipping the fragment bytes (PS3.5 A.4). */
function readFragments(ctx: ReadContext, pos: number): { fragments: Fragment[]; end: number } {
  const fragments: Fragment[] = [];
  for (;;) {
    const header = readHeader(ctx.b, pos, EXPLICIT_LE);
    if (!header) needMore(ctx, pos, 'pixel data fragment');
    if (header.tag === Tag.SequenceDelimitationItem) return { fragments, end: pos + 8 };
    if (header.tag !== Tag.Item || header.length === UNDEFINED_LENGTH) {
      throw new DicomParseError('malformed encapsulated pixel data', ctx.base + pos);
    }
    fragments.push({ offset: ctx.base + pos + 8, length: header.length });
    pos += 8 + header.length;
    if (pos > ctx.b.length) needMore(ctx, pos, 'pixel data fragment');
  }
}

/** Reads a whole dataset held in one buffer (small objects, C-FIND identifiers, tests). */
export function readWholeDataset(b: Buffer, enc: Encoding, base = 0): DicomDataset {
  return readDataset({ b, base, final: true }, 0, b.length, enc, 0).dataset;
}

export type { ReadContext };
