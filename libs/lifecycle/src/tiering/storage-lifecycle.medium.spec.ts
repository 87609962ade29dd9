import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { BlobServiceClient } from '@azure/storage-blob';
import { ObjectUnavailableError, type QueryRequest } from '#vna/archive';
import { type BlobStore, BlobStoreError } from '#vna/blob';
import { Tag, tagToHex } from '#vna/dicom';
import { toProblem } from '#vna/http';
import { Hl7InboundModule, Hl7InboundService } from '#vna/hl7';
import { IdentityModule } from '#vna/identity';
import { MetricsService } from '#vna/observability';
import { indexTier, type LifecycleHarness, setTier, startLifecycle, storeStudy } from '../../../../test/support/lifecycle-medium.js';
import { type MediumEnv, mediumEnv } from '../../../../test/support/medium.js';
import { adt } from '../../../../test/support/identity-medium.js';
import { parseAck } from '../../../../test/support/mllp.js';
import { ormO01 } from '../../../../test/support/worklist.js';
import { LifecycleMetrics } from '../lifecycle-metrics.js';
import { RehydrationRepository } from './rehydration.repository.js';
import { RehydrationService } from './rehydration.service.js';

/**
 * Tiers against Azurite (which keeps tiers and answers 409 BlobArchived for an Archive blob, but
 * rehydrates at once): tier moves and the index following them, QIDO availability, the archived
 * retrieve path, rehydration tracked from the archive status, prefetch of priors on an order, and
 * storage verification catching what changed behind the archive's back.
 */

let env: MediumEnv;
let h: LifecycleHarness;
const NOW = new Date('2026-11-24T10:00:00Z');

beforeAll(async () => {
  env = await mediumEnv('lifecycle-tiers', { VNA_LIFECYCLE_RETRY_AFTER_SECONDS: '1800', VNA_LIFECYCLE_BATCH_SIZE: '2' });
  h = await startLifecycle(env, [Hl7InboundModule, IdentityModule]);
  h.clock.set(NOW);
});

afterAll(async () => {
  await h?.close();
  await env?.cleanup();
});

async function clearPolicies(): Promise<void> {
  for (const p of await h.tiering.listPolicies()) await h.tiering.deletePolicy(p.name);
}

async function policy(name: string, tier: 'Hot' | 'Cool' | 'Cold' | 'Archive', criteria: { minAgeDays?: number; modality?: string; minIdleDays?: number } = {}): Promise<void> {
  await h.tiering.savePolicy({ name, priority: 10, tier, minAgeDays: criteria.minAgeDays ?? null, minIdleDays: criteria.minIdleDays ?? null, modality: criteria.modality ?? null, minSizeBytes: null, sourceAet: null, enabled: true }, 'test');
}

async function storeTier(blob: BlobStore, key: string): Promise<string | undefined> {
  return (await blob.properties(key))?.tier;
}

function availability(level: QueryRequest['level'], studyUid: string): Promise<string[]> {
  return h.query
    .search({ level, keys: new Map([[Tag.StudyInstanceUID, studyUid]]), includeFields: [Tag.InstanceAvailability], includeAll: false, limit: 10, offset: 0, relational: true })
    .then((r) => r.matches.map((m) => String(m[tagToHex(Tag.InstanceAvailability)]?.Value?.[0])));
}

async function readAll(stream: NodeJS.ReadableStream): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const chunk of stream) parts.push(chunk as Buffer);
  return Buffer.concat(parts);
}

