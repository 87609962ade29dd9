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
 * Every charset-dependent text value re-encoded from the dataset's character set to UTF-8, the
 * rest of each element byte for byte; sequences are rewritten with undefined lengths so that no
 * length has to be computed over changed values (PS3.5 7.5).
 */
function writeTranscoded(ds: DicomDataset, source: Buffer, enc: Encoding, from: readonly string[] | undefined, out: Buffer[]): void {
  const own = ds.specificCharacterSet() ?? from;
  for (const tag of [...ds.elements.keys()].sort((a, b) => a - b)) {
    const el = ds.elements.get(tag)!;
    if (tag === Tag.SpecificCharacterSet) {
      const value = Buffer.from('ISO_IR 192', 'latin1');
      out.push(header(tag, 'CS', value.length, enc), value);
      continue;
    }
    if (el.items) {
      out.push(header(tag, 'SQ', 0xffffffff, enc));
      for (const item of el.items) {
        out.push(header(Tag.Item, '', 0xffffffff, enc));
        writeTranscoded(item, source, enc, own, out);
        out.push(header(Tag.ItemDelimitationItem, '', 0, enc));
      }
      out.push(header(Tag.SequenceDelimitationItem, '', 0, enc));
      continue;
    }
    if (el.value && CHARSET_VRS.has(el.vr)) {
      const text = decodeText(el.value, own, el.vr);
      const value = evenText(el.vr, encodeText(text.replace(/[\s\0]+$/, ''), UTF8, el.vr));
      out.push(header(tag, el.vr, value.length, enc), value);
      continue;
    }
    out.push(rawBytes(source, el));
  }
}

/**
 * Lays new values over the header of a stored dataset (the egress overlay, ARCHITECTURE.md
 * invariant 2): `source` is the dataset's bytes up to its first bulk value (pixel data), which
 * follow unchanged. Replaced or added elements are encoded in the dataset's own character set;
 * when that cannot hold them, the whole header moves to UTF-8 (ISO_IR 192) so that Specific
 * Character Set always describes the bytes. Everything else, private tags included, is kept byte
 * for byte.
 */
export function rewriteHeader(source: Buffer, enc: Encoding, replacements: readonly WriteElement[]): HeaderRewrite {
  const ds = readWholeDataset(source, enc);
  const charset = ds.specificCharacterSet();
  const replacing = new Map(replacements.filter((r) => r.tag !== Tag.SpecificCharacterSet).map((r) => [r.tag >>> 0, r]));
  const encodeReplacements = (target: readonly string[] | undefined): Map<number, Buffer> => {
    const out = new Map<number, Buffer>();
    for (const [tag, el] of replacing) out.set(tag, encodeDataset([el], enc, target));
    return out;
  };
  let encoded: Map<number, Buffer>;
  let utf8 = false;
  try {
    encoded = encodeReplacements(charset);
  } catch (e) {
    if (!(e instanceof CharsetEncodeError)) throw e;
    encoded = encodeReplacements(UTF8);
    utf8 = true;
  }
  if (!utf8) {
    const tags = [...new Set([...ds.elements.keys(), ...encoded.keys()])].sort((a, b) => a - b);
    const out: Buffer[] = [];
    for (const tag of tags) {
      const replaced = encoded.get(tag);
      if (replaced) out.push(replaced);
      else out.push(rawBytes(source, ds.elements.get(tag)!));
    }
    return { bytes: Buffer.concat(out) };
  }
  // The new values need UTF-8: the header is transcoded as a whole, then the replacements go in.
  const body: Buffer[] = [];
  const withoutReplaced = new (ds.constructor as new (le: boolean) => DicomDataset)(ds.littleEndian);
  for (const [tag, el] of ds.elements) if (!encoded.has(tag)) withoutReplaced.set(el);
  if (!withoutReplaced.has(Tag.SpecificCharacterSet)) {
    withoutReplaced.set({ tag: Tag.SpecificCharacterSet, vr: 'CS', offset: 0, length: 0, value: Buffer.alloc(0) });
  }
  writeTranscoded(withoutReplaced, source, enc, charset, body);
  const transcoded = readWholeDataset(Buffer.concat(body), enc);
  const merged = Buffer.concat(body);
  const tags = [...new Set([...transcoded.elements.keys(), ...encoded.keys()])].sort((a, b) => a - b);
  const out: Buffer[] = [];
  for (const tag of tags) {
    const replaced = encoded.get(tag);
    if (replaced) out.push(replaced);
    else out.push(rawBytes(merged, transcoded.elements.get(tag)!));
  }
  return { bytes: Buffer.concat(out), charsetChangedTo: UTF8 };
}
