import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import type { Bundle, CapabilityStatement, ImagingStudy, OperationOutcome, Patient, Resource, ServiceRequest } from '@medplum/fhirtypes';
import { Hl7InboundModule, Hl7InboundService } from '#vna/hl7';
import { IdentityModule, MergeService, PatientsService, ReconciliationService } from '#vna/identity';
import { Tag } from '#vna/dicom';
import { type SqlRunner, withTransaction } from '#vna/persistence';
import { adt, type IdentityHarness, send, storeStudy } from '../../../../test/support/identity-medium.js';
import { type MediumEnv, mediumEnv, startArchive, storeDataset, imageDataset, uid } from '../../../../test/support/medium.js';
import { r4Issues } from '../../../../test/support/fhir-ehr.js';
import { ormO01 } from '../../../../test/support/worklist.js';
import { FhirApiModule } from '../fhir.module.js';
import { FhirApiService } from './fhir-api.service.js';
import { FhirSearchRepository } from './fhir-search.repository.js';
import { toOperationOutcome } from './operation-outcome.js';

/**
 * The archive's FHIR R4 API (protocol core, without HTTP) against PostgreSQL with the patient
 * registry: every search parameter, paging, _include, errors as OperationOutcome, merged patients;
 * every resource valid against the R4 definitions.
 */
let env: MediumEnv;
let h: IdentityHarness;
let api: FhirApiService;
let search: FhirSearchRepository;
const BASE = 'https://vna.example/fhir/R4';
const s1 = { studyUid: '' };
const s2 = { studyUid: '' };
const s3 = { studyUid: '' };
let regA = '';
let regB = '';
/** imaging_order ids (ServiceRequest ids) by accession number. */
const orders: Record<string, string> = {};

beforeAll(async () => {
  env = await mediumEnv('fhirapi', { VNA_DEFAULT_PATIENT_ID_ISSUER: 'HOSP', VNA_PUBLIC_URL: 'https://vna.example' });
  const archive = await startArchive(env, [Hl7InboundModule, IdentityModule, FhirApiModule]);
  h = {
    ...archive,
    inbound: archive.module.get(Hl7InboundService),
    merges: archive.module.get(MergeService),
    reconciliation: archive.module.get(ReconciliationService),
    patients: archive.module.get(PatientsService),
  };
  api = archive.module.get(FhirApiService);
  search = archive.module.get(FhirSearchRepository);
  for (const pid of ['PID|1||FA-1^^^HOSP^MR||Alpha^Anna||19800101|F', 'PID|1||FB-1^^^HOSP^MR||Beta^Bob||19900202|M']) {
    expect((await send(h, adt('A01', [pid]))).code).toBe('AA');
  }
  // Orders (ORM^O01 NW, then the RIS's status changes): ACC-1 for s1 (linked by its accession when
  // it arrives), the others without studies, in every order state; ORD-X for a patient the archive does not know.
  const alpha = { patientId: 'FA-1', issuer: 'HOSP', name: 'Alpha^Anna', birthDate: '19800101', sex: 'F' };
  const beta = { patientId: 'FB-1', issuer: 'HOSP', name: 'Beta^Bob', birthDate: '19900202', sex: 'M' };
  let seq = 0;
  const orm = async (spec: Omit<Parameters<typeof ormO01>[0], 'controlId'>): Promise<void> => {
    const ack = await send(h, Buffer.from(ormO01({ controlId: `FHIR-ORM-${process.pid}-${++seq}`, studyUid: null, ...spec }), 'utf8'));
    expect({ code: ack.code, error: ack.error }).toEqual({ code: 'AA', error: undefined });
  };
  await orm({ ...alpha, accession: 'ACC-1' });
  for (const a of ['ORD-IP', 'ORD-CM', 'ORD-CA', 'ORD-DC']) await orm({ ...beta, accession: a, procedureCode: 'MRBRAIN^MR brain^L', start: '20241121143000' });
  await orm({ ...beta, accession: 'ORD-IP', control: 'SC', orderStatus: 'IP' });
  await orm({ ...beta, accession: 'ORD-CM', control: 'SC', orderStatus: 'CM' });
  await orm({ ...beta, accession: 'ORD-CA', control: 'CA', orderStatus: 'CA' });
  await orm({ ...beta, accession: 'ORD-DC', control: 'SC', orderStatus: 'IP' });
  await orm({ ...beta, accession: 'ORD-DC', control: 'DC', orderStatus: 'DC' });
  await orm({ patientId: 'NOPE-1', issuer: 'ELSEWHERE', accession: 'ORD-X' });
  for (const r of (await h.db.query(`SELECT accession_number, id::text FROM imaging_order`)) as { accession_number: string; id: string }[]) orders[r.accession_number] = r.id;
  s1.studyUid = (await storeStudy(h, { patientId: 'FA-1', issuer: 'HOSP', name: 'Alpha^Anna', accession: 'ACC-1' })).studyUid;
  s2.studyUid = (await storeStudy(h, { patientId: 'FB-1', issuer: 'HOSP', name: 'Beta^Bob', accession: 'ACC-2' })).studyUid;
  // A patient the registry does not know, an MR study of 2023.
  s3.studyUid = uid();
  const sop = uid();
  await storeDataset(
    h.ingest,
    imageDataset({
      studyUid: s3.studyUid,
      seriesUid: uid(),
      sopInstanceUid: sop,
      extra: [
        { tag: Tag.PatientID, vr: 'LO', value: 'UNK-9' },
        { tag: Tag.IssuerOfPatientID, vr: 'LO', value: 'HOSP' },
        { tag: Tag.PatientName, vr: 'PN', value: 'Gamma^Gail' },
        { tag: Tag.Modality, vr: 'CS', value: 'MR' },
        { tag: Tag.StudyDate, vr: 'DA', value: '20230505' },
      ],
    }),
    { sopInstanceUid: sop },
  );
  await h.db.query(`UPDATE study SET study_date = '20240110' WHERE study_uid = $1`, [s1.studyUid]);
  await h.db.query(`UPDATE study SET study_date = '20240315' WHERE study_uid = $1`, [s2.studyUid]);
  const reg = (await h.db.query(`SELECT patient_id, registry_patient_fk::text AS id FROM registry_identifier WHERE patient_id IN ('FA-1', 'FB-1')`)) as { patient_id: string; id: string }[];
  regA = `r${reg.find((r) => r.patient_id === 'FA-1')!.id}`;
  regB = `r${reg.find((r) => r.patient_id === 'FB-1')!.id}`;
});

