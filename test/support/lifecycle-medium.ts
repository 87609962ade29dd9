import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { DynamicModule, Type } from '@nestjs/common';
import { RetrieveService } from '#vna/archive';
import { blobKeyForSha256, BlobStore } from '#vna/blob';
import { Tag, type WriteElement } from '#vna/dicom';
import { JobHandlerRegistry } from '#vna/jobs';
import {
  DeletionService,
  LegalHoldService,
  LifecycleClock,
  LifecycleModule,
  LifecycleJobs,
  PrefetchService,
  RehydrationService,
  RetentionService,
  TieringService,
  VerificationService,
} from '#vna/lifecycle';
import { type ArchiveHarness, imageDataset, type MediumEnv, startArchive, storeDataset, uid } from './medium.js';

/**
 * Medium tests of the storage lifecycle (libs/lifecycle): the archive engine with LifecycleModule
 * (and whatever else a test needs, e.g. the HL7 flow for prefetch) against the test run's
 * PostgreSQL and Azurite. Objects are uploaded the way the spool upload does it.
 */
export interface LifecycleHarness extends ArchiveHarness {
  readonly blob: BlobStore;
  readonly clock: LifecycleClock;
  readonly retrieve: RetrieveService;
  readonly tiering: TieringService;
  readonly rehydration: RehydrationService;
  readonly retention: RetentionService;
  readonly deletion: DeletionService;
  readonly holds: LegalHoldService;
  readonly verification: VerificationService;
  readonly prefetch: PrefetchService;
  readonly jobs: LifecycleJobs;
}

export async function startLifecycle(env: MediumEnv, features: readonly (Type | DynamicModule)[] = []): Promise<LifecycleHarness> {
  const archive = await startArchive(env, [LifecycleModule, ...features]);
  const { module } = archive;
  const blob = module.get(BlobStore);
  await blob.init();
  return {
    ...archive,
    blob,
    clock: module.get(LifecycleClock),
    retrieve: module.get(RetrieveService),
    tiering: module.get(TieringService),
    rehydration: module.get(RehydrationService),
    retention: module.get(RetentionService),
    deletion: module.get(DeletionService),
    holds: module.get(LegalHoldService),
    verification: module.get(VerificationService),
    prefetch: module.get(PrefetchService),
    jobs: module.get(LifecycleJobs),
  };
}

export interface StudySpec {
  readonly studyUid?: string;
  readonly patientId?: string;
  /** IssuerOfPatientID; none when undefined. */
  readonly issuer?: string;
  readonly modality?: string;
  /** Body Part Examined (0018,0015) of the series; none when undefined. */
  readonly bodyPart?: string;
  /** DICOM DA, YYYYMMDD. */
  readonly studyDate?: string;
  readonly birthDate?: string;
  readonly description?: string;
  readonly sourceAet?: string;
  readonly objects?: number;
  /** SOP Class UID of a non-image object (no pixel data), e.g. a dose SR; CT Image Storage when undefined. */
  readonly sopClassUid?: string;
}

export interface StoredObject {
  readonly id: string;
  readonly sopInstanceUid: string;
  readonly seriesUid: string;
  readonly blobKey: string;
  readonly bytes: Buffer;
}

