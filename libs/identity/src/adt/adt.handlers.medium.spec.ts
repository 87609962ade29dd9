import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Tag, tagToHex } from '#vna/dicom';
import {
  adt,
  controlId,
  type IdentityHarness,
  indexPatientOfStudy,
  registryRecordOf,
  send,
  startIdentity,
  storeStudy,
  studiesOfPatient,
  studyAnswer,
} from '../../../../test/support/identity-medium.js';
import { type MediumEnv, mediumEnv } from '../../../../test/support/medium.js';

/**
 * ADT A01/A04/A05/A08/A28/A31 through the real inbound flow into the registry and the index, on
 * PostgreSQL: identifiers with their issuers, demographics, versions (who, when, which message),
 * the index rows of stored studies following the registry, and refusals that change nothing.
 */

interface VersionRow {
  version: number;
  change: string;
  actor: string;
  hl7_message_id: string | null;
  reason: string | null;
  at: Date;
  state: { name: { alphabetic: string }; birthDate: string | null; sex: string | null; identifiers: { patientId: string; issuer: string; typeCode: string; position: number }[] };
}

describe('ADT into the patient registry', () => {
  let env: MediumEnv;
  let h: IdentityHarness;

  beforeAll(async () => {
    env = await mediumEnv('identityadt', { VNA_DEFAULT_PATIENT_ID_ISSUER: 'HOSP', VNA_HL7_FORWARD: 'ADT^A08|ADT^A40@127.0.0.1:9' });
    h = await startIdentity(env);
  });

  afterAll(async () => {
    await h?.close();
    await env?.cleanup();
  });

  async function messageId(control: string): Promise<string> {
    const rows = (await h.db.query(`SELECT id::text AS id FROM hl7_message WHERE control_id = $1`, [control])) as { id: string }[];
    return rows[0]!.id;
  }

  async function versions(registryId: string): Promise<VersionRow[]> {
    return (await h.db.query(
      `SELECT version, change, actor, hl7_message_id::text AS hl7_message_id, reason, at, state FROM registry_version WHERE registry_patient_fk = $1 ORDER BY version`,
      [registryId],
    )) as VersionRow[];
  }

  async function identifiers(registryId: string): Promise<{ patient_id: string; issuer: string; type_code: string; position: number; status: string }[]> {
    return (await h.db.query(`SELECT patient_id, issuer, type_code, position, status FROM registry_identifier WHERE registry_patient_fk = $1 ORDER BY position`, [
      registryId,
    ])) as { patient_id: string; issuer: string; type_code: string; position: number; status: string }[];
  }

  it('A01 creates a patient: PID-3 identifiers with their issuers and type codes, name, birth date, sex; version 1 with who and which message', async () => {
    const control = controlId('A01');
    const ack = await send(h, adt('A01', ['PID|1||A01-1^^^HOSP^MR~SSN-A01-1^^^NATION^SS||Doe^John^Q^^Dr||19800102|M', 'PV1|1|I'], control));
    expect({ code: ack.code, error: ack.error }).toEqual({ code: 'AA', error: undefined });

    const record = await registryRecordOf(h, 'A01-1', 'HOSP');
    expect(record).toMatchObject({ status: 'active', merged_into: null, name_alphabetic: 'Doe^John^Q^Dr', birth_date: '19800102', sex: 'M', version: 1 });
    expect((await registryRecordOf(h, 'SSN-A01-1', 'NATION'))?.id).toBe(record!.id);
    expect(await identifiers(record!.id)).toEqual([
      { patient_id: 'A01-1', issuer: 'HOSP', type_code: 'MR', position: 0, status: 'active' },
      { patient_id: 'SSN-A01-1', issuer: 'NATION', type_code: 'SS', position: 1, status: 'active' },
    ]);
    const [v1, ...more] = await versions(record!.id);
    expect(more).toEqual([]);
    expect(v1).toMatchObject({ version: 1, change: 'create', actor: 'RIS@HOSP', hl7_message_id: await messageId(control) });
    expect(v1!.state).toMatchObject({ name: { alphabetic: 'Doe^John^Q^Dr' }, birthDate: '19800102', sex: 'M' });
    expect(Date.now() - v1!.at.getTime()).toBeLessThan(60_000);
  });

  it.each(['A04', 'A05', 'A28', 'A31'])('%s creates a patient too', async (event) => {
    const ack = await send(h, adt(event, [`PID|1||${event}-1^^^HOSP^MR||Roe^${event}||19700304|F`]));
    expect(ack.code).toBe('AA');
    expect(await registryRecordOf(h, `${event}-1`, 'HOSP')).toMatchObject({ status: 'active', name_alphabetic: `Roe^${event}`, birth_date: '19700304', sex: 'F', version: 1 });
  });

  it('an identifier without an assigning authority belongs to the default issuer', async () => {
    expect((await send(h, adt('A04', ['PID|1||NOISSUER-1||Plain^Pat']))).code).toBe('AA');
    expect(await registryRecordOf(h, 'NOISSUER-1', 'HOSP')).toMatchObject({ name_alphabetic: 'Plain^Pat' });
  });

  it('A08 updates the fields it sends, keeps the others, deletes on "", and adds a version naming its message', async () => {
    await send(h, adt('A01', ['PID|1||UPD-1^^^HOSP^MR||Smith^Anna||19900505|F']));
    const record = (await registryRecordOf(h, 'UPD-1', 'HOSP'))!;

    // Name changed, birth date not sent (kept), sex "" (deleted), a new identifier.
    const control = controlId('A08');
    expect((await send(h, adt('A08', ['PID|1||UPD-1^^^HOSP^MR~UPD-1-X^^^OTHER^PI||Smith-Jones^Anna|||""'], control))).code).toBe('AA');
    expect(await registryRecordOf(h, 'UPD-1', 'HOSP')).toMatchObject({ id: record.id, name_alphabetic: 'Smith-Jones^Anna', birth_date: '19900505', sex: null, version: 2 });
    expect((await registryRecordOf(h, 'UPD-1-X', 'OTHER'))?.id).toBe(record.id);
    const all = await versions(record.id);
    expect(all.map((v) => [v.version, v.change, v.actor])).toEqual([
      [1, 'create', 'RIS@HOSP'],
      [2, 'update', 'RIS@HOSP'],
    ]);
    expect(all[1]!.hl7_message_id).toBe(await messageId(control));
    expect(all[1]!.state).toMatchObject({ name: { alphabetic: 'Smith-Jones^Anna' }, birthDate: '19900505', sex: null });
    // The first version is kept as it was.
    expect(all[0]!.state).toMatchObject({ name: { alphabetic: 'Smith^Anna' }, sex: 'F' });

    // The same values again: nothing changes, no new version.
    expect((await send(h, adt('A08', ['PID|1||UPD-1^^^HOSP^MR||Smith-Jones^Anna']))).code).toBe('AA');
    expect((await versions(record.id)).length).toBe(2);
  });

  it('an A08 about one of the patient’s identifiers updates that patient (any issuer), not a new one', async () => {
    await send(h, adt('A01', ['PID|1||ANY-1^^^HOSP^MR~ANY-1-N^^^NATION^SS||Any^One']));
    const record = (await registryRecordOf(h, 'ANY-1', 'HOSP'))!;
    expect((await send(h, adt('A08', ['PID|1||ANY-1-N^^^NATION^SS||Any^Updated']))).code).toBe('AA');
    expect(await registryRecordOf(h, 'ANY-1-N', 'NATION')).toMatchObject({ id: record.id, name_alphabetic: 'Any^Updated' });
    expect((await h.db.query(`SELECT count(*)::int AS n FROM registry_identifier WHERE patient_id LIKE 'ANY-1%'`)) as unknown).toEqual([{ n: 2 }]);
  });

  it('stored studies follow the registry: linked at A01 (task resolved), renamed by A08, received values kept', async () => {
    // Arrives before the ADT: unknown to the registry, a task is opened, the index shows the header.
    const study = await storeStudy(h, { patientId: 'IDX-1', issuer: 'HOSP', name: 'Misspeled^Jon', birthDate: '19801231', sex: 'M' });
    const before = await indexPatientOfStudy(h, study.studyUid);
    expect(before).toMatchObject({ registry_fk: null, current_patient_id: 'IDX-1', name_alphabetic: 'Misspeled^Jon' });
    const tasks = async (): Promise<{ status: string; closed_by: string | null }[]> =>
      (await h.db.query(`SELECT status, closed_by FROM reconciliation_task WHERE kind = 'unknown-patient' AND subject = 'patient:HOSP|IDX-1'`)) as { status: string; closed_by: string | null }[];
    expect(await tasks()).toEqual([{ status: 'open', closed_by: null }]);

    expect((await send(h, adt('A01', ['PID|1||IDX-1^^^HOSP^MR||Correct^John||19801230|M']))).code).toBe('AA');
    const record = (await registryRecordOf(h, 'IDX-1', 'HOSP'))!;
    expect(await indexPatientOfStudy(h, study.studyUid)).toMatchObject({ registry_fk: record.id, registry_link: 'identity', name_alphabetic: 'Correct^John', birth_date: '19801230' });
    expect(await tasks()).toEqual([{ status: 'resolved', closed_by: 'RIS@HOSP' }]);

    expect((await send(h, adt('A08', ['PID|1||IDX-1^^^HOSP^MR||Renamed^John^Paul||19801230|M']))).code).toBe('AA');
    const after = await indexPatientOfStudy(h, study.studyUid);
    expect(after).toMatchObject({ registry_fk: record.id, current_patient_id: 'IDX-1', current_issuer: 'HOSP', name_alphabetic: 'Renamed^John^Paul', birth_date: '19801230', sex: 'M' });
    expect(after.overlay[tagToHex(Tag.PatientName)]).toEqual({ vr: 'PN', Value: [{ Alphabetic: 'Renamed^John^Paul' }] });
    // QIDO / C-FIND answer with the registry's values and match on them.
    expect(await studyAnswer(h, study.studyUid)).toMatchObject({ name: 'Renamed^John^Paul', patientId: 'IDX-1', birthDate: '19801230', sex: 'M' });
    // The received values stay on record.
    expect(after.attributes[tagToHex(Tag.PatientName)]?.Value).toEqual([{ Alphabetic: 'Misspeled^Jon' }]);
    expect(after.attributes[tagToHex(Tag.PatientBirthDate)]?.Value).toEqual(['19801231']);
  });

  it('an A08 reaches every stored study of the patient, including ones received without an issuer (default issuer)', async () => {
    await send(h, adt('A01', ['PID|1||MULTI-1^^^HOSP^MR||First^Name']));
    const a = await storeStudy(h, { patientId: 'MULTI-1', issuer: 'HOSP', name: 'X' });
    const b = await storeStudy(h, { patientId: 'MULTI-1', name: 'Y' });
    const other = await storeStudy(h, { patientId: 'MULTI-1', issuer: 'ELSEWHERE', name: 'Z' });
    expect((await send(h, adt('A08', ['PID|1||MULTI-1^^^HOSP^MR||Second^Name']))).code).toBe('AA');
    expect((await studyAnswer(h, a.studyUid))?.name).toBe('Second^Name');
    expect((await studyAnswer(h, b.studyUid))?.name).toBe('Second^Name');
    // Another issuer's MULTI-1 is another patient.
    expect((await studyAnswer(h, other.studyUid))?.name).toBe('Z');
    expect(await studiesOfPatient(h, 'MULTI-1', 'HOSP')).toEqual([a.studyUid, b.studyUid].sort());
  });

  it('refuses a message without PID-3 with AE and an ERR (101, PID^1^3), applying nothing', async () => {
    const before = (await h.db.query(`SELECT count(*)::int AS n FROM registry_patient`)) as { n: number }[];
    const control = controlId('NOPID3');
    const ack = await send(h, adt('A01', ['PID|1||||Nobody^Here||19800101|M'], control));
    expect({ code: ack.code, error: ack.error?.code, location: ack.error?.location }).toEqual({ code: 'AE', error: '101', location: 'PID^1^3' });
    expect((await h.db.query(`SELECT count(*)::int AS n FROM registry_patient`)) as unknown).toEqual(before);
    expect((await h.db.query(`SELECT status, error_code FROM hl7_message WHERE control_id = $1`, [control])) as unknown).toEqual([{ status: 'AE', error_code: '101' }]);
  });

  it('refuses a message without a PID segment and one with a bad birth date, applying nothing', async () => {
    const noPid = await send(h, adt('A08', ['PV1|1|I']));
    expect({ code: noPid.code, error: noPid.error?.code }).toEqual({ code: 'AE', error: '100' });
    const badDate = await send(h, adt('A01', ['PID|1||BADDATE-1^^^HOSP^MR||Bad^Date||1980-01-02']));
    expect({ code: badDate.code, error: badDate.error?.code, location: badDate.error?.location }).toEqual({ code: 'AE', error: '102', location: 'PID^1^7' });
    expect(await registryRecordOf(h, 'BADDATE-1', 'HOSP')).toBeUndefined();
  });

  it('refuses an A40/A47 without MRG, with an empty MRG-1 or without PID-3 (AE with ERR), applying nothing', async () => {
    await send(h, adt('A01', ['PID|1||MRGERR-1^^^HOSP^MR||Merge^Error']));
    const before = (await h.db.query(`SELECT count(*)::int AS n FROM patient_merge`)) as unknown;
    const cases: [Buffer, string, string][] = [
      [adt('A40', ['PID|1||MRGERR-1^^^HOSP^MR']), '100', 'MRG'],
      [adt('A40', ['PID|1||MRGERR-1^^^HOSP^MR', 'MRG|']), '101', 'MRG^1^1'],
      [adt('A40', ['PID|1||||Nobody', 'MRG|MRGERR-1^^^HOSP']), '101', 'PID^1^3'],
      [adt('A40', ['MRG|MRGERR-1^^^HOSP']), '100', 'MRG^1'],
      [adt('A47', ['PID|1||MRGERR-2^^^HOSP^MR']), '100', 'MRG'],
    ];
    for (const [payload, code, location] of cases) {
      const ack = await send(h, payload);
      expect({ code: ack.code, error: ack.error?.code, location: ack.error?.location }).toEqual({ code: 'AE', error: code, location });
    }
    expect((await h.db.query(`SELECT count(*)::int AS n FROM patient_merge`)) as unknown).toEqual(before);
    expect(await registryRecordOf(h, 'MRGERR-1', 'HOSP')).toMatchObject({ status: 'active', version: 1 });
  });

  it('refuses PID-3 identifiers of two different patients (AE 205), changing neither', async () => {
    await send(h, adt('A01', ['PID|1||AMB-1^^^HOSP^MR||Amb^One']));
    await send(h, adt('A01', ['PID|1||AMB-2^^^HOSP^MR||Amb^Two']));
    const ack = await send(h, adt('A08', ['PID|1||AMB-1^^^HOSP^MR~AMB-2^^^HOSP^MR||Amb^Both']));
    expect({ code: ack.code, error: ack.error?.code }).toEqual({ code: 'AE', error: '205' });
    expect(await registryRecordOf(h, 'AMB-1', 'HOSP')).toMatchObject({ name_alphabetic: 'Amb^One', version: 1 });
    expect(await registryRecordOf(h, 'AMB-2', 'HOSP')).toMatchObject({ name_alphabetic: 'Amb^Two', version: 1 });
  });

  it('queues applied messages that a forwarding rule names for their downstream system, in the message’s transaction; refused ones not', async () => {
    const forwards = async (control: string): Promise<unknown[]> =>
      (await h.db.query(`SELECT payload FROM outbox WHERE topic = 'hl7.forward' AND payload->>'controlId' = $1`, [control])) as unknown[];
    const a01 = controlId('A01');
    expect((await send(h, adt('A01', ['PID|1||FWD-1^^^HOSP^MR||Forward^Fred||19800102|M'], a01))).code).toBe('AA');
    expect(await forwards(a01)).toEqual([]);
    const a08 = controlId('A08');
    expect((await send(h, adt('A08', ['PID|1||FWD-1^^^HOSP^MR||Forward^Frederick||19800102|M'], a08))).code).toBe('AA');
    expect(await forwards(a08)).toEqual([{ payload: expect.objectContaining({ host: '127.0.0.1', port: 9, type: 'ADT^A08', messageId: await messageId(a08) }) }]);
    const refused = controlId('A08');
    expect((await send(h, adt('A08', ['PID|1||||Nobody^Nameless'], refused))).code).toBe('AE');
    expect(await forwards(refused)).toEqual([]);
  });

  it('a re-sent A08 is not applied twice (one version)', async () => {
    await send(h, adt('A01', ['PID|1||RESEND-1^^^HOSP^MR||Re^Send']));
    const payload = adt('A08', ['PID|1||RESEND-1^^^HOSP^MR||Re^Sent']);
    const first = await send(h, payload);
    const again = await send(h, payload);
    expect([first.code, again.code]).toEqual(['AA', 'AA']);
    expect(await registryRecordOf(h, 'RESEND-1', 'HOSP')).toMatchObject({ name_alphabetic: 'Re^Sent', version: 2 });
  });
});
