import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Tag, tagToHex } from '#vna/dicom';
import {
  type CorrectionsHarness,
  indexSnapshot,
  metadataOf,
  retrieved,
  search,
  startCorrections,
  storeObject,
  type StoredObject,
  value,
} from '../../../test/support/corrections-medium.js';
import { type MediumEnv, mediumEnv, uid } from '../../../test/support/medium.js';
import type { CorrectionActor } from './correction.model.js';
import { CorrectionError } from './corrections.errors.js';

/**
 * Corrections on PostgreSQL through the real ingest, query and retrieve: each recorded, reflected
 * at once by QIDO/C-FIND (one QueryService), WADO-RS metadata and retrieved objects (the egress
 * overlay over untouched stored bytes), and undone exactly (index snapshot-equal).
 */

const HIM: CorrectionActor = { user: 'him.clerk', apiKey: 'console' };

describe('corrections', () => {
  let env: MediumEnv;
  let h: CorrectionsHarness;
  // Study A (patient P-A): series A1 (2 objects), A2 (1); study B (P-A): B1; study C (patient P-C): C1.
  let a1: StoredObject[];
  let a2: StoredObject;
  let b1: StoredObject;
  let c1: StoredObject;
  const A = uid();
  const B = uid();
  const C = uid();

  const patient = (id: string, name: string) => [
    { tag: Tag.PatientID, vr: 'LO', value: id },
    { tag: Tag.PatientName, vr: 'PN', value: name },
  ];

  beforeAll(async () => {
    env = await mediumEnv('corrections');
    h = await startCorrections(env);
    const studyA = [...patient('P-A', 'Alpha^Ann'), { tag: Tag.StudyDescription, vr: 'LO', value: 'CT HEAD' }, { tag: Tag.AccessionNumber, vr: 'SH', value: 'ACC-A' }];
    const s1 = uid();
    a1 = [await storeObject(h, { studyUid: A, seriesUid: s1, extra: studyA }), await storeObject(h, { studyUid: A, seriesUid: s1, extra: studyA })];
    a2 = await storeObject(h, { studyUid: A, seriesUid: uid(), extra: studyA });
    b1 = await storeObject(h, { studyUid: B, seriesUid: uid(), extra: [...patient('P-A', 'Alpha^Ann'), { tag: Tag.StudyDescription, vr: 'LO', value: 'CT CHEST' }, { tag: Tag.AccessionNumber, vr: 'SH', value: 'ACC-B' }] });
    c1 = await storeObject(h, { studyUid: C, seriesUid: uid(), extra: [...patient('P-C', 'Gamma^Gus'), { tag: Tag.StudyDescription, vr: 'LO', value: 'MR KNEE' }] });
  });

  afterAll(async () => {
    await h?.close();
    await env?.cleanup();
  });

  const studyUids = async (keys: Record<number, string>): Promise<string[]> => (await search(h, 'STUDY', keys)).map((m) => String(value(m, Tag.StudyInstanceUID))).sort();

  it('corrects study attributes: recorded, matched and returned by query, laid over retrieved objects, undone exactly', async () => {
    const before = await indexSnapshot(h);
    const originalBytes = (await retrieved(h, a1[0]!.sopInstanceUid)).bytes;
    const c = await h.corrections.updateStudy(A, { StudyDescription: 'CT HEAD W/O', AccessionNumber: 'ACC-A2', StudyDate: '20240131', ReferringPhysicianName: 'Ref^Rita' }, 'wrong order keyed', HIM);
    expect(c).toMatchObject({ kind: 'study-attributes', actor: 'him.clerk', apiKey: 'console', reason: 'wrong order keyed', studyUids: [A], undoneAt: null });

    expect(await studyUids({ [Tag.AccessionNumber]: 'ACC-A2' })).toEqual([A]);
    expect(await studyUids({ [Tag.AccessionNumber]: 'ACC-A' })).toEqual([]);
    expect(await studyUids({ [Tag.StudyDate]: '20240101-20240201' })).toEqual([A]);
    expect(await studyUids({ [Tag.ReferringPhysicianName]: 'REF^R*' })).toEqual([A]);
    const [answer] = await search(h, 'STUDY', { [Tag.StudyInstanceUID]: A });
    expect(value(answer, Tag.StudyDescription)).toBe('CT HEAD W/O');
    // Image level with the instances' own headers read (include all): the index's values still win.
    const images = (await h.query.search({ level: 'IMAGE', keys: new Map([[Tag.StudyInstanceUID, A]]), includeFields: [], includeAll: true, limit: 10, offset: 0, relational: true })).matches;
    expect(images.map((m) => value(m, Tag.AccessionNumber))).toEqual(['ACC-A2', 'ACC-A2', 'ACC-A2']);

    for (const o of [...a1, a2]) {
      const { json } = await retrieved(h, o.sopInstanceUid);
      expect([value(json, Tag.StudyDescription), value(json, Tag.AccessionNumber), value(json, Tag.StudyDate), value(json, Tag.ReferringPhysicianName)]).toEqual([
        'CT HEAD W/O',
        'ACC-A2',
        '20240131',
        'Ref^Rita',
      ]);
      expect(value(json, Tag.PatientID)).toBe('P-A');
    }
    const corrected = (await retrieved(h, a1[0]!.sopInstanceUid)).bytes;
    // Pixel data leaves untouched: the same trailing bytes.
    expect(corrected.subarray(corrected.length - 64).equals(originalBytes.subarray(originalBytes.length - 64))).toBe(true);
    expect((await metadataOf(h, A)).map((m) => value(m, Tag.AccessionNumber))).toEqual(['ACC-A2', 'ACC-A2', 'ACC-A2']);
    // Only rows changed: the stored file is the one received.
    const [row] = (await h.db.query(`SELECT count(*)::int AS n FROM instance i JOIN series se ON se.id = i.series_fk JOIN study st ON st.id = se.study_fk WHERE st.study_uid = $1`, [A])) as { n: number }[];
    expect(row!.n).toBe(3);

    const undone = await h.corrections.undo(c.id, 'corrected the wrong study', { user: 'him.lead', apiKey: 'console' });
    expect(undone).toMatchObject({ undoneBy: 'him.lead', undoReason: 'corrected the wrong study' });
    expect(await indexSnapshot(h)).toEqual(before);
    expect((await retrieved(h, a1[0]!.sopInstanceUid)).bytes.equals(originalBytes)).toBe(true);
    expect(await studyUids({ [Tag.AccessionNumber]: 'ACC-A' })).toEqual([A]);
    await expect(h.corrections.undo(c.id, 'again', HIM)).rejects.toMatchObject({ kind: 'conflict' });
  });

  it('moves a series to another study: query, metadata and retrieved objects follow at once; undo restores exactly', async () => {
    const before = await indexSnapshot(h);
    const c = await h.corrections.moveSeries(a2.seriesUid, { studyUid: B }, 'series belongs to the chest study', HIM);
    expect(c.studyUids).toEqual([A, B]);
    const seriesOfB = (await search(h, 'SERIES', { [Tag.StudyInstanceUID]: B })).map((m) => value(m, Tag.SeriesInstanceUID)).sort();
    expect(seriesOfB).toEqual([a2.seriesUid, b1.seriesUid].sort());
    const [studyA] = await search(h, 'STUDY', { [Tag.StudyInstanceUID]: A }, [Tag.NumberOfStudyRelatedSeries, Tag.NumberOfStudyRelatedInstances]);
    expect([value(studyA, Tag.NumberOfStudyRelatedSeries), value(studyA, Tag.NumberOfStudyRelatedInstances)]).toEqual([1, 2]);
    const { json } = await retrieved(h, a2.sopInstanceUid);
    expect([value(json, Tag.StudyInstanceUID), value(json, Tag.StudyDescription), value(json, Tag.AccessionNumber)]).toEqual([B, 'CT CHEST', 'ACC-B']);
    const meta = await metadataOf(h, B, a2.seriesUid);
    expect([value(meta[0], Tag.StudyInstanceUID), value(meta[0], Tag.AccessionNumber)]).toEqual([B, 'ACC-B']);
    expect(await h.retrieve.exists({ studyUid: A, seriesUid: a2.seriesUid })).toBe(false);

    // A later correction of the target study reaches the moved series too.
    const d = await h.corrections.updateStudy(B, { StudyDescription: 'CT CHEST+ABD' }, 'one exam', HIM);
    expect(value((await retrieved(h, a2.sopInstanceUid)).json, Tag.StudyDescription)).toBe('CT CHEST+ABD');
    // Undo in the wrong order is refused while the later one stands only when it touched the same rows.
    await h.corrections.undo(d.id, 'not one exam', HIM);
    await h.corrections.undo(c.id, 'wrong series', HIM);
    expect(await indexSnapshot(h)).toEqual(before);
    expect(value((await retrieved(h, a2.sopInstanceUid)).json, Tag.StudyInstanceUID)).toBe(A);
  });

  it('moves a series to another patient (a new study of theirs) and back exactly', async () => {
    const before = await indexSnapshot(h);
    const c = await h.corrections.moveSeries(a2.seriesUid, { patient: { patientId: 'P-C' } }, 'wrong patient selected at the modality', HIM);
    const newStudy = String(c.request['studyUid']);
    expect(newStudy).not.toBe(A);
    expect(await studyUids({ [Tag.PatientID]: 'P-C' })).toEqual([C, newStudy].sort());
    const { json } = await retrieved(h, a2.sopInstanceUid);
    expect([value(json, Tag.PatientID), value(json, Tag.PatientName), value(json, Tag.StudyInstanceUID), value(json, Tag.StudyDescription)]).toEqual([
      'P-C',
      'Gamma^Gus',
      newStudy,
      'CT HEAD',
    ]);
    // The patient's current values (as a registry update writes them to the patient row) reach the moved series too.
    await h.db.query(`UPDATE patient SET overlay = $1::jsonb WHERE patient_id = 'P-C' AND issuer = ''`, [JSON.stringify({ '00100010': { vr: 'PN', Value: [{ Alphabetic: 'Gamma^Gustav' }] } })]);
    expect(value((await retrieved(h, a2.sopInstanceUid)).json, Tag.PatientName)).toBe('Gamma^Gustav');
    await h.db.query(`UPDATE patient SET overlay = '{}'::jsonb WHERE patient_id = 'P-C' AND issuer = ''`);
    const [patientC] = await search(h, 'PATIENT', { [Tag.PatientID]: 'P-C' }, [Tag.NumberOfPatientRelatedStudies, Tag.NumberOfPatientRelatedInstances]);
    expect([value(patientC, Tag.NumberOfPatientRelatedStudies), value(patientC, Tag.NumberOfPatientRelatedInstances)]).toEqual([2, 2]);
    await h.corrections.undo(c.id, 'it was right', HIM);
    expect(await indexSnapshot(h)).toEqual(before);
    expect(await studyUids({ [Tag.PatientID]: 'P-C' })).toEqual([C]);
    // Named with its issuer, a patient known under several issuers is found.
    const other = await storeObject(h, { studyUid: uid(), seriesUid: uid(), extra: [...patient('P-C', 'Gamma^Gus'), { tag: Tag.IssuerOfPatientID, vr: 'LO', value: 'HOSP-C' }] });
    const d = await h.corrections.moveSeries(a2.seriesUid, { patient: { patientId: 'P-C', issuer: 'HOSP-C' } }, 'the other hospital', HIM);
    expect(value((await retrieved(h, a2.sopInstanceUid)).json, Tag.IssuerOfPatientID)).toBe('HOSP-C');
    await h.corrections.undo(d.id, 'no', HIM);
    expect(value((await retrieved(h, a2.sopInstanceUid)).json, Tag.IssuerOfPatientID)).toBeUndefined();
    expect(other.studyUid).not.toBe(A);
  });

  it('splits a study (new Study Instance UID) and joins studies; each undone exactly', async () => {
    const before = await indexSnapshot(h);
    const split = await h.corrections.splitStudy(A, [a1[0]!.seriesUid], undefined, 'two exams under one accession', HIM);
    const newStudy = String(split.request['studyUid']);
    expect(await studyUids({ [Tag.PatientID]: 'P-A' })).toEqual([A, B, newStudy].sort());
    expect((await search(h, 'SERIES', { [Tag.StudyInstanceUID]: newStudy })).map((m) => value(m, Tag.SeriesInstanceUID))).toEqual([a1[0]!.seriesUid]);
    expect(value((await retrieved(h, a1[1]!.sopInstanceUid)).json, Tag.StudyInstanceUID)).toBe(newStudy);
    await h.corrections.undo(split.id, 'one exam after all', HIM);
    expect(await indexSnapshot(h)).toEqual(before);

    const join = await h.corrections.joinStudies(A, [B], 'one visit', HIM);
    expect(await studyUids({ [Tag.PatientID]: 'P-A' })).toEqual([A]);
    expect(await h.retrieve.exists({ studyUid: B })).toBe(false);
    const [joined] = await search(h, 'STUDY', { [Tag.StudyInstanceUID]: A }, [Tag.NumberOfStudyRelatedSeries]);
    expect(value(joined, Tag.NumberOfStudyRelatedSeries)).toBe(3);
    const { json } = await retrieved(h, b1.sopInstanceUid);
    expect([value(json, Tag.StudyInstanceUID), value(json, Tag.AccessionNumber)]).toEqual([A, 'ACC-A']);
    await h.corrections.undo(join.id, 'two visits', HIM);
    expect(await indexSnapshot(h)).toEqual(before);
    expect(await studyUids({ [Tag.PatientID]: 'P-A' })).toEqual([A, B].sort());
  });

  it('refuses an undo when the rows were changed again since', async () => {
    const first = await h.corrections.moveSeries(a2.seriesUid, { studyUid: B }, 'step one', HIM);
    const second = await h.corrections.moveSeries(a2.seriesUid, { studyUid: C }, 'step two', HIM);
    await expect(h.corrections.undo(first.id, 'out of order', HIM)).rejects.toMatchObject({ kind: 'conflict' });
    await h.corrections.undo(second.id, 'back', HIM);
    await h.corrections.undo(first.id, 'back', HIM);
    expect(value((await retrieved(h, a2.sopInstanceUid)).json, Tag.StudyInstanceUID)).toBe(A);
  });

  it('lists corrections by study with who, when and why', async () => {
    const list = await h.corrections.list({ studyUid: B, limit: 100, offset: 0 });
    expect(list.length).toBeGreaterThanOrEqual(3);
    expect(list.every((c) => c.studyUids.includes(B) && c.actor !== '' && c.reason !== '' && c.at)).toBe(true);
  });

  it('refuses bad requests with a clear error and changes nothing', async () => {
    for (const issuer of ['HOSP-X', 'HOSP-Y']) {
      await storeObject(h, { studyUid: uid(), seriesUid: uid(), extra: [...patient('P-DUP', 'Dup^Dan'), { tag: Tag.IssuerOfPatientID, vr: 'LO', value: issuer }] });
    }
    const before = await indexSnapshot(h);
    const count = async (): Promise<number> => ((await h.db.query(`SELECT count(*)::int AS n FROM correction`)) as { n: number }[])[0]!.n;
    const recorded = await count();
    const cases: [string, () => Promise<unknown>, string, RegExp][] = [
      ['unknown study', () => h.corrections.updateStudy(uid(), { StudyDescription: 'x' }, 'r', HIM), 'not-found', /no study/],
      ['bad UID', () => h.corrections.updateStudy('not a uid', { StudyDescription: 'x' }, 'r', HIM), 'invalid', /valid UID/],
      ['invalid DA', () => h.corrections.updateStudy(A, { StudyDate: '2024-01-31' }, 'r', HIM), 'invalid', /not a date/],
      ['wrong type', () => h.corrections.updateStudy(A, { AccessionNumber: 42 }, 'r', HIM), 'invalid', /a string/],
      ['not correctable', () => h.corrections.updateStudy(A, { PatientName: 'X' }, 'r', HIM), 'invalid', /cannot be corrected/],
      ['unchanged', () => h.corrections.updateStudy(A, { AccessionNumber: 'ACC-A' }, 'r', HIM), 'invalid', /nothing to correct/],
      ['unknown series', () => h.corrections.moveSeries(uid(), { studyUid: B }, 'r', HIM), 'not-found', /no series/],
      ['unknown target', () => h.corrections.moveSeries(a2.seriesUid, { studyUid: uid() }, 'r', HIM), 'not-found', /no study/],
      ['to itself', () => h.corrections.moveSeries(a2.seriesUid, { studyUid: A }, 'r', HIM), 'invalid', /already in study/],
      ['both targets', () => h.corrections.moveSeries(a2.seriesUid, { studyUid: B, patient: { patientId: 'P-C' } }, 'r', HIM), 'invalid', /either/],
      ['unknown patient', () => h.corrections.moveSeries(a2.seriesUid, { patient: { patientId: 'NOBODY' } }, 'r', HIM), 'not-found', /no patient/],
      ['ambiguous patient', () => h.corrections.moveSeries(a2.seriesUid, { patient: { patientId: 'P-DUP' } }, 'r', HIM), 'invalid', /several issuers/],
      ['unknown issuer', () => h.corrections.moveSeries(a2.seriesUid, { patient: { patientId: 'P-DUP', issuer: 'HOSP-Z' } }, 'r', HIM), 'not-found', /no patient/],
      ['same patient', () => h.corrections.moveSeries(a2.seriesUid, { patient: { patientId: 'P-A' } }, 'r', HIM), 'invalid', /already belongs/],
      ['split all', () => h.corrections.splitStudy(A, [a1[0]!.seriesUid, a2.seriesUid], undefined, 'r', HIM), 'invalid', /at least one/],
      ['split foreign series', () => h.corrections.splitStudy(A, [b1.seriesUid], undefined, 'r', HIM), 'not-found', /not series of study/],
      ['split nothing', () => h.corrections.splitStudy(A, [], undefined, 'r', HIM), 'invalid', /name the series/],
      ['join itself', () => h.corrections.joinStudies(A, [A], 'r', HIM), 'invalid', /itself/],
      ['join across patients', () => h.corrections.joinStudies(A, [C], 'r', HIM), 'invalid', /different patients/],
      ['join unknown', () => h.corrections.joinStudies(A, [uid()], 'r', HIM), 'not-found', /no study/],
      ['undo unknown', () => h.corrections.undo('999999', 'r', HIM), 'not-found', /no correction/],
      ['undo bad id', () => h.corrections.undo('x; drop', 'r', HIM), 'not-found', /no correction/],
    ];
    for (const [what, attempt, kind, message] of cases) {
      const error = await attempt().then(
        () => undefined,
        (e: unknown) => e,
      );
      expect({ what, isCorrectionError: error instanceof CorrectionError, kind: (error as CorrectionError | undefined)?.kind }).toEqual({ what, isCorrectionError: true, kind });
      expect((error as Error).message).toMatch(message);
    }
    expect(await indexSnapshot(h)).toEqual(before);
    expect(await count()).toBe(recorded);
    expect(tagToHex(Tag.StudyInstanceUID)).toBe('0020000D');
  });

  it('refuses to undo a split once objects arrived in the new study (a new series under its UID), changing nothing', async () => {
    const split = await h.corrections.splitStudy(A, [a1[0]!.seriesUid], undefined, 'two exams', HIM);
    const newStudy = String(split.request['studyUid']);
    await storeObject(h, { studyUid: newStudy, seriesUid: uid(), extra: [{ tag: Tag.PatientID, vr: 'LO', value: 'P-A' }] });
    const before = await indexSnapshot(h);
    await expect(h.corrections.undo(split.id, 'one exam', HIM)).rejects.toMatchObject({ kind: 'conflict', message: expect.stringMatching(/holds objects/) });
    expect(await indexSnapshot(h)).toEqual(before);
    expect((await h.corrections.get(split.id)).undoneAt).toBeNull();
  });
});
