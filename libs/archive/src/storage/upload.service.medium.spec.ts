import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { blobKeyForSha256, BlobStore, BlobStoreError } from '#vna/blob';
import { JobHandlerRegistry, QueueService } from '#vna/jobs';
import { MetricsService } from '#vna/observability';
import { type ArchiveHarness, imageDataset, type MediumEnv, mediumEnv, startArchive, storeDataset, uid } from '../../../../test/support/medium.js';
import { ForegroundActivity } from '../foreground-activity.js';
import { RetrieveService } from '../retrieve/retrieve.service.js';
import { UploadService } from './upload.service.js';

let env: MediumEnv;
let archive: ArchiveHarness;
let blob: BlobStore;
let upload: UploadService;

beforeAll(async () => {
  env = await mediumEnv('upload');
  archive = await startArchive(env);
  blob = archive.module.get(BlobStore);
  await blob.init();
  upload = new UploadService(env.config, archive.db, blob, archive.module.get(JobHandlerRegistry), archive.module.get(MetricsService), archive.module.get(QueueService), archive.module.get(ForegroundActivity));
});

afterAll(async () => {
  await archive?.close();
  await env?.cleanup();
});

interface Row {
  storage_state: string;
  spool_path: string | null;
  blob_key: string | null;
  md5: Buffer | null;
  sha256: Buffer;
  size_bytes: string;
  stored_at: Date | null;
}

async function row(instanceId: string): Promise<Row> {
  const [r] = (await archive.db.query(`SELECT storage_state, spool_path, blob_key, md5, sha256, size_bytes, stored_at FROM instance WHERE id = $1`, [instanceId])) as Row[];
  return r!;
}

async function readAll(stream: Readable): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const chunk of stream) parts.push(chunk as Buffer);
  return Buffer.concat(parts);
}

async function ingestOne(pixels?: Buffer) {
  const spec = { sopInstanceUid: uid(), studyUid: uid(), seriesUid: uid(), pixels };
  const result = await storeDataset(archive.ingest, imageDataset(spec), { sopInstanceUid: spec.sopInstanceUid });
  return { spec, result, file: readFileSync(result.spoolPath) };
}

const md5 = (b: Buffer): Buffer => createHash('md5').update(b).digest();
const sha256 = (b: Buffer): Buffer => createHash('sha256').update(b).digest();

