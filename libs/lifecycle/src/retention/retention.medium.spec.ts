import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { BlobServiceClient } from '@azure/storage-blob';
import { Tag } from '#vna/dicom';
import { toProblem } from '#vna/http';
import { HealthDetails } from '#vna/observability';
import { drainOutbox, type LifecycleHarness, startLifecycle, storeStudy } from '../../../../test/support/lifecycle-medium.js';
import { type MediumEnv, mediumEnv } from '../../../../test/support/medium.js';
import { DELETE_BLOBS_TOPIC } from '../deletion/deletion.service.js';
import { HOLD_TAG, MIRROR_HOLD_TOPIC } from '../holds/legal-hold.service.js';
import { LifecycleError } from '../lifecycle.errors.js';

/**
 * Retention, legal holds and the deletion workflow against PostgreSQL and Azurite, with the
 * lifecycle clock set by the test (years pass without waiting) and the two-person rule on
 * (VNA_RETENTION_APPROVALS=2).
 */

let env: MediumEnv;
let h: LifecycleHarness;

beforeAll(async () => {
  env = await mediumEnv('lifecycle-retention', { VNA_RETENTION_APPROVALS: '2', VNA_LIFECYCLE_BATCH_SIZE: '3' });
  h = await startLifecycle(env);
  h.clock.set(new Date('2026-11-24T10:00:00Z'));
});

afterAll(async () => {
  await h?.close();
  await env?.cleanup();
});

async function clearPolicies(): Promise<void> {
  for (const p of await h.retention.listPolicies()) await h.retention.deletePolicy(p.name, 'test');
}

async function retentionPolicy(name: string, retainYears: number, more: { minorAge?: number; modality?: string; descriptionPattern?: string; priority?: number } = {}): Promise<void> {
  await h.retention.savePolicy(
    { name, priority: more.priority ?? 100, retainYears, minorAge: more.minorAge ?? null, modality: more.modality ?? null, sourceAet: null, descriptionPattern: more.descriptionPattern ?? null, enabled: true },
    'him-admin',
  );
}

async function studyCount(studyUid: string): Promise<number> {
  const result = await h.query.search({ level: 'STUDY', keys: new Map([[Tag.StudyInstanceUID, studyUid]]), includeFields: [], includeAll: false, limit: 10, offset: 0, relational: true });
  return result.matches.length;
}

async function rejection(work: Promise<unknown>): Promise<LifecycleError> {
  const e = await work.then(
    () => undefined,
    (error: unknown) => error,
  );
  expect(e).toBeInstanceOf(LifecycleError);
  return e as LifecycleError;
}

async function approvedRequest(studyUid: string): Promise<string> {
  const request = await h.deletion.request(studyUid, 'duplicate study sent by mistake', 'alice');
  return request.id;
}