/** Stores a study's objects (one series; call again with its studyUid for another) through ingest, then uploads them to the blob store. */
export async function storeStudy(h: LifecycleHarness, spec: StudySpec = {}): Promise<{ studyUid: string; objects: StoredObject[] }> {
  const studyUid = spec.studyUid ?? uid();
  const seriesUid = uid();
  const extra: WriteElement[] = [
    { tag: Tag.PatientID, vr: 'LO', value: spec.patientId ?? 'LC-1' },
    ...(spec.issuer !== undefined ? [{ tag: Tag.IssuerOfPatientID, vr: 'LO', value: spec.issuer } as WriteElement] : []),
    { tag: Tag.Modality, vr: 'CS', value: spec.modality ?? 'CT' },
    ...(spec.bodyPart !== undefined ? [{ tag: Tag.BodyPartExamined, vr: 'CS', value: spec.bodyPart } as WriteElement] : []),
    { tag: Tag.StudyDate, vr: 'DA', value: spec.studyDate ?? '20250101' },
    ...(spec.birthDate ? [{ tag: Tag.PatientBirthDate, vr: 'DA', value: spec.birthDate } as WriteElement] : []),
    ...(spec.description ? [{ tag: Tag.StudyDescription, vr: 'LO', value: spec.description } as WriteElement] : []),
  ];
  const objects: StoredObject[] = [];
  for (let n = 0; n < (spec.objects ?? 1); n++) {
    const sopInstanceUid = uid();
    const dataset = imageDataset({ sopInstanceUid, studyUid, seriesUid, extra, ...(spec.sopClassUid ? { sopClassUid: spec.sopClassUid, noImage: true } : {}) });
    const result = await storeDataset(h.ingest, dataset, { sopInstanceUid, ...(spec.sopClassUid ? { sopClassUid: spec.sopClassUid } : {}) }, { kind: 'dimse', aet: spec.sourceAet ?? 'MEDIUM' });
    const bytes = readFileSync(result.spoolPath);
    const [row] = (await h.db.query(`SELECT id::text FROM instance WHERE sop_instance_uid = $1 AND is_current`, [sopInstanceUid])) as { id: string }[];
    const blobKey = await upload(h, row!.id, result.spoolPath, bytes);
    objects.push({ id: row!.id, sopInstanceUid, seriesUid, blobKey, bytes });
  }
  return { studyUid, objects };
}

/** What the spool upload does (UploadService.upload): the blob under its SHA-256 key with its MD5, then the index row. */
async function upload(h: LifecycleHarness, id: string, path: string, bytes: Buffer): Promise<string> {
  const sha256 = createHash('sha256').update(bytes).digest();
  const md5 = createHash('md5').update(bytes).digest();
  const key = blobKeyForSha256(sha256);
  await h.blob.upload(key, path, bytes.length, md5);
  await h.db.query(`UPDATE instance SET storage_state = 'stored', blob_key = $2, md5 = $3, stored_at = now(), spool_path = NULL WHERE id = $1`, [id, key, md5]);
  return key;
}

/** Runs the open outbox messages of these topics through their handlers, as the worker would; returns how many ran. */
export async function drainOutbox(h: LifecycleHarness, topics: readonly string[]): Promise<number> {
  const rows = (await h.db.query(`SELECT id, topic, payload FROM outbox WHERE done_at IS NULL AND topic = ANY($1::text[]) ORDER BY id`, [topics])) as {
    id: string;
    topic: string;
    payload: Record<string, unknown>;
  }[];
  const registry = h.module.get(JobHandlerRegistry);
  for (const row of rows) {
    await registry.get(row.topic)!(row.payload);
    await h.db.query(`UPDATE outbox SET done_at = now() WHERE id = $1`, [row.id]);
  }
  return rows.length;
}

/** Puts an object in a tier behind the lifecycle's back: the blob in the store and the index row alike. */
export async function setTier(h: LifecycleHarness, o: { id: string; blobKey: string }, tier: 'Hot' | 'Cool' | 'Cold' | 'Archive'): Promise<void> {
  await h.blob.setAccessTier(o.blobKey, tier);
  await h.db.query(`UPDATE instance SET access_tier = $2 WHERE id = $1`, [o.id, tier]);
}

/** An object's tier and rehydration state as the index has them. */
export async function indexTier(h: LifecycleHarness, id: string): Promise<{ tier: string; archiveStatus: string | null; hotUntil: Date | null }> {
  const [row] = (await h.db.query(`SELECT access_tier AS tier, archive_status AS "archiveStatus", hot_until AS "hotUntil" FROM instance WHERE id = $1`, [id])) as {
    tier: string;
    archiveStatus: string | null;
    hotUntil: Date | null;
  }[];
  return row!;
}
