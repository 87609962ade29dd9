import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Tag, tagToHex } from '#vna/dicom';
import {
  adt,
  controlId,
  type IdentityHarness,
  identitySnapshot,
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
import { IdentityError } from '../identity.errors.js';

/**
 * A40 merges and A47 identifier changes through the real inbound flow, and their exact reversal
 * (unmerge), on PostgreSQL: the prior patient's stored studies carry the surviving patient's
 * current identity (index rows only), and an unmerge puts registry and index back as they were.
 */

describe('merges and identifier changes', () => {
  let env: MediumEnv;
  let h: IdentityHarness;

  beforeAll(async () => {
    env = await mediumEnv('identitymerge', { VNA_DEFAULT_PATIENT_ID_ISSUER: 'HOSP', VNA_HL7_SUSPICIOUS_MERGE: 'hold' });
    h = await startIdentity(env);
  });

  afterAll(async () => {
    await h?.close();
    await env?.cleanup();
  });

  async function admit(id: string, name: string, birthDate = '19600101', sex = 'F'): Promise<void> {
    const ack = await send(h, adt('A01', [`PID|1||${id}^^^HOSP^MR||${name}||${birthDate}|${sex}`]));
    expect(ack.code).toBe('AA');
  }

  it('A40 gives the prior patient’s studies the surviving patient’s identity; unmerge restores registry and index exactly', async () => {
    await admit('M-PRIOR', 'Prior^Pat', '19500101', 'M');
    await admit('M-SURV', 'Survivor^Sue', '19600202', 'F');
    const priorStudy = await storeStudy(h, { patientId: 'M-PRIOR', issuer: 'HOSP', name: 'Prior^Pat' });
    const priorStudy2 = await storeStudy(h, { patientId: 'M-PRIOR', name: 'Prior^Pat' }); // no issuer: the default one
    const survStudy = await storeStudy(h, { patientId: 'M-SURV', issuer: 'HOSP', name: 'Survivor^Sue' });
    const before = await identitySnapshot(h);
    const prior = (await registryRecordOf(h, 'M-PRIOR', 'HOSP'))!;
    const survivor = (await registryRecordOf(h, 'M-SURV', 'HOSP'))!;

    const control = controlId('A40');
    const ack = await send(h, adt('A40', ['PID|1||M-SURV^^^HOSP^MR||Survivor^Sue', 'MRG|M-PRIOR^^^HOSP^MR'], control));
    expect({ code: ack.code, error: ack.error }).toEqual({ code: 'AA', error: undefined });

    // Registry: the prior is kept, merged into the survivor, with a version naming the message.
    expect(await registryRecordOf(h, 'M-PRIOR', 'HOSP')).toMatchObject({ status: 'merged', merged_into: survivor.id });
    const [messageRow] = (await h.db.query(`SELECT id::text AS id FROM hl7_message WHERE control_id = $1`, [control])) as { id: string }[];
    const [mergedVersion] = (await h.db.query(
      `SELECT change, actor, hl7_message_id::text AS hl7_message_id, merge_fk::text AS merge_fk FROM registry_version WHERE registry_patient_fk = $1 ORDER BY version DESC LIMIT 1`,
      [prior.id],
    )) as { change: string; actor: string; hl7_message_id: string; merge_fk: string }[];
    const [merge] = await mergeRows(h);
    expect(merge).toMatchObject({ kind: 'merge', status: 'applied', prior_patient_id: 'M-PRIOR', surviving_patient_id: 'M-SURV', suspicion_code: null });
    expect(mergedVersion).toEqual({ change: 'merged', actor: 'RIS@HOSP', hl7_message_id: messageRow!.id, merge_fk: merge!.id });

    // Index: every study of the prior now shows (and matches) the survivor.
    for (const s of [priorStudy, priorStudy2]) {
      expect(await studyAnswer(h, s.studyUid)).toMatchObject({ name: 'Survivor^Sue', patientId: 'M-SURV', issuer: 'HOSP', birthDate: '19600202', sex: 'F' });
      const row = await indexPatientOfStudy(h, s.studyUid);
      expect(row).toMatchObject({ patient_id: 'M-PRIOR', registry_fk: prior.id, current_patient_id: 'M-SURV' });
      expect(row.overlay[tagToHex(Tag.PatientID)]).toEqual({ vr: 'LO', Value: ['M-SURV'] });
    }
    expect(await studiesOfPatient(h, 'M-SURV', 'HOSP')).toEqual([priorStudy.studyUid, priorStudy2.studyUid, survStudy.studyUid].sort());
    // Retrieved objects carry the survivor's attributes over the stored original.
    expect(await retrievedPatient(h, priorStudy.sopInstanceUid)).toEqual({ name: 'Survivor^Sue', patientId: 'M-SURV', issuer: 'HOSP', birthDate: '19600202', sex: 'F' });
    expect(await studiesOfPatient(h, 'M-PRIOR')).toEqual([]);
    // Only patient rows are written: studies still point at their received patient row.
    const studyPatients = (await h.db.query(`SELECT count(DISTINCT patient_fk)::int AS n FROM study WHERE study_uid = ANY($1)`, [
      [priorStudy.studyUid, priorStudy2.studyUid, survStudy.studyUid],
    ])) as { n: number }[];
    expect(studyPatients[0]!.n).toBe(3);

    // A later A08 of the survivor reaches the merged studies too.
    expect((await send(h, adt('A08', ['PID|1||M-SURV^^^HOSP^MR||Survivor^Susan']))).code).toBe('AA');
    expect((await studyAnswer(h, priorStudy.studyUid))?.name).toBe('Survivor^Susan');
    // Updates about the merged patient are refused (AE 206) and change nothing.
    const stale = await send(h, adt('A08', ['PID|1||M-PRIOR^^^HOSP^MR||Stale^Name']));
    expect({ code: stale.code, error: stale.error?.code }).toEqual({ code: 'AE', error: '206' });
    expect((await registryRecordOf(h, 'M-PRIOR', 'HOSP'))?.name_alphabetic).toBe('Prior^Pat');
    // Undo the A08 so that the unmerge below can be compared with the state before the merge.
    expect((await send(h, adt('A08', ['PID|1||M-SURV^^^HOSP^MR||Survivor^Sue']))).code).toBe('AA');

    const unmerged = await h.merges.unmerge(merge!.id, 'him.user', 'wrong patient merged');
    expect(unmerged).toMatchObject({ status: 'unmerged', closedBy: 'him.user', closeReason: 'wrong patient merged' });
    expect(await identitySnapshot(h)).toEqual(before);
    expect(await studiesOfPatient(h, 'M-PRIOR', 'HOSP')).toEqual([priorStudy.studyUid, priorStudy2.studyUid].sort());
    expect((await studyAnswer(h, priorStudy.studyUid))?.name).toBe('Prior^Pat');
    expect(await retrievedPatient(h, priorStudy.sopInstanceUid)).toEqual({ name: 'Prior^Pat', patientId: 'M-PRIOR', issuer: 'HOSP', birthDate: '19500101', sex: 'M' });
    expect(await registryRecordOf(h, 'M-PRIOR', 'HOSP')).toMatchObject({ status: 'active', merged_into: null });
    const [unmergedVersion] = (await h.db.query(
      `SELECT change, actor, reason FROM registry_version WHERE registry_patient_fk = $1 ORDER BY version DESC LIMIT 1`,
      [prior.id],
    )) as { change: string; actor: string; reason: string }[];
    expect(unmergedVersion).toEqual({ change: 'unmerged', actor: 'him.user', reason: 'wrong patient merged' });

    // Unmerging twice is refused, changing nothing.
    await expect(h.merges.unmerge(merge!.id, 'him.user', 'again')).rejects.toMatchObject({ kind: 'conflict' });
    expect(await identitySnapshot(h)).toEqual(before);
  });

  it('A40 into a survivor the registry does not know creates it from the PID; unmerge removes it and reopens the question', async () => {
    await admit('N-PRIOR', 'Prior^New');
    const priorStudy = await storeStudy(h, { patientId: 'N-PRIOR', issuer: 'HOSP', name: 'Prior^New' });
    // A study that already carries the new survivor's identifier, unknown to the registry so far.
    const survStudy = await storeStudy(h, { patientId: 'N-SURV', issuer: 'HOSP', name: 'Header^Name' });
    const before = await identitySnapshot(h);

    expect((await send(h, adt('A40', ['PID|1||N-SURV^^^HOSP^MR||New^Survivor||19770707|M', 'MRG|N-PRIOR^^^HOSP']))).code).toBe('AA');
    expect(await registryRecordOf(h, 'N-SURV', 'HOSP')).toMatchObject({ status: 'active', name_alphabetic: 'New^Survivor', birth_date: '19770707' });
    expect(await studyAnswer(h, priorStudy.studyUid)).toMatchObject({ name: 'New^Survivor', patientId: 'N-SURV' });
    expect(await studyAnswer(h, survStudy.studyUid)).toMatchObject({ name: 'New^Survivor', patientId: 'N-SURV' });
    const openTask = (await h.db.query(`SELECT status FROM reconciliation_task WHERE subject = 'patient:HOSP|N-SURV' ORDER BY id`)) as { status: string }[];
    expect(openTask.map((t) => t.status)).toEqual(['resolved']);

    const [merge] = await mergeRows(h);
    await h.merges.unmerge(merge!.id, 'him.user', 'undo');
    expect(await identitySnapshot(h).then((s) => ({ ...s, registry: s.registry.filter((r) => (r as { status: string }).status !== 'void') }))).toEqual(before);
    expect(await registryRecordOf(h, 'N-SURV', 'HOSP')).toBeUndefined();
    // The study of the removed survivor is unknown again: its question is open again.
    const tasks = (await h.db.query(`SELECT status FROM reconciliation_task WHERE subject = 'patient:HOSP|N-SURV' ORDER BY id`)) as { status: string }[];
    expect(tasks.map((t) => t.status)).toEqual(['resolved', 'open']);
  });

  it('a merge chain (A into B, then B into C) takes A’s studies to C; unmerging B from C sends them back to B', async () => {
    await admit('C-A', 'Chain^A');
    await admit('C-B', 'Chain^B');
    await admit('C-C', 'Chain^C');
    const a = await storeStudy(h, { patientId: 'C-A', issuer: 'HOSP', name: 'Chain^A' });
    expect((await send(h, adt('A40', ['PID|1||C-B^^^HOSP', 'MRG|C-A^^^HOSP']))).code).toBe('AA');
    const afterFirst = await identitySnapshot(h);
    expect((await send(h, adt('A40', ['PID|1||C-C^^^HOSP', 'MRG|C-B^^^HOSP']))).code).toBe('AA');
    expect(await studyAnswer(h, a.studyUid)).toMatchObject({ name: 'Chain^C', patientId: 'C-C' });
    const [second] = await mergeRows(h);
    await h.merges.unmerge(second!.id, 'him.user', 'B is not C');
    expect(await studyAnswer(h, a.studyUid)).toMatchObject({ name: 'Chain^B', patientId: 'C-B' });
    expect(await identitySnapshot(h)).toEqual(afterFirst);
  });

  it('A47 changes an identifier: studies received with the old one carry the new one; unmerge restores it exactly', async () => {
    await admit('OLD-1', 'Change^Me');
    const oldStudy = await storeStudy(h, { patientId: 'OLD-1', issuer: 'HOSP', name: 'Change^Me' });
    const before = await identitySnapshot(h);
    const record = (await registryRecordOf(h, 'OLD-1', 'HOSP'))!;

    const ack = await send(h, adt('A47', ['PID|1||NEW-1^^^HOSP^MR||Change^Me', 'MRG|OLD-1^^^HOSP^MR']));
    expect({ code: ack.code, error: ack.error }).toEqual({ code: 'AA', error: undefined });
    const ids = (await h.db.query(`SELECT patient_id, status, position FROM registry_identifier WHERE registry_patient_fk = $1 ORDER BY patient_id`, [record.id])) as unknown[];
    expect(ids).toEqual([
      { patient_id: 'NEW-1', status: 'active', position: 0 },
      { patient_id: 'OLD-1', status: 'replaced', position: 0 },
    ]);
    expect(await studyAnswer(h, oldStudy.studyUid)).toMatchObject({ patientId: 'NEW-1', issuer: 'HOSP', name: 'Change^Me' });
    expect(await studiesOfPatient(h, 'NEW-1', 'HOSP')).toEqual([oldStudy.studyUid]);
    expect(await studiesOfPatient(h, 'OLD-1')).toEqual([]);
    // Objects arriving later with the old identifier are still this patient's, shown with the new one.
    const late = await storeStudy(h, { patientId: 'OLD-1', issuer: 'HOSP', name: 'Late^Arrival' });
    expect(await studyAnswer(h, late.studyUid)).toMatchObject({ patientId: 'NEW-1', name: 'Change^Me' });
    // ADT must use the new identifier now.
    const stale = await send(h, adt('A08', ['PID|1||OLD-1^^^HOSP^MR||Stale^Name']));
    expect({ code: stale.code, error: stale.error?.code }).toEqual({ code: 'AE', error: '206' });

    const [change] = await mergeRows(h);
    expect(change).toMatchObject({ kind: 'change-identifier', status: 'applied' });
    await h.merges.unmerge(change!.id, 'him.user', 'wrong identifier');
    const after = await identitySnapshot(h);
    const lateRow = await indexPatientOfStudy(h, late.studyUid);
    // The late study's row shares the patient row of the old study (same received identity), restored with it.
    expect(lateRow.id).toBe((await indexPatientOfStudy(h, oldStudy.studyUid)).id);
    expect(after).toEqual(before);
    expect(await studiesOfPatient(h, 'OLD-1', 'HOSP')).toEqual([oldStudy.studyUid, late.studyUid].sort());
  });

  it('A47 links studies that arrived with the new identifier before the change; its unmerge unlinks them again', async () => {
    await admit('OLD-2', 'Change^Two');
    const early = await storeStudy(h, { patientId: 'NEW-2', issuer: 'HOSP', name: 'Early^Header' });
    const before = await identitySnapshot(h);
    expect((await send(h, adt('A47', ['PID|1||NEW-2^^^HOSP^MR', 'MRG|OLD-2^^^HOSP^MR']))).code).toBe('AA');
    expect(await studyAnswer(h, early.studyUid)).toMatchObject({ patientId: 'NEW-2', name: 'Change^Two' });
    // Received with the new identifier after the change (under no issuer: the default one): linked at ingest.
    const after = await storeStudy(h, { patientId: 'NEW-2', name: 'After^Header' });
    expect(await studyAnswer(h, after.studyUid)).toMatchObject({ patientId: 'NEW-2', issuer: 'HOSP', name: 'Change^Two' });
    const [change] = await mergeRows(h);
    await h.merges.unmerge(change!.id, 'him.user', 'undo');
    const snapshot = await identitySnapshot(h);
    const afterRow = await indexPatientOfStudy(h, after.studyUid);
    expect({ ...snapshot, rows: snapshot.rows.filter((r) => (r as { id: string }).id !== afterRow.id) }).toEqual(before);
    expect(await registryRecordOf(h, 'NEW-2', 'HOSP')).toBeUndefined();
    // The registry no longer knows NEW-2: both studies show their headers and their question is open.
    expect(afterRow).toMatchObject({ registry_fk: null, current_patient_id: 'NEW-2', current_issuer: '', name_alphabetic: 'After^Header' });
    const tasks = (await h.db.query(`SELECT status FROM reconciliation_task WHERE subject = 'patient:HOSP|NEW-2' ORDER BY id`)) as { status: string }[];
    expect(tasks.map((t) => t.status)).toEqual(['resolved', 'open']);
  });

  it('an unmerge is refused when the records changed since in a way it cannot reverse', async () => {
    await admit('R-PRIOR', 'Refuse^Prior');
    expect((await send(h, adt('A40', ['PID|1||R-NEW^^^HOSP||Refuse^Survivor', 'MRG|R-PRIOR^^^HOSP']))).code).toBe('AA');
    const [merge] = await mergeRows(h);
    // The created survivor was updated since: removing it would lose that update.
    expect((await send(h, adt('A08', ['PID|1||R-NEW^^^HOSP||Refuse^Updated']))).code).toBe('AA');
    const before = await identitySnapshot(h);
    const error = await h.merges.unmerge(merge!.id, 'him.user', 'undo').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(IdentityError);
    expect(error).toMatchObject({ kind: 'conflict' });
    expect(await identitySnapshot(h)).toEqual(before);
    expect((await mergeRows(h))[0]).toMatchObject({ id: merge!.id, status: 'applied' });
  });
  it('HIM reads a patient (identifiers, versions, merges, linked index rows, open tasks) and lists merges by patient', async () => {
    await admit('V-PRIOR', 'View^Prior');
    await admit('V-SURV', 'View^Survivor');
    await storeStudy(h, { patientId: 'V-PRIOR', issuer: 'HOSP', name: 'View^Prior' });
    await storeStudy(h, { patientId: 'V-SURV', issuer: 'HOSP', name: 'View^Survivor' });
    expect((await send(h, adt('A40', ['PID|1||V-SURV^^^HOSP^MR', 'MRG|V-PRIOR^^^HOSP^MR']))).code).toBe('AA');
    const prior = (await registryRecordOf(h, 'V-PRIOR', 'HOSP'))!;
    const survivor = (await registryRecordOf(h, 'V-SURV', 'HOSP'))!;

    const detail = await h.patients.detail(survivor.id);
    expect(detail).toMatchObject({ id: survivor.id, status: 'active', survivor: survivor.id, name: { alphabetic: 'View^Survivor' } });
    expect(detail.identifiers).toEqual([{ patientId: 'V-SURV', issuer: 'HOSP', typeCode: 'MR', position: 0, status: 'active' }]);
    expect(detail.versions.map((v) => v.change)).toEqual(['absorbed', 'create']);
    expect(detail.merges.map((m) => [m.kind, m.status, m.prior.patientId])).toEqual([['merge', 'applied', 'V-PRIOR']]);
    expect(detail.indexPatients.map((r) => [r.receivedPatientId, r.registryPatientId, r.studies]).sort()).toEqual([
      ['V-PRIOR', prior.id, 1],
      ['V-SURV', survivor.id, 1],
    ]);
    expect((await h.patients.detail(prior.id))).toMatchObject({ status: 'merged', mergedInto: survivor.id, survivor: survivor.id });
    await expect(h.patients.detail('999999999')).rejects.toMatchObject({ kind: 'not-found' });
    await expect(h.patients.detail('abc')).rejects.toMatchObject({ kind: 'not-found' });

    expect((await h.patients.search({ name: 'view^*', limit: 10, offset: 0 })).map((p) => p.id)).toEqual([prior.id, survivor.id]);
    expect((await h.patients.search({ patientId: 'V-SURV', limit: 10, offset: 0 })).map((p) => p.id)).toEqual([survivor.id]);
    expect((await h.patients.search({ name: 'View^Surv', status: 'active', limit: 10, offset: 0 })).map((p) => p.id)).toEqual([survivor.id]);

    const listed = await h.merges.list({ patientId: 'V-PRIOR', issuer: 'HOSP', limit: 10, offset: 0 });
    expect(listed.map((m) => m.status)).toEqual(['applied']);
    expect(await h.merges.get(listed[0]!.id)).toMatchObject({ id: listed[0]!.id, priorPatient: prior.id, survivingPatient: survivor.id, requestedBy: 'RIS@HOSP', indexRowsTouched: 1 });
    expect(await h.merges.get(listed[0]!.id)).not.toHaveProperty('undo');
    await expect(h.merges.get('999999')).rejects.toMatchObject({ kind: 'not-found' });
  });
});
