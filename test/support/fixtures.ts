import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildPart10Header, type DicomJson, encodeDataset, EXPLICIT_LE, IMPLICIT_LE, jsonToElements, Tag, tagToHex, type Encoding } from '#vna/dicom';
import { dcmtk } from './dcmtk.js';

export const FIXTURE_DIR = join(process.cwd(), 'integration-specs/dicom');

export function fixtureNames(): string[] {
  return readdirSync(FIXTURE_DIR)
    .filter((f) => f.endsWith('.json'))
    .map((f) => f.replace(/\.json$/, ''))
    .sort();
}

export function fixtureJson(name: string): DicomJson {
  return JSON.parse(readFileSync(join(FIXTURE_DIR, `${name}.json`), 'utf8')) as DicomJson;
}

export function uidOf(json: DicomJson, tag: number): string {
  return String(json[tagToHex(tag)]?.Value?.[0] ?? '');
}

/** A Part 10 file from a JSON-model object, encoded with the archive's writer. */
export function part10(json: DicomJson, encoding: Encoding = EXPLICIT_LE, transferSyntaxUid = '1.2.840.10008.1.2.1'): Buffer {
  const header = buildPart10Header({ sopClassUid: uidOf(json, Tag.SOPClassUID), sopInstanceUid: uidOf(json, Tag.SOPInstanceUID), transferSyntaxUid });
  return Buffer.concat([header, encodeDataset(jsonToElements(json), encoding)]);
}

export function writeFixture(dir: string, name: string, json: DicomJson = fixtureJson(name)): string {
  mkdirSync(dir, { recursive: true });
  const path = join(dir, `${name}.dcm`);
  writeFileSync(path, part10(json));
  return path;
}

export function writeImplicit(dir: string, name: string, json: DicomJson = fixtureJson(name)): string {
  mkdirSync(dir, { recursive: true });
  const path = join(dir, `${name}.implicit.dcm`);
  writeFileSync(path, part10(json, IMPLICIT_LE, '1.2.840.10008.1.2'));
  return path;
}

/** Derives another encoding of a file with dcmtk (dcmconv / dcmcjpeg), as a vendor's system would send it. */
export async function transcode(source: string, kind: 'big-endian' | 'deflated' | 'jpeg-baseline'): Promise<string> {
  const target = source.replace(/\.dcm$/, `.${kind}.dcm`);
  const result =
    kind === 'jpeg-baseline'
      ? await dcmtk('dcmcjpeg', ['+eb', source, target])
      : await dcmtk('dcmconv', [kind === 'big-endian' ? '+tb' : '+td', source, target]);
  if (result.code !== 0) throw new Error(`${kind} transcoding failed: ${result.stderr}`);
  return target;
}

/** The dataset of a Part 10 file (after the meta group): what must survive the archive byte for byte. */
export function datasetBytes(file: Buffer): Buffer {
  if (file.subarray(128, 132).toString('latin1') !== 'DICM') throw new Error('not a Part 10 file');
  let pos = 132;
  while (pos + 8 <= file.length && file.readUInt16LE(pos) === 0x0002) {
    const vr = file.subarray(pos + 4, pos + 6).toString('latin1');
    const long = ['OB', 'OW', 'OF', 'SQ', 'UT', 'UN'].includes(vr);
    const length = long ? file.readUInt32LE(pos + 8) : file.readUInt16LE(pos + 6);
    pos += (long ? 12 : 8) + length;
  }
  return file.subarray(pos);
}

export function sha256(b: Buffer): string {
  return createHash('sha256').update(b).digest('hex');
}

/** Splits a multipart/related body into its parts' bodies (tests only: whole body in memory). */
export function multipartBodies(body: Buffer, contentType: string): { headers: string; body: Buffer }[] {
  const boundary = /boundary="?([^";]+)"?/.exec(contentType)?.[1];
  if (!boundary) throw new Error(`no boundary in ${contentType}`);
  const delimiter = Buffer.from(`--${boundary}`);
  const parts: { headers: string; body: Buffer }[] = [];
  let at = body.indexOf(delimiter);
  while (at >= 0) {
    const next = body.indexOf(delimiter, at + delimiter.length);
    if (next < 0) break;
    const chunk = body.subarray(at + delimiter.length + 2, next - 2);
    const split = chunk.indexOf('\r\n\r\n');
    parts.push({ headers: chunk.subarray(0, split).toString('latin1'), body: chunk.subarray(split + 4) });
    at = next;
  }
  return parts;
}

/** A STOW-RS request body from Part 10 files (or anything, for bad-input tests). */
export function multipartRequest(parts: { contentType: string; body: Buffer }[]): { body: Buffer; contentType: string } {
  const boundary = `vna-test-${Math.random().toString(36).slice(2)}`;
  const chunks: Buffer[] = [];
  for (const part of parts) chunks.push(Buffer.from(`--${boundary}\r\nContent-Type: ${part.contentType}\r\n\r\n`), part.body, Buffer.from('\r\n'));
  chunks.push(Buffer.from(`--${boundary}--\r\n`));
  return { body: Buffer.concat(chunks), contentType: `multipart/related; type="application/dicom"; boundary=${boundary}` };
}
