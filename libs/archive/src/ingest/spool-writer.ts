import { createHash, type Hash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { type FileHandle, open, unlink } from 'node:fs/promises';
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createInflateRaw } from 'node:zlib';
import {
  buildPart10Header,
  DatasetStreamParser,
  DicomParseError,
  type DicomDataset,
  lookupTransferSyntax,
  readPart10Prefix,
  Tag,
  type TransferSyntax,
} from '#vna/dicom';

/**
 * Received bytes are written in runs of at least this many: a DIMSE object arrives in PDUs of
 * 64 KiB, and each write is a round through the thread pool (a measurable share of ingest CPU).
 * Nothing is acknowledged before the last run is written and fsync'd.
 */
const WRITE_RUN_BYTES = 256 * 1024;

/** A received object on disk: fsync'd, hashed, its header read. */
export interface SpooledObject {
  readonly path: string;
  readonly size: number;
  /** SHA-256 of the stored file (meta header + dataset as received). */
  readonly sha256: Buffer;
  readonly transferSyntaxUid: string;
  /** Where the dataset starts in the stored file. */
  readonly datasetOffset: number;
  readonly dataset: DicomDataset;
  /** Whether element offsets point into the stored file (not so for deflated data). */
  readonly bulkAddressable: boolean;
  /** The machine boot the file was written in (Spool.boot). */
  readonly boot: string;
}

/** Why an object could not be spooled: the edge maps these codes to DIMSE statuses and STOW reasons. */
export class SpoolError extends Error {
  constructor(
    readonly code: 'NOT_DICOM' | 'MALFORMED' | 'UNSUPPORTED_TRANSFER_SYNTAX' | 'TOO_LARGE' | 'MISMATCH' | 'OUT_OF_RESOURCES' | 'ABORTED',
    message: string,
  ) {
    super(message);
    this.name = 'SpoolError';
  }
}

export type SpoolInput =
  /** DIMSE: a bare dataset; the command and the presentation context say what it is. */
  | { readonly kind: 'dataset'; readonly transferSyntaxUid: string; readonly sopClassUid: string; readonly sopInstanceUid: string }
  /** STOW-RS and imports: a Part 10 file with its own meta information. */
  | { readonly kind: 'part10' };

export interface SpoolWriterOptions {
  readonly path: string;
  readonly input: SpoolInput;
  readonly maxBytes: number;
  /** The machine boot the file is written in (Spool.boot). */
  readonly boot: string;
  readonly ensureDirectory: (path: string) => Promise<void>;
  /** fsync the file and its directory before the result resolves (acknowledged means durable). */
  readonly fsyncDirectory: (path: string) => Promise<void>;
}

/**
 * Streams one received object to a spool file. The bytes are hashed and their header parsed as
 * they pass, so the whole object is never in memory; the result resolves only after the file and
 * its directory entry are fsync'd. The file is written as a Part 10 file with a header built
 * deterministically from the dataset's identity (received meta information is not kept).
 *
 * Errors never escape as stream errors (a C-STORE must still be answered): the writer swallows
 * the remaining bytes and `result` rejects with a SpoolError.
 */
export class SpoolWriter extends Writable {
  /** The object on disk, durable (file and directory entry fsync'd). */
  readonly result: Promise<SpooledObject>;
  /**
   * The same object as soon as its last byte is written and its header read, before the fsync
   * completes: indexing can start while the disk makes it durable (nothing may be committed or
   * acknowledged before `result`). For deflated data the header is read after the fsync.
   */
  readonly received: Promise<SpooledObject>;
  private resolveResult!: (o: SpooledObject) => void;
  private rejectResult!: (e: SpoolError) => void;
  private resolveReceived!: (o: SpooledObject) => void;
  private rejectReceived!: (e: SpoolError) => void;
  private readonly hash: Hash = createHash('sha256');
  private file?: FileHandle;
  private parser?: DatasetStreamParser;
  private ts?: TransferSyntax;
  private headerLength = 0;
  private written = 0;
  private receivedBytes = 0;
  private failure?: SpoolError;
  /** Part 10 input before the meta information is complete. */
  private prefixChunks: Buffer[] = [];
  private prefixBytes = 0;
  /** The Part 10 header still to be written before the first dataset byte. */
  private pendingHeader?: Buffer;
  private identity?: { sopClassUid: string; sopInstanceUid: string };
  /** Received bytes not yet written: they go to the file in runs of WRITE_RUN_BYTES (and the rest at the end). */
  private unwritten: Buffer[] = [];
  private unwrittenBytes = 0;
  /** The chunk being written; a discard waits for it, so that no file is created after its removal. */
  private inflight?: Promise<void>;