describe('tiers', () => {
  it('moves objects by policy in batches and the index follows; QIDO says NEARLINE for Archive; /metrics counts objects and bytes per tier', async () => {
    await clearPolicies();
    const old = await storeStudy(h, { modality: 'CT', studyDate: '20240101', objects: 3 });
    const recent = await storeStudy(h, { modality: 'CT', studyDate: '20261120' });
    const mr = await storeStudy(h, { modality: 'MR', studyDate: '20240101' });
    await policy('ct-90-days-cool', 'Cool', { modality: 'CT', minAgeDays: 90 });

    const first = await h.tiering.run();
    expect(first.failed).toBe(0);
    for (const o of old.objects) {
      expect((await indexTier(h, o.id)).tier).toBe('Cool');
      expect(await storeTier(h.blob, o.blobKey)).toBe('Cool');
    }
    expect((await indexTier(h, recent.objects[0]!.id)).tier).toBe('Hot');
    expect((await indexTier(h, mr.objects[0]!.id)).tier).toBe('Hot');
    expect(await availability('STUDY', old.studyUid)).toEqual(['ONLINE']);

    // A second run finds nothing to do (the index already says Cool).
    expect((await h.tiering.run()).moved).toBe(0);

    await policy('ct-90-days-cool', 'Archive', { modality: 'CT', minAgeDays: 90 });
    const second = await h.tiering.run();
    expect(second.moved).toBe(3);
    expect(await storeTier(h.blob, old.objects[0]!.blobKey)).toBe('Archive');
    expect(await availability('STUDY', old.studyUid)).toEqual(['NEARLINE']);
    expect(await availability('SERIES', old.studyUid)).toEqual(['NEARLINE']);
    expect(await availability('IMAGE', old.studyUid)).toEqual(['NEARLINE', 'NEARLINE', 'NEARLINE']);
    expect(await availability('STUDY', recent.studyUid)).toEqual(['ONLINE']);
    expect((await h.tiering.study(old.studyUid)).map((o) => [o.tier, o.availability, o.archiveStatus])).toEqual(old.objects.map(() => ['Archive', 'NEARLINE', null]));
    await expect(h.tiering.study('1.2.3.404')).rejects.toMatchObject({ kind: 'not-found' });

    const census = await h.tiering.refreshGauges();
    expect(census.tiers.find((t) => t.tier === 'Archive')?.objects).toBeGreaterThanOrEqual(3);
    const metrics = await h.module.get(MetricsService).registry.metrics();
    expect(metrics).toMatch(/vna_storage_objects\{tier="Archive"\} [3-9]/);
    expect(metrics).toMatch(/vna_storage_bytes\{tier="Archive"\} [1-9]/);
  });

  it('an object not retrieved for a while moves by the last-access policy; a retrieve keeps it where it is', async () => {
    await clearPolicies();
    const idle = await storeStudy(h, { modality: 'US', studyDate: '20261101' });
    const used = await storeStudy(h, { modality: 'US', studyDate: '20261101' });
    await h.db.query(`UPDATE study SET created_at = $1 WHERE study_uid = ANY($2::text[])`, [new Date('2026-01-01T00:00:00Z'), [idle.studyUid, used.studyUid]]);
    await h.db.query(`UPDATE study SET last_accessed_at = $1 WHERE study_uid = $2`, [new Date('2026-11-20T00:00:00Z'), used.studyUid]);
    await policy('us-idle-30-days', 'Cold', { modality: 'US', minIdleDays: 30 });
    await h.tiering.run();
    expect((await indexTier(h, idle.objects[0]!.id)).tier).toBe('Cold');
    expect(await storeTier(h.blob, idle.objects[0]!.blobKey)).toBe('Cold');
    expect((await indexTier(h, used.objects[0]!.id)).tier).toBe('Hot');
  });

  it('moves by size and by source, first matching policy first', async () => {
    await clearPolicies();
    const small = await storeStudy(h, { modality: 'SM', studyDate: '20261101', sourceAet: 'SCANNER' });
    const migrated = await storeStudy(h, { modality: 'SM', studyDate: '20261101', sourceAet: 'OLDPACS' });
    const size = small.objects[0]!.bytes.length;
    await h.tiering.savePolicy({ name: 'from-old-pacs', priority: 1, tier: 'Cold', minAgeDays: null, minIdleDays: null, modality: null, minSizeBytes: null, sourceAet: 'OLDPACS', enabled: true }, 'test');
    await h.tiering.savePolicy({ name: 'big-sm', priority: 2, tier: 'Cool', minAgeDays: null, minIdleDays: null, modality: 'SM', minSizeBytes: size, sourceAet: null, enabled: true }, 'test');
    await h.tiering.savePolicy({ name: 'huge-sm', priority: 0, tier: 'Archive', minAgeDays: null, minIdleDays: null, modality: 'SM', minSizeBytes: size * 1000, sourceAet: null, enabled: true }, 'test');
    await h.tiering.run();
    expect((await indexTier(h, migrated.objects[0]!.id)).tier).toBe('Cold');
    expect((await indexTier(h, small.objects[0]!.id)).tier).toBe('Cool');
    expect(await storeTier(h.blob, migrated.objects[0]!.blobKey)).toBe('Cold');
  });
});

