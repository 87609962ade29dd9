import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Bundle, CapabilityStatement, ImagingStudy, OperationOutcome, Patient, ServiceRequest } from '@medplum/fhirtypes';
import { RunningArchive } from '../support/archive-process.js';
import { dcmtk } from '../support/dcmtk.js';
import { r4Issues, TestEhr } from '../support/fhir-ehr.js';
import { fixtureJson, writeFixture } from '../support/fixtures.js';
import { eventually } from '../support/medium.js';
import { type Ack, hl7, MllpClient } from '../support/mllp.js';
import { ormO01 } from '../support/worklist.js';

/**
 * The FHIR hub end to end: the built archive publishes to a real FHIR server (medplum's router over
 * its in-memory repository) what storescu sends, follows new series and an A40 merge over MLLP,
 * delivers after an EHR outage, and answers its own FHIR API over HTTP with OperationOutcome errors.
 */
const STUDY_UID = '1.2.826.0.1.3680043.10.1434.500.1';
const SYSTEM = 'urn:oid:1.2.826.0.1.3680043.10.1434.9';

function object(dir: string, name: string, series: number, n: number, modality = 'CT'): string {
  const json = fixtureJson('ct-ge-latin1');
  json['00100020'] = { vr: 'LO', Value: ['FH-PRIOR'] };
  json['00100021'] = { vr: 'LO', Value: ['NORTHSIDE'] };
  json['00100010'] = { vr: 'PN', Value: [{ Alphabetic: 'Prior^Pat' }] };
  json['00080050'] = { vr: 'SH', Value: ['ACC-FHIR-1'] };
  json['00080060'] = { vr: 'CS', Value: [modality] };
  json['00080020'] = { vr: 'DA', Value: ['20241120'] };
  json['0020000D'] = { vr: 'UI', Value: [STUDY_UID] };
  json['0020000E'] = { vr: 'UI', Value: [`${STUDY_UID}.${series}`] };
  json['00200011'] = { vr: 'IS', Value: [series] };
  json['00080018'] = { vr: 'UI', Value: [`${STUDY_UID}.${series}.${n}`] };
  json['00200013'] = { vr: 'IS', Value: [n] };
  return writeFixture(dir, name, json);
}

const msh = (type: string, id: string): string => `MSH|^~\\&|RIS|NORTHSIDE|VNA|NORTHSIDE|20241120083000||${type}|${id}|P|2.5.1|||AL|NE||UNICODE UTF-8`;

