import { DicomDataset, type DicomElement, type Fragment } from '../element.js';
import { Tag } from '../tags.js';
import {
  BULK_VRS,
  EXPLICIT_LE,
  type Encoding,
  isPixelDataTag,
  readElement,
  readHeader,
  UNDEFINED_LENGTH,
} from './dataset-reader.js';
import { DicomParseError, NeedMoreData } from './errors.js';

export interface DatasetStreamParserOptions {
  readonly encoding: Encoding;
  /** Absolute file offset of the first byte pushed (offsets of bulk data refer to the stored file). */
  readonly baseOffset: number;
  /** Top-level binary values larger than this are not kept in memory (default 64 KiB). */
  readonly bulkThreshold?: number;
  /** The largest single top-level element (a big sequence, say) that may be held to parse (default 256 MiB). */
  readonly maxElementBytes?: number;
}

type State =
  | { kind: 'elements' }
  | { kind: 'skip'; remaining: number; then: 'elements' | 'fragments' }
  | { kind: 'fragments' };

/**
 * Reads a dataset pushed to it chunk by chunk while the bytes stream to disk, so the header is
 * known the moment the last byte is written and the object is never held in memory: pixel data
 * and other large binary values are skipped (their offsets recorded), only the header is kept.
 *
 * An element that is not complete in the buffered bytes is retried only when the buffer has
 * grown enough (exactly to its length when that is known, else doubled), so a large sequence
 * costs linear, not quadratic, time.
 */
export class DatasetStreamParser {
  readonly dataset: DicomDataset;
  private readonly enc: Encoding;
  private readonly bulkThreshold: number;
  private readonly maxElementBytes: number;
  private state: State = { kind: 'elements' };
  private chunks: Buffer[] = [];
  private buffered = 0;
  /** Absolute offset of the first buffered byte. */
  private position: number;
  private waitUntil = 0;
  private fragmentElement?: { tag: number; vr: string; offset: number; fragments: Fragment[] };
  private ended = false;

  constructor(options: DatasetStreamParserOptions) {
    this.enc = options.encoding;
    this.position = options.baseOffset;
    this.bulkThreshold = options.bulkThreshold ?? 64 * 1024;
    this.maxElementBytes = options.maxElementBytes ?? 256 * 1024 * 1024;
    this.dataset = new DicomDataset(this.enc.littleEndian);
  }

  /** Absolute offset just past the last byte consumed. */
  get offset(): number {
    return this.position;
  }

  push(chunk: Buffer): void {
    if (this.ended) throw new Error('push after end');
    if (this.state.kind === 'skip' && this.buffered === 0) {
      const n = Math.min(this.state.remaining, chunk.length);
      this.state.remaining -= n;
      this.position += n;
      if (this.state.remaining > 0) return;
      this.state = { kind: this.state.then };
      chunk = chunk.subarray(n);
      if (chunk.length === 0) return;
    }
    this.chunks.push(chunk);
    this.buffered += chunk.length;
    if (this.buffered < this.waitUntil) return;
    this.drain(false);
  }

  /** No more bytes: returns the dataset, or throws DicomParseError when the data stopped mid-element. */
  end(): DicomDataset {
    if (!this.ended) {
      this.ended = true;
      this.drain(true);
      if (this.state.kind === 'skip') {
        throw new DicomParseError(`truncated: ${this.state.remaining} bytes of a value missing`, this.position);
      }
      if (this.state.kind === 'fragments') {
        throw new DicomParseError('truncated: encapsulated pixel data has no sequence delimiter', this.position);
      }
      if (this.buffered > 0) {
        throw new DicomParseError(`truncated: ${this.buffered} trailing bytes do not form an element`, this.position);
      }
    }
    return this.dataset;
  }