describe('retention', () => {
  it("gives every study an expiry from the first matching policy (a minor's kept until the set age plus the years), recomputed when policies change, unless set by hand", async () => {
    await clearPolicies();
    const adult = await storeStudy(h, { patientId: 'RT-ADULT', modality: 'CT', studyDate: '20100315', birthDate: '19700101' });
    const minor = await storeStudy(h, { patientId: 'RT-MINOR', modality: 'CT', studyDate: '20100315', birthDate: '20050601' });
    const mammo = await storeStudy(h, { patientId: 'RT-MAMMO', modality: 'MG', studyDate: '20100315', description: 'Screening MAMMOGRAPHY bilateral' });
    const unmatched = await storeStudy(h, { patientId: 'RT-OTHER', modality: 'OT', studyDate: '20100315' });
    const migrated = await storeStudy(h, { patientId: 'RT-MIG', modality: 'CT', studyDate: '20100315', sourceAet: 'OLDPACS' });
    await retentionPolicy('ct-10-years', 10, { modality: 'CT', minorAge: 18 });
    await retentionPolicy('mammo-20-years', 20, { descriptionPattern: '*mammo*', priority: 10 });
    await h.retention.savePolicy({ name: 'migrated-30-years', priority: 1, retainYears: 30, minorAge: null, modality: null, sourceAet: 'OLDPACS', descriptionPattern: null, enabled: true }, 'him-admin');

    expect(await h.retention.study(adult.studyUid)).toMatchObject({ expiresOn: '2020-03-15', policyName: 'ct-10-years', frozen: false, held: false });
    // Born 2005-06-01, 4 at the study: kept until 18 + 10 years after birth (2033-06-01), later than 2020.
    expect(await h.retention.study(minor.studyUid)).toMatchObject({ expiresOn: '2033-06-01', policyName: 'ct-10-years' });
    expect(await h.retention.study(mammo.studyUid)).toMatchObject({ expiresOn: '2030-03-15', policyName: 'mammo-20-years' });
    expect(await h.retention.study(unmatched.studyUid)).toMatchObject({ expiresOn: null, policyName: null });
    expect(await h.retention.study(migrated.studyUid)).toMatchObject({ expiresOn: '2040-03-15', policyName: 'migrated-30-years' });

    // HIM keeps the adult's study longer, with a reason: frozen against policy changes.
    await h.retention.override(adult.studyUid, '2040-01-01', 'research cohort, ethics approval 2026/17', 'him-admin');
    await retentionPolicy('ct-10-years', 12, { modality: 'CT', minorAge: 18 });
    expect(await h.retention.study(adult.studyUid)).toMatchObject({ expiresOn: '2040-01-01', policyName: 'override', frozen: true, overriddenBy: 'him-admin', overrideReason: 'research cohort, ethics approval 2026/17' });
    expect(await h.retention.study(minor.studyUid)).toMatchObject({ expiresOn: '2035-06-01' });
    const audit = (await h.db.query(`SELECT actor, detail FROM archive_event WHERE kind = 'retention.override' AND study_uid = $1`, [adult.studyUid])) as { actor: string; detail: Record<string, unknown> }[];
    expect(audit).toEqual([{ actor: 'him-admin', detail: { from: '2020-03-15', to: '2040-01-01', reason: 'research cohort, ethics approval 2026/17' } }]);
    // Back to the policies.
    expect(await h.retention.release(adult.studyUid, 'cohort closed', 'him-admin')).toMatchObject({ expiresOn: '2022-03-15', frozen: false });
    await expect(h.retention.override(adult.studyUid, '2040-13-45', 'typo', 'him-admin')).rejects.toMatchObject({ kind: 'invalid' });
    await expect(h.retention.study('1.2.3.4.5.404')).rejects.toMatchObject({ kind: 'not-found' });
  });

  it('a study without a valid study date counts from the day it was received; a new study has its expiry from ingest on', async () => {
    await clearPolicies();
    await retentionPolicy('ct-10-years', 10, { modality: 'CT', minorAge: 18 });
    const undated = await storeStudy(h, { patientId: 'RT-UNDATED', modality: 'CT', studyDate: '20231399', birthDate: '19700230' });
    const [row] = (await h.db.query(`SELECT to_char((created_at::date + interval '10 years')::date, 'YYYY-MM-DD') AS expected FROM study WHERE study_uid = $1`, [undated.studyUid])) as { expected: string }[];
    expect(await h.retention.study(undated.studyUid)).toMatchObject({ expiresOn: row!.expected, policyName: 'ct-10-years' });
  });

  it('the dry run shows what has expired and why; the retention job proposes it when the clock gets there, and deletes nothing by itself', async () => {
    await clearPolicies();
    const study = await storeStudy(h, { patientId: 'RT-EXP', modality: 'DX', studyDate: '20200101', objects: 2 });
    await retentionPolicy('dx-8-years', 8, { modality: 'DX' });
    expect((await h.retention.expired(undefined, 1000, 0)).map((e) => e.studyUid)).not.toContain(study.studyUid);
    const report = await h.retention.expired('2028-01-02', 1000, 0);
    expect(report.find((e) => e.studyUid === study.studyUid)).toMatchObject({ expiresOn: '2028-01-01', policyName: 'dx-8-years', modalities: ['DX'], objects: 2, held: false });
    expect(await h.deletion.proposeExpired()).toBe(0);

    h.clock.set(new Date('2028-01-02T00:00:00Z'));
    try {
      expect(await h.jobs.run('retention')).toMatchObject({ proposed: 1 });
      const [proposal] = (await h.deletion.list('proposed', 100, 0)).filter((r) => r.studyUid === study.studyUid);
      expect(proposal).toMatchObject({ origin: 'retention', policyName: 'dx-8-years', expiresOn: '2028-01-01', approvalsNeeded: 2, approvals: [] });
      // Proposed once, however often the job runs; still there until approved.
      expect(await h.deletion.proposeExpired()).toBe(0);
      expect(await studyCount(study.studyUid)).toBe(1);
      // HIM refuses it: not proposed again for this expiry; a later expiry set by hand is proposed when reached.
      await h.deletion.reject(proposal!.id, 'him-admin', 'needed for a follow-up');
      expect(await h.deletion.proposeExpired()).toBe(0);
      await h.retention.override(study.studyUid, '2028-01-02', 'follow-up done by then', 'him-admin');
      expect(await h.deletion.proposeExpired()).toBe(1);
    } finally {
      h.clock.set(new Date('2026-11-24T10:00:00Z'));
    }
  });
});

