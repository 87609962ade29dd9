import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import {
  adt,
  type IdentityHarness,
  indexPatientOfStudy,
  registryRecordOf,
  send,
  startIdentity,
  storeStudy,
  studyAnswer,
} from '../../../../test/support/identity-medium.js';
import { type MediumEnv, mediumEnv } from '../../../../test/support/medium.js';

/**
 * ADT and ingest at the same time, on PostgreSQL: whichever commits first, an object's index row
 * ends up with the registry's current identity (the identity locks and record locks make one of
 * the two see the other), and no question is left open that the registry has answered.
 */

const N = 12;

describe('identity under concurrent ADT and ingest', () => {
  let env: MediumEnv;
  let h: IdentityHarness;

  beforeAll(async () => {
    env = await mediumEnv('identityrace', { VNA_DEFAULT_PATIENT_ID_ISSUER: 'HOSP', VNA_DATABASE_POOL_SIZE: '20' });
    h = await startIdentity(env);
  });

  afterAll(async () => {
    await h?.close();
    await env?.cleanup();
  });

  const ids = (prefix: string): string[] => Array.from({ length: N }, (_, i) => `${prefix}-${i}`);

  it('an A01 and the first study of the patient, at the same time: the study is linked and no task stays open', async () => {
    const patients = ids('RACE-NEW');
    const results = await Promise.all(
      patients.map(async (id, i) => {
        const store = storeStudy(h, { patientId: id, issuer: 'HOSP', name: 'Header^Name' });
        const admit = (i % 2 ? Promise.resolve() : new Promise((r) => setTimeout(r, 2))).then(() => send(h, adt('A01', [`PID|1||${id}^^^HOSP^MR||Registry^${i}`])));
        const [study, ack] = await Promise.all([store, admit]);
        return { id, i, study, ack };
      }),
    );
    for (const { id, i, study, ack } of results) {
      expect(ack.code).toBe('AA');
      const record = (await registryRecordOf(h, id, 'HOSP'))!;
      expect(await indexPatientOfStudy(h, study.studyUid)).toMatchObject({ registry_fk: record.id, name_alphabetic: `Registry^${i}` });
    }
    const open = (await h.db.query(`SELECT subject FROM reconciliation_task WHERE status = 'open' AND subject LIKE 'patient:HOSP|RACE-NEW-%'`)) as unknown[];
    expect(open).toEqual([]);
  });

  it('an A08 and a new study of the patient, at the same time: the study shows the new name', async () => {
    const patients = ids('RACE-UPD');
    for (const id of patients) expect((await send(h, adt('A01', [`PID|1||${id}^^^HOSP^MR||Before^Name`]))).code).toBe('AA');
    const results = await Promise.all(
      patients.map(async (id) => {
        const [study, ack] = await Promise.all([storeStudy(h, { patientId: id, issuer: 'HOSP', name: 'Header^Name' }), send(h, adt('A08', [`PID|1||${id}^^^HOSP^MR||After^Name`]))]);
        return { study, ack };
      }),
    );
    for (const { study, ack } of results) {
      expect(ack.code).toBe('AA');
      expect((await studyAnswer(h, study.studyUid))?.name).toBe('After^Name');
    }
  });

  it('an A40 and a new study received with another identifier of the prior, at the same time: the study shows the survivor', async () => {
    const patients = ids('RACE-MRG');
    for (const id of patients) {
      expect((await send(h, adt('A01', [`PID|1||${id}-P^^^HOSP^MR~${id}-N^^^NATION^SS||Prior^Name`]))).code).toBe('AA');
      expect((await send(h, adt('A01', [`PID|1||${id}-S^^^HOSP^MR||Survivor^Name||19700101|M`]))).code).toBe('AA');
    }
    const results = await Promise.all(
      patients.map(async (id) => {
        const [study, ack] = await Promise.all([
          storeStudy(h, { patientId: `${id}-N`, issuer: 'NATION', name: 'Header^Name' }),
          send(h, adt('A40', [`PID|1||${id}-S^^^HOSP^MR`, `MRG|${id}-P^^^HOSP^MR`])),
        ]);
        return { id, study, ack };
      }),
    );
    for (const { id, study, ack } of results) {
      expect(ack.code).toBe('AA');
      expect(await studyAnswer(h, study.studyUid)).toMatchObject({ name: 'Survivor^Name', patientId: `${id}-S`, sex: 'M' });
    }
  });
  it('HIM reassigning an unknown patient’s task while an ADT gives that identifier to the patient: both end well, no deadlock', async () => {
    for (let n = 0; n < 6; n++) {
      const target = `RACE-HIM-T${n}`;
      const stray = `RACE-HIM-X${n}`;
      expect((await send(h, adt('A01', [`PID|1||${target}^^^HOSP^MR||Target^Patient`]))).code).toBe('AA');
      const study = await storeStudy(h, { patientId: stray, issuer: 'HOSP', name: 'Stray^Header' });
      const [task] = (await h.db.query(`SELECT id::text FROM reconciliation_task WHERE status = 'open' AND subject = $1`, [`patient:HOSP|${stray}`])) as { id: string }[];
      const [decision, ack] = await Promise.allSettled([
        h.reconciliation.reassign(task!.id, { user: 'him.user', reason: 'same person' }, { patientId: target }),
        send(h, adt('A08', [`PID|1||${target}^^^HOSP^MR~${stray}^^^HOSP^MR||Target^Patient`])),
      ]);
      expect(ack).toMatchObject({ status: 'fulfilled', value: { code: 'AA' } });
      if (decision.status === 'rejected') expect(decision.reason).toMatchObject({ kind: 'conflict' });
      const record = (await registryRecordOf(h, target, 'HOSP'))!;
      expect(await indexPatientOfStudy(h, study.studyUid)).toMatchObject({ registry_fk: record.id, current_patient_id: target, name_alphabetic: 'Target^Patient' });
      const open = (await h.db.query(`SELECT id FROM reconciliation_task WHERE status = 'open' AND subject = $1`, [`patient:HOSP|${stray}`])) as unknown[];
      expect(open).toEqual([]);
    }
  });
  it('an A08 (by another identifier) racing an A40 of the same patient is applied before the merge or refused after it, never to the merged record', async () => {
    const patients = ids('RACE-A08');
    for (const id of patients) {
      expect((await send(h, adt('A01', [`PID|1||${id}-P^^^HOSP^MR~${id}-N^^^NATION^SS||Prior^Name`]))).code).toBe('AA');
      expect((await send(h, adt('A01', [`PID|1||${id}-S^^^HOSP^MR||Survivor^Name`]))).code).toBe('AA');
    }
    const results = await Promise.all(
      patients.map(async (id) => {
        const [merge, update] = await Promise.all([
          send(h, adt('A40', [`PID|1||${id}-S^^^HOSP^MR`, `MRG|${id}-P^^^HOSP^MR`])),
          send(h, adt('A08', [`PID|1||${id}-N^^^NATION^SS||Updated^Prior`])),
        ]);
        return { id, merge, update };
      }),
    );
    for (const { id, merge, update } of results) {
      expect(merge.code).toBe('AA');
      const prior = (await registryRecordOf(h, `${id}-P`, 'HOSP'))!;
      const changes = ((await h.db.query(`SELECT change FROM registry_version WHERE registry_patient_fk = $1 ORDER BY version`, [prior.id])) as { change: string }[]).map((v) => v.change);
      if (update.code === 'AA') expect(changes).toEqual(['create', 'update', 'merged']);
      else {
        expect({ code: update.code, error: update.error?.code }).toEqual({ code: 'AE', error: '206' });
        expect(changes).toEqual(['create', 'merged']);
      }
    }
  });
});
