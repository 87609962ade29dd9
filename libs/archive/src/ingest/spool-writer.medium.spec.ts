import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { mkdir, open, readFile, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { deflateRawSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { buildPart10Header, encodeDataset, EXPLICIT_LE, IMPLICIT_LE, Tag, TS, type WriteElement } from '#vna/dicom';
import { chunks, uid } from '../../../../test/support/medium.js';
import { Spool } from './spool.js';
import { SpoolError, type SpoolInput, SpoolWriter } from './spool-writer.js';

const CT = '1.2.840.10008.5.1.4.1.1.2';
const GiB = 1024 * 1024 * 1024;
const MiB = 1024 * 1024;

let root: string;
let spool: Spool;

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'vna-spool-medium-'));
  spool = new Spool(root, 2 * GiB);
  await spool.init();
});

afterAll(() => {
  rmSync(root, { recursive: true, force: true });
});

function header(sopInstanceUid: string, extra: WriteElement[] = []): WriteElement[] {
  const replaced = new Set(extra.map((e) => e.tag));
  const base: WriteElement[] = [
    { tag: Tag.SOPClassUID, vr: 'UI', value: CT },
    { tag: Tag.SOPInstanceUID, vr: 'UI', value: sopInstanceUid },
    { tag: Tag.PatientName, vr: 'PN', value: 'Big^Object' },
    { tag: Tag.StudyInstanceUID, vr: 'UI', value: '1.2.3' },
    { tag: Tag.SeriesInstanceUID, vr: 'UI', value: '1.2.3.4' },
    { tag: Tag.Rows, vr: 'US', value: [512] },
  ];
  return [...base.filter((e) => !replaced.has(e.tag)), ...extra];
}

async function write(input: SpoolInput, source: Iterable<Buffer> | AsyncIterable<Buffer>, writer = spool.createWriter(input)) {
  await pipeline(Readable.from(source), writer);
  return writer.result;
}

function filesIn(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((d) => d.isFile())
    .map((d) => join(d.parentPath, d.name));
}

