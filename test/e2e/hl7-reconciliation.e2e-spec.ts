import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { datasetToJson, type DicomJson, lookupTransferSyntax, readPart10Prefix, readWholeDataset, Tag } from '#vna/dicom';
import { RunningArchive } from '../support/archive-process.js';
import { dcmtk } from '../support/dcmtk.js';
import { fixtureJson, multipartBodies, writeFixture } from '../support/fixtures.js';
import { type Ack, hl7, MllpClient } from '../support/mllp.js';

/**
 * IHE SWF.b and PIR end to end, over a real MLLP socket and dcmtk against the running archive: a
 * patient admitted and updated, an order on the worklist, a study with the order's accession and a
 * misspelled name shown with the registry's name, a merge that every way out follows, the unmerge
 * restoring what was, and a study of an unknown patient opening a reconciliation task.
 */

const STUDY_UID = '1.2.826.0.1.3680043.10.1434.700.901';
const PRIOR_STUDY_UID = '1.2.826.0.1.3680043.10.1434.700.902';

function msh(type: string, controlId: string): string {
  return `MSH|^~\\&|RIS|NORTHSIDE|VNA|NORTHSIDE|20241115083000||${type}|${controlId}|P|2.5.1|||AL|NE||UNICODE UTF-8`;
}

const adt = (trigger: string, controlId: string, pid: string, ...more: string[]): string =>
  hl7(msh(`ADT^${trigger}^${trigger === 'A40' ? 'ADT_A39' : 'ADT_A01'}`, controlId), `EVN|${trigger}|20241115083000`, pid, ...more);

/** A study as a modality writes it: the given patient, accession and study. */
function study(dir: string, name: string, attrs: { patientId: string; patientName: string; accession: string; studyUid: string; n: number }): string {
  const json = fixtureJson('ct-ge-latin1');
  json['00100020'] = { vr: 'LO', Value: [attrs.patientId] };
  json['00100021'] = { vr: 'LO', Value: ['NORTHSIDE'] };
  json['00100010'] = { vr: 'PN', Value: [{ Alphabetic: attrs.patientName }] };
  json['00100030'] = { vr: 'DA', Value: ['19800214'] };
  json['00080050'] = { vr: 'SH', Value: [attrs.accession] };
  json['0020000D'] = { vr: 'UI', Value: [attrs.studyUid] };
  json['0020000E'] = { vr: 'UI', Value: [`${attrs.studyUid}.1`] };
  json['00080018'] = { vr: 'UI', Value: [`${attrs.studyUid}.1.${attrs.n}`] };
  return writeFixture(dir, name, json);
}

function parseObject(file: Buffer): DicomJson {
  const prefix = readPart10Prefix(file, true)!;
  return datasetToJson(readWholeDataset(file.subarray(prefix.datasetOffset), lookupTransferSyntax(prefix.transferSyntaxUid)!));
}

const pn = (json: DicomJson | undefined, tag = '00100010'): string | undefined => (json?.[tag]?.Value?.[0] as { Alphabetic?: string } | undefined)?.Alphabetic;
const str = (json: DicomJson | undefined, tag: string): string | undefined => json?.[tag]?.Value?.[0] as string | undefined;

