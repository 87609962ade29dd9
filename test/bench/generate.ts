import { createWriteStream, mkdirSync, writeFileSync } from 'node:fs';
import { once } from 'node:events';
import { dirname, join } from 'node:path';
import { buildPart10Header, encodeDataset, EXPLICIT_LE, generateUid } from '#vna/dicom';
import { CT_IMAGE_STORAGE, type CtIdentity, ctHeader, ctSlice, MF_GRAYSCALE_WORD_SC } from './ct-template.js';

/**
 * Test data for the benchmark, written with the archive's own writer (encodeDataset,
 * buildPart10Header) in Explicit VR Little Endian, the way ../shared/peers/gen_study.py makes the
 * peer's: fresh UIDs everywhere and the first 8 bytes of Pixel Data carrying the study and instance
 * index, so that no two files are byte-identical. Nothing generated is kept after the run.
 */

const EXPLICIT_LE_UID = '1.2.840.10008.1.2.1';

export interface GeneratedStudy {
  readonly studyUid: string;
  readonly patientId: string;
  readonly accession: string;
  readonly studyDate: string;
  readonly files: string[];
  readonly bytes: number;
}

export interface GeneratedSet {
  readonly dir: string;
  readonly studies: GeneratedStudy[];
  readonly files: string[];
  readonly bytes: number;
}

const FIRST = ['JANE', 'JOHN', 'MARIA', 'WEI', 'AHMED', 'OLGA', 'KENJI', 'FATIMA', 'PIERRE', 'SVEN', 'LUCIA', 'RAJ', 'ANNA', 'TOMAS', 'MEI', 'JOSE'];
const LAST = ['DOE', 'SMITH', 'GARCIA', 'CHEN', 'KHAN', 'IVANOVA', 'TANAKA', 'OKAFOR', 'MARTIN', 'LARSEN', 'ROSSI', 'PATEL', 'MULLER', 'NOVAK', 'WONG', 'SILVA'];
const DESCR = ['CT CHEST W/O CONTRAST', 'CT ABDOMEN PELVIS W CONTRAST', 'CT HEAD W/O CONTRAST', 'CT ANGIO CHEST', 'CT SPINE LUMBAR', 'CT ANKLE RIGHT'];

/** The Pixel Data element header, Explicit VR Little Endian, OW with a 32-bit length (PS3.5 7.1.2). */
function pixelDataHeader(length: number): Buffer {
  const b = Buffer.alloc(12);
  b.writeUInt16LE(0x7fe0, 0);
  b.writeUInt16LE(0x0010, 2);
  b.write('OW', 4, 'latin1');
  b.writeUInt32LE(length, 8);
  return b;
}

function encodeHeader(id: CtIdentity, pixelLength: number): Buffer {
  return Buffer.concat([
    buildPart10Header({ sopClassUid: id.sopClassUid, sopInstanceUid: id.sopInstanceUid, transferSyntaxUid: EXPLICIT_LE_UID }),
    encodeDataset(ctHeader(id), EXPLICIT_LE),
    pixelDataHeader(pixelLength),
  ]);
}

function pad(n: number, width: number): string {
  return String(n).padStart(width, '0');
}

interface StudySpec {
  readonly index: number;
  readonly instances: number;
  readonly size: number;
  readonly patientId: string;
  readonly patientName: string;
  readonly accession: string;
  readonly studyDate: string;
  readonly description: string;
}

function writeStudy(out: string, spec: StudySpec, slice: Buffer): GeneratedStudy {
  const studyUid = generateUid();
  const seriesUid = generateUid();
  const frameOfReferenceUid = generateUid();
  const m = spec.index;
  const studyTime = `${pad(8 + (m % 10), 2)}${pad(m % 60, 2)}${pad((m * 7) % 60, 2)}`;
  const dir = join(out, `s${pad(m, 6)}`);
  mkdirSync(dir, { recursive: true });
  const files: string[] = [];
  let bytes = 0;
  const pixels = Buffer.from(slice);
  for (let i = 0; i < spec.instances; i++) {
    const id: CtIdentity = {
      sopClassUid: CT_IMAGE_STORAGE,
      sopInstanceUid: generateUid(),
      studyUid,
      seriesUid,
      frameOfReferenceUid,
      patientId: spec.patientId,
      patientName: spec.patientName,
      accession: spec.accession,
      studyDate: spec.studyDate,
      studyTime,
      studyDescription: spec.description,
      studyId: String(m + 1),
      seriesNumber: 1,
      instanceNumber: i + 1,
      sliceLocation: -1.25 * i,
      rows: spec.size,
      columns: spec.size,
    };
    pixels.writeUInt32LE(m, 0);
    pixels.writeUInt32LE(i + 1, 4);
    const header = encodeHeader(id, pixels.length);
    const path = join(dir, `i${pad(i + 1, 5)}.dcm`);
    writeFileSync(path, Buffer.concat([header, pixels]));
    files.push(path);
    bytes += header.length + pixels.length;
  }
  return { studyUid, patientId: spec.patientId, accession: spec.accession, studyDate: spec.studyDate, files, bytes };
}

