import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { ImagingStudy, Patient } from '@medplum/fhirtypes';
import { Tag, type WriteElement } from '#vna/dicom';
import { eventually, imageDataset, type ArchiveHarness, type MediumEnv, mediumEnv, startArchive, storeDataset, uid, MR_IMAGE_STORAGE } from '../../../../test/support/medium.js';
import { r4Issues, TestEhr } from '../../../../test/support/fhir-ehr.js';
import { FhirDeliveryError } from '../fhir.errors.js';
import { FhirPublishModule } from '../fhir.module.js';
import { ImagingStudyPublisher } from './imaging-study.publisher.js';
import type { FhirPublishPayload } from './study-change.repository.js';

/**
 * Publishing against a real FHIR server (medplum's router over its in-memory repository): a study
 * stable for the window becomes exactly one valid ImagingStudy, and the resource follows the study
 * through changes the index triggers notice (new series, identity rewrites, rejections, deletion).
 */
let env: MediumEnv;
let h: ArchiveHarness;
let ehr: TestEhr;
let publisher: ImagingStudyPublisher;

beforeAll(async () => {
  ehr = await TestEhr.start({ token: 'ehr-token-123' });
  env = await mediumEnv('fhirpub', {
    VNA_FHIR_PUBLISH_URL: ehr.baseUrl,
    VNA_FHIR_PUBLISH_TOKEN: 'ehr-token-123',
    VNA_FHIR_CREATE_PATIENTS: 'true',
    VNA_FHIR_PATIENT_ID_SYSTEMS: 'HOSP=urn:oid:1.2.826.0.1.3680043.10.1',
    VNA_STUDY_STABLE_SECONDS: '1',
    VNA_PUBLIC_URL: 'https://vna.example',
  });
  h = await startArchive(env, [FhirPublishModule]);
  publisher = h.module.get(ImagingStudyPublisher);
});

afterAll(async () => {
  await h?.close();
  await env?.cleanup();
  await ehr?.stop();
});

interface OutboxRow {
  id: string;
  payload: FhirPublishPayload;
}

/** Waits for the sweep (the scheduler in the harness) to hand the study to the outbox, then runs its jobs as a worker would. */
async function publishWhenStable(studyUid: string): Promise<void> {
  let rows: OutboxRow[] = [];
  await eventually(
    async () => {
      rows = await h.db.query(`SELECT id::text, payload FROM outbox WHERE topic = 'fhir.publish' AND done_at IS NULL AND payload->>'studyUid' = $1`, [studyUid]);
      return rows.length > 0;
    },
    15_000,
    'the study handed to the outbox',
  );
  for (const row of rows) {
    await publisher.publish(row.payload);
    await h.db.query(`UPDATE outbox SET done_at = now() WHERE id = $1`, [row.id]);
  }
}

async function studiesIn(uidValue: string): Promise<ImagingStudy[]> {
  return (await ehr.all<ImagingStudy>('ImagingStudy')).filter((s) => s.identifier?.some((i) => i.value === `urn:oid:${uidValue}`));
}

async function store(studyUid: string, seriesUid: string, extra: WriteElement[] = [], sopClassUid?: string): Promise<string> {
  const sopInstanceUid = uid();
  const base: WriteElement[] = [
    { tag: Tag.PatientID, vr: 'LO', value: 'FHIR-1' },
    { tag: Tag.IssuerOfPatientID, vr: 'LO', value: 'HOSP' },
    { tag: Tag.PatientName, vr: 'PN', value: 'Doe^Jane' },
    { tag: Tag.PatientBirthDate, vr: 'DA', value: '19700101' },
    { tag: Tag.PatientSex, vr: 'CS', value: 'F' },
    { tag: Tag.AccessionNumber, vr: 'SH', value: 'ACC-77' },
    { tag: Tag.StudyDate, vr: 'DA', value: '20241115' },
    { tag: Tag.StudyTime, vr: 'TM', value: '101500' },
    { tag: Tag.StudyDescription, vr: 'LO', value: 'CT CHEST' },
    { tag: Tag.ReferringPhysicianName, vr: 'PN', value: 'House^Gregory' },
    { tag: Tag.SeriesNumber, vr: 'IS', value: '1' },
    { tag: Tag.BodyPartExamined, vr: 'CS', value: 'CHEST' },
  ];
  const replaced = new Set(extra.map((e) => e.tag));
  await storeDataset(h.ingest, imageDataset({ studyUid, seriesUid, sopInstanceUid, sopClassUid, extra: [...base.filter((e) => !replaced.has(e.tag)), ...extra] }), { sopInstanceUid, sopClassUid });
  return sopInstanceUid;
}

