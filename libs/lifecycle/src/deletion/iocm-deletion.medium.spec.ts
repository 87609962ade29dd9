import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { CorrectionsModule } from '#vna/corrections';
import { KOS, kosDataset } from '../../../../test/support/corrections-medium.js';
import { drainOutbox, type LifecycleHarness, startLifecycle, storeStudy } from '../../../../test/support/lifecycle-medium.js';
import { type MediumEnv, mediumEnv, storeDataset, uid } from '../../../../test/support/medium.js';
import { DELETE_BLOBS_TOPIC } from './deletion.service.js';

/**
 * IHE IOCM rejection notes with reason 113039 (Data Retention Policy Expired): libs/corrections
 * hides the instances, the deletion workflow here deletes them, with its approvals and legal hold
 * check (the 113039 link of issue 6), through the real ingest of a Key Object Selection note.
 */

let env: MediumEnv;
let h: LifecycleHarness;

beforeAll(async () => {
  env = await mediumEnv('lifecycle-iocm');
  h = await startLifecycle(env, [CorrectionsModule]);
});

afterAll(async () => {
  await h?.close();
  await env?.cleanup();
});

async function reject(study: { studyUid: string; objects: readonly { seriesUid: string; sopInstanceUid: string }[] }, code = '113039'): Promise<string> {
  const noteUid = uid();
  const refs = study.objects.map((o) => ({ studyUid: study.studyUid, seriesUid: o.seriesUid, sopInstanceUid: o.sopInstanceUid }));
  await storeDataset(h.ingest, kosDataset({ sopInstanceUid: noteUid, studyUid: uid(), code, refs, patientId: 'IOCM-1' }), { sopInstanceUid: noteUid, sopClassUid: KOS });
  return noteUid;
}

async function rows(uids: readonly string[]): Promise<number> {
  const [r] = (await h.db.query(`SELECT count(*)::int AS n FROM instance WHERE sop_instance_uid = ANY($1::text[])`, [uids])) as { n: number }[];
  return r!.n;
}

describe('IOCM 113039 rejections go through the deletion workflow', () => {
  it('rejected instances are proposed, deleted on approval (rows, blobs, tombstone), the rest of the study kept', async () => {
    const study = await storeStudy(h, { patientId: 'IOCM-1', objects: 3 });
    const rejected = study.objects.slice(0, 2);
    const kept = study.objects[2]!;
    const noteUid = await reject({ studyUid: study.studyUid, objects: rejected });
    // Other reasons are corrections, not retention: not proposed.
    const other = await storeStudy(h, { patientId: 'IOCM-1' });
    await reject(other, '113001');

    expect(await h.deletion.proposeRejected()).toBe(1);
    expect(await h.deletion.proposeRejected()).toBe(0);
    const [request] = (await h.deletion.list('proposed', 100, 0)).filter((r) => r.origin === 'iocm');
    expect(request).toMatchObject({ studyUid: study.studyUid, sopInstanceUids: rejected.map((o) => o.sopInstanceUid).sort(), requestedBy: 'system:iocm' });
    expect(request!.reason).toContain(noteUid);
    expect(await rows(rejected.map((o) => o.sopInstanceUid))).toBe(2);

    expect(await h.deletion.approve(request!.id, 'records-officer', 'retention expired, confirmed')).toMatchObject({ status: 'deleted' });
    expect(await rows(rejected.map((o) => o.sopInstanceUid))).toBe(0);
    expect(await rows([kept.sopInstanceUid])).toBe(1);
    const [tombstone] = await h.deletion.tombstones(study.studyUid, 10, 0);
    expect(tombstone!.instances.map((i) => i.sopInstanceUid).sort()).toEqual(rejected.map((o) => o.sopInstanceUid).sort());
    await drainOutbox(h, [DELETE_BLOBS_TOPIC]);
    for (const o of rejected) expect(await h.blob.properties(o.blobKey)).toBeUndefined();
    expect(await h.blob.properties(kept.blobKey)).toBeDefined();
    // The rejection stays on record (a re-send is still refused); nothing left to propose.
    const [rejection] = (await h.db.query(`SELECT state, instance_fk FROM iocm_rejection WHERE note_sop_instance_uid = $1 LIMIT 1`, [noteUid])) as { state: string; instance_fk: string | null }[];
    expect(rejection).toEqual({ state: 'active', instance_fk: null });
    expect(await h.deletion.proposeRejected()).toBe(0);
  });

  it('a legal hold keeps 113039-rejected instances: not proposed, and a request approved meanwhile is blocked', async () => {
    const held = await storeStudy(h, { patientId: 'IOCM-2', objects: 2 });
    await reject(held);
    await h.holds.place({ scope: 'patient', patientId: 'IOCM-2', issuer: '', reason: 'litigation', caseReference: 'IOCM-CASE' }, 'legal-counsel');
    expect(await h.deletion.proposeRejected()).toBe(0);

    const later = await storeStudy(h, { patientId: 'IOCM-3', objects: 1 });
    await reject(later);
    expect(await h.deletion.proposeRejected()).toBe(1);
    const [request] = (await h.deletion.list('proposed', 100, 0)).filter((r) => r.studyUid === later.studyUid);
    await h.holds.place({ scope: 'study', studyUid: later.studyUid, reason: 'regulator', caseReference: 'IOCM-REG' }, 'legal-counsel');
    await expect(h.deletion.approve(request!.id, 'records-officer', 'ok')).rejects.toMatchObject({ code: 'legal-hold' });
    expect(await h.deletion.get(request!.id)).toMatchObject({ status: 'blocked' });
    expect(await rows(later.objects.map((o) => o.sopInstanceUid))).toBe(1);
    expect(await rows(held.objects.map((o) => o.sopInstanceUid))).toBe(2);
  });
});