describe('retrieving an object in the Archive tier', () => {
  it('409 BlobArchived from the store, rehydration started, 503 with Retry-After and why; then served; back to its policy tier later', async () => {
    await clearPolicies();
    const study = await storeStudy(h, { modality: 'CR', studyDate: '20200101', objects: 2 });
    await policy('cr-archive', 'Archive', { modality: 'CR', minAgeDays: 365 });
    await h.tiering.run();
    const object = study.objects[0]!;
    await expect(h.blob.read(object.blobKey)).rejects.toMatchObject({ code: 'ARCHIVED' });

    const instances = await h.retrieve.instances({ studyUid: study.studyUid });
    const refused = await h.retrieve.assertReadable(instances).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(refused).toBeInstanceOf(ObjectUnavailableError);
    expect(refused).toMatchObject({ reason: 'archived', retryAfterSeconds: 1800 });
    const problem = toProblem(refused);
    expect(problem?.status).toBe(503);
    expect(problem?.headers).toEqual({ 'Retry-After': '1800' });
    expect(problem?.detail).toMatch(/Archive tier.*rehydration .*started/);

    // Azurite rehydrates at once: the archive status is read back and the objects are Hot again, held there.
    for (const o of study.objects) {
      const tier = await indexTier(h, o.id);
      expect(tier).toMatchObject({ tier: 'Hot', archiveStatus: null });
      expect(tier.hotUntil!.getTime()).toBe(NOW.getTime() + 7 * 86_400_000);
      expect(await storeTier(h.blob, o.blobKey)).toBe('Hot');
    }
    const [again] = await h.retrieve.instances({ studyUid: study.studyUid, sopInstanceUid: object.sopInstanceUid });
    await h.retrieve.assertReadable([again!]);
    expect((await readAll(await h.retrieve.open(again!, 'test'))).equals(object.bytes)).toBe(true);

    // Tiering leaves it Hot while held, and takes it back to Archive after.
    expect((await h.tiering.run()).moved).toBe(0);
    h.clock.set(new Date(NOW.getTime() + 8 * 86_400_000));
    try {
      await h.tiering.run();
      expect((await indexTier(h, object.id)).tier).toBe('Archive');
      expect(await storeTier(h.blob, object.blobKey)).toBe('Archive');
    } finally {
      h.clock.set(NOW);
    }
  });

  it('a blob archived behind the index (the store answers 409) starts rehydration on read and the index learns the tier', async () => {
    const study = await storeStudy(h, { modality: 'XA', studyDate: '20261101' });
    const object = study.objects[0]!;
    await h.blob.setAccessTier(object.blobKey, 'Archive');
    const [row] = await h.retrieve.instances({ studyUid: study.studyUid });
    expect(row!.accessTier).toBe('Hot');
    const error = await h.retrieve.open(row!, 'test').then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toMatchObject({ reason: 'archived', retryAfterSeconds: 1800 });
    expect(await storeTier(h.blob, object.blobKey)).toBe('Hot');
    expect((await readAll(await h.retrieve.open(row!, 'test'))).equals(object.bytes)).toBe(true);
  });

  it('tracks a slow rehydration (as on Azure) from the archive status until the blob is readable', async () => {
    const study = await storeStudy(h, { modality: 'NM', studyDate: '20261101' });
    const object = study.objects[0]!;
    await h.blob.setAccessTier(object.blobKey, 'Archive');
    await h.db.query(`UPDATE instance SET access_tier = 'Archive' WHERE id = $1`, [object.id]);
    // A store that takes hours: Set Blob Tier is accepted, the blob reports rehydrate-pending-to-hot until it is done.
    let done = false;
    const slow = Object.create(h.blob) as BlobStore;
    slow.setAccessTier = async () => undefined;
    slow.properties = async (key) => (done ? { size: object.bytes.length, tier: 'Hot' } : { ...(await h.blob.properties(key))!, tier: 'Archive', archiveStatus: 'rehydrate-pending-to-hot' });
    const { MetricsService: Metrics } = await import('#vna/observability');
    const rehydration = new RehydrationService(h.db, env.config, new RehydrationRepository(), slow, h.clock, new LifecycleMetrics(new Metrics()));
    const [row] = await h.retrieve.instances({ studyUid: study.studyUid });
    const outcome = await rehydration.onArchived([row!]);
    expect(outcome.retryAfterSeconds).toBe(1800);
    expect(await indexTier(h, object.id)).toMatchObject({ tier: 'Archive', archiveStatus: 'rehydrate-pending-to-hot' });
    expect(await availability('IMAGE', study.studyUid)).toEqual(['NEARLINE']);
    // Asking again does not start it twice (the claim is taken once), and it is not readable yet.
    let asked = 0;
    slow.setAccessTier = async () => void asked++;
    expect((await rehydration.onArchived([row!])).readable).toBeFalsy();
    expect(asked).toBe(0);
    expect(await rehydration.poll()).toMatchObject({ done: 0, pending: 1 });
    // Done in the store: the next retrieve finds out at once (before the scheduled poll) and goes on.
    done = true;
    expect(await rehydration.onArchived([row!])).toMatchObject({ readable: true });
    expect(await indexTier(h, object.id)).toMatchObject({ tier: 'Hot', archiveStatus: null });
    expect(await rehydration.poll()).toMatchObject({ done: 0, pending: 0 });
    expect(await availability('IMAGE', study.studyUid)).toEqual(['ONLINE']);
  });
});

