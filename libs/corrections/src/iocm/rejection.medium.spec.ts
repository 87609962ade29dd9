import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { IngestError } from '#vna/archive';
import { Tag } from '#vna/dicom';
import {
  type CorrectionsHarness,
  indexSnapshot,
  KOS,
  kosDataset,
  retrieved,
  search,
  startCorrections,
  storeObject,
  type StoredObject,
  value,
} from '../../../../test/support/corrections-medium.js';
import { imageDataset, type MediumEnv, mediumEnv, storeDataset, uid } from '../../../../test/support/medium.js';
import { CorrectionError } from '../corrections.errors.js';

/**
 * IHE IOCM rejection notes through the real ingest on PostgreSQL: a note hides what it rejects from
 * query (QIDO and C-FIND share QueryService, counts included) and retrieve, with the state kept per
 * instance and reason code; a re-send follows VNA_IOCM_RESEND; an admin's revocation shows the
 * instances again; malformed notes are refused and change nothing.
 */

async function storeNote(h: CorrectionsHarness, o: Parameters<typeof kosDataset>[0]) {
  return storeDataset(h.ingest, kosDataset(o), { sopInstanceUid: o.sopInstanceUid, sopClassUid: KOS });
}

async function refusal(p: Promise<unknown>): Promise<IngestError> {
  const e = await p.then(
    () => undefined,
    (x: unknown) => x,
  );
  expect(e).toBeInstanceOf(IngestError);
  return e as IngestError;
}