describe('ImagingStudy publishing', () => {
  const studyUid = uid();
  const seriesUid = uid();
  const instances: string[] = [];

  it('publishes a stable study as exactly one valid ImagingStudy with the study\'s content, not before its window', async () => {
    // The EHR's order for the accession number: the ImagingStudy is basedOn it.
    const order = await ehr.repo.createResource({
      resourceType: 'ServiceRequest',
      status: 'active',
      intent: 'order',
      subject: { display: 'the patient' },
      identifier: [{ type: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v2-0203', code: 'ACSN' }] }, value: 'ACC-77' }],
    });
    instances.push(await store(studyUid, seriesUid, [{ tag: Tag.InstanceNumber, vr: 'IS', value: '1' }]));
    instances.push(await store(studyUid, seriesUid, [{ tag: Tag.InstanceNumber, vr: 'IS', value: '2' }]));
    // Right after the last instance the study is not stable yet: nothing in the outbox.
    const early = (await h.db.query(`SELECT count(*)::int AS n FROM outbox WHERE topic = 'fhir.publish'`)) as { n: number }[];
    expect(early[0]!.n).toBe(0);
    await publishWhenStable(studyUid);
    const [study, ...more] = await studiesIn(studyUid);
    expect(more).toHaveLength(0);
    expect(r4Issues(study!)).toEqual([]);
    expect(study).toMatchObject({
      status: 'available',
      identifier: [
        { system: 'urn:dicom:uid', value: `urn:oid:${studyUid}` },
        { type: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v2-0203', code: 'ACSN' }] }, value: 'ACC-77' },
      ],
      started: '2024-11-15',
      modality: [{ system: 'http://dicom.nema.org/resources/ontology/DCM', code: 'CT' }],
      numberOfSeries: 1,
      numberOfInstances: 2,
      description: 'CT CHEST',
      referrer: { display: 'Gregory House' },
      basedOn: [{ reference: `ServiceRequest/${order.id}` }],
    });
    expect(study!.series).toEqual([
      expect.objectContaining({
        uid: seriesUid,
        number: 1,
        modality: { system: 'http://dicom.nema.org/resources/ontology/DCM', code: 'CT' },
        bodySite: { system: 'http://snomed.info/sct', code: '51185008', display: 'Thorax' },
        numberOfInstances: 2,
        instance: [
          { uid: instances[0], sopClass: { system: 'urn:ietf:rfc:3986', code: 'urn:oid:1.2.840.10008.5.1.4.1.1.2' }, number: 1 },
          { uid: instances[1], sopClass: { system: 'urn:ietf:rfc:3986', code: 'urn:oid:1.2.840.10008.5.1.4.1.1.2' }, number: 2 },
        ],
      }),
    ]);
    // The subject is the EHR's Patient with the configured identifier system (created: none existed).
    const patients = await ehr.all<Patient>('Patient');
    const patient = patients.find((p) => study!.subject.reference === `Patient/${p.id}`);
    expect(patient?.identifier).toEqual([{ system: 'urn:oid:1.2.826.0.1.3680043.10.1', value: 'FHIR-1' }]);
    expect(r4Issues(patient!)).toEqual([]);
    // The Endpoint is the archive's WADO-RS base.
    const endpoints = await ehr.all('Endpoint');
    expect(endpoints).toEqual([expect.objectContaining({ address: 'https://vna.example/dicomweb', connectionType: expect.objectContaining({ code: 'dicom-wado-rs' }) })]);
    expect(study!.endpoint).toEqual([{ reference: `Endpoint/${endpoints[0]!.id}` }]);
    expect(ehr.requests.every((r) => r.authorization === 'Bearer ehr-token-123')).toBe(true);
  });

  it('keeps one resource when published again, and sends nothing when nothing changed', async () => {
    const before = ehr.requests.filter((r) => r.method === 'PUT').length;
    await publisher.publish({ studyUid, destination: 'env' });
    expect(ehr.requests.filter((r) => r.method === 'PUT').length).toBe(before);
    // Forget what was sent: the same resource goes again, as a conditional update onto the same one.
    await h.db.query(`DELETE FROM fhir_publication`);
    await publisher.publish({ studyUid, destination: 'env' });
    expect(ehr.requests.filter((r) => r.method === 'PUT').length).toBe(before + 1);
    expect(await studiesIn(studyUid)).toHaveLength(1);
  });

  it('updates the resource when a new series arrives', async () => {
    const mr = uid();
    await store(studyUid, mr, [
      { tag: Tag.Modality, vr: 'CS', value: 'MR' },
      { tag: Tag.SeriesNumber, vr: 'IS', value: '2' },
    ], MR_IMAGE_STORAGE);
    await publishWhenStable(studyUid);
    const [study, ...more] = await studiesIn(studyUid);
    expect(more).toHaveLength(0);
    expect(study).toMatchObject({ numberOfSeries: 2, numberOfInstances: 3 });
    expect(study!.modality?.map((m) => m.code)).toEqual(['CT', 'MR']);
    expect(r4Issues(study!)).toEqual([]);
  });

  it('re-points the subject when the index identity is rewritten (as merges do)', async () => {
    await h.db.query(`UPDATE patient SET current_patient_id = 'FHIR-SURVIVOR' WHERE patient_id = 'FHIR-1'`);
    await publishWhenStable(studyUid);
    const [study] = await studiesIn(studyUid);
    const survivor = (await ehr.all<Patient>('Patient')).find((p) => p.identifier?.[0]?.value === 'FHIR-SURVIVOR');
    expect(survivor).toBeDefined();
    expect(study!.subject).toEqual({ reference: `Patient/${survivor!.id}` });
  });

  it('retries while the EHR is down and delivers once it is back', async () => {
    await h.db.query(`UPDATE study SET description = 'CT CHEST W CONTRAST' WHERE study_uid = $1`, [studyUid]);
    ehr.down();
    let rows: OutboxRow[] = [];
    await eventually(async () => {
      rows = await h.db.query(`SELECT id::text, payload FROM outbox WHERE topic = 'fhir.publish' AND done_at IS NULL AND payload->>'studyUid' = $1`, [studyUid]);
      return rows.length > 0;
    }, 15_000, 'the change handed to the outbox');
    const error = await publisher.publish(rows[0]!.payload).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(FhirDeliveryError);
    expect(error).toMatchObject({ classification: 'transient', status: 503 });
    ehr.up();
    await publisher.publish(rows[0]!.payload);
    await h.db.query(`UPDATE outbox SET done_at = now() WHERE id = $1`, [rows[0]!.id]);
    const [study] = await studiesIn(studyUid);
    expect(study!.description).toBe('CT CHEST W CONTRAST');
  });

  it('follows a correction of study attributes (the egress overlay\'s study values)', async () => {
    await h.db.query(`UPDATE study SET overlay = $2::jsonb WHERE study_uid = $1`, [
      studyUid,
      JSON.stringify({ '00081030': { vr: 'LO', Value: ['CT THORAX'] }, '00080050': { vr: 'SH', Value: ['ACC-78'] } }),
    ]);
    await publishWhenStable(studyUid);
    const [study] = await studiesIn(studyUid);
    expect(study!.description).toBe('CT THORAX');
    expect(study!.identifier?.[1]?.value).toBe('ACC-78');
  });

  it('removes rejected instances, and is entered-in-error when every instance is rejected', async () => {
    await h.db.query(`UPDATE instance SET is_current = false WHERE sop_instance_uid = $1`, [instances[0]]);
    await publishWhenStable(studyUid);
    let [study] = await studiesIn(studyUid);
    expect(study).toMatchObject({ status: 'available', numberOfInstances: 2 });
    expect(study!.series?.[0]?.instance?.map((i) => i.uid)).toEqual([instances[1]]);
    await h.db.query(`UPDATE instance SET is_current = false FROM series s WHERE instance.series_fk = s.id AND s.study_fk = (SELECT id FROM study WHERE study_uid = $1)`, [studyUid]);
    await publishWhenStable(studyUid);
    [study] = await studiesIn(studyUid);
    expect(study).toMatchObject({ status: 'entered-in-error', numberOfSeries: 0, numberOfInstances: 0 });
    expect(study!.series).toBeUndefined();
    expect(r4Issues(study!)).toEqual([]);
  });

  it('updates the resource when the study is deleted from the index', async () => {
    await h.db.query(`DELETE FROM series_metadata WHERE series_fk IN (SELECT id FROM series WHERE study_fk = (SELECT id FROM study WHERE study_uid = $1))`, [studyUid]);
    await h.db.query(`DELETE FROM instance WHERE series_fk IN (SELECT id FROM series WHERE study_fk = (SELECT id FROM study WHERE study_uid = $1))`, [studyUid]);
    await h.db.query(`DELETE FROM series WHERE study_fk = (SELECT id FROM study WHERE study_uid = $1)`, [studyUid]);
    await h.db.query(`DELETE FROM order_study_link WHERE study_uid = $1`, [studyUid]);
    await h.db.query(`DELETE FROM study WHERE study_uid = $1`, [studyUid]);
    await publishWhenStable(studyUid);
    const [study, ...more] = await studiesIn(studyUid);
    expect(more).toHaveLength(0);
    expect(study).toMatchObject({ status: 'cancelled', numberOfSeries: 0, numberOfInstances: 0 });
    expect(study!.note?.[0]?.text).toMatch(/^Images deleted/);
    expect(r4Issues(study!)).toEqual([]);
  });

  it('does not mark studies when the upload records where an instance is stored', async () => {
    await h.db.query(`DELETE FROM fhir_study_change`);
    const other = uid();
    await store(other, uid());
    await h.db.query(`DELETE FROM fhir_study_change`);
    await h.db.query(`UPDATE instance SET storage_state = 'stored', blob_key = 'k', stored_at = now(), spool_path = NULL WHERE series_fk IN (SELECT id FROM series WHERE study_fk = (SELECT id FROM study WHERE study_uid = $1))`, [other]);
    const rows = (await h.db.query(`SELECT count(*)::int AS n FROM fhir_study_change`)) as { n: number }[];
    expect(rows[0]!.n).toBe(0);
  });
});