describe('prefetch', () => {
  it("a new order (ORM NW) brings the patient's recent priors of the same modality up to Hot; others stay", async () => {
    await clearPolicies();
    const patient = { patientId: 'PF-1', issuer: 'NORTHSIDE' };
    const archivedCt = await storeStudy(h, { ...patient, modality: 'CT', studyDate: '20250601' });
    const coldCt = await storeStudy(h, { ...patient, modality: 'CT', studyDate: '20260301' });
    const oldCt = await storeStudy(h, { ...patient, modality: 'CT', studyDate: '20100101' });
    const mr = await storeStudy(h, { ...patient, modality: 'MR', studyDate: '20250601' });
    const other = await storeStudy(h, { patientId: 'PF-2', issuer: 'NORTHSIDE', modality: 'CT', studyDate: '20250601' });
    const set = async (o: { id: string; blobKey: string }, tier: 'Cold' | 'Archive'): Promise<void> => {
      await h.blob.setAccessTier(o.blobKey, tier);
      await h.db.query(`UPDATE instance SET access_tier = $2 WHERE id = $1`, [o.id, tier]);
    };
    for (const s of [archivedCt, oldCt, mr, other]) await set(s.objects[0]!, 'Archive');
    await set(coldCt.objects[0]!, 'Cold');

    const ack = parseAck(
      (await h.module.get(Hl7InboundService).receive({
        payload: Buffer.from(ormO01({ controlId: 'PF-ORM-1', accession: 'ACC-PF-1', patientId: 'PF-1', issuer: 'NORTHSIDE', modality: 'CT', start: '20261201090000' }), 'utf8'),
        receivedAt: new Date(),
        peer: '127.0.0.1:40000',
      })).ack.toString('utf8'),
    );
    expect(ack.code).toBe('AA');

    const run = await h.prefetch.run();
    expect(run.triggers).toBe(1);
    expect(run.objects).toBe(2);
    for (const s of [archivedCt, coldCt]) {
      expect((await indexTier(h, s.objects[0]!.id)).tier).toBe('Hot');
      expect(await storeTier(h.blob, s.objects[0]!.blobKey)).toBe('Hot');
    }
    for (const s of [oldCt, mr, other]) {
      expect((await indexTier(h, s.objects[0]!.id)).tier).toBe('Archive');
      expect(await storeTier(h.blob, s.objects[0]!.blobKey)).toBe('Archive');
    }
    // Each order is a trigger once.
    expect((await h.prefetch.run()).triggers).toBe(0);
  });

  it('a scheduled worklist step about to start (its order placed long ago) brings the priors up to Hot', async () => {
    const patient = { patientId: 'PF-3', issuer: 'NORTHSIDE' };
    const prior = await storeStudy(h, { ...patient, modality: 'MR', studyDate: '20260101' });
    await h.blob.setAccessTier(prior.objects[0]!.blobKey, 'Cold');
    await h.db.query(`UPDATE instance SET access_tier = 'Cold' WHERE id = $1`, [prior.objects[0]!.id]);
    // An order placed long ago (its own trigger is past), its CT step starting tomorrow.
    const ack = parseAck(
      (await h.module.get(Hl7InboundService).receive({
        payload: Buffer.from(ormO01({ controlId: 'PF-ORM-3', accession: 'ACC-PF-3', patientId: 'PF-3', issuer: 'NORTHSIDE', modality: 'MR', start: '20261125080000', specimenSource: '^^^HEAD' }), 'utf8'),
        receivedAt: new Date(),
        peer: '127.0.0.1:40000',
      })).ack.toString('utf8'),
    );
    expect(ack.code).toBe('AA');
    await h.db.query(`UPDATE imaging_order SET created_at = $1 WHERE accession_number = 'ACC-PF-3'`, [new Date('2026-01-01T00:00:00Z')]);
    const run = await h.prefetch.run();
    expect(run).toMatchObject({ triggers: 1, objects: 1 });
    const [trigger] = (await h.db.query(`SELECT kind, modalities, body_parts FROM prefetch_trigger WHERE patient_id = 'PF-3'`)) as { kind: string }[];
    // The step's modality and its requested procedure's body part (matched by modality here, the default).
    expect(trigger).toEqual({ kind: 'worklist', modalities: ['MR'], body_parts: ['HEAD'] });
    expect(await indexTier(h, prior.objects[0]!.id)).toMatchObject({ tier: 'Hot' });
    expect(await storeTier(h.blob, prior.objects[0]!.blobKey)).toBe('Hot');
  });
});

