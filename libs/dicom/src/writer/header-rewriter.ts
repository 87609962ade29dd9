import { CharsetEncodeError, decodeText, encodeText } from '../charset/index.js';
import type { DicomDataset, DicomElement } from '../element.js';
import { type Encoding, readWholeDataset } from '../reader/dataset-reader.js';
import { Tag } from '../tags.js';
import { encodeDataset, type WriteElement } from './dataset-writer.js';

const LONG_VRS = new Set(['OB', 'OD', 'OF', 'OL', 'OV', 'OW', 'SQ', 'SV', 'UC', 'UN', 'UR', 'UT', 'UV']);
/** VRs whose bytes depend on the Specific Character Set (PS3.5 6.1.2.3). */
const CHARSET_VRS = new Set(['SH', 'LO', 'ST', 'LT', 'UT', 'UC', 'PN']);
const UTF8 = ['ISO_IR 192'];

export interface HeaderRewrite {
  /** The rewritten bytes, to be followed by the rest of the dataset unchanged. */
  readonly bytes: Buffer;
  /** The character set the rewritten header declares, when it had to change to hold the new values. */
  readonly charsetChangedTo?: readonly string[];
}

function header(tag: number, vr: string, length: number, enc: Encoding): Buffer {
  const le = enc.littleEndian;
  const explicit = enc.explicitVR && tag >>> 16 !== 0xfffe;
  const b = Buffer.alloc(explicit && LONG_VRS.has(vr) ? 12 : 8);
  le ? b.writeUInt16LE(tag >>> 16, 0) : b.writeUInt16BE(tag >>> 16, 0);
  le ? b.writeUInt16LE(tag & 0xffff, 2) : b.writeUInt16BE(tag & 0xffff, 2);
  if (!explicit) {
    le ? b.writeUInt32LE(length >>> 0, 4) : b.writeUInt32BE(length >>> 0, 4);
  } else if (LONG_VRS.has(vr)) {
    b.write(vr, 4, 'latin1');
    le ? b.writeUInt32LE(length >>> 0, 8) : b.writeUInt32BE(length >>> 0, 8);
  } else {
    b.write(vr, 4, 'latin1');
    le ? b.writeUInt16LE(length, 6) : b.writeUInt16BE(length, 6);
  }
  return b;
}

/** The element's own bytes (header and value) in the source, as received. */
function rawBytes(source: Buffer, el: DicomElement): Buffer {
  const start = el.offset - (el.headerLength ?? 8);
  return source.subarray(start, el.offset + el.length);
}

function evenText(vr: string, b: Buffer): Buffer {
  return b.length % 2 === 0 ? b : Buffer.concat([b, Buffer.of(0x20)]);
}

/**
 * Every charset-dependent text value re-encoded from the dataset's character set to `target`, the
 * rest of each element byte for byte; sequences are rewritten with undefined lengths so that no
 * length has to be computed over changed values (PS3.5 7.5). Throws CharsetEncodeError when a
 * value does not fit `target`.
 */
function writeTranscoded(ds: DicomDataset, source: Buffer, enc: Encoding, from: readonly string[] | undefined, target: readonly string[], out: Buffer[]): void {
  const own = ds.specificCharacterSet() ?? from;
  for (const tag of [...ds.elements.keys()].sort((a, b) => a - b)) {
    const el = ds.elements.get(tag)!;
    if (tag === Tag.SpecificCharacterSet) {
      const value = evenText('CS', Buffer.from(target.join('\\'), 'latin1'));
      out.push(header(tag, 'CS', value.length, enc), value);
      continue;
    }
    if (el.items) {
      out.push(header(tag, 'SQ', 0xffffffff, enc));
      for (const item of el.items) {
        out.push(header(Tag.Item, '', 0xffffffff, enc));
        writeTranscoded(item, source, enc, own, target, out);
        out.push(header(Tag.ItemDelimitationItem, '', 0, enc));
      }
      out.push(header(Tag.SequenceDelimitationItem, '', 0, enc));
      continue;
    }
    if (el.value && CHARSET_VRS.has(el.vr)) {
      const text = decodeText(el.value, own, el.vr);
      const value = evenText(el.vr, encodeText(text.replace(/[\s\0]+$/, ''), target, el.vr));
      out.push(header(tag, el.vr, value.length, enc), value);
      continue;
    }
    out.push(rawBytes(source, el));
  }
}

