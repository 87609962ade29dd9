import type { DicomDataset, DicomElement } from '../element.js';
import { type Encoding, EXPLICIT_LE, IMPLICIT_LE, readWholeDataset } from '../reader/dataset-reader.js';
import { Tag } from '../tags.js';
import { TS } from '../transfer-syntax.js';

const LONG_VRS = new Set(['OB', 'OD', 'OF', 'OL', 'OV', 'OW', 'SQ', 'SV', 'UC', 'UN', 'UR', 'UT', 'UV']);
const UNDEFINED = 0xffffffff;

/** The two uncompressed little endian syntaxes, between which a dataset converts without touching a value. */
export function isUncompressedLittleEndian(transferSyntaxUid: string): boolean {
  return transferSyntaxUid === TS.ImplicitVRLittleEndian || transferSyntaxUid === TS.ExplicitVRLittleEndian;
}

function header(tag: number, vr: string, length: number, enc: Encoding): Buffer {
  if (!enc.explicitVR || tag >>> 16 === 0xfffe) {
    const b = Buffer.alloc(8);
    b.writeUInt16LE(tag >>> 16, 0);
    b.writeUInt16LE(tag & 0xffff, 2);
    b.writeUInt32LE(length >>> 0, 4);
    return b;
  }
  if (LONG_VRS.has(vr)) {
    const b = Buffer.alloc(12);
    b.writeUInt16LE(tag >>> 16, 0);
    b.writeUInt16LE(tag & 0xffff, 2);
    b.write(vr, 4, 'latin1');
    b.writeUInt32LE(length >>> 0, 8);
    return b;
  }
  const b = Buffer.alloc(8);
  b.writeUInt16LE(tag >>> 16, 0);
  b.writeUInt16LE(tag & 0xffff, 2);
  b.write(vr, 4, 'latin1');
  b.writeUInt16LE(length, 6);
  return b;
}

function writeDataset(ds: DicomDataset, source: Buffer, enc: Encoding, out: Buffer[]): void {
  const tags = [...ds.elements.keys()].sort((a, b) => a - b);
  for (const tag of tags) writeElement(ds.elements.get(tag)!, source, enc, out);
}

function writeElement(el: DicomElement, source: Buffer, enc: Encoding, out: Buffer[]): void {
  if (el.items) {
    // Sequences and items get undefined lengths, so no length has to be recomputed (PS3.5 7.5).
    out.push(header(el.tag, 'SQ', UNDEFINED, enc));
    for (const item of el.items) {
      out.push(header(Tag.Item, '', UNDEFINED, enc));
      writeDataset(item, source, enc, out);
      out.push(header(Tag.ItemDelimitationItem, '', 0, enc));
    }
    out.push(header(Tag.SequenceDelimitationItem, '', 0, enc));
    return;
  }
  if (el.fragments) throw new Error('encapsulated pixel data is not an uncompressed little endian dataset');
  const value = el.value ?? source.subarray(el.offset, el.offset + el.length);
  // A value too long for a 2-byte length (an implicit VR dataset may hold one) is written as UN (PS3.5 6.2.2).
  const vr = enc.explicitVR && !LONG_VRS.has(el.vr) && value.length > 0xffff ? 'UN' : el.vr;
  out.push(header(el.tag, vr, value.length, enc), value);
}

/**
 * Converts a dataset between Implicit and Explicit VR Little Endian (PS3.5 A.1, A.2): element
 * headers change, every value stays byte for byte (both are little endian). Used when a retrieve
 * destination accepts only the other of the two syntaxes.
 */
export function transcodeLittleEndian(dataset: Buffer, fromTransferSyntax: string, toTransferSyntax: string): Buffer {
  if (fromTransferSyntax === toTransferSyntax) return dataset;
  if (!isUncompressedLittleEndian(fromTransferSyntax) || !isUncompressedLittleEndian(toTransferSyntax)) {
    throw new Error(`cannot convert ${fromTransferSyntax} to ${toTransferSyntax} without decoding`);
  }
  const from = fromTransferSyntax === TS.ImplicitVRLittleEndian ? IMPLICIT_LE : EXPLICIT_LE;
  const to = toTransferSyntax === TS.ImplicitVRLittleEndian ? IMPLICIT_LE : EXPLICIT_LE;
  const parsed = readWholeDataset(dataset, from);
  const out: Buffer[] = [];
  writeDataset(parsed, dataset, to, out);
  return Buffer.concat(out);
}
