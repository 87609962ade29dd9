import { RetrieveService } from '#vna/archive';
import { datasetToJson, EXPLICIT_LE, readWholeDataset, Tag, tagToHex, type WriteElement } from '#vna/dicom';
import { Hl7InboundModule, Hl7InboundService } from '#vna/hl7';
import { IdentityModule, MergeService, PatientsService, ReconciliationService } from '#vna/identity';
import { type ArchiveHarness, imageDataset, type MediumEnv, startArchive, storeDataset, uid } from './medium.js';
import { type Ack, hl7, parseAck } from './mllp.js';

/**
 * Medium tests of patient identity (libs/identity): the archive engine, the HL7 inbound flow
 * (without a socket) and IdentityModule as the apps wire them, against the test run's PostgreSQL.
 */
export interface IdentityHarness extends ArchiveHarness {
  readonly inbound: Hl7InboundService;
  readonly merges: MergeService;
  readonly reconciliation: ReconciliationService;
  readonly patients: PatientsService;
}

export async function startIdentity(env: MediumEnv): Promise<IdentityHarness> {
  const archive = await startArchive(env, [Hl7InboundModule, IdentityModule]);
  const { module } = archive;
  return {
    ...archive,
    inbound: module.get(Hl7InboundService),
    merges: module.get(MergeService),
    reconciliation: module.get(ReconciliationService),
    patients: module.get(PatientsService),
  };
}

let controlSeq = 0;

/** A unique MSH-10 for this test process. */
export function controlId(prefix = 'ID'): string {
  controlSeq += 1;
  return `${prefix}-${process.pid}-${controlSeq}`;
}

/**
 * An ADT message from RIS@HOSP: MSH, EVN and the given segments (PID, MRG, PV1...).
 * `event` is the trigger ('A01', 'A40', ...); the message structure follows HL7 2.5.1.
 */
export function adt(event: string, segments: readonly string[], id = controlId(event)): Buffer {
  const structure = ({ A05: 'ADT_A05', A28: 'ADT_A05', A31: 'ADT_A05', A40: 'ADT_A39', A47: 'ADT_A30' } as Record<string, string>)[event] ?? 'ADT_A01';
  const msh = `MSH|^~\\&|RIS|HOSP|VNA|ARCHIVE|20241115083000||ADT^${event}^${structure}|${id}|P|2.5.1|||AL|NE||UNICODE UTF-8`;
  return Buffer.from(hl7(msh, `EVN|${event}|20241115083000`, ...segments), 'utf8');
}

/** Sends a message through the inbound flow (one transaction, then the ACK) and reads the ACK. */
export async function send(h: IdentityHarness, payload: Buffer): Promise<Ack> {
  const answer = await h.inbound.receive({ payload, receivedAt: new Date(), peer: '127.0.0.1:40000' });
  return parseAck(answer.ack.toString('utf8'));
}

export interface StudySpec {
  readonly patientId: string;
  /** IssuerOfPatientID; left out of the header when undefined. */
  readonly issuer?: string;
  readonly name?: string;
  readonly birthDate?: string;
  readonly sex?: string;
  readonly studyUid?: string;
  readonly accession?: string;
}

/** Stores one CT object of a new study (and series) with these patient attributes; returns its UIDs. */
export async function storeStudy(h: IdentityHarness, spec: StudySpec): Promise<{ studyUid: string; seriesUid: string; sopInstanceUid: string }> {
  const studyUid = spec.studyUid ?? uid();
  const seriesUid = uid();
  const sopInstanceUid = uid();
  const extra: WriteElement[] = [
    { tag: Tag.PatientID, vr: 'LO', value: spec.patientId },
    { tag: Tag.PatientName, vr: 'PN', value: spec.name ?? '' },
  ];
  if (spec.issuer !== undefined) extra.push({ tag: Tag.IssuerOfPatientID, vr: 'LO', value: spec.issuer });
  if (spec.birthDate !== undefined) extra.push({ tag: Tag.PatientBirthDate, vr: 'DA', value: spec.birthDate });
  if (spec.sex !== undefined) extra.push({ tag: Tag.PatientSex, vr: 'CS', value: spec.sex });
  if (spec.accession !== undefined) extra.push({ tag: Tag.AccessionNumber, vr: 'SH', value: spec.accession });
  await storeDataset(h.ingest, imageDataset({ studyUid, seriesUid, sopInstanceUid, extra }), { sopInstanceUid });
  return { studyUid, seriesUid, sopInstanceUid };
}

/** The index patient row a study belongs to, with the columns the registry maintains. */
export interface IndexPatient {
  readonly id: string;
  readonly patient_id: string;
  readonly issuer: string;
  readonly current_patient_id: string;
  readonly current_issuer: string;
  readonly name_alphabetic: string;
  readonly birth_date: string | null;
  readonly sex: string | null;
  readonly registry_fk: string | null;
  readonly registry_link: string | null;
  readonly overlay: Record<string, { vr: string; Value?: unknown[] }>;
  readonly attributes: Record<string, { vr: string; Value?: unknown[] }>;
}

export async function indexPatientOfStudy(h: IdentityHarness, studyUid: string): Promise<IndexPatient> {
  const rows = (await h.db.query(
    `SELECT p.id::text AS id, p.patient_id, p.issuer, p.current_patient_id, p.current_issuer, p.name_alphabetic, p.birth_date, p.sex,
            p.registry_fk::text AS registry_fk, p.registry_link, p.overlay, p.attributes
       FROM study st JOIN patient p ON p.id = st.patient_fk WHERE st.study_uid = $1`,
    [studyUid],
  )) as IndexPatient[];
  if (!rows[0]) throw new Error(`no study ${studyUid} in the index`);
  return rows[0];
}