/** X-Ray Radiation Dose SR Storage: a CT study's dose report. */
const XRAY_DOSE_SR = '1.2.840.10008.5.1.4.1.1.88.67';

/**
 * Matching of prior studies (VNA_LIFECYCLE_PREFETCH_MATCH), each setting on an archive of its own
 * (the setting is read at start): a patient with CHEST CT, KNEE MR and HEAD CT prior studies in
 * Cool, the CHEST CT study with a second series, its dose report (modality SR, no Body Part
 * Examined), which comes with its study (a reader compares whole studies) and only with it; an order
 * for a CHEST MR, one for a CHEST CT, another patient's MR order naming no body part.
 */
describe.each([
  ['modality', { chestMr: ['KNEE MR'], chestCt: ['CHEST CT', 'CHEST CT dose SR', 'HEAD CT'], mrWithoutBodyPart: ['KNEE MR'] }],
  ['body-part', { chestMr: ['CHEST CT', 'CHEST CT dose SR'], chestCt: ['CHEST CT', 'CHEST CT dose SR'], mrWithoutBodyPart: ['KNEE MR'] }],
  [
    'modality-or-body-part',
    { chestMr: ['CHEST CT', 'CHEST CT dose SR', 'KNEE MR'], chestCt: ['CHEST CT', 'CHEST CT dose SR', 'HEAD CT'], mrWithoutBodyPart: ['KNEE MR'] },
  ],
] as const)('prefetch of whole prior studies with VNA_LIFECYCLE_PREFETCH_MATCH=%s', (match, expected) => {
  let envB: MediumEnv;
  let hb: LifecycleHarness;

  beforeAll(async () => {
    envB = await mediumEnv(`lifecycle-${match}`, { VNA_LIFECYCLE_PREFETCH_MATCH: match });
    hb = await startLifecycle(envB, [Hl7InboundModule, IdentityModule]);
    hb.clock.set(NOW);
  });

  afterAll(async () => {
    await hb?.close();
    await envB?.cleanup();
  });

  /**
   * One object per series, all in Cool: the CHEST CT study's image series (its Body Part Examined in
   * mixed case, as some modalities send it) and dose report series, the KNEE MR study, the HEAD CT study.
   */
  async function priors(patientId: string): Promise<Map<string, { id: string; blobKey: string }>> {
    const at = { patientId, issuer: 'NORTHSIDE', studyDate: '20260301' };
    const chest = await storeStudy(hb, { ...at, modality: 'CT', bodyPart: 'Chest' });
    const out = new Map<string, { id: string; blobKey: string }>([
      ['CHEST CT', chest.objects[0]!],
      ['CHEST CT dose SR', (await storeStudy(hb, { ...at, studyUid: chest.studyUid, modality: 'SR', sopClassUid: XRAY_DOSE_SR })).objects[0]!],
      ['KNEE MR', (await storeStudy(hb, { ...at, modality: 'MR', bodyPart: 'KNEE' })).objects[0]!],
      ['HEAD CT', (await storeStudy(hb, { ...at, modality: 'CT', bodyPart: 'HEAD' })).objects[0]!],
    ]);
    for (const o of out.values()) await setTier(hb, o, 'Cool');
    const [series] = (await hb.db.query(
      `SELECT count(*)::int AS n, count(*) FILTER (WHERE se.body_part IS NULL OR se.body_part = '')::int AS "withoutBodyPart"
         FROM series se JOIN study st ON st.id = se.study_fk WHERE st.study_uid = $1`,
      [chest.studyUid],
    )) as { n: number; withoutBodyPart: number }[];
    expect(series).toEqual({ n: 2, withoutBodyPart: 1 });
    return out;
  }

  async function order(patientId: string, accession: string, modality: 'MR' | 'CT', specimenSource: string): Promise<void> {
    const procedureCode = modality === 'MR' ? 'MRCHEST^MR chest^L' : 'CTCHEST^CT chest without contrast^L';
    const text = ormO01({ controlId: `PF-${accession}`, accession, patientId, issuer: 'NORTHSIDE', modality, procedureCode, specimenSource, start: '20261201090000' });
    const ack = parseAck((await hb.module.get(Hl7InboundService).receive({ payload: Buffer.from(text, 'utf8'), receivedAt: new Date(), peer: '127.0.0.1:40000' })).ack.toString('utf8'));
    expect(ack.code).toBe('AA');
  }

  async function hot(objects: Map<string, { id: string; blobKey: string }>): Promise<string[]> {
    const names: string[] = [];
    for (const [name, o] of objects) {
      const index = (await indexTier(hb, o.id)).tier;
      expect(await storeTier(hb.blob, o.blobKey)).toBe(index);
      if (index === 'Hot') names.push(name);
      else expect(index).toBe('Cool');
    }
    return names;
  }

  it(`an order for a CHEST MR (OBR-15.4 CHEST) brings ${expected.chestMr.join(', ')} up to Hot; the others stay in Cool`, async () => {
    const objects = await priors('PF-BP-1');
    await order('PF-BP-1', 'ACC-PF-BP-1', 'MR', '^^^chest&Chest&L');
    const run = await hb.prefetch.run();
    expect(run).toEqual({ triggers: 1, objects: expected.chestMr.length });
    const [trigger] = (await hb.db.query(`SELECT modalities, body_parts FROM prefetch_trigger WHERE patient_id = 'PF-BP-1'`)) as { modalities: string[]; body_parts: string[] }[];
    expect(trigger).toEqual({ modalities: ['MR'], body_parts: ['CHEST'] });
    expect(await hot(objects)).toEqual(expected.chestMr);
  });

  it(`an order for a CHEST CT brings the whole CHEST CT study, its dose report too (${expected.chestCt.join(', ')}), up to Hot; the others stay in Cool`, async () => {
    const objects = await priors('PF-BP-3');
    await order('PF-BP-3', 'ACC-PF-BP-3', 'CT', '^^^CHEST');
    const run = await hb.prefetch.run();
    expect(run).toEqual({ triggers: 1, objects: expected.chestCt.length });
    const [trigger] = (await hb.db.query(`SELECT modalities, body_parts FROM prefetch_trigger WHERE patient_id = 'PF-BP-3'`)) as { modalities: string[]; body_parts: string[] }[];
    expect(trigger).toEqual({ modalities: ['CT'], body_parts: ['CHEST'] });
    expect(await hot(objects)).toEqual(expected.chestCt);
  });

  it(`an MR order naming no body part matches by modality: ${expected.mrWithoutBodyPart.join(', ')}`, async () => {
    const objects = await priors('PF-BP-2');
    await order('PF-BP-2', 'ACC-PF-BP-2', 'MR', '');
    const run = await hb.prefetch.run();
    expect(run).toEqual({ triggers: 1, objects: expected.mrWithoutBodyPart.length });
    const [trigger] = (await hb.db.query(`SELECT body_parts FROM prefetch_trigger WHERE patient_id = 'PF-BP-2'`)) as { body_parts: string[] }[];
    expect(trigger!.body_parts).toEqual([]);
    expect(await hot(objects)).toEqual(expected.mrWithoutBodyPart);
  });
});