afterAll(async () => {
  await h?.close();
  await env?.cleanup();
});

async function get(path: string): Promise<Resource> {
  const url = new URL(path, 'http://x/');
  const query: Record<string, string[]> = {};
  for (const [k, v] of url.searchParams) (query[k] ??= []).push(v);
  const answer = await api.handle({ method: 'GET', path: url.pathname.split('/').filter(Boolean), query, baseUrl: BASE });
  expect(r4Issues(answer.resource)).toEqual([]);
  return answer.resource;
}

async function fails(path: string, method = 'GET'): Promise<{ status: number; outcome: OperationOutcome }> {
  const url = new URL(path, 'http://x/');
  const query: Record<string, string[]> = {};
  for (const [k, v] of url.searchParams) (query[k] ??= []).push(v);
  const error = await api.handle({ method, path: url.pathname.split('/').filter(Boolean), query, baseUrl: BASE }).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeDefined();
  const mapped = toOperationOutcome(error);
  expect(r4Issues(mapped.outcome)).toEqual([]);
  return mapped;
}

async function studyUids(path: string): Promise<string[]> {
  const bundle = (await get(path)) as Bundle;
  return (bundle.entry ?? []).filter((e) => e.search?.mode === 'match').map((e) => e.resource!.id!).sort();
}

const sorted = (...s: { studyUid: string }[]): string[] => s.map((x) => x.studyUid).sort();