/** The registry record holding an identifier (issuer, id), with its current state. */
export interface RegistryRecord {
  readonly id: string;
  readonly status: string;
  readonly merged_into: string | null;
  readonly name_alphabetic: string;
  readonly birth_date: string | null;
  readonly sex: string | null;
  readonly version: number;
}

export async function registryRecordOf(h: IdentityHarness, patientId: string, issuer: string): Promise<RegistryRecord | undefined> {
  const rows = (await h.db.query(
    `SELECT p.id::text AS id, p.status, p.merged_into::text AS merged_into, p.name_alphabetic, p.birth_date, p.sex, p.version
       FROM registry_identifier i JOIN registry_patient p ON p.id = i.registry_patient_fk WHERE i.patient_id = $1 AND i.issuer = $2`,
    [patientId, issuer],
  )) as RegistryRecord[];
  return rows[0];
}

/** A study-level QIDO/C-FIND search by Study Instance UID: the patient attributes it answers with. */
export async function studyAnswer(h: IdentityHarness, studyUid: string): Promise<{ name?: string; patientId?: string; issuer?: string; birthDate?: string; sex?: string } | undefined> {
  const result = await h.query.search({
    level: 'STUDY',
    keys: new Map([[Tag.StudyInstanceUID, studyUid]]),
    includeFields: [],
    includeAll: false,
    limit: 10,
    offset: 0,
    relational: true,
  });
  const m = result.matches[0];
  if (!m) return undefined;
  const first = (tag: number): unknown => m[tagToHex(tag)]?.Value?.[0];
  const pn = first(Tag.PatientName) as { Alphabetic?: string } | undefined;
  return {
    name: pn?.Alphabetic,
    patientId: first(Tag.PatientID) as string | undefined,
    issuer: first(Tag.IssuerOfPatientID) as string | undefined,
    birthDate: first(Tag.PatientBirthDate) as string | undefined,
    sex: first(Tag.PatientSex) as string | undefined,
  };
}

/** Studies a study-level search by Patient ID (and issuer) finds. */
export async function studiesOfPatient(h: IdentityHarness, patientId: string, issuer?: string): Promise<string[]> {
  const keys = new Map<number, string>([[Tag.PatientID, patientId]]);
  if (issuer !== undefined) keys.set(Tag.IssuerOfPatientID, issuer);
  const result = await h.query.search({ level: 'STUDY', keys, includeFields: [], includeAll: false, limit: 100, offset: 0, relational: true });
  return result.matches.map((m) => m[tagToHex(Tag.StudyInstanceUID)]?.Value?.[0] as string).sort();
}

/**
 * What identity is made of, for "nothing changed" and "restored exactly" checks: every registry
 * record (without its version and times), its identifiers, and every index patient row's
 * maintained columns.
 */
export async function identitySnapshot(h: IdentityHarness): Promise<{ registry: unknown[]; identifiers: unknown[]; rows: unknown[] }> {
  return {
    registry: (await h.db.query(
      `SELECT id::text, status, merged_into::text, name_alphabetic, name_ideographic, name_phonetic, birth_date, sex FROM registry_patient r ORDER BY r.id`,
    )) as unknown[],
    identifiers: (await h.db.query(`SELECT registry_patient_fk::text, patient_id, issuer, type_code, position, status FROM registry_identifier ORDER BY issuer, patient_id`)) as unknown[],
    rows: (await h.db.query(
      `SELECT id::text, patient_id, issuer, registry_fk::text, registry_link, current_patient_id, current_issuer, name_alphabetic, name_ideographic,
              name_phonetic, birth_date, sex, overlay, attributes FROM patient p ORDER BY p.id`,
    )) as unknown[],
  };
}

/** Merges and identifier changes as rows (newest first). */
export async function mergeRows(h: IdentityHarness): Promise<{ id: string; kind: string; status: string; suspicion_code: string | null; task_fk: string | null; prior_patient_id: string; surviving_patient_id: string }[]> {
  return (await h.db.query(
    `SELECT id::text, kind, status, suspicion_code, task_fk::text, prior_patient_id, surviving_patient_id FROM patient_merge m ORDER BY m.id DESC`,
  )) as { id: string; kind: string; status: string; suspicion_code: string | null; task_fk: string | null; prior_patient_id: string; surviving_patient_id: string }[];
}

/** The patient attributes of an object as it is retrieved (C-MOVE/C-GET dataset: the stored bytes with the egress overlay). */
export async function retrievedPatient(h: IdentityHarness, sopInstanceUid: string): Promise<{ name?: string; patientId?: string; issuer?: string; birthDate?: string; sex?: string }> {
  const retrieve = h.module.get(RetrieveService);
  const [instance] = await retrieve.instancesByUid([sopInstanceUid]);
  if (!instance) throw new Error(`no instance ${sopInstanceUid}`);
  const chunks: Buffer[] = [];
  for await (const chunk of await retrieve.openDataset(instance, 'TEST')) chunks.push(chunk as Buffer);
  const json = datasetToJson(readWholeDataset(Buffer.concat(chunks), EXPLICIT_LE));
  const first = (tag: number): unknown => json[tagToHex(tag)]?.Value?.[0];
  return {
    name: (first(Tag.PatientName) as { Alphabetic?: string } | undefined)?.Alphabetic,
    patientId: first(Tag.PatientID) as string | undefined,
    issuer: first(Tag.IssuerOfPatientID) as string | undefined,
    birthDate: first(Tag.PatientBirthDate) as string | undefined,
    sex: first(Tag.PatientSex) as string | undefined,
  };
}
