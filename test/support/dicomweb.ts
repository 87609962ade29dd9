import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { type DicomJson, type DicomJsonPersonName, Tag, tagToHex } from '#vna/dicom';
import type { RunningArchive, TEST_API_KEYS } from './archive-process.js';
import { multipartRequest, part10 } from './fixtures.js';

/** UIDs of the project's own test objects (integration-specs/dicom/README.md), below a branch for HTTP tests. */
export const TEST_UID_ROOT = '1.2.826.0.1.3680043.10.1434.900';

export const SOP_CLASS = {
  CT: '1.2.840.10008.5.1.4.1.1.2',
  MR: '1.2.840.10008.5.1.4.1.1.4',
  SecondaryCapture: '1.2.840.10008.5.1.4.1.1.7',
  MultiFrameGrayscaleWordSC: '1.2.840.10008.5.1.4.1.1.7.3',
  BasicTextSR: '1.2.840.10008.5.1.4.1.1.88.11',
} as const;

export interface SyntheticInstance {
  readonly study: string;
  readonly series: string;
  readonly sop: string;
  readonly sopClass?: string;
  readonly patientId?: string;
  readonly patientName?: DicomJsonPersonName;
  readonly studyDate?: string;
  readonly studyTime?: string;
  readonly accession?: string;
  readonly studyDescription?: string;
  readonly modality?: string;
  readonly seriesNumber?: number;
  readonly instanceNumber?: number;
  /** Extra attributes, merged last (they win). */
  readonly extra?: DicomJson;
  /** Native 16-bit monochrome pixel data, `frames` frames of rows x columns. */
  readonly image?: { readonly rows: number; readonly columns: number; readonly frames?: number; readonly seed?: number };
}

/** 16-bit little-endian pixels whose every frame differs (frame n, pixel i holds seed + n * 1000 + i). */
export function syntheticPixels(rows: number, columns: number, frames = 1, seed = 0): Buffer {
  const pixels = Buffer.alloc(rows * columns * frames * 2);
  for (let f = 0; f < frames; f++) {
    for (let i = 0; i < rows * columns; i++) pixels.writeUInt16LE((seed + f * 1000 + i) & 0xffff, (f * rows * columns + i) * 2);
  }
  return pixels;
}

/** A small object in the DICOM JSON model, UTF-8 text (ISO_IR 192), optionally with native pixel data. */
export function syntheticInstance(o: SyntheticInstance): DicomJson {
  const attr = (vr: string, ...Value: unknown[]) => ({ vr, Value });
  const json: DicomJson = {
    [tagToHex(Tag.SpecificCharacterSet)]: attr('CS', 'ISO_IR 192'),
    [tagToHex(Tag.SOPClassUID)]: attr('UI', o.sopClass ?? (o.image?.frames ? SOP_CLASS.MultiFrameGrayscaleWordSC : SOP_CLASS.SecondaryCapture)),
    [tagToHex(Tag.SOPInstanceUID)]: attr('UI', o.sop),
    [tagToHex(Tag.StudyDate)]: attr('DA', o.studyDate ?? '20240101'),
    [tagToHex(Tag.StudyTime)]: attr('TM', o.studyTime ?? '120000'),
    [tagToHex(Tag.AccessionNumber)]: attr('SH', o.accession ?? ''),
    [tagToHex(Tag.Modality)]: attr('CS', o.modality ?? 'OT'),
    [tagToHex(Tag.StudyDescription)]: attr('LO', o.studyDescription ?? 'synthetic study'),
    [tagToHex(Tag.PatientName)]: attr('PN', o.patientName ?? { Alphabetic: 'Test^Patient' }),
    [tagToHex(Tag.PatientID)]: attr('LO', o.patientId ?? 'PID-TEST'),
    [tagToHex(Tag.StudyInstanceUID)]: attr('UI', o.study),
    [tagToHex(Tag.SeriesInstanceUID)]: attr('UI', o.series),
    [tagToHex(Tag.SeriesNumber)]: attr('IS', o.seriesNumber ?? 1),
    [tagToHex(Tag.InstanceNumber)]: attr('IS', o.instanceNumber ?? 1),
  };
  if (o.image) {
    const frames = o.image.frames ?? 1;
    Object.assign(json, {
      [tagToHex(Tag.SamplesPerPixel)]: attr('US', 1),
      [tagToHex(Tag.PhotometricInterpretation)]: attr('CS', 'MONOCHROME2'),
      ...(o.image.frames ? { [tagToHex(Tag.NumberOfFrames)]: attr('IS', frames) } : {}),
      [tagToHex(Tag.Rows)]: attr('US', o.image.rows),
      [tagToHex(Tag.Columns)]: attr('US', o.image.columns),
      [tagToHex(Tag.BitsAllocated)]: attr('US', 16),
      [tagToHex(Tag.BitsStored)]: attr('US', 16),
      '00280102': attr('US', 15), // HighBit
      [tagToHex(Tag.PixelRepresentation)]: attr('US', 0),
      [tagToHex(Tag.PixelData)]: { vr: 'OW', InlineBinary: syntheticPixels(o.image.rows, o.image.columns, frames, o.image.seed).toString('base64') },
    });
  }
  return { ...json, ...(o.extra ?? {}) };
}