describe('FHIR R4 API', () => {
  it('states what it supports in its CapabilityStatement', async () => {
    const cs = (await get('metadata')) as CapabilityStatement;
    const rest = cs.rest![0]!;
    expect(rest.resource!.map((r) => r.type)).toEqual(['ImagingStudy', 'Patient', 'ServiceRequest', 'Endpoint']);
    expect(rest.resource![0]!.searchParam!.map((p) => p.name)).toEqual(
      expect.arrayContaining(['identifier', 'patient', 'subject', 'patient.identifier', 'patient:identifier', 'started', 'modality', 'status', 'basedon', 'basedon:identifier', 'endpoint']),
    );
    expect(rest.resource![0]!.searchParam!.find((p) => p.name === 'basedon')).toMatchObject({ type: 'reference' });
    expect(rest.resource![0]!.searchInclude).toEqual(['ImagingStudy:endpoint']);
    const serviceRequest = rest.resource!.find((r) => r.type === 'ServiceRequest')!;
    expect(serviceRequest.interaction).toEqual([{ code: 'read' }, { code: 'search-type' }]);
    expect(serviceRequest.searchParam!.map((p) => [p.name, p.type])).toEqual([
      ['_id', 'token'],
      ['identifier', 'token'],
      ['patient', 'reference'],
      ['subject', 'reference'],
      ['status', 'token'],
    ]);
    expect(serviceRequest.searchInclude).toBeUndefined();
    // Exactly what is served: every listed parameter is accepted (200), an unlisted one is refused (400).
    const sample: Record<string, string> = { started: '2024', birthdate: '1980', basedon: 'ServiceRequest/1', endpoint: 'Endpoint/wado-rs', gender: 'male' };
    for (const r of rest.resource!.filter((x) => x.searchParam)) {
      for (const param of r.searchParam!) {
        const value = r.type === 'ServiceRequest' && param.name === 'status' ? 'active' : r.type === 'ImagingStudy' && param.name === 'status' ? 'available' : (sample[param.name] ?? (param.type === 'reference' ? 'Patient/r1' : 'x'));
        expect({ search: `${r.type}?${param.name}`, type: (await get(`${r.type}?${param.name}=${encodeURIComponent(value)}`)).resourceType }).toEqual({ search: `${r.type}?${param.name}`, type: 'Bundle' });
      }
    }
    expect((await fails('ServiceRequest?requester=Practitioner/1')).status).toBe(400);
    expect((await fails('ServiceRequest?basedon=ServiceRequest/1')).status).toBe(400);
  });

  it('reads an order as a ServiceRequest: identifiers, request-status, intent, subject, code, scheduled start', async () => {
    const sr = (await get(`ServiceRequest/${orders['ACC-1']}`)) as ServiceRequest;
    const type = (code: string) => ({ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v2-0203', code }] });
    expect(sr).toMatchObject({
      resourceType: 'ServiceRequest',
      id: orders['ACC-1'],
      status: 'active',
      intent: 'order',
      subject: { reference: `Patient/${regA}` },
      code: { coding: [{ code: 'CTCHEST', display: 'CT chest without contrast' }], text: 'CT chest without contrast' },
      occurrenceDateTime: '2024-11-20',
    });
    expect(sr.identifier).toEqual([
      { type: type('ACSN'), value: 'ACC-1' },
      { type: type('PLAC'), system: 'urn:vna:issuer:RIS', value: 'PL-ACC-1' },
      { type: type('FILL'), system: 'urn:vna:issuer:VNA', value: 'FI-ACC-1' },
    ]);
    // An order of a patient the archive has no record of names the patient by identifier.
    expect(((await get(`ServiceRequest/${orders['ORD-X']}`)) as ServiceRequest).subject).toEqual({ type: 'Patient', identifier: { system: 'urn:vna:issuer:ELSEWHERE', value: 'NOPE-1' } });
    expect(await fails('ServiceRequest/999999999')).toMatchObject({ status: 404, outcome: { issue: [{ code: 'not-found' }] } });
    expect((await fails('ServiceRequest/not-an-order')).status).toBe(404);
  });

  it('maps the order states to request-status: scheduled and in progress active, completed, cancelled and discontinued revoked', async () => {
    const status = async (accession: string): Promise<string | undefined> => ((await get(`ServiceRequest/${orders[accession]}`)) as ServiceRequest).status;
    const stored = (await h.db.query(`SELECT accession_number, status FROM imaging_order WHERE accession_number LIKE 'ORD-%' ORDER BY accession_number`)) as { accession_number: string; status: string }[];
    expect(stored.map((r) => `${r.accession_number}:${r.status}`)).toEqual(['ORD-CA:cancelled', 'ORD-CM:completed', 'ORD-DC:discontinued', 'ORD-IP:in-progress', 'ORD-X:scheduled']);
    expect([await status('ORD-X'), await status('ORD-IP'), await status('ORD-CM'), await status('ORD-CA'), await status('ORD-DC')]).toEqual(['active', 'active', 'completed', 'revoked', 'revoked']);
  });

  it('searches ServiceRequest by identifier (accession, placer, filler; with the issuer as system), patient, subject, status, _id; pages', async () => {
    const ids = async (path: string): Promise<string[]> => (((await get(path)) as Bundle).entry ?? []).map((e) => e.resource!.id!).sort();
    const of = (...accessions: string[]): string[] => accessions.map((a) => orders[a]!).sort();
    expect(await ids('ServiceRequest?identifier=ACC-1')).toEqual(of('ACC-1'));
    expect(await ids('ServiceRequest?identifier=PL-ORD-IP')).toEqual(of('ORD-IP'));
    expect(await ids(`ServiceRequest?identifier=${encodeURIComponent('urn:vna:issuer:VNA|FI-ORD-CM')}`)).toEqual(of('ORD-CM'));
    expect(await ids(`ServiceRequest?identifier=${encodeURIComponent('urn:vna:issuer:OTHER|FI-ORD-CM')}`)).toEqual([]);
    expect(await ids('ServiceRequest?identifier=ACC-1,ORD-X')).toEqual(of('ACC-1', 'ORD-X'));
    expect(await ids('ServiceRequest?identifier=NOPE')).toEqual([]);
    expect(await ids(`ServiceRequest?patient=Patient/${regA}`)).toEqual(of('ACC-1'));
    expect(await ids(`ServiceRequest?subject=${regB}`)).toEqual(of('ORD-IP', 'ORD-CM', 'ORD-CA', 'ORD-DC'));
    expect(await ids(`ServiceRequest?patient=${regB}&status=revoked`)).toEqual(of('ORD-CA', 'ORD-DC'));
    expect(await ids('ServiceRequest?status=active')).toEqual(of('ACC-1', 'ORD-IP', 'ORD-X'));
    expect(await ids('ServiceRequest?status=completed,draft')).toEqual(of('ORD-CM'));
    expect(await ids('ServiceRequest?patient=Patient/r999999')).toEqual([]);
    expect(await ids(`ServiceRequest?_id=${orders['ORD-CM']},nope`)).toEqual(of('ORD-CM'));
    const first = (await get('ServiceRequest?_count=4')) as Bundle;
    expect(first).toMatchObject({ type: 'searchset', total: 6 });
    expect(first.entry).toHaveLength(4);
    const second = (await get(first.link!.find((l) => l.relation === 'next')!.url.slice(BASE.length + 1))) as Bundle;
    expect([...first.entry!, ...second.entry!].map((e) => e.resource!.id).sort()).toEqual(Object.values(orders).sort());
    expect((await fails('ServiceRequest?status=bogus')).status).toBe(400);
    expect((await fails('ServiceRequest?identifier=x&_include=ServiceRequest:subject')).status).toBe(400);
  });

  it('links ImagingStudy.basedOn to the ServiceRequest (reference and identifier) and searches basedon by reference', async () => {
    const study = (await get(`ImagingStudy/${s1.studyUid}`)) as ImagingStudy;
    expect(study.basedOn).toEqual([
      { reference: `ServiceRequest/${orders['ACC-1']}`, type: 'ServiceRequest', identifier: { type: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v2-0203', code: 'ACSN' }] }, value: 'ACC-1' } },
    ]);
    expect(((await get(`ImagingStudy/${s2.studyUid}`)) as ImagingStudy).basedOn).toBeUndefined();
    const id = orders['ACC-1']!;
    // Three ways to name the order: Type/id, the id alone, an absolute URL.
    expect(await studyUids(`ImagingStudy?basedon=ServiceRequest/${id}`)).toEqual([s1.studyUid]);
    expect(await studyUids(`ImagingStudy?basedon=${id}`)).toEqual([s1.studyUid]);
    expect(await studyUids(`ImagingStudy?basedon=${encodeURIComponent(`${BASE}/ServiceRequest/${id}`)}`)).toEqual([s1.studyUid]);
    expect(await studyUids(`ImagingStudy?basedon=ServiceRequest/${orders['ORD-CM']},ServiceRequest/${id}`)).toEqual([s1.studyUid]);
    expect(await studyUids(`ImagingStudy?basedon=ServiceRequest/${id}&patient=${regA}`)).toEqual([s1.studyUid]);
    // Studies without an order (s2, s3), orders without a study, unknown ids, other types: no match.
    expect(await studyUids(`ImagingStudy?basedon=ServiceRequest/${orders['ORD-CM']}`)).toEqual([]);
    expect(await studyUids(`ImagingStudy?basedon=ServiceRequest/${id}&identifier=ACC-2`)).toEqual([]);
    expect(await studyUids('ImagingStudy?basedon=ServiceRequest/999999999')).toEqual([]);
    expect(await studyUids('ImagingStudy?basedon=ServiceRequest/not-an-order')).toEqual([]);
    expect(await studyUids(`ImagingStudy?basedon=Patient/${id}`)).toEqual([]);
    // A value that is no reference at all is refused, as for patient and subject.
    expect(await fails(`ImagingStudy?basedon=${encodeURIComponent('ServiceRequest/a b')}`)).toMatchObject({ status: 400, outcome: { issue: [{ code: 'invalid' }] } });
    expect((await fails(`ImagingStudy?patient=${encodeURIComponent('Patient/a b')}`)).status).toBe(400);
    expect((await fails('ImagingStudy?basedon=')).status).toBe(400);
  });

  it('reads an ImagingStudy by its Study Instance UID, subject the registry patient, endpoint the WADO-RS Endpoint', async () => {
    const study = (await get(`ImagingStudy/${s1.studyUid}`)) as ImagingStudy;
    expect(study).toMatchObject({ id: s1.studyUid, status: 'available', subject: { reference: `Patient/${regA}` }, endpoint: [{ reference: 'Endpoint/wado-rs' }], numberOfInstances: 1 });
    expect(study.identifier).toEqual(expect.arrayContaining([{ system: 'urn:dicom:uid', value: `urn:oid:${s1.studyUid}` }, expect.objectContaining({ value: 'ACC-1' })]));
    expect(await get('Endpoint/wado-rs')).toMatchObject({ address: 'https://vna.example/dicomweb', connectionType: { code: 'dicom-wado-rs' } });
  });

  it('searches ImagingStudy by identifier: the study UID (with or without urn:oid, with the system) and the accession number', async () => {
    expect(await studyUids(`ImagingStudy?identifier=${encodeURIComponent(`urn:dicom:uid|urn:oid:${s1.studyUid}`)}`)).toEqual([s1.studyUid]);
    expect(await studyUids(`ImagingStudy?identifier=${s2.studyUid}`)).toEqual([s2.studyUid]);
    expect(await studyUids('ImagingStudy?identifier=ACC-2')).toEqual([s2.studyUid]);
    expect(await studyUids('ImagingStudy?identifier=ACC-1,ACC-2')).toEqual(sorted(s1, s2));
    expect(await studyUids('ImagingStudy?identifier=NOPE')).toEqual([]);
  });

  it('searches by patient, subject and the patient\'s identifier (chained and :identifier)', async () => {
    expect(await studyUids(`ImagingStudy?patient=Patient/${regA}`)).toEqual([s1.studyUid]);
    expect(await studyUids(`ImagingStudy?subject=${regB}`)).toEqual([s2.studyUid]);
    expect(await studyUids('ImagingStudy?patient.identifier=FA-1')).toEqual([s1.studyUid]);
    expect(await studyUids(`ImagingStudy?patient:identifier=${encodeURIComponent('urn:vna:issuer:HOSP|FB-1')}`)).toEqual([s2.studyUid]);
    expect(await studyUids(`ImagingStudy?patient:identifier=${encodeURIComponent('urn:vna:issuer:OTHER|FB-1')}`)).toEqual([]);
    const [unknown] = (await studyUids(`ImagingStudy?patient.identifier=UNK-9`)) as string[];
    expect(unknown).toBe(s3.studyUid);
  });

  it('searches by started with prefixes and partial dates, modality, status and endpoint', async () => {
    expect(await studyUids('ImagingStudy?started=ge2024-01-01')).toEqual(sorted(s1, s2));
    expect(await studyUids('ImagingStudy?started=lt2024')).toEqual([s3.studyUid]);
    expect(await studyUids('ImagingStudy?started=2024-03')).toEqual([s2.studyUid]);
    expect(await studyUids('ImagingStudy?started=ge2024-01-01&started=le2024-01-31')).toEqual([s1.studyUid]);
    expect(await studyUids('ImagingStudy?started=sa2024-01-10')).toEqual([s2.studyUid]);
    expect(await studyUids('ImagingStudy?started=eb2024-01-10')).toEqual([s3.studyUid]);
    expect(await studyUids('ImagingStudy?started=ne2024-01-10')).toEqual(sorted(s2, s3));
    expect(await studyUids('ImagingStudy?modality=MR')).toEqual([s3.studyUid]);
    expect(await studyUids(`ImagingStudy?modality=${encodeURIComponent('http://dicom.nema.org/resources/ontology/DCM|CT')}`)).toEqual(sorted(s1, s2));
    expect(await studyUids('ImagingStudy?status=available')).toEqual(sorted(s1, s2, s3));
    expect(await studyUids('ImagingStudy?status=entered-in-error')).toEqual([]);
    expect(await studyUids('ImagingStudy?endpoint=Endpoint/wado-rs')).toEqual(sorted(s1, s2, s3));
    expect(await studyUids('ImagingStudy?endpoint=Endpoint/other')).toEqual([]);
    expect(await studyUids('ImagingStudy?basedon:identifier=ACC-1')).toEqual([s1.studyUid]);
  });

  it('pages with _count and next/previous links, and includes the Endpoint once', async () => {
    const first = (await get('ImagingStudy?_count=2')) as Bundle;
    expect(first).toMatchObject({ type: 'searchset', total: 3 });
    expect(first.entry).toHaveLength(2);
    const next = first.link!.find((l) => l.relation === 'next')!.url;
    expect(next).toMatch(/^https:\/\/vna\.example\/fhir\/R4\/ImagingStudy\?/);
    expect(first.link!.some((l) => l.relation === 'previous')).toBe(false);
    const second = (await get(next.slice(BASE.length + 1))) as Bundle;
    expect(second.entry).toHaveLength(1);
    expect(second.link!.find((l) => l.relation === 'previous')).toBeDefined();
    expect(second.link!.find((l) => l.relation === 'next')).toBeUndefined();
    const seen = [...first.entry!, ...second.entry!].map((e) => e.resource!.id).sort();
    expect(seen).toEqual(sorted(s1, s2, s3));
    // Newest first; the total on every page: the last one, an exactly full one, one past the end.
    expect(first.entry!.map((e) => e.resource!.id)).toEqual([s2.studyUid, s1.studyUid]);
    expect(second.total).toBe(3);
    expect(((await get('ImagingStudy?_count=3')) as Bundle).total).toBe(3);
    expect(((await get('ImagingStudy?_count=2&_offset=3')) as Bundle).total).toBe(3);
    const past = (await get('ImagingStudy?_count=2&_offset=5')) as Bundle;
    expect(past.total).toBe(3);
    expect(past.entry ?? []).toHaveLength(0);
    expect(((await get('ImagingStudy?modality=MR&_offset=1')) as Bundle).total).toBe(1);
    const included = (await get('ImagingStudy?_include=ImagingStudy:endpoint')) as Bundle;
    expect(included.entry!.filter((e) => e.search?.mode === 'include').map((e) => e.resource!.resourceType)).toEqual(['Endpoint']);
    expect(included.entry!.filter((e) => e.search?.mode === 'match')).toHaveLength(3);
  });

  it('answers errors as OperationOutcome: unknown parameter, bad values, unknown ids and types, writes', async () => {
    expect(await fails('ImagingStudy?foo=bar')).toMatchObject({ status: 400, outcome: { issue: [{ code: 'invalid' }] } });
    expect((await fails('ImagingStudy?started=2024-13-01')).status).toBe(400);
    expect((await fails('ImagingStudy?_count=0')).status).toBe(400);
    expect((await fails('ImagingStudy?status=bogus')).status).toBe(400);
    expect((await fails('ImagingStudy?_include=ImagingStudy:subject')).status).toBe(400);
    expect((await fails('Patient?gender=robot')).status).toBe(400);
    expect(await fails('ImagingStudy/1.2.3.4')).toMatchObject({ status: 404, outcome: { issue: [{ code: 'not-found' }] } });
    expect((await fails('Patient/r999999')).status).toBe(404);
    expect((await fails('Endpoint/other')).status).toBe(404);
    expect(await fails('Observation')).toMatchObject({ status: 400, outcome: { issue: [{ code: 'not-supported' }] } });
    expect((await fails('ImagingStudy', 'POST')).outcome.issue[0]!.code).toBe('not-supported');
  });

  it('searches Patient by identifier, name, family, given, birthdate and gender', async () => {
    const ids = async (path: string): Promise<string[]> => ((await get(path)) as Bundle).entry!.map((e) => e.resource!.id!).sort();
    expect(await ids('Patient?identifier=FA-1')).toEqual([regA]);
    expect(await ids(`Patient?identifier=${encodeURIComponent('urn:vna:issuer:HOSP|FB-1')}`)).toEqual([regB]);
    expect(await ids('Patient?name=alp')).toEqual([regA]);
    expect(await ids('Patient?name=bob')).toEqual([regB]);
    expect(await ids('Patient?family=Beta')).toEqual([regB]);
    expect(await ids('Patient?given=Anna')).toEqual([regA]);
    expect(await ids('Patient?birthdate=1980-01-01')).toEqual([regA]);
    expect(await ids('Patient?birthdate=ge1985')).toEqual([regB]);
    expect(await ids('Patient?gender=male')).toEqual([regB]);
    const unknown = await ids('Patient?identifier=UNK-9');
    expect(unknown).toHaveLength(1);
    expect(unknown[0]).toMatch(/^p\d+$/);
    const patient = (await get(`Patient/${regA}`)) as Patient;
    expect(patient).toMatchObject({ active: true, gender: 'female', birthDate: '1980-01-01', name: [{ family: 'Alpha', given: ['Anna'] }] });
  });

  it('follows a merge: the merged patient links to the survivor, its studies have the survivor as subject', async () => {
    expect((await send(h, adt('A40', ['PID|1||FA-1^^^HOSP^MR||Alpha^Anna', 'MRG|FB-1^^^HOSP^MR']))).code).toBe('AA');
    const merged = (await get(`Patient/${regB}`)) as Patient;
    expect(merged).toMatchObject({ active: false, link: [{ other: { reference: `Patient/${regA}` }, type: 'replaced-by' }] });
    const survivor = (await get(`Patient/${regA}`)) as Patient;
    expect(survivor.link).toEqual([{ other: { reference: `Patient/${regB}` }, type: 'replaces' }]);
    expect(((await get(`ImagingStudy/${s2.studyUid}`)) as ImagingStudy).subject).toEqual({ reference: `Patient/${regA}` });
    expect(await studyUids(`ImagingStudy?patient=${regA}`)).toEqual(sorted(s1, s2));
    expect(await studyUids('ImagingStudy?patient.identifier=FB-1')).toEqual(sorted(s1, s2));
    // The orders placed for the merged patient: the survivor is their subject, and finds them.
    expect(((await get(`ServiceRequest/${orders['ORD-IP']}`)) as ServiceRequest).subject).toEqual({ reference: `Patient/${regA}` });
    const ids = (((await get(`ServiceRequest?patient=${regA}`)) as Bundle).entry ?? []).map((e) => e.resource!.id!).sort();
    expect(ids).toEqual(['ACC-1', 'ORD-IP', 'ORD-CM', 'ORD-CA', 'ORD-DC'].map((a) => orders[a]!).sort());
    expect(((await get(`ServiceRequest?patient=${regB}`)) as Bundle).total).toBe(0);
  });

  it('matches name, family and given at the start of a part, ignoring case and accents, for registry and index patients; :exact as it is', async () => {
    // A registry patient (ADT) and a patient only the index knows (a study), both with accents and a middle name.
    expect((await send(h, adt('A01', ['PID|1||FN-1^^^HOSP^MR||Núñez^José^María']))).code).toBe('AA');
    const sop = uid();
    await storeDataset(
      h.ingest,
      imageDataset({
        studyUid: uid(),
        seriesUid: uid(),
        sopInstanceUid: sop,
        extra: [
          { tag: Tag.PatientID, vr: 'LO', value: 'UNK-Z' },
          { tag: Tag.IssuerOfPatientID, vr: 'LO', value: 'HOSP' },
          { tag: Tag.PatientName, vr: 'PN', value: 'Müller^Zoë^Inès' },
        ],
      }),
      { sopInstanceUid: sop },
    );
    const regN = `r${((await h.db.query(`SELECT registry_patient_fk::text AS id FROM registry_identifier WHERE patient_id = 'FN-1'`)) as { id: string }[])[0]!.id}`;
    const idxZ = ((await get('Patient?identifier=UNK-Z')) as Bundle).entry?.[0]?.resource?.id ?? '';
    expect(idxZ).toMatch(/^p\d+$/);
    const ids = async (path: string): Promise<string[]> => (((await get(path)) as Bundle).entry ?? []).map((e) => e.resource!.id!).sort();
    // Family, given and middle name, each from its start; case and accents folded on both sides.
    for (const q of ['name=nunez', 'name=NÚÑ', 'name=jose', 'name=maria', 'name=Núñez^J', 'family=nun', 'given=JOSÉ', 'given=mar']) expect({ q, ids: await ids(`Patient?${q}`) }).toEqual({ q, ids: [regN] });
    for (const q of ['name=muller', 'name=MÜLLER', 'name=zoe', 'name=INES', 'family=mül', 'given=Zoe', 'given=ine']) expect({ q, ids: await ids(`Patient?${q}`) }).toEqual({ q, ids: [idxZ] });
    // Not the middle of a part, not a family name with a '^', not the given name as family.
    for (const q of ['name=ller', 'name=unez', 'family=jose', 'family=Müller^Zoë', 'given=muller', 'given=Müller^Zoë']) expect({ q, ids: await ids(`Patient?${q}`) }).toEqual({ q, ids: [] });
    // Several values are ORed; repeated parameters ANDed.
    expect(await ids(`Patient?name=${encodeURIComponent('nunez,zoe')}`)).toEqual([regN, idxZ].sort());
    expect(await ids('Patient?family=muller&given=zoe')).toEqual([idxZ]);
    expect(await ids('Patient?family=muller&given=jose')).toEqual([]);
    // :exact compares the name as it is (case and accents count): the whole name with its parts separated by spaces.
    expect(await ids(`Patient?name:exact=${encodeURIComponent('Núñez José María')}`)).toEqual([regN]);
    expect(await ids(`Patient?name:exact=${encodeURIComponent('Nunez Jose Maria')}`)).toEqual([]);
    expect(await ids(`Patient?family:exact=${encodeURIComponent('Müller')}`)).toEqual([idxZ]);
    expect(await ids('Patient?family:exact=Muller')).toEqual([]);
    expect(await ids('Patient?family:exact=Mü')).toEqual([]);
    expect(await ids(`Patient?given:exact=${encodeURIComponent('María')}`)).toEqual([regN]);
    expect(await ids('Patient?given:exact=maría')).toEqual([]);
    // Modifiers other than :exact on the name parameters, and :exact elsewhere, are refused.
    for (const q of ['name:contains=ll', 'family:missing=true', 'birthdate:exact=1980', 'gender:exact=male']) {
      expect({ q, status: (await fails(`Patient?${q}`)).status }).toEqual({ q, status: 400 });
    }
  });

  it('searches names through the folded name indexes of both patient tables, also in a generic plan of the prepared statement', async () => {
    // The statement the API runs, planned as a prepared statement's generic plan (no values known):
    // each name part must be an index range scan (the query's expressions match the indexes').
    const runner = (search as unknown as { db: SqlRunner }).db;
    const spy = jest.spyOn(runner, 'query');
    let calls: unknown[][] = [];
    try {
      await get('Patient?name=nunez');
      calls = [...spy.mock.calls];
    } finally {
      spy.mockRestore();
    }
    const [text, values] = calls[0] as [string, unknown[]];
    expect(text).toMatch(/search_fold/);
    const literals = values.map((v) => (typeof v === 'number' ? String(v) : `'${String(v).replace(/'/g, "''")}'`)).join(', ');
    const plan = await withTransaction(h.db, async (sql) => {
      await sql.query(`SET LOCAL plan_cache_mode = force_generic_plan`);
      await sql.query(`SET LOCAL enable_seqscan = off`);
      await sql.query(`PREPARE fhir_name_plan AS ${text}`);
      try {
        return JSON.stringify(await sql.query(`EXPLAIN (FORMAT JSON) EXECUTE fhir_name_plan(${literals})`));
      } finally {
        await sql.query(`DEALLOCATE fhir_name_plan`);
      }
    });
    const indexes = [...plan.matchAll(/"Index Name":"([a-z_]+)"/g)].map((m) => m[1]);
    for (const table of ['patient', 'registry_patient']) {
      for (const part of ['name', 'given', 'middle']) expect(indexes).toContain(`${table}_${part}_fold`);
    }
  });
});