  constructor(private readonly options: SpoolWriterOptions) {
    super({ highWaterMark: 1024 * 1024 });
    this.result = new Promise((resolve, reject) => {
      this.resolveResult = resolve;
      this.rejectResult = reject;
    });
    this.received = new Promise((resolve, reject) => {
      this.resolveReceived = resolve;
      this.rejectReceived = reject;
    });
    // The rejections are delivered to whoever awaits them; avoid an unhandled-rejection crash meanwhile.
    this.result.catch(() => undefined);
    this.received.catch(() => undefined);
    const { input } = options;
    if (input.kind === 'dataset') this.pendingHeader = this.startDataset(input.transferSyntaxUid, input.sopClassUid, input.sopInstanceUid);
  }

  private startDataset(tsUid: string, sopClassUid: string, sopInstanceUid: string): Buffer | undefined {
    const ts = lookupTransferSyntax(tsUid);
    if (!ts) {
      this.fail(new SpoolError('UNSUPPORTED_TRANSFER_SYNTAX', `transfer syntax ${tsUid} is not supported`));
      return undefined;
    }
    this.ts = ts;
    this.identity = { sopClassUid, sopInstanceUid };
    const header = buildPart10Header({ sopClassUid, sopInstanceUid, transferSyntaxUid: tsUid });
    this.headerLength = header.length;
    if (!ts.deflated) {
      this.parser = new DatasetStreamParser({ encoding: ts, baseOffset: header.length });
    }
    return header;
  }

  private fail(error: SpoolError): void {
    if (!this.failure) this.failure = error;
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.inflight = this.acceptAll([chunk]).then(
      () => callback(),
      (e: unknown) => {
        this.fail(toSpoolError(e));
        callback();
      },
    );
  }

  /** Chunks that queued up while a write was in progress go to the file in one writev call. */
  override _writev(chunks: { chunk: Buffer }[], callback: (error?: Error | null) => void): void {
    this.inflight = this.acceptAll(chunks.map((c) => c.chunk)).then(
      () => callback(),
      (e: unknown) => {
        this.fail(toSpoolError(e));
        callback();
      },
    );
  }

  private async acceptAll(chunks: Buffer[]): Promise<void> {
    for (const chunk of chunks) {
      this.receivedBytes += chunk.length;
      if (this.failure) return;
      if (this.receivedBytes > this.options.maxBytes) {
        this.fail(new SpoolError('TOO_LARGE', `object exceeds the limit of ${this.options.maxBytes} bytes`));
        return;
      }
      for (const b of this.accept(chunk)) {
        this.unwritten.push(b);
        this.unwrittenBytes += b.length;
      }
    }
    // The first bytes create the file at once: a full disk or a file table shows with the first chunk.
    if (this.unwrittenBytes >= WRITE_RUN_BYTES || (!this.file && this.unwrittenBytes > 0)) await this.flush();
  }

  /** Writes what was received and not yet written (the file is created with the first bytes). */
  private async flush(): Promise<void> {
    if (this.unwritten.length === 0) return;
    const out = this.unwritten;
    this.unwritten = [];
    this.unwrittenBytes = 0;
    if (!this.file) {
      await this.options.ensureDirectory(this.options.path);
      this.file = await open(this.options.path, 'wx', 0o640);
    }
    await this.writeOut(out);
  }

  /** What to write for a received chunk (the Part 10 header first), the header parser fed on the way. */
  private accept(chunk: Buffer): Buffer[] {
    let header = this.pendingHeader;
    this.pendingHeader = undefined;
    if (this.options.input.kind === 'part10' && !this.ts) {
      this.prefixChunks.push(chunk);
      this.prefixBytes += chunk.length;
      const buffered = Buffer.concat(this.prefixChunks, this.prefixBytes);
      const prefix = readPart10Prefix(buffered, false);
      if (!prefix) {
        if (this.prefixBytes > 16 * 1024 * 1024) throw new SpoolError('MALFORMED', 'file meta information is too large');
        return [];
      }
      this.prefixChunks = [];
      const sopClassUid = prefix.meta.ascii(Tag.MediaStorageSOPClassUID) ?? '';
      const sopInstanceUid = prefix.meta.ascii(Tag.MediaStorageSOPInstanceUID) ?? '';
      header = this.startDataset(prefix.transferSyntaxUid, sopClassUid, sopInstanceUid);
      if (!header) return [];
      chunk = buffered.subarray(prefix.datasetOffset);
    }
    const out = header ? [header] : [];
    if (chunk.length > 0) {
      this.parser?.push(chunk);
      out.push(chunk);
    }
    return out;
  }

  private async writeOut(buffers: Buffer[]): Promise<void> {
    let total = 0;
    for (const b of buffers) {
      this.hash.update(b);
      total += b.length;
    }
    let { bytesWritten } = await this.file!.writev(buffers);
    // A short write (rare for regular files) continues with what is left.
    while (bytesWritten < total) {
      const rest = Buffer.concat(buffers).subarray(bytesWritten);
      bytesWritten += (await this.file!.write(rest)).bytesWritten;
    }
    this.written += total;
  }

