import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { DynamicModule, Type } from '@nestjs/common';
import { Test, type TestingModule } from '@nestjs/testing';
import { getDataSourceToken } from '@nestjs/typeorm';
import type { DataSource } from 'typeorm';
import { ArchiveModule, type IngestResult, IngestService, type InstanceSource, QueryService } from '#vna/archive';
import { BlobModule } from '#vna/blob';
import { ConfigModule, loadConfig, type VnaConfig } from '#vna/config';
import { encodeDataset, EXPLICIT_LE, type Encoding, Tag, type WriteElement } from '#vna/dicom';
import { JobsModule } from '#vna/jobs';
import { ObservabilityModule } from '#vna/observability';
import { PersistenceModule } from '#vna/persistence';
import { createTestDatabase } from './databases.js';
import { testEnv } from './test-env.js';

/**
 * Medium tests (*.medium.spec.ts): the archive's services against the real PostgreSQL, Redis and
 * Azurite of the test run, each test file with a database, Redis prefix, blob container and data
 * directory of its own.
 */
export interface MediumEnv {
  readonly config: VnaConfig;
  readonly dataDir: string;
  /** Drops the database and removes the data directory. */
  readonly cleanup: () => Promise<void>;
}

export async function mediumEnv(label: string, env: Record<string, string> = {}): Promise<MediumEnv> {
  const shared = testEnv();
  const db = await createTestDatabase(label);
  const id = db.name.slice(-6);
  const dataDir = mkdtempSync(join(tmpdir(), `vna-medium-${label}-`));
  const config = loadConfig({
    NODE_ENV: 'test',
    VNA_NODE_ID: `medium-${label}-${id}`,
    VNA_DATABASE_URL: db.url,
    VNA_DATABASE_POOL_SIZE: '10',
    VNA_REDIS_URL: shared.redisUrl,
    VNA_REDIS_PREFIX: `vnam-${id}`,
    VNA_BLOB_CONNECTION_STRING: shared.blobConnectionString,
    VNA_BLOB_CONTAINER: `m-${id}-${label.toLowerCase().replace(/[^a-z0-9]/g, '')}`.slice(0, 60),
    VNA_DATA_DIR: dataDir,
    VNA_LOG_LEVEL: 'warn',
    ...env,
  });
  return {
    config,
    dataDir,
    cleanup: async () => {
      await db.drop().catch(() => undefined);
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** The archive engine as the apps wire it (no relay, no consumers: tests drive those themselves). */
export interface ArchiveHarness {
  readonly module: TestingModule;
  readonly config: VnaConfig;
  readonly db: DataSource;
  readonly ingest: IngestService;
  readonly query: QueryService;
  readonly close: () => Promise<void>;
}

/** `features`: more modules on top of the archive engine (the HL7 flow, identity, ...). */
export async function startArchive(env: MediumEnv, features: readonly (Type | DynamicModule)[] = []): Promise<ArchiveHarness> {
  const module = await Test.createTestingModule({
    imports: [
      ConfigModule.with(env.config),
      PersistenceModule,
      ObservabilityModule,
      BlobModule,
      JobsModule.forRoot({ relay: false, consumeNodeQueue: false, consumeSharedQueue: false }),
      ArchiveModule,
      ...features,
    ],
  }).compile();
  module.useLogger(false);
  await module.init();
  return {
    module,
    config: env.config,
    db: module.get<DataSource>(getDataSourceToken()),
    ingest: module.get(IngestService),
    query: module.get(QueryService),
    close: () => module.close(),
  };
}

export function uid(): string {
  return `2.25.${BigInt(`0x${randomBytes(16).toString('hex')}`).toString()}`;
}

export const CT_IMAGE_STORAGE = '1.2.840.10008.5.1.4.1.1.2';
export const MR_IMAGE_STORAGE = '1.2.840.10008.5.1.4.1.1.4';

export interface ObjectSpec {
  readonly sopInstanceUid: string;
  readonly studyUid: string;
  readonly seriesUid: string;
  readonly sopClassUid?: string;
  /** Elements added to (or replacing) the defaults. */
  readonly extra?: readonly WriteElement[];
  /** Pixel bytes (default 64 bytes of a fill derived from the UID). */
  readonly pixels?: Buffer;
  /** No image attributes and no pixel data (a presentation state, an SR document). */
  readonly noImage?: boolean;
}

/** A small image's dataset (no meta information), as a C-STORE carries it. */
export function imageDataset(spec: ObjectSpec, enc: Encoding = EXPLICIT_LE): Buffer {
  const defaults: WriteElement[] = [
    { tag: Tag.SpecificCharacterSet, vr: 'CS', value: 'ISO_IR 192' },
    { tag: Tag.SOPClassUID, vr: 'UI', value: spec.sopClassUid ?? CT_IMAGE_STORAGE },
    { tag: Tag.SOPInstanceUID, vr: 'UI', value: spec.sopInstanceUid },
    { tag: Tag.Modality, vr: 'CS', value: 'CT' },
    { tag: Tag.PatientName, vr: 'PN', value: 'Test^Patient' },
    { tag: Tag.PatientID, vr: 'LO', value: 'MEDIUM-1' },
    { tag: Tag.StudyInstanceUID, vr: 'UI', value: spec.studyUid },
    { tag: Tag.SeriesInstanceUID, vr: 'UI', value: spec.seriesUid },
    { tag: Tag.Rows, vr: 'US', value: [4] },
    { tag: Tag.Columns, vr: 'US', value: [8] },
    { tag: Tag.BitsAllocated, vr: 'US', value: [16] },
    { tag: Tag.SamplesPerPixel, vr: 'US', value: [1] },
  ];
  const extra = spec.extra ?? [];
  const replaced = new Set(extra.map((e) => e.tag));
  const image = new Set<number>([Tag.Rows, Tag.Columns, Tag.BitsAllocated, Tag.SamplesPerPixel]);
  const kept = defaults.filter((e) => !replaced.has(e.tag) && !(spec.noImage && image.has(e.tag)));
  if (spec.noImage) return encodeDataset([...kept, ...extra], enc);
  const pixels = spec.pixels ?? Buffer.alloc(64, spec.sopInstanceUid.length & 0xff);
  return encodeDataset([...kept, ...extra, { tag: Tag.PixelData, vr: 'OW', value: pixels }], enc);
}

/** Streams a C-STORE dataset through the spool and commits it, as the DIMSE edge does. */
export async function storeDataset(
  ingest: IngestService,
  dataset: Buffer,
  identity: { sopClassUid?: string; sopInstanceUid: string; transferSyntaxUid?: string },
  source: InstanceSource = { kind: 'dimse', aet: 'MEDIUM' },
): Promise<IngestResult & { spoolPath: string }> {
  const writer = ingest.createWriter({
    kind: 'dataset',
    transferSyntaxUid: identity.transferSyntaxUid ?? '1.2.840.10008.1.2.1',
    sopClassUid: identity.sopClassUid ?? CT_IMAGE_STORAGE,
    sopInstanceUid: identity.sopInstanceUid,
  });
  await pipeline(Readable.from(chunks(dataset, 16 * 1024)), writer);
  const spooled = await writer.result.catch(() => undefined);
  const result = await ingest.commit(writer, source);
  return { ...result, spoolPath: spooled?.path ?? '' };
}

export function* chunks(b: Buffer, size: number): Generator<Buffer> {
  for (let i = 0; i < b.length; i += size) yield b.subarray(i, i + size);
}

/** Polls until `check` returns a value (not undefined/false), or fails after `timeoutMs`. */
export async function eventually<T>(check: () => Promise<T | undefined | false>, timeoutMs = 20_000, what = 'condition'): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`${what} not reached within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