/** One study of `n` 512x512 16-bit CT slices (~531 KB each), like `gen_study.py -n 1000 --template ct512`. */
export function generateCtStudy(out: string, n: number, size = 512): GeneratedSet {
  const study = writeStudy(
    out,
    { index: 0, instances: n, size, patientId: 'PEERCT1K', patientName: 'BENCH^CT^THOUSAND', accession: 'ACC1K', studyDate: '20240115', description: DESCR[0]! },
    ctSlice(size, size),
  );
  return { dir: out, studies: [study], files: study.files, bytes: study.bytes };
}

/**
 * `count` one-instance studies (128x128 CT, ~39 KB), one patient each, like
 * `gen_study.py --studies M --template ct128 --pid-prefix P`: every 16th patient is a SMITH, and
 * study dates cycle through 2015-2024 so that a one-year range finds ~10% of the studies.
 */
export function generateIndexStudies(out: string, count: number, pidPrefix: string, size = 128): GeneratedSet {
  const slice = ctSlice(size, size);
  const studies: GeneratedStudy[] = [];
  for (let m = 0; m < count; m++) {
    const year = 2015 + (m % 10);
    const date = new Date(Date.UTC(year, 0, 1 + (m % 365)));
    const studyDate = date.toISOString().slice(0, 10).replaceAll('-', '');
    studies.push(
      writeStudy(
        out,
        {
          index: m,
          instances: 1,
          size,
          patientId: `${pidPrefix}${pad(m + 1, 6)}`,
          patientName: `${LAST[m % LAST.length]}^${FIRST[Math.floor(m / LAST.length) % FIRST.length]}`,
          accession: `A${pad(m + 1, 8)}`,
          studyDate,
          description: DESCR[m % DESCR.length]!,
        },
        slice,
      ),
    );
  }
  const files = studies.flatMap((s) => s.files);
  return { dir: out, studies, files, bytes: studies.reduce((a, s) => a + s.bytes, 0) };
}

/** `studies` studies of `perStudy` small CT slices (64x64, ~9 KB each), all of one patient: what a merge moves. */
export function generatePatientStudies(out: string, studies: number, perStudy: number, patientId: string, size = 64): GeneratedSet {
  const slice = ctSlice(size, size);
  const list: GeneratedStudy[] = [];
  for (let m = 0; m < studies; m++) {
    list.push(writeStudy(out, { index: m, instances: perStudy, size, patientId, patientName: 'Prior^Bench', accession: `M${pad(m + 1, 8)}`, studyDate: '20230101', description: DESCR[m % DESCR.length]! }, slice));
  }
  return { dir: out, studies: list, files: list.flatMap((s) => s.files), bytes: list.reduce((a, s) => a + s.bytes, 0) };
}

/**
 * One multi-frame object of `frames` 512x512 16-bit frames (2,000 frames: 1 GiB of pixel data),
 * written frame by frame through a stream: the object is never whole in this process's memory.
 */
export async function generateMultiFrame(path: string, frames: number, size = 512): Promise<{ path: string; studyUid: string; bytes: number }> {
  mkdirSync(dirname(path), { recursive: true });
  const frame = ctSlice(size, size, 7);
  const studyUid = generateUid();
  const id: CtIdentity = {
    sopClassUid: MF_GRAYSCALE_WORD_SC,
    sopInstanceUid: generateUid(),
    studyUid,
    seriesUid: generateUid(),
    frameOfReferenceUid: generateUid(),
    patientId: 'BENCHMF1G',
    patientName: 'BENCH^MULTIFRAME^LARGE',
    accession: 'ACCMF1G',
    studyDate: '20240116',
    studyTime: '101500',
    studyDescription: 'CT CINE MULTIFRAME',
    studyId: '1',
    seriesNumber: 1,
    instanceNumber: 1,
    sliceLocation: 0,
    rows: size,
    columns: size,
    numberOfFrames: frames,
  };
  const pixelLength = frame.length * frames;
  if (pixelLength > 0xfffffffe) throw new Error(`${frames} frames of ${size}x${size} do not fit one Pixel Data element`);
  const out = createWriteStream(path, { highWaterMark: 4 * 1024 * 1024 });
  const header = encodeHeader(id, pixelLength);
  let bytes = header.length;
  if (!out.write(header)) await once(out, 'drain');
  for (let f = 0; f < frames; f++) {
    const copy = Buffer.from(frame);
    copy.writeUInt32LE(f + 1, 0);
    bytes += copy.length;
    if (!out.write(copy)) await once(out, 'drain');
  }
  out.end();
  await once(out, 'finish');
  return { path, studyUid, bytes };
}