export interface StowAnswer {
  readonly status: number;
  readonly contentType: string;
  readonly body: DicomJson;
}

type Key = keyof typeof TEST_API_KEYS | null;

/** STOW-RS of Part 10 files (Buffers) or raw parts, to /dicomweb/studies or /dicomweb/studies/{study}. */
export async function stow(
  archive: RunningArchive,
  parts: readonly (Buffer | { contentType: string; body: Buffer })[],
  options: { study?: string; key?: Key; headers?: Record<string, string> } = {},
): Promise<StowAnswer> {
  const request = multipartRequest(parts.map((p) => (Buffer.isBuffer(p) ? { contentType: 'application/dicom', body: p } : p)));
  const res = await archive.fetch(`/dicomweb/studies${options.study ? `/${options.study}` : ''}`, {
    method: 'POST',
    headers: { 'Content-Type': request.contentType, Accept: 'application/dicom+json', ...options.headers },
    body: request.body,
    key: options.key === undefined ? 'writer' : options.key,
  });
  const text = await res.text();
  return { status: res.status, contentType: res.headers.get('content-type') ?? '', body: text ? (JSON.parse(text) as DicomJson) : {} };
}

/** Stores objects and fails loudly unless every one of them was stored. */
export async function stowAll(archive: RunningArchive, objects: readonly DicomJson[]): Promise<void> {
  const answer = await stow(archive, objects.map((o) => part10(o)));
  if (answer.status !== 200) throw new Error(`STOW answered ${answer.status}: ${JSON.stringify(answer.body)}`);
}

/** A QIDO-RS search; an empty result (204, PS3.18 10.6.3.1) is an empty list. */
export async function qido(archive: RunningArchive, path: string, key: Key = 'reader'): Promise<DicomJson[]> {
  const res = await archive.fetch(path, { key, headers: { Accept: 'application/dicom+json' } });
  if (res.status === 204) return [];
  if (res.status !== 200) throw new Error(`QIDO ${path} answered ${res.status}: ${await res.text()}`);
  return (await res.json()) as DicomJson[];
}

/** The values of an attribute (by tag or keyword-free hex) in a DICOM JSON object. */
export function values(json: DicomJson | undefined, tag: number): unknown[] | undefined {
  return json?.[tagToHex(tag)]?.Value;
}

export function first(json: DicomJson | undefined, tag: number): unknown {
  return values(json, tag)?.[0];
}

/** The items of a sequence attribute. */
export function items(json: DicomJson | undefined, tag: number): DicomJson[] {
  return (values(json, tag) ?? []) as DicomJson[];
}

/** Every file below a directory (the spool), as paths. */
export function filesBelow(dir: string): string[] {
  const out: string[] = [];
  let entries;
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    return out;
  }
  for (const e of entries) {
    const path = join(dir, e.name);
    if (e.isDirectory()) out.push(...filesBelow(path));
    else out.push(path);
  }
  return out;
}

/** A short-lived connection to the archive's own database, for checking index rows. */
export async function sql<T = Record<string, unknown>>(archive: RunningArchive, text: string, params: unknown[] = []): Promise<T[]> {
  const client = new pg.Client({ connectionString: archive.databaseUrl });
  await client.connect();
  try {
    return (await client.query(text, params)).rows as T[];
  } finally {
    await client.end();
  }
}

/** Polls until `probe` returns a value (not undefined), or fails after `timeoutMs`. */
export async function eventually<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(200);
  }
}