describe('FHIR hub end to end', () => {
  let ehr: TestEhr;
  let archive: RunningArchive;
  let client: MllpClient;
  let work: string;

  const store = async (...files: string[]): Promise<void> => {
    expect((await dcmtk('storescu', ['-aec', 'VNA', '127.0.0.1', String(archive.dicomPort), ...files])).code).toBe(0);
  };
  const published = async (): Promise<ImagingStudy[]> => (await ehr.all<ImagingStudy>('ImagingStudy')).filter((s) => s.identifier?.[0]?.value === `urn:oid:${STUDY_UID}`);
  const fhir = async <T>(path: string, status = 200, key: 'admin' | 'reader' | null = 'reader'): Promise<T> => {
    const res = await archive.fetch(`/fhir/R4/${path}`, { key });
    expect({ path, status: res.status, type: res.headers.get('content-type') }).toEqual({ path, status, type: 'application/fhir+json; charset=utf-8' });
    const body = (await res.json()) as T;
    expect(r4Issues(body as never)).toEqual([]);
    return body;
  };

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'vna-fhir-'));
    ehr = await TestEhr.start();
    archive = await RunningArchive.start({
      label: 'fhir',
      env: {
        VNA_FHIR_PUBLISH_URL: ehr.baseUrl,
        VNA_FHIR_CREATE_PATIENTS: 'true',
        VNA_FHIR_PATIENT_ID_SYSTEMS: `NORTHSIDE=${SYSTEM}`,
        VNA_STUDY_STABLE_SECONDS: '1',
      },
    });
    client = await MllpClient.connect(archive.hl7Port);
  });

  afterAll(async () => {
    await client?.close().catch(() => undefined);
    await archive?.destroy();
    await ehr?.stop();
    rmSync(work, { recursive: true, force: true });
  });

  it('publishes a study sent by storescu as exactly one valid ImagingStudy', async () => {
    const send = async (text: string): Promise<Ack> => client.request(text);
    for (const [id, pid] of [
      ['F-1', 'PID|1||FH-PRIOR^^^NORTHSIDE^MR||Prior^Pat||19800214|F'],
      ['F-2', 'PID|1||FH-SURV^^^NORTHSIDE^MR||Survivor^Sue||19800214|F'],
    ] as const) {
      expect((await send(hl7(msh('ADT^A01^ADT_A01', id), 'EVN|A01|20241120083000', pid))).code).toBe('AA');
    }
    await store(object(work, 'a1', 1, 1), object(work, 'a2', 1, 2));
    const [study] = await eventually(async () => {
      const s = await published();
      return s.length > 0 && s[0]!.numberOfInstances === 2 ? s : undefined;
    }, 30_000, 'the ImagingStudy in the EHR');
    expect(await published()).toHaveLength(1);
    expect(r4Issues(study!)).toEqual([]);
    expect(study).toMatchObject({ status: 'available', numberOfSeries: 1, numberOfInstances: 2, started: '2024-11-20', modality: [{ code: 'CT' }] });
    expect(study!.identifier).toContainEqual(expect.objectContaining({ value: 'ACC-FHIR-1', type: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v2-0203', code: 'ACSN' }] } }));
    expect(study!.series![0]!.instance!.map((i) => i.uid)).toEqual([`${STUDY_UID}.1.1`, `${STUDY_UID}.1.2`]);
    const patient = (await ehr.all<Patient>('Patient')).find((p) => study!.subject.reference === `Patient/${p.id}`);
    expect(patient?.identifier).toEqual([{ system: SYSTEM, value: 'FH-PRIOR' }]);
  });

  it('keeps one ImagingStudy when the study is sent again, and updates it for a new series', async () => {
    await store(object(work, 'a1', 1, 1), object(work, 'a2', 1, 2));
    await store(object(work, 'b1', 2, 1, 'MR'));
    const [study] = await eventually(async () => {
      const s = await published();
      return s[0]?.numberOfSeries === 2 ? s : undefined;
    }, 30_000, 'the new series published');
    expect(await published()).toHaveLength(1);
    expect(study).toMatchObject({ numberOfInstances: 3, modality: [{ code: 'CT' }, { code: 'MR' }] });
  });

  it('re-points the subject after an A40 merge over MLLP', async () => {
    const ack = await client.request(hl7(msh('ADT^A40^ADT_A39', 'F-3'), 'EVN|A40|20241120083000', 'PID|1||FH-SURV^^^NORTHSIDE^MR||Survivor^Sue', 'MRG|FH-PRIOR^^^NORTHSIDE^MR'));
    expect(ack.code).toBe('AA');
    const [study] = await eventually(async () => {
      const s = await published();
      const survivor = (await ehr.all<Patient>('Patient')).find((p) => p.identifier?.[0]?.value === 'FH-SURV');
      return survivor && s[0]?.subject.reference === `Patient/${survivor.id}` ? s : undefined;
    }, 30_000, 'the subject re-pointed to the survivor');
    expect(await published()).toHaveLength(1);
    expect(r4Issues(study!)).toEqual([]);
  });

  it('delivers after the EHR was down for a while', async () => {
    ehr.down();
    const failedBefore = ehr.requests.length;
    await store(object(work, 'c1', 3, 1));
    // The window passes and delivery is tried (and refused) while the EHR is down.
    await eventually(async () => ehr.requests.length > failedBefore, 30_000, 'a delivery attempt during the outage');
    expect((await published())[0]!.numberOfSeries).toBe(2);
    ehr.up();
    await eventually(async () => (await published())[0]?.numberOfSeries === 3, 60_000, 'the update delivered after the outage');
    expect(await published()).toHaveLength(1);
  });

  it('answers its own FHIR API with application/fhir+json, access control and OperationOutcome errors', async () => {
    const cs = await fhir<CapabilityStatement>('metadata');
    expect(cs.rest?.[0]?.resource?.map((r) => r.type)).toEqual(['ImagingStudy', 'Patient', 'ServiceRequest', 'Endpoint']);
    const bundle = await fhir<Bundle>(`ImagingStudy?identifier=ACC-FHIR-1&_include=ImagingStudy:endpoint`);
    expect(bundle.entry?.map((e) => e.resource?.resourceType)).toEqual(['ImagingStudy', 'Endpoint']);
    expect((bundle.entry![0]!.resource as ImagingStudy).numberOfInstances).toBe(4);
    const unauthorized = await fhir<OperationOutcome>('metadata', 401, null);
    expect(unauthorized.issue[0]!.code).toBe('login');
    expect((await fhir<OperationOutcome>('ImagingStudy?bogus=1', 400)).issue[0]!.code).toBe('invalid');
    expect((await fhir<OperationOutcome>('ImagingStudy/1.2.3', 404)).issue[0]!.code).toBe('not-found');
    expect((await fhir<OperationOutcome>('Observation', 400)).issue[0]!.code).toBe('not-supported');
  });

  it('serves the order of a study (ORM over MLLP, after the study) as ServiceRequest, and finds the study by basedon', async () => {
    const order = ormO01({ controlId: 'F-ORM-1', patientId: 'FH-SURV', issuer: 'NORTHSIDE', name: 'Survivor^Sue', birthDate: '19800214', sex: 'F', accession: 'ACC-FHIR-1', studyUid: null });
    expect((await client.request(order)).code).toBe('AA');
    const orders = await fhir<Bundle>('ServiceRequest?identifier=ACC-FHIR-1');
    expect(orders.entry).toHaveLength(1);
    const sr = orders.entry![0]!.resource as ServiceRequest;
    expect(sr).toMatchObject({ resourceType: 'ServiceRequest', status: 'active', intent: 'order', occurrenceDateTime: '2024-11-20' });
    expect(await fhir<ServiceRequest>(`ServiceRequest/${sr.id}`)).toEqual(sr);
    for (const ref of [`ServiceRequest/${sr.id}`, sr.id!, `${archive.baseUrl}/fhir/R4/ServiceRequest/${sr.id}`]) {
      const bundle = await fhir<Bundle>(`ImagingStudy?basedon=${encodeURIComponent(ref)}`);
      expect(bundle.entry?.map((e) => e.resource!.id)).toEqual([STUDY_UID]);
      expect((bundle.entry![0]!.resource as ImagingStudy).basedOn).toEqual([expect.objectContaining({ reference: `ServiceRequest/${sr.id}`, identifier: expect.objectContaining({ value: 'ACC-FHIR-1' }) })]);
    }
    expect((await fhir<Bundle>('ImagingStudy?basedon=ServiceRequest/999999999')).total).toBe(0);
    expect((await fhir<OperationOutcome>(`ImagingStudy?basedon=${encodeURIComponent('ServiceRequest/not one')}`, 400)).issue[0]!.code).toBe('invalid');
  });

  it('manages destinations over /api/v1/fhir-destinations (admin only, secrets never shown)', async () => {
    const body = JSON.stringify({ name: 'second-ehr', baseUrl: 'http://127.0.0.1:9/fhir', auth: { kind: 'bearer', token: 'secret-token' }, enabled: false });
    expect((await archive.fetch('/api/v1/fhir-destinations', { method: 'POST', body, key: 'reader', headers: { 'content-type': 'application/json' } })).status).toBe(403);
    const created = await archive.fetch('/api/v1/fhir-destinations', { method: 'POST', body, headers: { 'content-type': 'application/json' } });
    expect(created.status).toBe(201);
    const list = (await (await archive.fetch('/api/v1/fhir-destinations')).json()) as { key: string; name: string; auth: { token?: string } }[];
    expect(list.map((d) => d.key)).toEqual(['env', expect.stringMatching(/^\d+$/)]);
    expect(JSON.stringify(list)).not.toContain('secret-token');
    const bad = await archive.fetch('/api/v1/fhir-destinations', { method: 'POST', body: JSON.stringify({ name: 'x', baseUrl: 'not a url' }), headers: { 'content-type': 'application/json' } });
    expect(bad.status).toBe(400);
    expect((await archive.fetch(`/api/v1/fhir-destinations/${list[1]!.key}`, { method: 'DELETE' })).status).toBe(204);
    expect((await archive.fetch(`/api/v1/fhir-destinations/env`, { method: 'DELETE' })).status).toBe(409);
  });
});