for (const policy of ['reject', 'restore'] as const) {
  describe(`IOCM rejection notes (VNA_IOCM_RESEND=${policy})`, () => {
    let env: MediumEnv;
    let h: CorrectionsHarness;
    const study = uid();
    const series = uid();
    let objects: StoredObject[];
    const extra = [{ tag: Tag.PatientID, vr: 'LO', value: `IOCM-${policy}` }];

    beforeAll(async () => {
      env = await mediumEnv(`iocm${policy}`, { VNA_IOCM_RESEND: policy });
      h = await startCorrections(env);
      objects = [];
      for (let i = 0; i < 3; i++) objects.push(await storeObject(h, { studyUid: study, seriesUid: series, extra }));
    });

    afterAll(async () => {
      await h?.close();
      await env?.cleanup();
    });

    const imageUids = async (): Promise<string[]> =>
      (await search(h, 'IMAGE', { [Tag.StudyInstanceUID]: study, [Tag.Modality]: 'CT' })).map((m) => String(value(m, Tag.SOPInstanceUID))).sort();

    it('a rejection note hides the instances it references from query and retrieve, keeping the reason', async () => {
      const noteUid = uid();
      const rejected = objects[0]!;
      const result = await storeNote(h, { sopInstanceUid: noteUid, studyUid: study, code: '113001', refs: [rejected] });
      expect(result.outcome).toBe('stored');
      expect(await imageUids()).toEqual([objects[1]!.sopInstanceUid, objects[2]!.sopInstanceUid].sort());
      const [s] = await search(h, 'STUDY', { [Tag.StudyInstanceUID]: study }, [Tag.NumberOfStudyRelatedInstances]);
      // Two images left, and the note itself (stored and retrievable: IOCM consumers read it).
      expect(value(s, Tag.NumberOfStudyRelatedInstances)).toBe(3);
      expect(await h.retrieve.exists({ studyUid: study, seriesUid: series, sopInstanceUid: rejected.sopInstanceUid })).toBe(false);
      expect(await h.retrieve.instancesByUid([rejected.sopInstanceUid])).toEqual([]);
      expect((await h.retrieve.instances({ studyUid: study, seriesUid: series })).map((i) => i.sopInstanceUid)).not.toContain(rejected.sopInstanceUid);
      const [row] = await h.rejections.list({ studyUid: study, limit: 10, offset: 0 });
      expect(row).toMatchObject({ noteSopInstanceUid: noteUid, reasonCode: '113001', reasonMeaning: 'Rejected for Quality Reasons', sopInstanceUid: rejected.sopInstanceUid, state: 'active', rejectedBy: 'MEDIUM' });
      expect(row!.instanceFk).not.toBeNull();
    });

    it(`a re-send of a rejected instance is ${policy === 'reject' ? 'refused' : 'shown again'}`, async () => {
      const rejected = objects[0]!;
      const before = await indexSnapshot(h);
      const again = storeDataset(h.ingest, imageDataset({ studyUid: study, seriesUid: series, sopInstanceUid: rejected.sopInstanceUid, extra }), { sopInstanceUid: rejected.sopInstanceUid });
      if (policy === 'reject') {
        const e = await refusal(again);
        expect(e.code).toBe('REJECTED_INSTANCE');
        expect(e.message).toMatch(/113001/);
        expect(await indexSnapshot(h)).toEqual(before);
        expect(await imageUids()).not.toContain(rejected.sopInstanceUid);
      } else {
        expect((await again).outcome).toBe('duplicate');
        expect(await imageUids()).toContain(rejected.sopInstanceUid);
        const [row] = await h.rejections.list({ studyUid: study, limit: 10, offset: 0 });
        expect(row).toMatchObject({ state: 'restored', endedBy: 'MEDIUM' });
        expect(value((await retrieved(h, rejected.sopInstanceUid)).json, Tag.SOPInstanceUID)).toBe(rejected.sopInstanceUid);
      }
    });

    it('an admin revokes a rejection: the instances are visible again, recorded', async () => {
      const noteUid = uid();
      const target = objects[1]!;
      await storeNote(h, { sopInstanceUid: noteUid, studyUid: study, code: '113037', meaning: 'Rejected for Patient Safety Reasons', refs: [target] });
      expect(await imageUids()).not.toContain(target.sopInstanceUid);
      const result = await h.rejections.revoke(noteUid, 'rejected by mistake', 'pacs.admin');
      expect({ revoked: result.revoked, shown: result.shown }).toEqual({ revoked: 1, shown: 1 });
      expect(result.rejections[0]).toMatchObject({ state: 'revoked', endedBy: 'pacs.admin', endReason: 'rejected by mistake', reasonCode: '113037' });
      expect(await imageUids()).toContain(target.sopInstanceUid);
      expect(await h.retrieve.exists({ studyUid: study, sopInstanceUid: target.sopInstanceUid })).toBe(true);
      await expect(h.rejections.revoke(noteUid, 'twice', 'pacs.admin')).rejects.toMatchObject({ kind: 'conflict' });
      await expect(h.rejections.revoke(uid(), 'unknown', 'pacs.admin')).rejects.toBeInstanceOf(CorrectionError);
    });

    it('a note rejecting a whole study hides the study; 113039 is kept for the lifecycle; unknown instances are recorded and refused when they arrive', async () => {
      const other = uid();
      const otherSeries = uid();
      const objs = [await storeObject(h, { studyUid: other, seriesUid: otherSeries, extra }), await storeObject(h, { studyUid: other, seriesUid: otherSeries, extra })];
      const later: StoredObject = { studyUid: other, seriesUid: otherSeries, sopInstanceUid: uid() };
      // The note goes into a study of its own, as a rejection note may.
      await storeNote(h, { sopInstanceUid: uid(), studyUid: uid(), code: '113039', meaning: 'Data Retention Policy Expired', refs: [...objs, later], patientId: `IOCM-${policy}` });
      expect(await search(h, 'STUDY', { [Tag.StudyInstanceUID]: other })).toEqual([]);
      const [patient] = await search(h, 'PATIENT', { [Tag.PatientID]: `IOCM-${policy}` }, [Tag.NumberOfPatientRelatedStudies]);
      expect(value(patient, Tag.NumberOfPatientRelatedStudies)).toBe(2); // the first study and the note's own
      const expired = await h.rejections.list({ reasonCode: '113039', state: 'active', limit: 10, offset: 0 });
      expect(expired.map((r) => r.sopInstanceUid).sort()).toEqual([...objs, later].map((o) => o.sopInstanceUid).sort());
      expect(expired.find((r) => r.sopInstanceUid === later.sopInstanceUid)?.instanceFk).toBeNull();
      const arrival = storeDataset(h.ingest, imageDataset({ ...later, extra }), { sopInstanceUid: later.sopInstanceUid });
      if (policy === 'reject') expect((await refusal(arrival)).code).toBe('REJECTED_INSTANCE');
      else expect((await arrival).outcome).toBe('stored');
    });

    it('refuses malformed notes with a clear error and changes nothing', async () => {
      const before = await indexSnapshot(h);
      const target = objects[2]!;
      const cases: [string, Parameters<typeof kosDataset>[0], RegExp][] = [
        ['no evidence', { sopInstanceUid: uid(), studyUid: study, code: '113001', refs: [target], evidence: false }, /Evidence Sequence/],
        ['unknown code', { sopInstanceUid: uid(), studyUid: study, code: '113999', refs: [target] }, /unknown Key Object Selection Document Title/],
        ['private scheme', { sopInstanceUid: uid(), studyUid: study, code: '113001', scheme: '99LOCAL', refs: [target] }, /unknown/],
        ['no title', { sopInstanceUid: uid(), studyUid: study, refs: [target] }, /no Document Title/],
      ];
      for (const [what, note, message] of cases) {
        const e = await refusal(storeNote(h, note));
        expect({ what, code: e.code }).toEqual({ what, code: 'INVALID_REJECTION_NOTE' });
        expect(e.message).toMatch(message);
      }
      const self = uid();
      expect((await refusal(storeNote(h, { sopInstanceUid: self, studyUid: study, code: '113001', refs: [{ studyUid: study, seriesUid: series, sopInstanceUid: self }] }))).message).toMatch(/itself/);
      expect(await indexSnapshot(h)).toEqual(before);
      expect(await imageUids()).toContain(target.sopInstanceUid);
      // An ordinary key object note (113000 "Of Interest") is stored and rejects nothing.
      expect((await storeNote(h, { sopInstanceUid: uid(), studyUid: study, code: '113000', meaning: 'Of Interest', refs: [target] })).outcome).toBe('stored');
      expect(await imageUids()).toContain(target.sopInstanceUid);
    });
  });
}