export interface RewriteOptions {
  /** Elements to leave out (a coercion rule removed them). */
  readonly remove?: readonly number[];
  /** Where the header goes when its own character set cannot hold the new values: the destination's (UTF-8 by default). */
  readonly target?: readonly string[];
  /** Move the header to `target` even when its own character set could hold the values (a destination that accepts only `target`). */
  readonly forceTarget?: boolean;
}

/** Whether two Specific Character Set values name the same thing (absent is the default repertoire). */
export function sameCharacterSet(a: readonly string[] | undefined, b: readonly string[] | undefined): boolean {
  const norm = (v: readonly string[] | undefined) => (v && v.length && v.some((x) => x.trim() !== '') ? v.map((x) => x.trim() || 'ISO_IR 6').join('\\') : 'ISO_IR 6');
  return norm(a) === norm(b);
}

/**
 * Lays new values over the header of a stored dataset (the egress overlay, ARCHITECTURE.md
 * invariant 2): `source` is the dataset's bytes up to its first bulk value (pixel data), which
 * follow unchanged. Replaced or added elements are encoded in the dataset's own character set;
 * when that cannot hold them (or the destination accepts only `target`), the whole header moves
 * to `target`, or to UTF-8 (ISO_IR 192) when even that cannot hold it, so that Specific Character
 * Set always describes the bytes (PS3.5 6.1.2.3). Everything else, private tags included, is kept
 * byte for byte.
 */
export function rewriteHeader(source: Buffer, enc: Encoding, replacements: readonly WriteElement[], options: RewriteOptions = {}): HeaderRewrite {
  const ds = readWholeDataset(source, enc);
  const charset = ds.specificCharacterSet();
  const removed = new Set((options.remove ?? []).map((t) => t >>> 0));
  removed.delete(Tag.SpecificCharacterSet);
  const replacing = new Map(replacements.filter((r) => r.tag !== Tag.SpecificCharacterSet).map((r) => [r.tag >>> 0, r]));
  for (const tag of replacing.keys()) removed.delete(tag);
  const encodeReplacements = (target: readonly string[] | undefined): Map<number, Buffer> => {
    const out = new Map<number, Buffer>();
    for (const [tag, el] of replacing) out.set(tag, encodeDataset([el], enc, target));
    return out;
  };
  const target = options.target && options.target.length ? options.target : UTF8;
  if (!options.forceTarget || sameCharacterSet(charset, target)) {
    try {
      const encoded = encodeReplacements(charset);
      const tags = [...new Set([...ds.elements.keys(), ...encoded.keys()])].filter((t) => !removed.has(t)).sort((a, b) => a - b);
      const out: Buffer[] = [];
      for (const tag of tags) out.push(encoded.get(tag) ?? rawBytes(source, ds.elements.get(tag)!));
      return { bytes: Buffer.concat(out) };
    } catch (e) {
      if (!(e instanceof CharsetEncodeError)) throw e;
    }
  }
  try {
    return transcodeTo(target);
  } catch (e) {
    if (!(e instanceof CharsetEncodeError) || sameCharacterSet(target, UTF8)) throw e;
    return transcodeTo(UTF8);
  }

  // The header is transcoded as a whole, then the replacements go in.
  function transcodeTo(to: readonly string[]): HeaderRewrite {
    const encoded = encodeReplacements(to);
    const body: Buffer[] = [];
    const rest = new (ds.constructor as new (le: boolean) => DicomDataset)(ds.littleEndian);
    for (const [tag, el] of ds.elements) if (!encoded.has(tag) && !removed.has(tag)) rest.set(el);
    if (!rest.has(Tag.SpecificCharacterSet)) {
      rest.set({ tag: Tag.SpecificCharacterSet, vr: 'CS', offset: 0, length: 0, value: Buffer.alloc(0) });
    }
    writeTranscoded(rest, source, enc, charset, to, body);
    const merged = Buffer.concat(body);
    const transcoded = readWholeDataset(merged, enc);
    const tags = [...new Set([...transcoded.elements.keys(), ...encoded.keys()])].sort((a, b) => a - b);
    const out: Buffer[] = [];
    for (const tag of tags) out.push(encoded.get(tag) ?? rawBytes(merged, transcoded.elements.get(tag)!));
    return { bytes: Buffer.concat(out), charsetChangedTo: to };
  }
}