describe('HL7 reconciliation end to end (SWF.b, PIR)', () => {
  let archive: RunningArchive;
  let client: MllpClient;
  let work: string;

  const send = async (text: string): Promise<Ack> => client.request(text);
  const store = async (path: string): Promise<void> => {
    expect((await dcmtk('storescu', ['-aec', 'VNA', '127.0.0.1', String(archive.dicomPort), path])).code).toBe(0);
  };
  const qido = async (query: string): Promise<DicomJson[]> => {
    const res = await archive.fetch(`/dicomweb/studies?${query}`);
    if (res.status === 204) return [];
    expect(res.status).toBe(200);
    return (await res.json()) as DicomJson[];
  };
  const cfind = async (label: string, model: '-S' | '-P', keys: string[]): Promise<DicomJson[]> => {
    const out = join(work, `find-${label}`);
    mkdirSync(out, { recursive: true });
    const r = await dcmtk('findscu', ['-aec', 'VNA', '-X', '-od', out, '127.0.0.1', String(archive.dicomPort), model, ...keys.flatMap((k) => ['-k', k])]);
    expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: expect.any(String) });
    let files: string[] = [];
    try {
      files = readdirSync(out).sort();
    } catch {
      return [];
    }
    return files.map((f) => parseObject(readFileSync(join(out, f))));
  };
  const worklist = async (label: string, keys: string[]): Promise<DicomJson[]> => {
    const out = join(work, `mwl-${label}`);
    mkdirSync(out, { recursive: true });
    const r = await dcmtk('findscu', ['-aec', 'VNA', '-W', '-X', '-od', out, '127.0.0.1', String(archive.dicomPort), '-k', 'PatientName', '-k', 'PatientID', '-k', 'StudyInstanceUID', ...keys.flatMap((k) => ['-k', k])]);
    expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: expect.any(String) });
    return readdirSync(out).sort().map((f) => parseObject(readFileSync(join(out, f))));
  };
  const wado = async (studyUid: string, n: number): Promise<DicomJson> => {
    const res = await archive.fetch(`/dicomweb/studies/${studyUid}/series/${studyUid}.1/instances/${studyUid}.1.${n}`);
    expect(res.status).toBe(200);
    const [part] = multipartBodies(Buffer.from(await res.arrayBuffer()), res.headers.get('content-type')!);
    return parseObject(part!.body);
  };
  const api = async <T>(path: string, init: RequestInit = {}): Promise<T> => {
    const res = await archive.fetch(path, { ...init, headers: { 'content-type': 'application/json', ...(init.headers ?? {}) } });
    expect({ path, status: res.status }).toEqual({ path, status: 200 });
    return (await res.json()) as T;
  };

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'vna-recon-'));
    archive = await RunningArchive.start({ label: 'recon' });
    client = await MllpClient.connect(archive.hl7Port);
  });

  afterAll(async () => {
    await client?.close().catch(() => undefined);
    await archive?.destroy();
    rmSync(work, { recursive: true, force: true });
  });

  it('admits and updates the patient (A01, A08); a missing PID-3 is refused with nothing applied', async () => {
    expect((await send(adt('A01', 'R-1', 'PID|1||NS100001^^^NORTHSIDE^MR||Testperson^Anna||19800214|F'))).code).toBe('AA');
    expect((await send(adt('A08', 'R-2', 'PID|1||NS100001^^^NORTHSIDE^MR||Testperson-Berg^Anna^Maria||19800214|F'))).code).toBe('AA');
    const refused = await send(adt('A08', 'R-3', 'PID|1||||Nobody^Nameless||19700101|M'));
    expect(refused.code).toMatch(/^A[ER]$/);
    expect(refused.error?.code).toBe('101');
    const patients = await api<{ id: string }[]>('/api/v1/patients');
    expect(patients).toHaveLength(1);
    // Versioned: who, when and which message for each change.
    const detail = await api<{ versions: unknown[] }>(`/api/v1/patients/${patients[0]!.id}`);
    expect(detail.versions).toHaveLength(2);
  });

  it('puts the order on the worklist (ORM NW, findscu -W)', async () => {
    const orm = hl7(
      msh('ORM^O01^ORM_O01', 'R-4'),
      'PID|1||NS100001^^^NORTHSIDE^MR||Testperson-Berg^Anna^Maria||19800214|F',
      'ORC|NW|PLACER-901^RIS|FILLER-901^VNA||SC||^^^20241120090000||20241115110000|||1001^Referrer^Robert',
      'OBR|1|PLACER-901^RIS|FILLER-901^VNA|CTCHEST^CT chest^L||||||||||||1001^Referrer^Robert||ACC-901|RP-901|SPS-901||||CT|||^^^20241120090000',
      `ZDS|${STUDY_UID}^VNA^Application^DICOM`,
    );
    expect((await send(orm)).code).toBe('AA');
    const items = await worklist('ordered', [
      'AccessionNumber=ACC-901',
      'ScheduledProcedureStepSequence[0].Modality=CT',
      'ScheduledProcedureStepSequence[0].ScheduledProcedureStepStartDate=20241120',
    ]);
    expect(items).toHaveLength(1);
    expect(pn(items[0])).toBe('Testperson-Berg^Anna^Maria');
    expect(str(items[0], '00100020')).toBe('NS100001');
    expect(str(items[0], '0020000D')).toBe(STUDY_UID);
  });

  it('shows a study with the order’s accession and a misspelled name under the registry’s name', async () => {
    await store(study(work, 'ordered', { patientId: 'NS100001', patientName: 'Testpreson^Ana', accession: 'ACC-901', studyUid: STUDY_UID, n: 1 }));
    const [row] = await qido(`StudyInstanceUID=${STUDY_UID}`);
    expect(pn(row)).toBe('Testperson-Berg^Anna^Maria');
    expect(await qido('PatientName=Testpreson*')).toEqual([]);
    // Retrieved objects carry the registry's name too; the received value stays on record.
    expect(pn(await wado(STUDY_UID, 1))).toBe('Testperson-Berg^Anna^Maria');
    const db = new pg.Client({ connectionString: archive.databaseUrl });
    await db.connect();
    try {
      const { rows } = await db.query(`SELECT attributes->'00100010' AS name FROM patient WHERE patient_id = 'NS100001'`);
      expect(rows.map((r: { name: unknown }) => r.name)).toEqual([{ vr: 'PN', Value: [{ Alphabetic: 'Testpreson^Ana' }] }]);
    } finally {
      await db.end();
    }
  });

  let mergeId = '';

  it('merges the prior patient into the surviving one (A40): QIDO, C-FIND, WADO and C-GET follow', async () => {
    expect((await send(adt('A04', 'R-5', 'PID|1||NS109999^^^NORTHSIDE^MR||Priorperson^Paul||19700101|M'))).code).toBe('AA');
    const priorOrder = hl7(
      msh('ORM^O01^ORM_O01', 'R-5b'),
      'PID|1||NS109999^^^NORTHSIDE^MR||Priorperson^Paul||19700101|M',
      'ORC|NW|PLACER-905^RIS|FILLER-905^VNA||SC||^^^20241122090000',
      'OBR|1|PLACER-905^RIS|FILLER-905^VNA|MRHEAD^MR head^L||||||||||||||ACC-905|RP-905|SPS-905||||MR|||^^^20241122090000',
      'ZDS|1.2.826.0.1.3680043.10.1434.700.905^VNA^Application^DICOM',
    );
    expect((await send(priorOrder)).code).toBe('AA');
    await store(study(work, 'prior', { patientId: 'NS109999', patientName: 'Priorperson^Paul', accession: 'ACC-902', studyUid: PRIOR_STUDY_UID, n: 1 }));
    expect(pn((await qido(`StudyInstanceUID=${PRIOR_STUDY_UID}`))[0])).toBe('Priorperson^Paul');

    const ack = await send(adt('A40', 'R-6', 'PID|1||NS100001^^^NORTHSIDE^MR||Testperson-Berg^Anna^Maria||19800214|F', 'MRG|NS109999^^^NORTHSIDE^MR'));
    expect(ack.code).toBe('AA');
    const [merge] = await api<{ id: string; status: string }[]>('/api/v1/merges?status=applied');
    expect(merge).toBeDefined();
    mergeId = merge!.id;

    const studies = (await qido('PatientID=NS100001')).map((s) => str(s, '0020000D')).sort();
    expect(studies).toEqual([STUDY_UID, PRIOR_STUDY_UID].sort());
    expect(await qido('PatientID=NS109999')).toEqual([]);

    const found = await cfind('merged', '-S', ['QueryRetrieveLevel=STUDY', 'PatientID=NS100001', 'PatientName', 'StudyInstanceUID']);
    expect(found.map((f) => str(f, '0020000D')).sort()).toEqual([STUDY_UID, PRIOR_STUDY_UID].sort());
    expect(found.map((f) => pn(f))).toEqual(['Testperson-Berg^Anna^Maria', 'Testperson-Berg^Anna^Maria']);
    // At patient level the survivor is one patient with both studies.
    const patients = await cfind('merged-patient', '-P', ['QueryRetrieveLevel=PATIENT', 'PatientID=NS100001', 'PatientName', 'NumberOfPatientRelatedStudies']);
    expect(patients.map((f) => [pn(f), f['00201200']?.Value?.[0]])).toEqual([['Testperson-Berg^Anna^Maria', 2]]);

    const retrieved = await wado(PRIOR_STUDY_UID, 1);
    expect(str(retrieved, '00100020')).toBe('NS100001');
    expect(pn(retrieved)).toBe('Testperson-Berg^Anna^Maria');
    expect(str(retrieved, '00100030')).toBe('19800214');

    // The worklist shows the prior patient's order under the survivor too.
    const [entry] = await worklist('merged', ['AccessionNumber=ACC-905']);
    expect([str(entry, '00100020'), pn(entry)]).toEqual(['NS100001', 'Testperson-Berg^Anna^Maria']);
    expect((await worklist('by-survivor', ['PatientID=NS100001', 'AccessionNumber=ACC-905'])).length).toBe(1);

    const out = join(work, 'got-merged');
    mkdirSync(out, { recursive: true });
    const r = await dcmtk('getscu', ['-S', '-aec', 'VNA', '-od', out, '127.0.0.1', String(archive.dicomPort), '-k', 'QueryRetrieveLevel=STUDY', '-k', `StudyInstanceUID=${PRIOR_STUDY_UID}`]);
    expect(r.code).toBe(0);
    const got = readdirSync(out).map((f) => parseObject(readFileSync(join(out, f))));
    expect(got.map((g) => [str(g, '00100020'), pn(g)])).toEqual([['NS100001', 'Testperson-Berg^Anna^Maria']]);
  });

  it('unmerges exactly (/api/v1/merges/{id}/unmerge)', async () => {
    const undone = await api<{ status: string }>(`/api/v1/merges/${mergeId}/unmerge`, { method: 'POST', body: JSON.stringify({ reason: 'wrong patient merged (e2e)' }) });
    expect(undone.status).toBe('unmerged');
    const [prior] = await qido('PatientID=NS109999');
    expect(str(prior, '0020000D')).toBe(PRIOR_STUDY_UID);
    expect(pn(prior)).toBe('Priorperson^Paul');
    expect((await qido('PatientID=NS100001')).map((s) => str(s, '0020000D'))).toEqual([STUDY_UID]);
    const retrieved = await wado(PRIOR_STUDY_UID, 1);
    expect(str(retrieved, '00100020')).toBe('NS109999');
    expect(pn(retrieved)).toBe('Priorperson^Paul');
    const [entry] = await worklist('unmerged', ['AccessionNumber=ACC-905']);
    expect([str(entry, '00100020'), pn(entry)]).toEqual(['NS109999', 'Priorperson^Paul']);
  });

  it('opens a reconciliation task for a study of a patient the registry does not know', async () => {
    await store(study(work, 'unknown', { patientId: 'NS-UNKNOWN-1', patientName: 'Stranger^Sam', accession: 'ACC-999', studyUid: '1.2.826.0.1.3680043.10.1434.700.903', n: 1 }));
    const tasks = await api<{ kind: string; status: string; studyUid: string | null }[]>('/api/v1/reconciliation-tasks?status=open');
    expect(tasks).toEqual(expect.arrayContaining([expect.objectContaining({ kind: 'unknown-patient', studyUid: '1.2.826.0.1.3680043.10.1434.700.903' })]));
    expect(JSON.stringify(tasks)).not.toContain(STUDY_UID);
  });

  it('lets HIM reassign an unknown patient’s study and undo it (/api/v1/reconciliation-tasks), each decision kept', async () => {
    const studyUid = '1.2.826.0.1.3680043.10.1434.700.903';
    const [task] = await api<{ id: string }[]>(`/api/v1/reconciliation-tasks?status=open&kind=unknown-patient&studyUid=${studyUid}`);
    const post = (path: string, body: unknown) => api<{ status: string; closedBy: string | null; resolution: unknown }>(path, { method: 'POST', body: JSON.stringify(body) });
    const reassigned = await post(`/api/v1/reconciliation-tasks/${task!.id}/reassign`, { reason: 'same patient, typo at the modality (e2e)', patientId: 'NS100001', issuer: 'NORTHSIDE' });
    expect(reassigned).toMatchObject({ status: 'reassigned', closedBy: 'admin' });
    const [moved] = await qido(`StudyInstanceUID=${studyUid}`);
    expect([str(moved, '00100020'), pn(moved)]).toEqual(['NS100001', 'Testperson-Berg^Anna^Maria']);

    // Undone: the reassignment is kept with its undoing, and the question is open again as a new task.
    const undone = await post(`/api/v1/reconciliation-tasks/${task!.id}/undo`, { reason: 'wrong patient after all (e2e)' });
    expect(undone).toMatchObject({ status: 'reassigned', resolution: expect.objectContaining({ undone: expect.objectContaining({ by: 'admin', reason: 'wrong patient after all (e2e)' }) }) });
    const [back] = await qido(`StudyInstanceUID=${studyUid}`);
    expect([str(back, '00100020'), pn(back)]).toEqual(['NS-UNKNOWN-1', 'Stranger^Sam']);
    const open = await api<{ id: string }[]>(`/api/v1/reconciliation-tasks?status=open&kind=unknown-patient&studyUid=${studyUid}`);
    expect(open.map((t) => t.id)).not.toContain(task!.id);
    expect(open).toHaveLength(1);
  });

  it('answers bad requests to the identity API with problem+json and changes nothing', async () => {
    const problem = async (res: Response, status: number): Promise<void> => {
      expect({ status: res.status, type: res.headers.get('content-type') }).toEqual({ status, type: expect.stringMatching(/^application\/problem\+json/) });
    };
    const [task] = await api<{ id: string; status: string }[]>('/api/v1/reconciliation-tasks?status=open&kind=unknown-patient');
    const json = (body: unknown, key?: 'reader' | 'writer' | 'admin') => ({ method: 'POST', body: JSON.stringify(body), headers: { 'content-type': 'application/json' }, ...(key ? { key } : {}) });
    await problem(await archive.fetch(`/api/v1/reconciliation-tasks/${task!.id}/dismiss`, json({ reason: 'not allowed' }, 'reader')), 403);
    await problem(await archive.fetch(`/api/v1/reconciliation-tasks/${task!.id}/dismiss`, { method: 'POST', key: null }), 401);
    await problem(await archive.fetch(`/api/v1/reconciliation-tasks/${task!.id}/dismiss`, json({})), 400);
    await problem(await archive.fetch(`/api/v1/reconciliation-tasks/${task!.id}/reassign`, json({ reason: 'x', patientId: 12345 })), 400);
    await problem(await archive.fetch(`/api/v1/reconciliation-tasks/${task!.id}/reassign`, { method: 'POST', body: '{"reason": ', headers: { 'content-type': 'application/json' } }), 400);
    await problem(await archive.fetch(`/api/v1/reconciliation-tasks/${task!.id}/reassign`, json({ reason: 'x', patientId: 'NOBODY-9' })), 404);
    await problem(await archive.fetch('/api/v1/reconciliation-tasks/999999/dismiss', json({ reason: 'x' })), 404);
    await problem(await archive.fetch('/api/v1/merges?status=bogus'), 400);
    await problem(await archive.fetch('/api/v1/patients/not-a-number'), 404);
    await problem(await archive.fetch(`/api/v1/merges/${mergeId}/unmerge`, json({ reason: 'again' })), 409);
    expect((await api<{ status: string }>(`/api/v1/reconciliation-tasks/${task!.id}`)).status).toBe('open');
    expect((await api<{ status: string }>(`/api/v1/merges/${mergeId}`)).status).toBe('unmerged');
  });

  it('opens a reconciliation task when the order’s patient differs from the header’s', async () => {
    const mismatchUid = '1.2.826.0.1.3680043.10.1434.700.904';
    const orm = hl7(
      msh('ORM^O01^ORM_O01', 'R-7'),
      'PID|1||NS100001^^^NORTHSIDE^MR||Testperson-Berg^Anna^Maria||19800214|F',
      'ORC|NW|PLACER-904^RIS|FILLER-904^VNA||SC||^^^20241121090000',
      'OBR|1|PLACER-904^RIS|FILLER-904^VNA|CTHEAD^CT head^L||||||||||||||ACC-904|RP-904|SPS-904||||CT|||^^^20241121090000',
      `ZDS|${mismatchUid}^VNA^Application^DICOM`,
    );
    expect((await send(orm)).code).toBe('AA');
    await store(study(work, 'mismatch', { patientId: 'NS109999', patientName: 'Priorperson^Paul', accession: 'ACC-904', studyUid: mismatchUid, n: 1 }));
    const tasks = await api<{ kind: string; studyUid: string | null }[]>('/api/v1/reconciliation-tasks?status=open&kind=order-patient-mismatch');
    expect(tasks.map((t) => t.studyUid)).toEqual([mismatchUid]);
  });
});