  private drain(final: boolean): void {
    const b = this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks, this.buffered);
    let pos = 0;
    this.waitUntil = 0;
    try {
      for (;;) {
        if (this.state.kind === 'skip') {
          const n = Math.min(this.state.remaining, b.length - pos);
          this.state.remaining -= n;
          pos += n;
          if (this.state.remaining > 0) break;
          this.state = { kind: this.state.then };
          continue;
        }
        if (this.state.kind === 'fragments') {
          const next = this.readFragmentHeader(b, pos);
          if (next === undefined) break;
          pos = next;
          continue;
        }
        if (pos >= b.length) break;
        const next = this.readTopLevel(b, pos, final);
        if (next === undefined) break;
        pos = next;
      }
    } finally {
      const rest = b.subarray(pos);
      this.position += pos;
      this.chunks = rest.length > 0 ? [rest] : [];
      this.buffered = rest.length;
    }
  }

  /** One top-level element; undefined when more bytes are needed. */
  private readTopLevel(b: Buffer, pos: number, final: boolean): number | undefined {
    const header = readHeader(b, pos, this.enc);
    if (!header) {
      this.waitUntil = 12;
      return undefined;
    }
    const { tag, vr, length, headerLength } = header;
    if (tag === Tag.Item || tag === Tag.ItemDelimitationItem || tag === Tag.SequenceDelimitationItem) {
      throw new DicomParseError(`unexpected delimiter tag ${tag.toString(16)} at the top level`, this.position + pos);
    }
    const valueOffset = this.position + pos + headerLength;
    const isPixels = isPixelDataTag(tag) && vr !== 'SQ';
    if (length === UNDEFINED_LENGTH && isPixels) {
      this.fragmentElement = { tag, vr: vr === 'UN' ? 'OB' : vr, offset: valueOffset, fragments: [] };
      this.state = { kind: 'fragments' };
      return pos + headerLength;
    }
    if (length !== UNDEFINED_LENGTH && (isPixels || (length > this.bulkThreshold && BULK_VRS.has(vr)))) {
      this.dataset.set({ tag, vr, offset: valueOffset, headerLength, length, bulk: true });
      this.state = { kind: 'skip', remaining: length, then: 'elements' };
      return pos + headerLength;
    }
    if (length !== UNDEFINED_LENGTH && headerLength + length > this.maxElementBytes) {
      throw new DicomParseError(`element ${tag.toString(16).padStart(8, '0')} of ${length} bytes is too large to read`, this.position + pos);
    }
    try {
      const { element, pos: next } = readElement({ b, base: this.position, final }, pos, this.enc, 0);
      this.dataset.set(element);
      return next;
    } catch (e) {
      if (!(e instanceof NeedMoreData)) throw e;
      const have = b.length - pos;
      if (length !== UNDEFINED_LENGTH && vr !== 'SQ') {
        this.waitUntil = headerLength + length;
      } else {
        if (have >= this.maxElementBytes) {
          throw new DicomParseError(`sequence ${tag.toString(16).padStart(8, '0')} is too large to read`, this.position + pos);
        }
        this.waitUntil = Math.min(this.maxElementBytes, Math.max(have * 2, have + 64 * 1024));
      }
      return undefined;
    }
  }

  /** Encapsulated pixel data: record each fragment and skip its bytes (PS3.5 A.4). */
  private readFragmentHeader(b: Buffer, pos: number): number | undefined {
    const header = readHeader(b, pos, EXPLICIT_LE);
    if (!header) {
      this.waitUntil = 8;
      return undefined;
    }
    const el = this.fragmentElement!;
    if (header.tag === Tag.SequenceDelimitationItem) {
      const element: DicomElement = {
        tag: el.tag,
        vr: el.vr,
        offset: el.offset,
        length: this.position + pos + 8 - el.offset,
        undefinedLength: true,
        bulk: true,
        fragments: el.fragments,
      };
      this.dataset.set(element);
      this.fragmentElement = undefined;
      this.state = { kind: 'elements' };
      return pos + 8;
    }
    if (header.tag !== Tag.Item || header.length === UNDEFINED_LENGTH) {
      throw new DicomParseError('malformed encapsulated pixel data', this.position + pos);
    }
    el.fragments.push({ offset: this.position + pos + 8, length: header.length });
    this.state = { kind: 'skip', remaining: header.length, then: 'fragments' };
    return pos + 8;
  }
}