describe('deletion workflow', () => {
  it('needs two approvals from two different users; the last deletes the blobs in every tier and the index rows, leaving a tombstone and an audit record', async () => {
    const study = await storeStudy(h, { patientId: 'DEL-1', modality: 'CT', studyDate: '20260101', objects: 3 });
    // One object in Archive: deletion removes it wherever it is.
    await h.blob.setAccessTier(study.objects[0]!.blobKey, 'Archive');
    await h.db.query(`UPDATE instance SET access_tier = 'Archive' WHERE id = $1`, [study.objects[0]!.id]);
    const id = await approvedRequest(study.studyUid);
    expect((await h.deletion.approve(id, 'alice', 'checked with the sender')).status).toBe('proposed');
    const twice = await rejection(h.deletion.approve(id, 'alice', 'again'));
    expect(twice).toMatchObject({ kind: 'conflict', code: 'same-approver' });
    expect(toProblem(twice)?.status).toBe(409);
    expect(await studyCount(study.studyUid)).toBe(1);

    const done = await h.deletion.approve(id, 'bob', 'second approval');
    expect(done).toMatchObject({ status: 'deleted', approvals: [{ by: 'alice' }, { by: 'bob' }] });
    expect(await studyCount(study.studyUid)).toBe(0);
    expect(await h.db.query(`SELECT 1 FROM instance WHERE sop_instance_uid = ANY($1::text[])`, [study.objects.map((o) => o.sopInstanceUid)])).toEqual([]);

    const [tombstone] = await h.deletion.tombstones(study.studyUid, 10, 0);
    expect(tombstone).toMatchObject({ studyUid: study.studyUid, patientId: 'DEL-1', reason: 'duplicate study sent by mistake', approvers: ['alice', 'bob'], requestId: id });
    expect(tombstone!.instances.map((i) => i.sopInstanceUid).sort()).toEqual(study.objects.map((o) => o.sopInstanceUid).sort());
    const { createHash } = await import('node:crypto');
    for (const o of study.objects) {
      expect(tombstone!.instances.find((i) => i.sopInstanceUid === o.sopInstanceUid)).toMatchObject({ sha256: createHash('sha256').update(o.bytes).digest('hex'), md5: createHash('md5').update(o.bytes).digest('hex'), seriesUid: o.seriesUid });
    }
    const audit = (await h.db.query(`SELECT kind, actor FROM archive_event WHERE study_uid = $1 ORDER BY id`, [study.studyUid])) as { kind: string; actor: string }[];
    expect(audit).toEqual([
      { kind: 'deletion.requested', actor: 'alice' },
      { kind: 'deletion.approved', actor: 'alice' },
      { kind: 'deletion.approved', actor: 'bob' },
      { kind: 'study.deleted', actor: 'alice,bob' },
    ]);

    // The blobs go once the deletion committed (the outbox job), in every tier.
    expect(await h.blob.properties(study.objects[0]!.blobKey)).toMatchObject({ tier: 'Archive' });
    expect(await drainOutbox(h, [DELETE_BLOBS_TOPIC])).toBe(1);
    for (const o of study.objects) expect(await h.blob.properties(o.blobKey)).toBeUndefined();
    // A closed request takes no more approvals.
    expect(await rejection(h.deletion.approve(id, 'carol', 'late'))).toMatchObject({ code: 'not-approvable' });
  });

  it('a rejected request deletes nothing', async () => {
    const study = await storeStudy(h, { patientId: 'DEL-2', modality: 'CT', studyDate: '20260101' });
    const id = await approvedRequest(study.studyUid);
    expect((await h.deletion.reject(id, 'bob', 'still needed for follow-up')).status).toBe('rejected');
    expect(await studyCount(study.studyUid)).toBe(1);
    expect(await h.blob.properties(study.objects[0]!.blobKey)).toBeDefined();
  });
});

