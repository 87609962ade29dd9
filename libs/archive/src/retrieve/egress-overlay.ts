import { Injectable } from '@nestjs/common';
import { Readable, Transform, type TransformCallback } from 'node:stream';
import { constants as zlib, createDeflateRaw, createInflateRaw } from 'node:zlib';
import { type DicomJson, jsonToElements, lookupTransferSyntax, rewriteHeader, type RewriteOptions, type TransferSyntax, type WriteElement } from '#vna/dicom';
import { EgressContributorRegistry } from './egress-contributors.js';
import type { InstanceRow } from './instance-row.js';

/** A header region (or a whole deflated dataset) larger than this is refused rather than held. */
const MAX_HELD_BYTES = 256 * 1024 * 1024;

/**
 * What to lay over an instance: what a moved series carries, then the patient's current attributes
 * (registry, merges), then the study's corrections (libs/corrections), later ones winning.
 */
export function overlayJson(instance: Pick<InstanceRow, 'patientOverlay' | 'studyOverlay' | 'seriesOverlay'>): DicomJson | undefined {
  const layers = [instance.seriesOverlay, instance.patientOverlay, instance.studyOverlay].filter((o) => o && Object.keys(o).length > 0) as DicomJson[];
  if (layers.length === 0) return undefined;
  return layers.length === 1 ? layers[0] : Object.assign({}, ...layers);
}

/** The overlay as elements to write (none: the object leaves as stored). */
export function overlayElements(instance: InstanceRow): WriteElement[] {
  const overlay = overlayJson(instance);
  return overlay ? jsonToElements(overlay) : [];
}

/** What one object gets on its way to one destination; undefined: it leaves byte for byte as stored. */
export interface EgressPlan {
  readonly replace: readonly WriteElement[];
  readonly options: RewriteOptions;
}

/**
 * The layers in order: ingest coercion's changes to the instance (under everything else: the
 * registry, merges and corrections win over a rule), the index's own layers, then what features
 * add per destination (egress coercion rules; the destination's character set).
 */
export async function egressPlan(instance: InstanceRow, destination: string, contributors: EgressContributorRegistry | undefined): Promise<EgressPlan | undefined> {
  const coerced = instance.instanceOverlay ?? {};
  const layered = overlayJson(instance) ?? {};
  const byTag = new Map<number, WriteElement>();
  const removed = new Set<number>();
  for (const [key, attr] of Object.entries(coerced)) {
    if (key in layered) continue;
    if (attr === null) removed.add(parseInt(key, 16) >>> 0);
  }
  const json: DicomJson = {};
  for (const [key, attr] of Object.entries(coerced)) if (attr && !(key in layered)) json[key] = attr as DicomJson[string];
  for (const el of jsonToElements({ ...json, ...layered })) byTag.set(el.tag >>> 0, el);
  let charset: { target: readonly string[]; force: boolean } | undefined;
  for (const contributor of contributors?.all() ?? []) {
    const adjustment = await contributor(instance, destination);
    if (!adjustment) continue;
    for (const el of adjustment.replace ?? []) {
      byTag.set(el.tag >>> 0, el);
      removed.delete(el.tag >>> 0);
    }
    for (const tag of adjustment.remove ?? []) {
      byTag.delete(tag >>> 0);
      removed.add(tag >>> 0);
    }
    charset = adjustment.charset ?? charset;
  }
  if (byTag.size === 0 && removed.size === 0 && !charset?.force) return undefined;
  return { replace: [...byTag.values()], options: { remove: [...removed], target: charset?.target, forceTarget: charset?.force } };
}

/**
 * The one place where the index's current values are laid over a stored original on its way out
 * (ARCHITECTURE.md invariant 2: originals are immutable, corrections live in the index). Every
 * retrieve path (WADO-RS, C-MOVE, C-GET, forwarding) passes its objects through `apply`.
 *
 * With nothing to lay over, the object leaves byte for byte as stored. Otherwise only the header,
 * up to the first bulk value, is read and rewritten (libs/dicom rewriteHeader: replaced elements
 * in the object's character set, or the header moved to UTF-8 when that cannot hold them); the
 * pixel data and everything after it stream through untouched, private tags included.
 */
@Injectable()
export class EgressOverlay {
  constructor(private readonly contributors: EgressContributorRegistry) {}