describe('prefetch on a pre-admit', () => {
  it('an ADT^A05 brings the patient’s priors up to Hot before the visit', async () => {
    const prior = await storeStudy(h, { patientId: 'PF-4', issuer: 'NORTHSIDE', modality: 'CT', studyDate: '20260101' });
    await h.blob.setAccessTier(prior.objects[0]!.blobKey, 'Archive');
    await h.db.query(`UPDATE instance SET access_tier = 'Archive' WHERE id = $1`, [prior.objects[0]!.id]);
    const answer = await h.module.get(Hl7InboundService).receive({ payload: adt('A05', ['PID|1||PF-4^^^NORTHSIDE^MR||Preadmit^Paula||19800101|F', 'PV1|1|P']), receivedAt: new Date(), peer: '127.0.0.1:40000' });
    expect(parseAck(answer.ack.toString('utf8')).code).toBe('AA');
    const run = await h.prefetch.run();
    expect(run).toMatchObject({ triggers: 1, objects: 1 });
    expect(await indexTier(h, prior.objects[0]!.id)).toMatchObject({ tier: 'Hot', archiveStatus: null });
    expect(await storeTier(h.blob, prior.objects[0]!.blobKey)).toBe('Hot');
  });
});

describe('storage verification', () => {
  it('finds a blob corrupted and a blob removed behind the archive’s back, records each, alerts on /metrics, deletes nothing', async () => {
    const study = await storeStudy(h, { modality: 'DX', studyDate: '20261101', objects: 4 });
    const [intact, rewritten, silent, removed] = study.objects as [typeof study.objects[0], typeof study.objects[0], typeof study.objects[0], typeof study.objects[0]];
    const container = BlobServiceClient.fromConnectionString(env.config.blob.connectionString).getContainerClient(env.config.blob.container);
    // Rewritten with other bytes of the same size (the store's MD5 changes with them).
    const other = Buffer.from(rewritten.bytes);
    other.writeUInt8(other.readUInt8(other.length - 1) ^ 0xff, other.length - 1);
    await container.getBlockBlobClient(rewritten.blobKey).upload(other, other.length);
    // Rewritten keeping the original MD5 property: only reading it back finds it.
    const flipped = Buffer.from(silent.bytes);
    flipped.writeUInt8(flipped.readUInt8(flipped.length - 2) ^ 0xff, flipped.length - 2);
    await container.getBlockBlobClient(silent.blobKey).upload(flipped, flipped.length);
    await container.getBlobClient(silent.blobKey).setHTTPHeaders({ blobContentMD5: createHash('md5').update(silent.bytes).digest() });
    await container.getBlobClient(removed.blobKey).delete();

    const run = await h.verification.run({ samplePercent: 100 });
    expect(run.checked).toBeGreaterThanOrEqual(4);
    const findings = await h.verification.failures(undefined, 100, 0);
    const of = (o: { sopInstanceUid: string }) => findings.find((f) => f.sopInstanceUid === o.sopInstanceUid);
    expect(of(intact)).toBeUndefined();
    expect(of(rewritten)).toMatchObject({ status: 'corrupt', studyUid: study.studyUid });
    expect(of(silent)).toMatchObject({ status: 'corrupt', method: 'sha256' });
    expect(of(removed)).toMatchObject({ status: 'missing' });
    expect((await h.verification.failures('missing', 100, 0)).map((f) => f.sopInstanceUid)).toEqual([removed.sopInstanceUid]);
    const metrics = await h.module.get(MetricsService).registry.metrics();
    expect(metrics).toMatch(/vna_storage_verification_failures\{status="missing"\} 1/);
    expect(metrics).toMatch(/vna_storage_verification_failures\{status="corrupt"\} 2/);
    // Nothing was "fixed": the index rows and the bad blobs are all still there.
    const [count] = (await h.db.query(`SELECT count(*)::int AS n FROM instance i JOIN series se ON se.id = i.series_fk JOIN study st ON st.id = se.study_fk WHERE st.study_uid = $1`, [study.studyUid])) as { n: number }[];
    expect(count!.n).toBe(4);
    expect(await h.blob.properties(rewritten.blobKey)).toBeDefined();
    await expect(h.blob.read(removed.blobKey)).rejects.toBeInstanceOf(BlobStoreError);
  });
});