describe('UploadService against Azurite', () => {
  it('uploads the spool file under its hash with Content-MD5, then points the row at the blob and removes the file', async () => {
    const { result, file } = await ingestOne();
    await upload.upload(result.instanceId);

    const key = blobKeyForSha256(sha256(file));
    expect(key).toMatch(/^sha256\/[0-9a-f]{2}\/[0-9a-f]{2}\/[0-9a-f]{64}$/);
    const r = await row(result.instanceId);
    expect(r).toMatchObject({ storage_state: 'stored', spool_path: null, blob_key: key });
    expect(r.stored_at).not.toBeNull();
    expect(Buffer.from(r.md5!).equals(md5(file))).toBe(true);
    expect(existsSync(result.spoolPath)).toBe(false);

    const props = await blob.properties(key);
    expect(props?.size).toBe(file.length);
    expect(props?.md5?.equals(md5(file))).toBe(true);
    expect((await readAll(await blob.read(key))).equals(file)).toBe(true);
    // A range read returns exactly those bytes (end inclusive).
    expect((await readAll(await blob.read(key, { start: 128, end: 131 }))).toString('latin1')).toBe('DICM');
  });

  it('does nothing for an instance already stored (a repeated job)', async () => {
    const { result } = await ingestOne();
    await upload.upload(result.instanceId);
    const before = await row(result.instanceId);
    await upload.upload(result.instanceId);
    expect(await row(result.instanceId)).toEqual(before);
  });

  it('never overwrites: the same key again answers "exists", other content under it is refused', async () => {
    const { result, file } = await ingestOne();
    const copy = join(env.dataDir, `copy-${uid()}.dcm`);
    writeFileSync(copy, file);
    const key = blobKeyForSha256(sha256(file));
    expect(await blob.upload(key, copy, file.length, md5(file))).toBe('created');
    expect(await blob.upload(key, copy, file.length, md5(file))).toBe('exists');

    const other = Buffer.from(file);
    other.writeUInt8(other.readUInt8(other.length - 1) ^ 0xff, other.length - 1);
    writeFileSync(copy, other);
    await expect(blob.upload(key, copy, other.length, md5(other))).rejects.toMatchObject({ code: 'CONFLICT' });
    expect((await readAll(await blob.read(key))).equals(file)).toBe(true);

    // The service meets the blob already there and still finishes the row.
    await upload.upload(result.instanceId);
    expect(await row(result.instanceId)).toMatchObject({ storage_state: 'stored', blob_key: key, spool_path: null });
  });

  it('stores versions with the same content once: the later upload finds the blob', async () => {
    // A, then B, then A again under one UID: versions 1 and 3 have the same bytes and the same key.
    const spec = { sopInstanceUid: uid(), studyUid: uid(), seriesUid: uid() };
    const a = imageDataset(spec);
    const b = imageDataset({ ...spec, pixels: Buffer.alloc(64, 0x42) });
    const v1 = await storeDataset(archive.ingest, a, { sopInstanceUid: spec.sopInstanceUid });
    const v2 = await storeDataset(archive.ingest, b, { sopInstanceUid: spec.sopInstanceUid });
    const v3 = await storeDataset(archive.ingest, a, { sopInstanceUid: spec.sopInstanceUid });
    expect([v1.outcome, v2.outcome, v3.outcome]).toEqual(['stored', 'new-version', 'new-version']);
    for (const v of [v1, v2, v3]) await upload.upload(v.instanceId);
    const [r1, r2, r3] = [await row(v1.instanceId), await row(v2.instanceId), await row(v3.instanceId)];
    expect(r1.blob_key).toBe(r3.blob_key);
    expect(r2.blob_key).not.toBe(r1.blob_key);
    for (const r of [r1, r2, r3]) expect(r.storage_state).toBe('stored');
  });

  it('refuses a spool file whose bytes no longer match the SHA-256, and leaves everything as it was', async () => {
    const { result, file } = await ingestOne();
    const corrupt = Buffer.from(file);
    corrupt.writeUInt8(corrupt.readUInt8(corrupt.length - 10) ^ 0x01, corrupt.length - 10);
    writeFileSync(result.spoolPath, corrupt);
    await expect(upload.upload(result.instanceId)).rejects.toThrow(/does not match its SHA-256/);
    expect(await blob.properties(blobKeyForSha256(sha256(file)))).toBeUndefined();
    expect(await blob.properties(blobKeyForSha256(sha256(corrupt)))).toBeUndefined();
    expect(await row(result.instanceId)).toMatchObject({ storage_state: 'spooled', spool_path: result.spoolPath, blob_key: null });
    expect(existsSync(result.spoolPath)).toBe(true);
  });

  it('lets the blob store refuse bytes that do not match the Content-MD5', async () => {
    const { file, result } = await ingestOne();
    const copy = join(env.dataDir, `md5-${uid()}.dcm`);
    copyFileSync(result.spoolPath, copy);
    const key = `test/md5-mismatch/${uid()}`;
    const wrong = md5(Buffer.from('something else'));
    const error = await blob.upload(key, copy, file.length, wrong).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(BlobStoreError);
    expect(await blob.properties(key)).toBeUndefined();
  });

  it('counts a retrieve as foreground work (uploads give way to it) from its open until a moment after its stream closes', async () => {
    const { result, file } = await ingestOne();
    const activity = archive.module.get(ForegroundActivity);
    await sleep(150);
    expect(activity.idleMs()).toBeGreaterThanOrEqual(140);
    const retrieve = archive.module.get(RetrieveService);
    const [instance] = await retrieve.instancesByUid([result.sopInstanceUid]);
    const stream = await retrieve.open(instance!, 'dicomweb');
    expect(activity.idleMs()).toBeLessThan(100);
    await sleep(150);
    const closed = new Promise((resolve) => stream.once('close', resolve));
    expect((await readAll(stream)).equals(file)).toBe(true);
    await closed;
    expect(activity.idleMs()).toBeLessThan(100);
  });

  it('leaves an object spooled on another node to that node', async () => {
    const { result } = await ingestOne();
    const elsewhere = new UploadService({ ...env.config, nodeId: 'another-node' }, archive.db, blob, new JobHandlerRegistry(), archive.module.get(MetricsService), archive.module.get(QueueService), new ForegroundActivity());
    await expect(elsewhere.upload(result.instanceId)).rejects.toThrow(/spooled on node/);
    expect(await row(result.instanceId)).toMatchObject({ storage_state: 'spooled', spool_path: result.spoolPath });
  });

  it('uploads an object larger than one block (70 MiB) byte for byte', async () => {
    const pixels = Buffer.alloc(70 * 1024 * 1024);
    for (let i = 0; i < pixels.length; i += 4096) pixels.writeUInt32LE(i, i);
    const { result, file } = await ingestOne(pixels);
    await upload.upload(result.instanceId);
    const r = await row(result.instanceId);
    expect(r.storage_state).toBe('stored');
    const props = await blob.properties(r.blob_key!);
    expect(props?.size).toBe(file.length);
    expect(props?.md5?.equals(md5(file))).toBe(true);
    const hash = createHash('sha256');
    for await (const chunk of await blob.read(r.blob_key!)) hash.update(chunk as Buffer);
    expect(hash.digest().equals(Buffer.from(r.sha256))).toBe(true);
  });
});