describe('SpoolWriter', () => {
  it('streams a 1 GiB object to disk with flat memory, the right SHA-256 and a deterministic header', async () => {
    const sopInstanceUid = uid();
    const head = encodeDataset(header(sopInstanceUid), EXPLICIT_LE);
    const pixelHeader = Buffer.alloc(12);
    pixelHeader.writeUInt16LE(0x7fe0, 0);
    pixelHeader.writeUInt16LE(0x0010, 2);
    pixelHeader.write('OB', 4, 'latin1');
    pixelHeader.writeUInt32LE(GiB, 8);
    const meta = buildPart10Header({ sopClassUid: CT, sopInstanceUid, transferSyntaxUid: TS.ExplicitVRLittleEndian });

    // Four distinct blocks, cycled: the content varies, and no block is changed after it is handed over.
    const blocks = [0x01, 0x5a, 0xa5, 0xfe].map((fill, i) => {
      const b = Buffer.alloc(MiB, fill);
      b.writeUInt32LE(i, 0);
      return b;
    });
    const expected = createHash('sha256').update(meta).update(head).update(pixelHeader);
    async function* source(): AsyncGenerator<Buffer> {
      yield Buffer.concat([head, pixelHeader]);
      for (let i = 0; i < GiB / MiB; i++) {
        const block = blocks[i % blocks.length]!;
        expected.update(block);
        yield block;
      }
    }

    const baseline = process.memoryUsage().rss;
    let peak = baseline;
    const sampler = setInterval(() => {
      peak = Math.max(peak, process.memoryUsage().rss);
    }, 10);
    let result;
    try {
      result = await write({ kind: 'dataset', transferSyntaxUid: TS.ExplicitVRLittleEndian, sopClassUid: CT, sopInstanceUid }, source());
    } finally {
      clearInterval(sampler);
    }
    peak = Math.max(peak, process.memoryUsage().rss);

    const growth = peak - baseline;
    expect(growth).toBeLessThan(256 * MiB); // a quarter of the object at most; in practice a few MiB

    const size = meta.length + head.length + pixelHeader.length + GiB;
    expect(result.size).toBe(size);
    expect(result.sha256.equals(expected.digest())).toBe(true);
    expect(result.datasetOffset).toBe(meta.length);
    expect(result.transferSyntaxUid).toBe(TS.ExplicitVRLittleEndian);
    expect(result.bulkAddressable).toBe(true);
    expect((await stat(result.path)).size).toBe(size);

    // The stored file begins with the header built from the object's identity, then the dataset as received.
    const file = await open(result.path, 'r');
    try {
      const start = Buffer.alloc(meta.length + head.length);
      await file.read(start, 0, start.length, 0);
      expect(start.subarray(0, meta.length).equals(meta)).toBe(true);
      expect(start.subarray(meta.length).equals(head)).toBe(true);
    } finally {
      await file.close();
    }

    // The header was parsed on the way: the pixel data is located, not loaded.
    expect(result.dataset.ascii(Tag.SOPInstanceUID)).toBe(sopInstanceUid);
    expect(result.dataset.uint16(Tag.Rows)).toBe(512);
    const pixels = result.dataset.get(Tag.PixelData)!;
    expect(pixels).toMatchObject({ bulk: true, length: GiB, offset: meta.length + head.length + pixelHeader.length });
    expect(pixels.value).toBeUndefined();
    await spool.remove(result.path);
  });

  it('fsyncs the directory only after the whole file is written, before the result resolves', async () => {
    const sopInstanceUid = uid();
    const dataset = encodeDataset([...header(sopInstanceUid), { tag: Tag.PixelData, vr: 'OW', value: Buffer.alloc(3 * MiB, 9) }], EXPLICIT_LE);
    const path = join(root, 'fsync', `${uid()}.dcm`);
    const seen: { size: number }[] = [];
    let resolved = false;
    const writer = new SpoolWriter({
      path,
      input: { kind: 'dataset', transferSyntaxUid: TS.ExplicitVRLittleEndian, sopClassUid: CT, sopInstanceUid },
      maxBytes: GiB,
      boot: spool.boot,
      ensureDirectory: (p) => mkdir(dirname(p), { recursive: true }).then(() => undefined),
      fsyncDirectory: async (p) => {
        expect(resolved).toBe(false);
        seen.push({ size: (await stat(p)).size });
      },
    });
    void writer.result.then(() => (resolved = true));
    await pipeline(Readable.from(chunks(dataset, 64 * 1024)), writer);
    const result = await writer.result;
    const headerLength = buildPart10Header({ sopClassUid: CT, sopInstanceUid, transferSyntaxUid: TS.ExplicitVRLittleEndian }).length;
    expect(seen).toEqual([{ size: headerLength + dataset.length }]);
    expect((await stat(path)).size).toBe(result.size);
    expect(result.size).toBe(headerLength + dataset.length);
  });

  it('replaces the sender’s meta information with the deterministic header: the same dataset, the same file', async () => {
    const sopInstanceUid = uid();
    const dataset = encodeDataset(header(sopInstanceUid), IMPLICIT_LE);
    const ours = buildPart10Header({ sopClassUid: CT, sopInstanceUid, transferSyntaxUid: TS.ImplicitVRLittleEndian });
    // Another implementation's meta information: other implementation identity, a source AE title.
    const theirs = Buffer.concat([
      Buffer.alloc(128),
      Buffer.from('DICM'),
      (() => {
        const group = encodeDataset(
          [
            { tag: Tag.FileMetaInformationVersion, vr: 'OB', value: Buffer.of(0, 1) },
            { tag: Tag.MediaStorageSOPClassUID, vr: 'UI', value: CT },
            { tag: Tag.MediaStorageSOPInstanceUID, vr: 'UI', value: sopInstanceUid },
            { tag: Tag.TransferSyntaxUID, vr: 'UI', value: TS.ImplicitVRLittleEndian },
            { tag: Tag.ImplementationClassUID, vr: 'UI', value: '1.2.276.0.7230010.3.0.3.6.7' },
            { tag: Tag.ImplementationVersionName, vr: 'SH', value: 'OFFIS_DCMTK_367' },
            { tag: Tag.SourceApplicationEntityTitle, vr: 'AE', value: 'MODALITY1' },
          ],
          EXPLICIT_LE,
        );
        return Buffer.concat([encodeDataset([{ tag: Tag.FileMetaInformationGroupLength, vr: 'UL', value: [group.length] }], EXPLICIT_LE), group]);
      })(),
    ]);
    const fromPart10 = await write({ kind: 'part10' }, chunks(Buffer.concat([theirs, dataset]), 7));
    const fromDimse = await write({ kind: 'dataset', transferSyntaxUid: TS.ImplicitVRLittleEndian, sopClassUid: CT, sopInstanceUid }, [dataset]);
    const a = await readFile(fromPart10.path);
    const b = await readFile(fromDimse.path);
    expect(a.equals(Buffer.concat([ours, dataset]))).toBe(true);
    expect(b.equals(a)).toBe(true);
    expect(fromPart10.sha256.equals(fromDimse.sha256)).toBe(true);
    expect(fromPart10.sha256.equals(createHash('sha256').update(a).digest())).toBe(true);
    expect(fromPart10.dataset.ascii(Tag.SOPInstanceUID)).toBe(sopInstanceUid);
  });

  describe('deflated data (PS3.5 A.5)', () => {
    const sopInstanceUid = uid();
    const plain = encodeDataset([...header(sopInstanceUid), { tag: 0x00091010, vr: 'OB', value: Buffer.alloc(200 * 1024, 3) }, { tag: 0x00090010, vr: 'LO', value: 'ACME' }], EXPLICIT_LE);
    const deflated = deflateRawSync(plain);
    const meta = buildPart10Header({ sopClassUid: CT, sopInstanceUid, transferSyntaxUid: TS.DeflatedExplicitVRLittleEndian });

    it('is stored as received and its header parsed after writing', async () => {
      const result = await write(
        { kind: 'dataset', transferSyntaxUid: TS.DeflatedExplicitVRLittleEndian, sopClassUid: CT, sopInstanceUid },
        chunks(deflated, 1000),
      );
      const file = await readFile(result.path);
      expect(file.equals(Buffer.concat([meta, deflated]))).toBe(true);
      expect(result.sha256.equals(createHash('sha256').update(file).digest())).toBe(true);
      expect(result.bulkAddressable).toBe(false);
      expect(result.dataset.ascii(Tag.SOPInstanceUID)).toBe(sopInstanceUid);
      expect(result.dataset.get(Tag.PatientName)?.value?.toString('latin1')).toBe('Big^Object');
      expect(result.dataset.get(0x00091010)).toMatchObject({ bulk: true, length: 200 * 1024 });
    });

    it('is read from a Part 10 file as well', async () => {
      const result = await write({ kind: 'part10' }, chunks(Buffer.concat([meta, deflated]), 333));
      expect(result.transferSyntaxUid).toBe(TS.DeflatedExplicitVRLittleEndian);
      expect(result.dataset.ascii(Tag.SOPInstanceUID)).toBe(sopInstanceUid);
      expect((await readFile(result.path)).equals(Buffer.concat([meta, deflated]))).toBe(true);
    });

    it('that cannot be inflated is refused, and the file removed', async () => {
      const broken = Buffer.from(deflated);
      broken.fill(0xff, 10, 40);
      const writer = spool.createWriter({ kind: 'dataset', transferSyntaxUid: TS.DeflatedExplicitVRLittleEndian, sopClassUid: CT, sopInstanceUid });
      await pipeline(Readable.from([broken]), writer);
      await expect(writer.result).rejects.toMatchObject({ code: 'MALFORMED' });
      await expect(writer.result).rejects.toBeInstanceOf(SpoolError);
    });
  });

  describe('refusals remove what was written', () => {
    async function refused(input: SpoolInput, bytes: Buffer, maxBytes = GiB): Promise<SpoolError> {
      const dir = mkdtempSync(join(root, 'refused-'));
      const own = new Spool(dir, maxBytes);
      const writer = own.createWriter(input);
      await pipeline(Readable.from(chunks(bytes, 4096)), writer);
      const error = await writer.result.then(
        () => undefined,
        (e: unknown) => e,
      );
      // Removal runs after the rejection; give it a moment to finish.
      for (let i = 0; i < 50 && filesIn(dir).length > 0; i++) await new Promise((r) => setTimeout(r, 20));
      expect(filesIn(dir)).toEqual([]);
      expect(error).toBeInstanceOf(SpoolError);
      return error as SpoolError;
    }

    it('a truncated dataset', async () => {
      const sop = uid();
      const bytes = encodeDataset([...header(sop), { tag: Tag.PixelData, vr: 'OW', value: Buffer.alloc(100_000) }], EXPLICIT_LE);
      const e = await refused({ kind: 'dataset', transferSyntaxUid: TS.ExplicitVRLittleEndian, sopClassUid: CT, sopInstanceUid: sop }, bytes.subarray(0, bytes.length - 100));
      expect(e.code).toBe('MALFORMED');
    });

    it('a dataset whose SOP Instance UID is not the one announced', async () => {
      const e = await refused({ kind: 'dataset', transferSyntaxUid: TS.ExplicitVRLittleEndian, sopClassUid: CT, sopInstanceUid: uid() }, encodeDataset(header(uid()), EXPLICIT_LE));
      expect(e.code).toBe('MISMATCH');
    });

    it('a dataset whose SOP Class UID is not the one announced (the stored header would claim another class)', async () => {
      const sop = uid();
      const mr = encodeDataset(header(sop, [{ tag: Tag.SOPClassUID, vr: 'UI', value: '1.2.840.10008.5.1.4.1.1.4' }]), EXPLICIT_LE);
      const e = await refused({ kind: 'dataset', transferSyntaxUid: TS.ExplicitVRLittleEndian, sopClassUid: CT, sopInstanceUid: sop }, mr);
      expect(e.code).toBe('MISMATCH');
    });

    it('an object over the size limit', async () => {
      const sop = uid();
      const bytes = encodeDataset([...header(sop), { tag: Tag.PixelData, vr: 'OW', value: Buffer.alloc(64 * 1024) }], EXPLICIT_LE);
      const e = await refused({ kind: 'dataset', transferSyntaxUid: TS.ExplicitVRLittleEndian, sopClassUid: CT, sopInstanceUid: sop }, bytes, 32 * 1024);
      expect(e.code).toBe('TOO_LARGE');
    });

    it('an unknown transfer syntax', async () => {
      const sop = uid();
      const e = await refused({ kind: 'dataset', transferSyntaxUid: '1.2.3.4', sopClassUid: CT, sopInstanceUid: sop }, encodeDataset(header(sop), EXPLICIT_LE));
      expect(e.code).toBe('UNSUPPORTED_TRANSFER_SYNTAX');
    });

    it('a file that is not DICOM', async () => {
      const e = await refused({ kind: 'part10' }, Buffer.alloc(1000, 0x41));
      expect(['NOT_DICOM', 'MALFORMED']).toContain(e.code);
    });

    it('an aborted transfer', async () => {
      const sop = uid();
      const dir = mkdtempSync(join(root, 'aborted-'));
      const writer = new Spool(dir, GiB).createWriter({ kind: 'dataset', transferSyntaxUid: TS.ExplicitVRLittleEndian, sopClassUid: CT, sopInstanceUid: sop });
      await new Promise<void>((resolve) => writer.write(encodeDataset(header(sop), EXPLICIT_LE), () => resolve()));
      expect(filesIn(dir)).toHaveLength(1);
      writer.destroy(new Error('association aborted'));
      await expect(writer.result).rejects.toMatchObject({ code: 'ABORTED' });
      for (let i = 0; i < 50 && filesIn(dir).length > 0; i++) await new Promise((r) => setTimeout(r, 20));
      expect(filesIn(dir)).toEqual([]);
      expect(existsSync(dir)).toBe(true);
    });
  });
});
