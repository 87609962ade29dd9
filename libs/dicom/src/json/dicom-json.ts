import { decodeText, parsePersonName, resolveSpecificCharacterSet, type SpecificCharacterSet } from '../charset/index.js';
import type { DicomDataset, DicomElement } from '../element.js';
import { trimAscii } from '../element.js';
import { Tag, tagToHex } from '../tags.js';
import type { WriteElement, WriteItem } from '../writer/dataset-writer.js';

/** The DICOM JSON Model (PS3.18 Annex F). */
export interface DicomJsonPersonName {
  Alphabetic?: string;
  Ideographic?: string;
  Phonetic?: string;
}
export interface DicomJsonAttribute {
  vr: string;
  Value?: unknown[];
  InlineBinary?: string;
  BulkDataURI?: string;
}
export type DicomJson = Record<string, DicomJsonAttribute>;

export interface ToJsonOptions {
  /** Binary values up to this size go inline as base64; larger ones get a BulkDataURI or are left out. */
  readonly inlineBinaryLimit?: number;
  /** The URI a bulk (top-level) element is retrievable at; undefined leaves the attribute without a value. */
  readonly bulkDataUri?: (element: DicomElement) => string | undefined;
  /** Collects problems (invalid IS/DS, say) instead of failing: a bad value must not stop ingest. */
  readonly warnings?: string[];
  /** Leave out elements (by tag) at the top level, such as pixel data in metadata. */
  readonly omit?: ReadonlySet<number>;
}

const ASCII_MULTI = new Set(['AE', 'AS', 'CS', 'DA', 'DT', 'TM', 'UI']);
const TEXT_MULTI = new Set(['SH', 'LO', 'UC']);
const TEXT_SINGLE = new Set(['ST', 'LT', 'UT']);
const BINARY = new Set(['OB', 'OD', 'OF', 'OL', 'OV', 'OW', 'UN']);
const NUMBER_SIZE: Readonly<Record<string, number>> = { US: 2, SS: 2, UL: 4, SL: 4, FL: 4, FD: 8, SV: 8, UV: 8 };
const INTEGER_STRING = /^[+-]?\d+$/;
const DECIMAL_STRING = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

function splitValues(text: string): (string | null)[] {
  // Most values are single: no array of parts to split and map.
  if (!text.includes('\\')) {
    const t = text.trim();
    return [t === '' ? null : t];
  }
  return text.split('\\').map((v) => {
    const t = v.trim();
    return t === '' ? null : t;
  });
}

function numberValues(el: DicomElement, le: boolean): number[] {
  const v = el.value!;
  const size = NUMBER_SIZE[el.vr]!;
  const out: number[] = [];
  for (let at = 0; at + size <= v.length; at += size) {
    switch (el.vr) {
      case 'US': out.push(le ? v.readUInt16LE(at) : v.readUInt16BE(at)); break;
      case 'SS': out.push(le ? v.readInt16LE(at) : v.readInt16BE(at)); break;
      case 'UL': out.push(le ? v.readUInt32LE(at) : v.readUInt32BE(at)); break;
      case 'SL': out.push(le ? v.readInt32LE(at) : v.readInt32BE(at)); break;
      case 'FL': out.push(le ? v.readFloatLE(at) : v.readFloatBE(at)); break;
      case 'FD': out.push(le ? v.readDoubleLE(at) : v.readDoubleBE(at)); break;
      case 'SV': out.push(Number(le ? v.readBigInt64LE(at) : v.readBigInt64BE(at))); break;
      case 'UV': out.push(Number(le ? v.readBigUInt64LE(at) : v.readBigUInt64BE(at))); break;
    }
  }
  return out;
}

/** Binary values are little endian in the JSON model; big endian words are swapped back (PS3.18 F.2.7). */
function littleEndianBytes(el: DicomElement, le: boolean): Buffer {
  const v = el.value!;
  if (le) return v;
  const width = ({ OW: 2, OF: 4, OL: 4, OD: 8, OV: 8 } as Record<string, number>)[el.vr];
  if (!width) return v;
  const out = Buffer.from(v);
  if (width === 2) out.swap16();
  else if (width === 4) out.swap32();
  else out.swap64();
  return out;
}