  override _final(callback: (error?: Error | null) => void): void {
    this.finish().then(
      (o) => {
        this.resolveResult(o);
        callback();
      },
      (e: unknown) => {
        // The file is gone before the refusal is known: a refused object leaves nothing behind.
        void this.discard().finally(() => {
          this.rejectResult(toSpoolError(e));
          this.rejectReceived(toSpoolError(e));
          callback();
        });
      },
    );
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    if (error || !this.writableFinished) {
      void this.discard().finally(() => {
        this.rejectResult(new SpoolError('ABORTED', error?.message ?? 'the transfer was aborted'));
        this.rejectReceived(new SpoolError('ABORTED', error?.message ?? 'the transfer was aborted'));
        callback(null);
      });
      return;
    }
    callback(null);
  }

  private async finish(): Promise<SpooledObject> {
    if (this.failure) throw this.failure;
    if (this.options.input.kind === 'part10' && !this.ts) {
      // Everything arrived before the meta information was complete.
      const prefix = readPart10Prefix(Buffer.concat(this.prefixChunks, this.prefixBytes), true);
      if (!prefix) throw new SpoolError('NOT_DICOM', 'not a DICOM Part 10 object');
      throw new SpoolError('MALFORMED', 'the object has no dataset');
    }
    // The last run; a discard meanwhile (the transfer cut off) waits for it like for any write.
    const flushed = this.flush();
    this.inflight = flushed.catch(() => undefined);
    await flushed;
    if (!this.file) throw new SpoolError('MALFORMED', 'no data received');
    // The data and the directory entry are made durable together (both before the acknowledgement).
    const durable = Promise.all([this.file.sync(), this.options.fsyncDirectory(this.options.path)]);
    durable.catch(() => undefined);
    if (this.parser) {
      const received = this.describe(this.endParser(this.parser));
      this.resolveReceived(received);
      await durable;
      await this.closeFile();
      return received;
    }
    await durable;
    await this.closeFile();
    const received = this.describe(await this.parseDeflated());
    this.resolveReceived(received);
    return received;
  }

  private async closeFile(): Promise<void> {
    const file = this.file;
    this.file = undefined;
    await file?.close();
  }

  private describe(dataset: DicomDataset): SpooledObject {
    // The meta information (written from the command or the received meta) must describe this dataset.
    const sopInstanceUid = dataset.ascii(Tag.SOPInstanceUID);
    if (sopInstanceUid && sopInstanceUid !== this.identity!.sopInstanceUid) {
      throw new SpoolError('MISMATCH', `SOP Instance UID ${sopInstanceUid} differs from the one announced (${this.identity!.sopInstanceUid || 'none'})`);
    }
    // PS3.4 B.2.3 (0xA900): the dataset must be of the SOP Class announced; the stored meta header says so too.
    const sopClassUid = dataset.ascii(Tag.SOPClassUID);
    if (sopClassUid && sopClassUid !== this.identity!.sopClassUid) {
      throw new SpoolError('MISMATCH', `SOP Class UID ${sopClassUid} differs from the one announced (${this.identity!.sopClassUid || 'none'})`);
    }
    return {
      path: this.options.path,
      size: this.written,
      sha256: this.hash.digest(),
      transferSyntaxUid: this.ts!.uid,
      datasetOffset: this.headerLength,
      dataset,
      bulkAddressable: !this.ts!.deflated,
      boot: this.options.boot,
    };
  }

  private endParser(parser: DatasetStreamParser): DicomDataset {
    try {
      return parser.end();
    } catch (e) {
      throw toSpoolError(e);
    }
  }

  /** Deflated data (PS3.5 A.5) is read back through zlib once it is safely on disk. */
  private async parseDeflated(): Promise<DicomDataset> {
    const parser = new DatasetStreamParser({ encoding: this.ts!, baseOffset: 0 });
    try {
      await pipeline(
        createReadStream(this.options.path, { start: this.headerLength }),
        createInflateRaw(),
        new Writable({
          write(chunk: Buffer, _e, cb): void {
            try {
              parser.push(chunk);
              cb();
            } catch (e) {
              cb(e as Error);
            }
          },
        }),
      );
    } catch (e) {
      if (e instanceof DicomParseError) throw toSpoolError(e);
      throw new SpoolError('MALFORMED', `deflated dataset cannot be inflated: ${(e as Error).message}`);
    }
    const dataset = this.endParser(parser);
    // Offsets inside deflated data do not point into the file: bulk data is not addressable.
    return dataset;
  }

  private async discard(): Promise<void> {
    await this.inflight;
    this.unwritten = [];
    const file = this.file;
    this.file = undefined;
    await file?.close().catch(() => undefined);
    await unlink(this.options.path).catch(() => undefined);
  }
}

function toSpoolError(e: unknown): SpoolError {
  if (e instanceof SpoolError) return e;
  if (e instanceof DicomParseError) return new SpoolError('MALFORMED', e.message);
  const code = (e as NodeJS.ErrnoException).code;
  if (code === 'ENOSPC' || code === 'EDQUOT' || code === 'EMFILE' || code === 'ENFILE') {
    return new SpoolError('OUT_OF_RESOURCES', `spool: ${code}`);
  }
  return new SpoolError('OUT_OF_RESOURCES', `spool: ${(e as Error).message}`);
}