describe('legal holds', () => {
  it('block expiry and deletion by every path: the retention proposal, an admin request, an approved request, the exported check', async () => {
    await clearPolicies();
    await retentionPolicy('cr-1-year', 1, { modality: 'CR' });
    const studyHeld = await storeStudy(h, { patientId: 'LH-1', modality: 'CR', studyDate: '20200101' });
    const patientHeld = await storeStudy(h, { patientId: 'LH-2', modality: 'CR', studyDate: '20200101' });
    const approvedFirst = await storeStudy(h, { patientId: 'LH-3', modality: 'CT', studyDate: '20260101' });
    const free = await storeStudy(h, { patientId: 'LH-4', modality: 'CR', studyDate: '20200101' });

    const pending = await approvedRequest(approvedFirst.studyUid);
    await h.deletion.approve(pending, 'alice', 'ok');

    const studyHold = await h.holds.place({ scope: 'study', studyUid: studyHeld.studyUid, reason: 'malpractice claim', caseReference: 'CASE-2026-0142' }, 'legal-counsel');
    expect(studyHold).toMatchObject({ scope: 'study', placedBy: 'legal-counsel', caseReference: 'CASE-2026-0142', releasedAt: null });
    const patientHold = await h.holds.place({ scope: 'patient', patientId: 'LH-2', issuer: '', reason: 'subpoena', caseReference: 'SUB-77' }, 'legal-counsel');
    await h.holds.place({ scope: 'study', studyUid: approvedFirst.studyUid, reason: 'regulator inquiry', caseReference: 'REG-9' }, 'legal-counsel');

    // Retention (new studies got their expiry at ingest): expired, shown as held in the dry run, never proposed.
    const report = await h.retention.expired(undefined, 1000, 0);
    expect(report.find((e) => e.studyUid === studyHeld.studyUid)?.held).toBe(true);
    expect(report.find((e) => e.studyUid === patientHeld.studyUid)?.held).toBe(true);
    expect(await h.retention.study(patientHeld.studyUid)).toMatchObject({ held: true });
    await h.deletion.proposeExpired();
    const proposed = (await h.deletion.list(undefined, 1000, 0)).map((r) => r.studyUid);
    expect(proposed).toContain(free.studyUid);
    expect(proposed).not.toContain(studyHeld.studyUid);
    expect(proposed).not.toContain(patientHeld.studyUid);

    // Admin request: refused at once.
    for (const uid of [studyHeld.studyUid, patientHeld.studyUid]) {
      const refused = await rejection(h.deletion.request(uid, 'cleanup', 'alice'));
      expect(refused).toMatchObject({ kind: 'conflict', code: 'legal-hold' });
      expect(toProblem(refused)?.status).toBe(409);
    }
    // A request approved before the hold: the last approval finds the hold, the request is blocked, nothing goes.
    const blocked = await rejection(h.deletion.approve(pending, 'bob', 'ok'));
    expect(blocked).toMatchObject({ code: 'legal-hold' });
    expect(blocked.message).toMatch(/REG-9/);
    expect(await h.deletion.get(pending)).toMatchObject({ status: 'blocked' });
    // The one check every other path (IOCM, routing) calls.
    await h.db.transaction(async (m) => {
      const sql = { query: (text: string, params?: readonly unknown[]) => m.query(text, params as unknown[]) as Promise<any[]> };
      await expect(h.holds.assertNotHeld(sql, [free.studyUid])).resolves.toBeUndefined();
      await expect(h.holds.assertNotHeld(sql, [free.studyUid, patientHeld.studyUid])).rejects.toMatchObject({ code: 'legal-hold' });
    });
    for (const s of [studyHeld, patientHeld, approvedFirst]) {
      expect(await studyCount(s.studyUid)).toBe(1);
      expect(await h.blob.properties(s.objects[0]!.blobKey)).toBeDefined();
    }

    // Released: the study can go again (through the workflow).
    await h.holds.release(patientHold.id, 'legal-counsel', 'case settled');
    await expect(h.holds.release(patientHold.id, 'legal-counsel', 'again')).rejects.toMatchObject({ kind: 'conflict' });
    expect((await h.deletion.request(patientHeld.studyUid, 'expired, hold released', 'alice')).status).toBe('proposed');
  });

  it('are mirrored to the blob store: the index tag always; the store’s legal hold missing on Azurite (501) is a logged warning and a health detail', async () => {
    const study = await storeStudy(h, { patientId: 'LH-M', modality: 'CT', studyDate: '20260101', objects: 2 });
    const hold = await h.holds.place({ scope: 'study', studyUid: study.studyUid, reason: 'litigation', caseReference: 'CASE-M' }, 'legal-counsel');
    expect(await drainOutbox(h, [MIRROR_HOLD_TOPIC])).toBeGreaterThanOrEqual(1);
    const container = BlobServiceClient.fromConnectionString(env.config.blob.connectionString).getContainerClient(env.config.blob.container);
    for (const o of study.objects) expect((await container.getBlobClient(o.blobKey).getTags()).tags).toEqual({ [HOLD_TAG]: 'true' });
    expect(await h.holds.get(hold.id)).toMatchObject({ mirrorState: 'tagged' });
    const health = await h.module.get(HealthDetails).all();
    expect(health['legal-hold-mirror']?.detail).toMatch(/index tags only/);

    // An object of the held study stored after the hold was mirrored gets it at the next cycle.
    const later = await storeStudy(h, { studyUid: study.studyUid, patientId: 'LH-M', modality: 'CT', studyDate: '20260101' });
    expect((await container.getBlobClient(later.objects[0]!.blobKey).getTags()).tags).toEqual({});
    expect(await h.jobs.run('holds')).toEqual({ holdsMirrored: 1 });
    expect((await container.getBlobClient(later.objects[0]!.blobKey).getTags()).tags).toEqual({ [HOLD_TAG]: 'true' });
    expect(await h.jobs.run('holds')).toEqual({ holdsMirrored: 0 });

    await h.holds.release(hold.id, 'legal-counsel', 'case closed');
    await drainOutbox(h, [MIRROR_HOLD_TOPIC]);
    for (const o of [...study.objects, ...later.objects]) expect((await container.getBlobClient(o.blobKey).getTags()).tags).toEqual({ [HOLD_TAG]: 'false' });
    expect(await h.holds.get(hold.id)).toMatchObject({ mirrorState: 'released' });
  });

  it('a hold needs an existing study, or a patient id', async () => {
    await expect(h.holds.place({ scope: 'study', studyUid: '1.2.3.999', reason: 'x', caseReference: 'y' }, 'legal-counsel')).rejects.toMatchObject({ kind: 'not-found' });
    await expect(h.holds.place({ scope: 'patient', reason: 'x', caseReference: 'y' }, 'legal-counsel')).rejects.toMatchObject({ kind: 'invalid' });
  });
});