  /**
   * The object as it should leave for `destination` (an AE title, or 'dicomweb'). `original` is the
   * stored file from its first byte (`withMeta`) or from its dataset.
   */
  async apply(instance: InstanceRow, original: Readable, destination: string, withMeta = true): Promise<Readable> {
    const plan = await egressPlan(instance, destination, this.contributors);
    if (!plan) return original;
    const ts = lookupTransferSyntax(instance.transferSyntaxUid);
    if (!ts) return original;
    const passFirst = withMeta ? instance.datasetOffset : 0;
    let overlaid: Readable;
    if (!ts.deflated) {
      // The stored chunks go on as they are, without a stream stage in between; a failed read fails
      // the retrieve (the error ends the generator).
      const header = headerLength(instance, ts);
      if (header > MAX_HELD_BYTES) throw new Error(`a dataset header of ${header} bytes is too large to rewrite`);
      overlaid = Readable.from(overlaidHeader(original, passFirst, header, ts, plan.replace, plan.options), { objectMode: false });
    } else {
      overlaid = original.pipe(new DeflatedOverlay(passFirst, ts, plan.replace, plan.options));
      // pipe() does not carry errors forward: a failed read must fail the retrieve, not stall it.
      original.on('error', (e) => overlaid.destroy(e));
    }
    // A retrieve that ends or is cut short, even before its first read, closes the stored object's read.
    overlaid.once('close', () => original.destroy());
    return overlaid;
  }
}

/** Passes the meta header, holds and rewrites the dataset header, then passes the rest chunk by chunk. */
async function* overlaidHeader(
  original: Readable,
  passFirst: number,
  header: number,
  ts: TransferSyntax,
  replacements: readonly WriteElement[],
  options: RewriteOptions,
): AsyncGenerator<Buffer> {
  const held: Buffer[] = [];
  let heldBytes = 0;
  let done = false;
  for await (const read of original) {
    let chunk = read as Buffer;
    if (done) {
      yield chunk;
      continue;
    }
    if (passFirst > 0) {
      const n = Math.min(passFirst, chunk.length);
      yield chunk.subarray(0, n);
      passFirst -= n;
      chunk = chunk.subarray(n);
      if (chunk.length === 0) continue;
    }
    const need = header - heldBytes;
    held.push(chunk.subarray(0, need));
    heldBytes += Math.min(need, chunk.length);
    if (heldBytes < header) continue;
    yield rewriteHeader(Buffer.concat(held, header), ts, replacements, options).bytes;
    done = true;
    const rest = chunk.subarray(need);
    if (rest.length) yield rest;
  }
  if (!done) throw new Error('the stored object ended before its header');
}

/** Bytes of the dataset before its first bulk value (pixel data, a large private OB): the part an overlay rewrites. */
function headerLength(instance: InstanceRow, ts: TransferSyntax): number {
  // Bulk values are long-VR elements: a 12-byte header in explicit VR, 8 in implicit (PS3.5 7.1).
  const elementHeader = ts.explicitVR ? 12 : 8;
  const starts: number[] = [];
  if (instance.pixelOffset !== null) starts.push(instance.pixelOffset - elementHeader);
  for (const [offset] of Object.values(instance.bulkElements ?? {})) starts.push(offset - elementHeader);
  const end = starts.length ? Math.min(...starts) : instance.sizeBytes;
  return end - instance.datasetOffset;
}

/** Deflated data (PS3.5 A.5): inflate the dataset, rewrite its header, deflate it again. */
class DeflatedOverlay extends Transform {
  private compressed: Buffer[] = [];
  private compressedBytes = 0;

  constructor(
    private passFirst: number,
    private readonly ts: TransferSyntax,
    private readonly replacements: readonly WriteElement[],
    private readonly options: RewriteOptions,
  ) {
    super();
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, callback: TransformCallback): void {
    if (this.passFirst > 0) {
      const n = Math.min(this.passFirst, chunk.length);
      this.push(chunk.subarray(0, n));
      this.passFirst -= n;
      chunk = chunk.subarray(n);
    }
    this.compressed.push(chunk);
    this.compressedBytes += chunk.length;
    callback(this.compressedBytes > MAX_HELD_BYTES ? new Error('a deflated dataset too large to rewrite') : null);
  }

  override _flush(callback: TransformCallback): void {
    const inflated: Buffer[] = [];
    Readable.from([Buffer.concat(this.compressed)])
      .pipe(createInflateRaw())
      .on('data', (d: Buffer) => inflated.push(d))
      .on('error', (e) => callback(e))
      .on('end', () => {
        try {
          const dataset = Buffer.concat(inflated);
          // A deflated dataset's bulk offsets are not recorded: the whole (small) dataset is the header.
          const rewritten = rewriteHeader(dataset, this.ts, this.replacements, this.options).bytes;
          const deflater = createDeflateRaw({ level: zlib.Z_DEFAULT_COMPRESSION });
          deflater.on('data', (d: Buffer) => this.push(d));
          deflater.on('error', (e) => callback(e));
          deflater.on('end', () => callback());
          deflater.end(rewritten);
        } catch (e) {
          callback(e as Error);
        }
      });
  }
}
