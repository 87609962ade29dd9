import { createReadStream, createWriteStream } from 'node:fs';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { DicomDataset, DicomElement } from '../element.js';
import { type Encoding, EXPLICIT_LE, IMPLICIT_LE, readWholeDataset } from '../reader/dataset-reader.js';
import { DatasetStreamParser } from '../reader/dataset-stream-parser.js';
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

/** What the converted dataset is made of: new bytes, or a range of the source's (a value kept as it is). */
type Piece = Buffer | { readonly offset: number; readonly length: number };

function writeDataset(ds: DicomDataset, enc: Encoding, out: Piece[]): void {
  const tags = [...ds.elements.keys()].sort((a, b) => a - b);
  for (const tag of tags) writeElement(ds.elements.get(tag)!, enc, out);
}

function writeElement(el: DicomElement, enc: Encoding, out: Piece[]): void {
  if (el.items) {
    // Sequences and items get undefined lengths, so no length has to be recomputed (PS3.5 7.5).
    out.push(header(el.tag, 'SQ', UNDEFINED, enc));
    for (const item of el.items) {
      out.push(header(Tag.Item, '', UNDEFINED, enc));
      writeDataset(item, enc, out);
      out.push(header(Tag.ItemDelimitationItem, '', 0, enc));
    }
    out.push(header(Tag.SequenceDelimitationItem, '', 0, enc));
    return;
  }
  if (el.fragments) throw new Error('encapsulated pixel data is not an uncompressed little endian dataset');
  // A value not held (bulk data) is the source's range: values never change, only headers.
  const value: Piece = el.value ?? { offset: el.offset, length: el.length };
  // A value too long for a 2-byte length (an implicit VR dataset may hold one) is written as UN (PS3.5 6.2.2).
  const vr = enc.explicitVR && !LONG_VRS.has(el.vr) && value.length > 0xffff ? 'UN' : el.vr;
  out.push(header(el.tag, vr, value.length, enc), value);
}

function encodings(fromTransferSyntax: string, toTransferSyntax: string): { from: Encoding; to: Encoding } {
  if (!isUncompressedLittleEndian(fromTransferSyntax) || !isUncompressedLittleEndian(toTransferSyntax)) {
    throw new Error(`cannot convert ${fromTransferSyntax} to ${toTransferSyntax} without decoding`);
  }
  return {
    from: fromTransferSyntax === TS.ImplicitVRLittleEndian ? IMPLICIT_LE : EXPLICIT_LE,
    to: toTransferSyntax === TS.ImplicitVRLittleEndian ? IMPLICIT_LE : EXPLICIT_LE,
  };
}

/**
 * Converts a dataset between Implicit and Explicit VR Little Endian (PS3.5 A.1, A.2): element
 * headers change, every value stays byte for byte (both are little endian). Used when a retrieve
 * destination accepts only the other of the two syntaxes.
 */
export function transcodeLittleEndian(dataset: Buffer, fromTransferSyntax: string, toTransferSyntax: string): Buffer {
  if (fromTransferSyntax === toTransferSyntax) return dataset;
  const { from, to } = encodings(fromTransferSyntax, toTransferSyntax);
  const out: Piece[] = [];
  writeDataset(readWholeDataset(dataset, from), to, out);
  return Buffer.concat(out.map((p) => (Buffer.isBuffer(p) ? p : dataset.subarray(p.offset, p.offset + p.length))));
}

/**
 * `transcodeLittleEndian` from file to file, for an object of any size: the source is read twice,
 * once through the streaming parser (which keeps the header and only the offsets of values over
 * 64 KiB) and once to copy those values into the new file, so memory holds the header and a few
 * read buffers, never the pixel data.
 */
export async function transcodeLittleEndianFile(sourcePath: string, targetPath: string, fromTransferSyntax: string, toTransferSyntax: string): Promise<void> {
  const { from, to } = encodings(fromTransferSyntax, toTransferSyntax);
  const parser = new DatasetStreamParser({ encoding: from, baseOffset: 0 });
  for await (const chunk of createReadStream(sourcePath)) parser.push(chunk as Buffer);
  const out: Piece[] = [];
  writeDataset(parser.end(), to, out);
  async function* bytes(): AsyncGenerator<Buffer> {
    for (const piece of out) {
      if (Buffer.isBuffer(piece)) yield piece;
      else if (piece.length > 0) yield* createReadStream(sourcePath, { start: piece.offset, end: piece.offset + piece.length - 1, highWaterMark: 1024 * 1024 });
    }
  }
  await pipeline(Readable.from(bytes()), createWriteStream(targetPath, { flags: 'wx' }));
}