function attribute(
  el: DicomElement,
  charset: readonly string[] | undefined,
  cs: SpecificCharacterSet,
  le: boolean,
  opts: ToJsonOptions,
): DicomJsonAttribute | undefined {
  const { vr } = el;
  if (vr === 'SQ') {
    // Inside items every kept binary value goes inline: bulk data URIs address top-level elements only.
    const nested: ToJsonOptions = { ...opts, omit: undefined, bulkDataUri: undefined, inlineBinaryLimit: Number.MAX_SAFE_INTEGER };
    return { vr, Value: (el.items ?? []).map((item) => datasetToJson(item, nested, charset)) };
  }
  if (el.bulk || el.value === undefined) {
    const uri = opts.bulkDataUri?.(el);
    return uri ? { vr, BulkDataURI: uri } : { vr };
  }
  const v = el.value;
  if (v.length === 0) return { vr };
  if (BINARY.has(vr)) {
    if (v.length > (opts.inlineBinaryLimit ?? 64 * 1024)) {
      const uri = opts.bulkDataUri?.(el);
      return uri ? { vr, BulkDataURI: uri } : { vr };
    }
    return { vr, InlineBinary: littleEndianBytes(el, le).toString('base64') };
  }
  if (vr === 'PN') {
    const names = decodeText(v, cs, vr).replace(/[\s\0]+$/, '').split('\\');
    const Value = names.map((n) => {
      const groups = parsePersonName(n.trim());
      const out: DicomJsonPersonName = {};
      if (groups.alphabetic) out.Alphabetic = groups.alphabetic;
      if (groups.ideographic) out.Ideographic = groups.ideographic;
      if (groups.phonetic) out.Phonetic = groups.phonetic;
      return Object.keys(out).length ? out : null;
    });
    return Value.every((x) => x === null) ? { vr } : { vr, Value };
  }
  if (ASCII_MULTI.has(vr)) return { vr, Value: splitValues(trimAscii(v.toString('latin1'))) };
  if (vr === 'UR') return { vr, Value: [trimAscii(v.toString('latin1'))] };
  if (TEXT_MULTI.has(vr)) return { vr, Value: splitValues(decodeText(v, cs, vr)) };
  if (TEXT_SINGLE.has(vr)) return { vr, Value: [decodeText(v, cs, vr).replace(/[\s\0]+$/, '')] };
  if (vr === 'IS' || vr === 'DS') {
    const Value = splitValues(trimAscii(v.toString('latin1'))).map((s) => {
      if (s === null) return null;
      // Decimal only (PS3.5 6.2): Number() would also take "0x10" or "Infinity".
      const decimal = vr === 'IS' ? INTEGER_STRING : DECIMAL_STRING;
      const n = decimal.test(s) ? Number(s) : NaN;
      if (!Number.isFinite(n) || (vr === 'IS' && !Number.isInteger(n))) {
        opts.warnings?.push(`invalid ${vr} value in ${tagToHex(el.tag)}`);
        return null;
      }
      return n;
    });
    return { vr, Value };
  }
  if (vr === 'AT') {
    const Value: string[] = [];
    for (let at = 0; at + 4 <= v.length; at += 4) {
      const g = le ? v.readUInt16LE(at) : v.readUInt16BE(at);
      const e = le ? v.readUInt16LE(at + 2) : v.readUInt16BE(at + 2);
      Value.push(tagToHex(((g << 16) | e) >>> 0));
    }
    return { vr, Value };
  }
  if (NUMBER_SIZE[vr] !== undefined) return { vr, Value: numberValues(el, le) };
  // A VR this model does not know: keep the bytes rather than guess.
  return { vr: 'UN', InlineBinary: v.toString('base64') };
}

/**
 * A dataset in the DICOM JSON model (PS3.18 F.2). Text is decoded to Unicode with the dataset's
 * Specific Character Set (an item's own, or the one it inherits).
 */
export function datasetToJson(ds: DicomDataset, opts: ToJsonOptions = {}, inheritedCharset?: readonly string[]): DicomJson {
  const charset = ds.specificCharacterSet() ?? inheritedCharset;
  const cs = resolveSpecificCharacterSet(charset);
  const out: DicomJson = {};
  // Elements are read in tag order; sorting is needed only for a dataset built otherwise.
  let els = [...ds.elements.values()];
  for (let i = 1; i < els.length; i++) {
    if (els[i - 1]!.tag > els[i]!.tag) {
      els = els.sort((x, y) => x.tag - y.tag);
      break;
    }
  }
  for (const el of els) {
    const tag = el.tag;
    if ((tag & 0xffff) === 0 || tag >>> 16 === 0x0002) continue; // group lengths (retired) and meta
    if (opts.omit?.has(tag)) continue;
    const attr = attribute(el, charset, cs, ds.littleEndian, opts);
    if (attr) out[tagToHex(tag)] = attr;
  }
  if (charset && out[tagToHex(Tag.SpecificCharacterSet)]) {
    // Decoded text is Unicode now; the JSON no longer has a character set of its own.
    delete out[tagToHex(Tag.SpecificCharacterSet)];
  }
  return out;
}

function personNameText(value: unknown): string {
  if (value === null || value === undefined) return '';
  if (typeof value === 'string') return value;
  const pn = value as DicomJsonPersonName;
  const groups = [pn.Alphabetic ?? '', pn.Ideographic ?? '', pn.Phonetic ?? ''];
  while (groups.length > 1 && groups[groups.length - 1] === '') groups.pop();
  return groups.join('=');
}

/** The inverse, for building binary datasets (C-FIND responses) from JSON-model results. */
export function jsonToElements(json: DicomJson): WriteElement[] {
  const out: WriteElement[] = [];
  for (const [key, attr] of Object.entries(json)) {
    const tag = parseInt(key, 16) >>> 0;
    const { vr } = attr;
    if (vr === 'SQ') {
      const items: WriteItem[] = (attr.Value ?? []).map((item) => jsonToElements(item as DicomJson));
      out.push({ tag, vr, value: items });
      continue;
    }
    if (attr.InlineBinary !== undefined) {
      out.push({ tag, vr, value: Buffer.from(attr.InlineBinary, 'base64') });
      continue;
    }
    const values = attr.Value ?? [];
    if (vr === 'PN') out.push({ tag, vr, value: values.map(personNameText) });
    else if (['US', 'SS', 'UL', 'SL', 'FL', 'FD', 'SV', 'UV'].includes(vr)) out.push({ tag, vr, value: values.map(Number) });
    else if (vr === 'AT') out.push({ tag, vr, value: values.map((v) => parseInt(String(v), 16)) });
    else out.push({ tag, vr, value: values.map((v) => (v === null || v === undefined ? null : String(v))) });
  }
  return out;
}
