import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Tag, tagToHex } from '#vna/dicom';
import {
  adt,
  type IdentityHarness,
  indexPatientOfStudy,
  mergeRows,
  registryRecordOf,
  retrievedPatient,
  send,
  startIdentity,
  storeStudy,
  studiesOfPatient,
  studyAnswer,
} from '../../../../test/support/identity-medium.js';
import { type MediumEnv, mediumEnv } from '../../../../test/support/medium.js';

/**
 * Reconciliation at ingest, the patient part, through the real ingest path on PostgreSQL: a known
 * patient's objects take the registry's demographics (received values kept), an unknown patient
 * opens one 'unknown-patient' task for HIM, whose decisions (reassign, dismiss, accept, undo) are
 * kept with who and why and respected by later objects.
 */

describe('patient reconciliation at ingest', () => {
  let env: MediumEnv;
  let h: IdentityHarness;

  beforeAll(async () => {
    env = await mediumEnv('identityrecon', { VNA_DEFAULT_PATIENT_ID_ISSUER: 'HOSP' });
    h = await startIdentity(env);
  });

  afterAll(async () => {
    await h?.close();
    await env?.cleanup();
  });

  async function unknownTasks(patientId: string, issuer = 'HOSP'): Promise<{ id: string; status: string; study_fk: string | null; patient_fk: string | null; details: Record<string, unknown> }[]> {
    return (await h.db.query(
      `SELECT id::text, status, study_fk::text, patient_fk::text, details FROM reconciliation_task WHERE kind = 'unknown-patient' AND subject = $1 ORDER BY id`,
      [`patient:${issuer}|${patientId}`],
    )) as { id: string; status: string; study_fk: string | null; patient_fk: string | null; details: Record<string, unknown> }[];
  }

  it('a known patient’s study takes the registry’s name, birth date and sex; the received values stay on record; objects go out with the registry’s values', async () => {
    expect((await send(h, adt('A01', ['PID|1||K-1^^^HOSP^MR||Right^Name^Middle||19700101|F']))).code).toBe('AA');
    const record = (await registryRecordOf(h, 'K-1', 'HOSP'))!;
    const study = await storeStudy(h, { patientId: 'K-1', issuer: 'HOSP', name: 'Wrnog^Name', birthDate: '19700110', sex: 'M' });

    const row = await indexPatientOfStudy(h, study.studyUid);
    expect(row).toMatchObject({ registry_fk: record.id, registry_link: 'identity', current_patient_id: 'K-1', current_issuer: 'HOSP', name_alphabetic: 'Right^Name^Middle', birth_date: '19700101', sex: 'F' });
    expect(row.attributes[tagToHex(Tag.PatientName)]?.Value).toEqual([{ Alphabetic: 'Wrnog^Name' }]);
    expect(row.attributes[tagToHex(Tag.PatientBirthDate)]?.Value).toEqual(['19700110']);
    expect(row.attributes[tagToHex(Tag.PatientSex)]?.Value).toEqual(['M']);
    expect(await studyAnswer(h, study.studyUid)).toEqual({ name: 'Right^Name^Middle', patientId: 'K-1', issuer: 'HOSP', birthDate: '19700101', sex: 'F' });
    expect(await retrievedPatient(h, study.sopInstanceUid)).toEqual({ name: 'Right^Name^Middle', patientId: 'K-1', issuer: 'HOSP', birthDate: '19700101', sex: 'F' });
    expect(await unknownTasks('K-1')).toEqual([]);
  });

  it('a header without IssuerOfPatientID is the default issuer’s; another issuer’s same Patient ID is another patient', async () => {
    expect((await send(h, adt('A04', ['PID|1||K-2^^^HOSP^MR||Default^Issuer||19800101|M']))).code).toBe('AA');
    const noIssuer = await storeStudy(h, { patientId: 'K-2', name: 'No^Issuer' });
    expect(await studyAnswer(h, noIssuer.studyUid)).toMatchObject({ name: 'Default^Issuer', patientId: 'K-2', issuer: 'HOSP' });
    const foreign = await storeStudy(h, { patientId: 'K-2', issuer: 'FOREIGN', name: 'Foreign^Patient' });
    expect(await studyAnswer(h, foreign.studyUid)).toMatchObject({ name: 'Foreign^Patient', patientId: 'K-2', issuer: 'FOREIGN' });
    expect((await indexPatientOfStudy(h, foreign.studyUid)).registry_fk).toBeNull();
    expect((await unknownTasks('K-2', 'FOREIGN')).map((t) => t.status)).toEqual(['open']);
  });

  it('a study of a merged patient arriving later carries the surviving patient’s identity', async () => {
    await send(h, adt('A01', ['PID|1||K-PRIOR^^^HOSP^MR||Merged^Prior']));
    await send(h, adt('A01', ['PID|1||K-SURV^^^HOSP^MR||Merged^Survivor||19650505|M']));
    expect((await send(h, adt('A40', ['PID|1||K-SURV^^^HOSP^MR', 'MRG|K-PRIOR^^^HOSP^MR']))).code).toBe('AA');
    const late = await storeStudy(h, { patientId: 'K-PRIOR', issuer: 'HOSP', name: 'Merged^Prior' });
    expect(await studyAnswer(h, late.studyUid)).toMatchObject({ name: 'Merged^Survivor', patientId: 'K-SURV', birthDate: '19650505' });
    expect(await retrievedPatient(h, late.sopInstanceUid)).toMatchObject({ name: 'Merged^Survivor', patientId: 'K-SURV' });
    // Unmerged, it is the prior's again.
    const [merge] = await mergeRows(h);
    await h.merges.unmerge(merge!.id, 'him.user', 'undo');
    expect(await studyAnswer(h, late.studyUid)).toMatchObject({ name: 'Merged^Prior', patientId: 'K-PRIOR' });
  });

  it('an unknown patient opens one task for HIM (with the case), whatever the number of its studies; nothing is linked', async () => {
    const first = await storeStudy(h, { patientId: 'U-1', issuer: 'HOSP', name: 'Unknown^Person', birthDate: '19900101', sex: 'F' });
    const second = await storeStudy(h, { patientId: 'U-1', issuer: 'HOSP', name: 'Unknown^Person' });
    const row = await indexPatientOfStudy(h, first.studyUid);
    expect(row).toMatchObject({ registry_fk: null, current_patient_id: 'U-1', name_alphabetic: 'Unknown^Person' });
    expect(row.overlay).toEqual({});
    const tasks = await unknownTasks('U-1');
    expect(tasks).toHaveLength(1);
    expect(tasks[0]).toMatchObject({ status: 'open', patient_fk: row.id, details: { patientId: 'U-1', issuer: 'HOSP', studyUid: first.studyUid } });
    const listed = await h.reconciliation.list({ status: 'open', kind: 'unknown-patient', studyUid: first.studyUid, limit: 10, offset: 0 });
    expect(listed.map((t) => t.id)).toEqual([tasks[0]!.id]);
    expect((await h.reconciliation.list({ status: 'open', patientRowId: row.id, limit: 10, offset: 0 })).map((t) => t.id)).toEqual([tasks[0]!.id]);
    expect(await studyAnswer(h, second.studyUid)).toMatchObject({ name: 'Unknown^Person', patientId: 'U-1' });
  });

  it('HIM reassigns an unknown patient’s studies to a registry patient (kept with who and why); undo restores them and reopens the question', async () => {
    await send(h, adt('A01', ['PID|1||R-TARGET^^^HOSP^MR||Target^Patient||19550505|M']));
    const target = (await registryRecordOf(h, 'R-TARGET', 'HOSP'))!;
    const study = await storeStudy(h, { patientId: 'R-TYPO', issuer: 'HOSP', name: 'Target^Patinet' });
    const rowBefore = await indexPatientOfStudy(h, study.studyUid);
    const [task] = await unknownTasks('R-TYPO');

    const decided = await h.reconciliation.reassign(task!.id, { user: 'him.user', reason: 'typo in the Patient ID' }, { patientId: 'R-TARGET' });
    expect(decided).toMatchObject({ status: 'reassigned', closedBy: 'him.user', resolution: { reason: 'typo in the Patient ID', studies: [study.studyUid] } });
    expect(await indexPatientOfStudy(h, study.studyUid)).toMatchObject({ registry_fk: target.id, registry_link: 'manual', current_patient_id: 'R-TARGET', name_alphabetic: 'Target^Patient' });
    expect(await studiesOfPatient(h, 'R-TARGET', 'HOSP')).toEqual([study.studyUid]);
    // Later ADT about the target reaches the manually linked study too.
    await send(h, adt('A08', ['PID|1||R-TARGET^^^HOSP^MR||Target^Renamed']));
    expect((await studyAnswer(h, study.studyUid))?.name).toBe('Target^Renamed');
    // A reassignment to a patient the registry does not know is refused.
    const other = await storeStudy(h, { patientId: 'R-OTHER', issuer: 'HOSP', name: 'Other' });
    const [otherTask] = await unknownTasks('R-OTHER');
    await expect(h.reconciliation.reassign(otherTask!.id, { user: 'him.user', reason: 'x' }, { patientId: 'NOBODY' })).rejects.toMatchObject({ kind: 'not-found' });
    expect((await indexPatientOfStudy(h, other.studyUid)).registry_fk).toBeNull();
    expect((await unknownTasks('R-OTHER'))[0]).toMatchObject({ status: 'open' });

    await h.reconciliation.undoReassign(task!.id, { user: 'him.user', reason: 'wrong target' });
    const rowAfter = await indexPatientOfStudy(h, study.studyUid);
    expect(rowAfter).toEqual(rowBefore);
    const tasks = await unknownTasks('R-TYPO');
    expect(tasks.map((t) => t.status)).toEqual(['reassigned', 'open']);
    await expect(h.reconciliation.undoReassign(task!.id, { user: 'him.user', reason: 'again' })).rejects.toMatchObject({ kind: 'conflict' });
  });

  it('a dismissed or accepted case is not asked again by later studies; a later ADT for the patient links them', async () => {
    await storeStudy(h, { patientId: 'D-1', issuer: 'HOSP', name: 'Dismissed^Case' });
    const [task] = await unknownTasks('D-1');
    await h.reconciliation.dismiss(task!.id, { user: 'him.user', reason: 'research phantom' });
    const later = await storeStudy(h, { patientId: 'D-1', issuer: 'HOSP', name: 'Dismissed^Case' });
    expect((await unknownTasks('D-1')).map((t) => t.status)).toEqual(['dismissed']);

    await storeStudy(h, { patientId: 'A-1', issuer: 'HOSP', name: 'Accepted^Case' });
    const [acceptTask] = await unknownTasks('A-1');
    const accepted = await h.reconciliation.accept(acceptTask!.id, { user: 'him.user', reason: 'identity as received is right' });
    expect(accepted).toMatchObject({ status: 'accepted', closedBy: 'him.user', resolution: { reason: 'identity as received is right' } });
    await storeStudy(h, { patientId: 'A-1', issuer: 'HOSP', name: 'Accepted^Case' });
    expect((await unknownTasks('A-1')).map((t) => t.status)).toEqual(['accepted']);
    // A decided task cannot be decided again.
    await expect(h.reconciliation.dismiss(acceptTask!.id, { user: 'him.user', reason: 'x' })).rejects.toMatchObject({ kind: 'conflict' });

    expect((await send(h, adt('A28', ['PID|1||D-1^^^HOSP^MR||Now^Registered']))).code).toBe('AA');
    expect(await studyAnswer(h, later.studyUid)).toMatchObject({ name: 'Now^Registered', patientId: 'D-1' });
  });

  it('objects without a Patient ID are not reconciled and open no task', async () => {
    const before = (await h.db.query(`SELECT count(*)::int AS n FROM reconciliation_task`)) as { n: number }[];
    const study = await storeStudy(h, { patientId: '', name: 'Anonymous' });
    expect((await indexPatientOfStudy(h, study.studyUid)).registry_fk).toBeNull();
    expect((await h.db.query(`SELECT count(*)::int AS n FROM reconciliation_task`)) as unknown).toEqual(before);
  });
});
