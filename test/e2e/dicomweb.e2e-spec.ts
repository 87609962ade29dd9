import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type DicomJson, IMPLICIT_LE, Tag } from '#vna/dicom';
import { RunningArchive } from '../support/archive-process.js';
import {
  eventually,
  filesBelow,
  first,
  items,
  qido,
  sql,
  stow,
  syntheticInstance,
  syntheticPixels,
  TEST_UID_ROOT,
  values,
} from '../support/dicomweb.js';
import { datasetBytes, multipartBodies, part10, sha256, transcode } from '../support/fixtures.js';

const R = `${TEST_UID_ROOT}.1`;
const EXPLICIT = '1.2.840.10008.1.2.1';
const IMPLICIT = '1.2.840.10008.1.2';

/** Every HTTP error but a STOW response is application/problem+json (RFC 9457) naming its status. */
async function problem(res: Response): Promise<{ status: number; contentType: string | null; body: unknown }> {
  const text = await res.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // left as text: the assertion on the content type shows it
  }
  return { status: res.status, contentType: res.headers.get('content-type'), body };
}

function expectProblem(p: { status: number; contentType: string | null; body: unknown }, status: number): void {
  expect(p).toEqual({
    status,
    contentType: expect.stringMatching(/^application\/problem\+json/),
    body: expect.objectContaining({ status, title: expect.any(String), detail: expect.any(String) }),
  });
}

/** SOP Instance UID named by a WADO-RS part's Content-Location. */
function partInstance(headers: string): string {
  return /content-location:[^\r\n]*\/instances\/([0-9.]+)/i.exec(headers)?.[1] ?? '';
}

function partType(headers: string): string {
  return /content-type:\s*([^\r\n]*)/i.exec(headers)?.[1]?.trim() ?? '';
}

async function multipart(res: Response): Promise<{ headers: string; body: Buffer }[]> {
  expect(res.status).toBe(200);
  return multipartBodies(Buffer.from(await res.arrayBuffer()), res.headers.get('content-type')!);
}

describe('DICOMweb STOW-RS and WADO-RS against the running archive', () => {
  let archive: RunningArchive;
  let work: string;
  /** SOP Instance UID -> the Part 10 file sent (the last version). */
  const sent = new Map<string, Buffer>();

  // Study 1: two 16x16 images in series 1, an implicit VR object in series 2; study 2: one object.
  const study1 = `${R}.1`;
  const study2 = `${R}.2`;
  const study3 = `${R}.3`;
  const a1 = syntheticInstance({ study: study1, series: `${study1}.1`, sop: `${study1}.1.1`, instanceNumber: 1, patientId: 'PID-W1', patientName: { Alphabetic: 'Wado^Alice' }, image: { rows: 16, columns: 16, seed: 1 } });
  const a2 = syntheticInstance({ study: study1, series: `${study1}.1`, sop: `${study1}.1.2`, instanceNumber: 2, patientId: 'PID-W1', patientName: { Alphabetic: 'Wado^Alice' }, image: { rows: 16, columns: 16, seed: 2 } });
  const a3 = syntheticInstance({ study: study1, series: `${study1}.2`, sop: `${study1}.2.1`, seriesNumber: 2, patientId: 'PID-W1', patientName: { Alphabetic: 'Wado^Alice' }, image: { rows: 8, columns: 8, seed: 3 } });
  const b1 = syntheticInstance({ study: study2, series: `${study2}.1`, sop: `${study2}.1.1`, patientId: 'PID-W2', patientName: { Alphabetic: 'Wado^Bob' } });
  const b2 = syntheticInstance({ study: study2, series: `${study2}.1`, sop: `${study2}.1.2`, instanceNumber: 2, patientId: 'PID-W2' });
  const c1 = syntheticInstance({ study: study3, series: `${study3}.1`, sop: `${study3}.1.1`, patientId: 'PID-W3' });
  const multiFrame = syntheticInstance({ study: `${R}.6`, series: `${R}.6.1`, sop: `${R}.6.1.1`, patientId: 'PID-W6', image: { rows: 4, columns: 5, frames: 3, seed: 7 } });

  const uid = (json: DicomJson, tag: number): string => String(first(json, tag));
  const countInstances = async (): Promise<number> => (await qido(archive, '/dicomweb/instances')).length;

  /** Spool files made since `before` that are still there and that no index row points to. */
  async function leftoverSpoolFiles(before: ReadonlySet<string>): Promise<string[]> {
    const made = filesBelow(join(archive.dataDir, 'spool')).filter((f) => !before.has(f));
    const referenced = new Set(
      (await sql<{ spool_path: string }>(archive, 'SELECT spool_path FROM instance WHERE spool_path IS NOT NULL')).map((r) => r.spool_path),
    );
    return made.filter((f) => !referenced.has(f) && existsSync(f));
  }
  const spoolNow = (): Set<string> => new Set(filesBelow(join(archive.dataDir, 'spool')));

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'vna-dicomweb-'));
    archive = await RunningArchive.start({ label: 'dicomweb' });
  });

  afterAll(async () => {
    await archive?.destroy();
    rmSync(work, { recursive: true, force: true });
  });

  describe('STOW-RS', () => {
    it('stores several instances in one request: 200 with a ReferencedSOPSequence item and RetrieveURL each (PS3.18 10.5.3)', async () => {
      const objects = [a1, a2, b1];
      const answer = await stow(archive, objects.map((o) => part10(o)));
      expect(answer.status).toBe(200);
      expect(answer.contentType).toMatch(/^application\/dicom\+json/);
      expect(values(answer.body, Tag.FailedSOPSequence)).toBeUndefined();
      // Retrieve URL is Type 2 (PS3.18 Table I.1-1): two studies were stored, so it is present and empty.
      expect(answer.body['00081190']).toEqual({ vr: 'UR' });
      const refs = items(answer.body, Tag.ReferencedSOPSequence).map((r) => ({
        classUid: first(r, Tag.ReferencedSOPClassUID),
        instanceUid: first(r, Tag.ReferencedSOPInstanceUID),
        url: first(r, Tag.RetrieveURL),
      }));
      expect(refs).toEqual(
        objects.map((o) => ({
          classUid: uid(o, Tag.SOPClassUID),
          instanceUid: uid(o, Tag.SOPInstanceUID),
          url: `${archive.baseUrl}/dicomweb/studies/${uid(o, Tag.StudyInstanceUID)}/series/${uid(o, Tag.SeriesInstanceUID)}/instances/${uid(o, Tag.SOPInstanceUID)}`,
        })),
      );
      for (const o of objects) sent.set(uid(o, Tag.SOPInstanceUID), part10(o));
      // Acknowledged means queryable at once, and each RetrieveURL serves its instance.
      const found = await qido(archive, `/dicomweb/studies/${study1}/instances`);
      expect(found.map((r) => first(r, Tag.SOPInstanceUID)).sort()).toEqual([uid(a1, Tag.SOPInstanceUID), uid(a2, Tag.SOPInstanceUID)]);
      for (const r of refs) {
        const res = await archive.fetch(String(r.url).slice(archive.baseUrl.length), { key: 'reader' });
        expect((await multipart(res)).map((p) => partInstance(p.headers))).toEqual([r.instanceUid]);
      }
    });

    it('stores into /studies/{uid} and names the study in the answer', async () => {
      // An implicit VR Little Endian file: kept in the transfer syntax it came in.
      const implicit = part10(a3, IMPLICIT_LE, IMPLICIT);
      const answer = await stow(archive, [implicit], { study: study1 });
      expect(answer.status).toBe(200);
      expect(first(answer.body, Tag.RetrieveURL)).toBe(`${archive.baseUrl}/dicomweb/studies/${study1}`);
      expect(items(answer.body, Tag.ReferencedSOPSequence).map((r) => first(r, Tag.ReferencedSOPInstanceUID))).toEqual([uid(a3, Tag.SOPInstanceUID)]);
      sent.set(uid(a3, Tag.SOPInstanceUID), implicit);
    });

    it('refuses an instance of another study under /studies/{uid}: 409 when nothing is stored, 202 when some is', async () => {
      const none = await stow(archive, [part10(b2)], { study: study3 });
      expect(none.status).toBe(409);
      expect(none.contentType).toMatch(/^application\/dicom\+json/);
      expect(values(none.body, Tag.ReferencedSOPSequence)).toBeUndefined();
      const failure = (f: DicomJson) => ({ classUid: first(f, Tag.ReferencedSOPClassUID), instanceUid: first(f, Tag.ReferencedSOPInstanceUID), reason: first(f, Tag.FailureReason) });
      // 0xA900: the data set does not match what the request asked to store (PS3.18 Annex I.2.2).
      const b2Failure = { classUid: uid(b2, Tag.SOPClassUID), instanceUid: uid(b2, Tag.SOPInstanceUID), reason: 0xa900 };
      expect(items(none.body, Tag.FailedSOPSequence).map(failure)).toEqual([b2Failure]);

      const mixed = await stow(archive, [part10(c1), part10(b2)], { study: study3 });
      expect(mixed.status).toBe(202);
      expect(items(mixed.body, Tag.ReferencedSOPSequence).map((r) => first(r, Tag.ReferencedSOPInstanceUID))).toEqual([uid(c1, Tag.SOPInstanceUID)]);
      expect(items(mixed.body, Tag.FailedSOPSequence).map(failure)).toEqual([b2Failure]);
      sent.set(uid(c1, Tag.SOPInstanceUID), part10(c1));
      expect(await qido(archive, `/dicomweb/instances?SOPInstanceUID=${uid(b2, Tag.SOPInstanceUID)}`)).toEqual([]);
    });

    it('lists a non-DICOM part as failed, indexes nothing of it and leaves no spool file behind', async () => {
      const before = spoolNow();
      const instances = await countInstances();
      const garbage = Buffer.alloc(4096, 'not a DICOM object; ');
      for (const part of [
        { contentType: 'text/plain', body: Buffer.from('hello, archive') },
        { contentType: 'application/dicom', body: garbage },
        { contentType: 'application/dicom', body: Buffer.concat([Buffer.alloc(128), Buffer.from('DICM'), garbage]) },
      ]) {
        const answer = await stow(archive, [part]);
        expect({ part: part.contentType, status: answer.status }).toEqual({ part: part.contentType, status: 409 });
        const failed = items(answer.body, Tag.FailedSOPSequence);
        expect(failed).toHaveLength(1);
        expect(first(failed[0], Tag.FailureReason)).toBe(0xc000);
        expect(values(answer.body, Tag.ReferencedSOPSequence)).toBeUndefined();
      }
      expect(await countInstances()).toBe(instances);
      expect(await leftoverSpoolFiles(before)).toEqual([]);

      // With a good object beside it: 202, the good one stored, the bad one listed.
      const good = syntheticInstance({ study: `${R}.4`, series: `${R}.4.1`, sop: `${R}.4.1.1`, patientId: 'PID-W4' });
      const mixed = await stow(archive, [{ contentType: 'text/plain', body: Buffer.from('x') }, part10(good)]);
      expect(mixed.status).toBe(202);
      expect(items(mixed.body, Tag.ReferencedSOPSequence).map((r) => first(r, Tag.ReferencedSOPInstanceUID))).toEqual([uid(good, Tag.SOPInstanceUID)]);
      expect(items(mixed.body, Tag.FailedSOPSequence).map((f) => first(f, Tag.FailureReason))).toEqual([0xc000]);
      // All that was stored is of one study: the answer names it.
      expect(first(mixed.body, Tag.RetrieveURL)).toBe(`${archive.baseUrl}/dicomweb/studies/${R}.4`);
      expect(await countInstances()).toBe(instances + 1);
      expect(await leftoverSpoolFiles(before)).toEqual([]);
      sent.set(uid(good, Tag.SOPInstanceUID), part10(good));
    });

    it('refuses a truncated Part 10 file (cut in the pixel data, or in the meta information)', async () => {
      const before = spoolNow();
      const instances = await countInstances();
      const whole = part10(syntheticInstance({ study: `${R}.5`, series: `${R}.5.1`, sop: `${R}.5.1.1`, image: { rows: 64, columns: 64 } }));
      for (const cut of [whole.subarray(0, whole.length - 1000), whole.subarray(0, 150)]) {
        const answer = await stow(archive, [cut]);
        expect({ length: cut.length, status: answer.status }).toEqual({ length: cut.length, status: 409 });
        expect(items(answer.body, Tag.FailedSOPSequence).map((f) => first(f, Tag.FailureReason))).toEqual([0xc000]);
      }
      expect(await countInstances()).toBe(instances);
      expect(await qido(archive, `/dicomweb/studies?StudyInstanceUID=${R}.5`)).toEqual([]);
      expect(await leftoverSpoolFiles(before)).toEqual([]);
    });

    it('answers 415 to a body that is not multipart/related; type="application/dicom", 400 to one without a boundary or malformed', async () => {
      const instances = await countInstances();
      const body = part10(syntheticInstance({ study: `${R}.7`, series: `${R}.7.1`, sop: `${R}.7.1.1` }));
      const post = (contentType: string, payload: Buffer = body) =>
        archive.fetch('/dicomweb/studies', { method: 'POST', key: 'writer', headers: { 'Content-Type': contentType }, body: payload });
      expectProblem(await problem(await post('application/dicom')), 415);
      expectProblem(await problem(await post('application/json')), 415);
      expectProblem(await problem(await post('multipart/related; type="application/dicom+json"; boundary=abc')), 415);
      expectProblem(await problem(await post('multipart/related; type="application/dicom"')), 400);
      expectProblem(
        await problem(
          await archive.fetch('/dicomweb/studies/not-a-uid', { method: 'POST', key: 'writer', headers: { 'Content-Type': 'multipart/related; type="application/dicom"; boundary=b' }, body: Buffer.from('--b--\r\n') }),
        ),
        400,
      );
      // A boundary that never occurs in the body.
      expectProblem(await problem(await post('multipart/related; type="application/dicom"; boundary=nowhere-in-the-body')), 400);
      expect(await countInstances()).toBe(instances);
    });

    it('needs a key (401 with WWW-Authenticate) and the writer role (403 for a reader)', async () => {
      const object = syntheticInstance({ study: `${R}.8`, series: `${R}.8.1`, sop: `${R}.8.1.1` });
      const request = (headers: Record<string, string>) =>
        archive.fetch('/dicomweb/studies', {
          method: 'POST',
          key: null,
          headers: { 'Content-Type': 'multipart/related; type="application/dicom"; boundary=b', ...headers },
          body: Buffer.concat([Buffer.from('--b\r\nContent-Type: application/dicom\r\n\r\n'), part10(object), Buffer.from('\r\n--b--\r\n')]),
        });
      const anonymous = await request({});
      expect(anonymous.headers.get('www-authenticate')).toMatch(/^Bearer/);
      expectProblem(await problem(anonymous), 401);
      const wrong = await request({ Authorization: 'Bearer not-a-key-of-this-archive' });
      expect(wrong.headers.get('www-authenticate')).toMatch(/^Bearer/);
      expectProblem(await problem(wrong), 401);
      expectProblem(await problem(await request({ Authorization: 'Basic d3JpdGVyOnNlY3JldA==' })), 401);
      const reader = await stow(archive, [part10(object)], { key: 'reader' });
      expect(reader.status).toBe(403);
      expect(reader.contentType).toMatch(/^application\/problem\+json/);
      expect(await qido(archive, `/dicomweb/instances?SOPInstanceUID=${R}.8.1.1`)).toEqual([]);
      // Reading needs a key as well, and any role will do.
      expectProblem(await problem(await archive.fetch('/dicomweb/studies', { key: null })), 401);
      expect((await archive.fetch('/dicomweb/studies', { key: 'reader' })).status).toBe(200);
    });
  });

  describe('duplicates and versions', () => {
    const sop = `${R}.9.1.1`;
    const v1 = syntheticInstance({ study: `${R}.9`, series: `${R}.9.1`, sop, patientId: 'PID-W9', image: { rows: 8, columns: 8, seed: 100 } });
    const v2 = syntheticInstance({
      study: `${R}.9`,
      series: `${R}.9.1`,
      sop,
      patientId: 'PID-W9',
      image: { rows: 8, columns: 8, seed: 200 },
      extra: { '00204000': { vr: 'LT', Value: ['corrected image'] } },
    });

    it('stores a re-sent object once (same SOP Instance UID, same bytes)', async () => {
      const before = spoolNow();
      for (let i = 0; i < 3; i++) {
        const answer = await stow(archive, [part10(v1)]);
        expect(answer.status).toBe(200);
        expect(items(answer.body, Tag.ReferencedSOPSequence).map((r) => first(r, Tag.ReferencedSOPInstanceUID))).toEqual([sop]);
      }
      expect(await qido(archive, `/dicomweb/instances?SOPInstanceUID=${sop}`)).toHaveLength(1);
      // Series metadata is built (and kept) now; the new version below must replace it.
      const metadata = (await (await archive.fetch(`/dicomweb/studies/${R}.9/series/${R}.9.1/metadata`, { key: 'reader' })).json()) as DicomJson[];
      expect(metadata.map((m) => [first(m, Tag.SOPInstanceUID), first(m, 0x00204000)])).toEqual([[sop, undefined]]);
      const rows = await sql<{ id: string }>(archive, 'SELECT id FROM instance WHERE sop_instance_uid = $1', [sop]);
      expect(rows).toHaveLength(1);
      const uploads = await sql(archive, `SELECT id FROM outbox WHERE topic = 'blob.upload' AND payload->>'instanceId' = $1`, [String(rows[0]!.id)]);
      expect(uploads).toHaveLength(1);
      // The duplicates' spool copies are gone; only the first copy (or its upload) remains.
      expect(await leftoverSpoolFiles(before)).toEqual([]);
    });

    it('keeps the same UID with other content as a new version: both rows, the newest current and served, the event recorded', async () => {
      const answer = await stow(archive, [part10(v2)]);
      expect(answer.status).toBe(200);
      const rows = await sql<{ version: number; is_current: boolean; sha256: Buffer }>(
        archive,
        'SELECT version, is_current, sha256 FROM instance WHERE sop_instance_uid = $1 ORDER BY version',
        [sop],
      );
      expect(rows.map((r) => ({ version: r.version, current: r.is_current }))).toEqual([
        { version: 1, current: false },
        { version: 2, current: true },
      ]);
      expect(rows[0]!.sha256.equals(rows[1]!.sha256)).toBe(false);

      const parts = await multipart(await archive.fetch(`/dicomweb/studies/${R}.9/series/${R}.9.1/instances/${sop}`, { key: 'reader' }));
      expect(parts).toHaveLength(1);
      expect(sha256(datasetBytes(parts[0]!.body))).toBe(sha256(datasetBytes(part10(v2))));
      const metadata = (await (await archive.fetch(`/dicomweb/studies/${R}.9/series/${R}.9.1/instances/${sop}/metadata`, { key: 'reader' })).json()) as DicomJson[];
      expect(metadata.map((m) => first(m, 0x00204000))).toEqual(['corrected image']);
      for (const path of [`/dicomweb/studies/${R}.9/metadata`, `/dicomweb/studies/${R}.9/series/${R}.9.1/metadata`]) {
        const documents = (await (await archive.fetch(path, { key: 'reader' })).json()) as DicomJson[];
        expect({ path, comments: documents.map((m) => first(m, 0x00204000)) }).toEqual({ path, comments: ['corrected image'] });
      }
      expect(await qido(archive, `/dicomweb/instances?SOPInstanceUID=${sop}`)).toHaveLength(1);

      const events = await sql<{ kind: string; actor: string; study_uid: string; detail: { version: number } }>(
        archive,
        'SELECT kind, actor, study_uid, detail FROM archive_event WHERE sop_instance_uid = $1',
        [sop],
      );
      expect(events).toEqual([{ kind: 'instance.new-version', actor: 'writer', study_uid: `${R}.9`, detail: expect.objectContaining({ version: 2 }) }]);
      sent.set(sop, part10(v2));
    });
  });

  describe('WADO-RS', () => {
    it('retrieves a study, a series and an instance as multipart/related, each part in its stored transfer syntax, datasets byte for byte', async () => {
      const check = async (path: string, expected: { uid: string; ts: string }[]) => {
        const res = await archive.fetch(path, { key: 'reader', headers: { Accept: 'multipart/related; type="application/dicom"' } });
        expect(res.headers.get('content-type')).toMatch(/^multipart\/related;.*type="?application\/dicom"?/);
        const parts = await multipart(res);
        expect(parts.map((p) => ({ uid: partInstance(p.headers), ts: /transfer-syntax=([0-9.]+)/.exec(partType(p.headers))?.[1] }))).toEqual(expected);
        for (const p of parts) {
          expect(partType(p.headers)).toMatch(/^application\/dicom;/);
          const uidOfPart = partInstance(p.headers);
          expect({ uid: uidOfPart, sha256: sha256(datasetBytes(p.body)) }).toEqual({ uid: uidOfPart, sha256: sha256(datasetBytes(sent.get(uidOfPart)!)) });
        }
      };
      const [s11, s12] = [`${study1}.1`, `${study1}.2`];
      await check(`/dicomweb/studies/${study1}`, [
        { uid: `${s11}.1`, ts: EXPLICIT },
        { uid: `${s11}.2`, ts: EXPLICIT },
        { uid: `${s12}.1`, ts: IMPLICIT },
      ]);
      await check(`/dicomweb/studies/${study1}/series/${s11}`, [
        { uid: `${s11}.1`, ts: EXPLICIT },
        { uid: `${s11}.2`, ts: EXPLICIT },
      ]);
      await check(`/dicomweb/studies/${study1}/series/${s12}/instances/${s12}.1`, [{ uid: `${s12}.1`, ts: IMPLICIT }]);
      await check(`/dicomweb/studies/${study2}`, [{ uid: `${study2}.1.1`, ts: EXPLICIT }]);
    });

    it('answers 404 for what does not exist and 406 for media types it cannot give', async () => {
      const get = async (path: string, accept?: string) => problem(await archive.fetch(path, { key: 'reader', headers: accept ? { Accept: accept } : {} }));
      expectProblem(await get(`/dicomweb/studies/${R}.404`), 404);
      expectProblem(await get(`/dicomweb/studies/${R}.404/metadata`), 404);
      expectProblem(await get(`/dicomweb/studies/${study1}/series/${R}.404`), 404);
      expectProblem(await get(`/dicomweb/studies/${study1}/series/${study1}.1/instances/${R}.404`), 404);
      expectProblem(await get(`/dicomweb/studies/${study1}/series/${study1}.1/instances/${R}.404/metadata`), 404);
      expectProblem(await get(`/dicomweb/studies/${study1}/series/${study1}.1/instances/${R}.404/frames/1`), 404);
      expectProblem(await get(`/dicomweb/studies/${study1}/metadata`, 'application/dicom+xml'), 406);
      expectProblem(await get(`/dicomweb/studies/${study1}/series/${study1}.1/metadata`, 'multipart/related; type="application/dicom+xml"'), 406);
      expectProblem(await get(`/dicomweb/studies/${study1}`, 'application/dicom+json'), 406);
    });

    it('serves metadata at study, series and instance level; BulkDataURI of the pixel data resolves to the exact pixel bytes', async () => {
      const metadata = async (path: string): Promise<DicomJson[]> => {
        const res = await archive.fetch(path, { key: 'reader', headers: { Accept: 'application/dicom+json' } });
        expect(res.status).toBe(200);
        expect(res.headers.get('content-type')).toMatch(/^application\/dicom\+json/);
        return (await res.json()) as DicomJson[];
      };
      const study = await metadata(`/dicomweb/studies/${study1}/metadata`);
      expect(study.map((m) => first(m, Tag.SOPInstanceUID))).toEqual([`${study1}.1.1`, `${study1}.1.2`, `${study1}.2.1`]);
      for (const m of study) {
        expect(first(m, Tag.StudyInstanceUID)).toBe(study1);
        expect(first(m, Tag.PatientName)).toEqual({ Alphabetic: 'Wado^Alice' });
        expect(first(m, Tag.Rows)).toEqual(expect.any(Number));
      }
      const series = await metadata(`/dicomweb/studies/${study1}/series/${study1}.1/metadata`);
      expect(series.map((m) => first(m, Tag.SOPInstanceUID))).toEqual([`${study1}.1.1`, `${study1}.1.2`]);
      const [instance] = await metadata(`/dicomweb/studies/${study1}/series/${study1}.1/instances/${study1}.1.2/metadata`);
      expect(first(instance, Tag.SOPInstanceUID)).toBe(`${study1}.1.2`);

      const pixelData = instance!['7FE00010']!;
      expect(pixelData.InlineBinary).toBeUndefined();
      expect(pixelData.BulkDataURI).toBe(`${archive.baseUrl}/dicomweb/studies/${study1}/series/${study1}.1/instances/${study1}.1.2/bulk/7FE00010`);
      const parts = await multipart(await archive.fetch(pixelData.BulkDataURI!.slice(archive.baseUrl.length), { key: 'reader' }));
      expect(parts).toHaveLength(1);
      expect(partType(parts[0]!.headers)).toBe('application/octet-stream');
      expect(parts[0]!.body.equals(syntheticPixels(16, 16, 1, 2))).toBe(true);
      // The implicit VR object's pixel data too (its offsets are in the stored file, whatever the encoding).
      const implicitMeta = study.find((m) => first(m, Tag.SOPInstanceUID) === `${study1}.2.1`)!;
      const implicitPixels = await multipart(await archive.fetch(implicitMeta['7FE00010']!.BulkDataURI!.slice(archive.baseUrl.length), { key: 'reader' }));
      expect(implicitPixels[0]!.body.equals(syntheticPixels(8, 8, 1, 3))).toBe(true);
    });

    it('retrieves each frame of an uncompressed multi-frame object byte for byte; a frame past the end is 404', async () => {
      const answer = await stow(archive, [part10(multiFrame)]);
      expect(answer.status).toBe(200);
      sent.set(`${R}.6.1.1`, part10(multiFrame));
      const pixels = syntheticPixels(4, 5, 3, 7);
      const frameBytes = 4 * 5 * 2;
      const frame = (n: number) => pixels.subarray((n - 1) * frameBytes, n * frameBytes);
      const base = `/dicomweb/studies/${R}.6/series/${R}.6.1/instances/${R}.6.1.1`;
      for (const list of ['1', '2', '3', '3,1', '1,2,3']) {
        const res = await archive.fetch(`${base}/frames/${list}`, { key: 'reader' });
        expect(res.headers.get('content-type')).toMatch(/^multipart\/related;.*type="?application\/octet-stream"?/);
        const parts = await multipart(res);
        const numbers = list.split(',').map(Number);
        // Native frames are Explicit VR Little Endian bytes (PS3.18 8.7.3.3.1).
        expect(parts.map((p) => partType(p.headers))).toEqual(numbers.map(() => `application/octet-stream; transfer-syntax=${EXPLICIT}`));
        expect(parts.map((p) => p.body.toString('hex'))).toEqual(numbers.map((n) => frame(n).toString('hex')));
      }
      expectProblem(await problem(await archive.fetch(`${base}/frames/4`, { key: 'reader' })), 404);
      expectProblem(await problem(await archive.fetch(`${base}/frames/2,4`, { key: 'reader' })), 404);
      expectProblem(await problem(await archive.fetch(`${base}/frames/0`, { key: 'reader' })), 400);
      expectProblem(await problem(await archive.fetch(`${base}/frames/x`, { key: 'reader' })), 400);
      const [meta] = (await (await archive.fetch(`${base}/metadata`, { key: 'reader' })).json()) as DicomJson[];
      expect(first(meta, Tag.NumberOfFrames)).toBe(3);
    });

    it('serves the pixel data of a big endian object little endian, as uncompressed bulk data is (PS3.18 8.7.3.3.1)', async () => {
      const bigEndian = syntheticInstance({ study: `${R}.10`, series: `${R}.10.1`, sop: `${R}.10.1.1`, image: { rows: 3, columns: 4, frames: 2, seed: 0x1234 } });
      const source = join(work, 'be.dcm');
      writeFileSync(source, part10(bigEndian));
      const converted = await transcode(source, 'big-endian');
      const file = readFileSync(converted);
      expect((await stow(archive, [file])).status).toBe(200);
      sent.set(`${R}.10.1.1`, file);
      const base = `/dicomweb/studies/${R}.10/series/${R}.10.1/instances/${R}.10.1.1`;
      const [stored] = await multipart(await archive.fetch(base, { key: 'reader' }));
      expect(partType(stored!.headers)).toBe('application/dicom; transfer-syntax=1.2.840.10008.1.2.2');
      expect(sha256(datasetBytes(stored!.body))).toBe(sha256(datasetBytes(file)));

      const pixels = syntheticPixels(3, 4, 2, 0x1234);
      const [meta] = (await (await archive.fetch(`${base}/metadata`, { key: 'reader' })).json()) as DicomJson[];
      const [bulk] = await multipart(await archive.fetch(meta!['7FE00010']!.BulkDataURI!.slice(archive.baseUrl.length), { key: 'reader' }));
      expect(bulk!.body.toString('hex')).toBe(pixels.toString('hex'));
      const frames = await multipart(await archive.fetch(`${base}/frames/2,1`, { key: 'reader' }));
      expect(frames.map((f) => partType(f.headers))).toEqual([`application/octet-stream; transfer-syntax=${EXPLICIT}`, `application/octet-stream; transfer-syntax=${EXPLICIT}`]);
      expect(frames.map((f) => f.body.toString('hex'))).toEqual([pixels.subarray(24, 48).toString('hex'), pixels.subarray(0, 24).toString('hex')]);
    });

    it('serves the same bytes once the objects are in the blob store (Azurite)', async () => {
      await eventually('every instance uploaded to the blob store', async () => {
        const [r] = await sql<{ n: string }>(archive, `SELECT count(*) AS n FROM instance WHERE storage_state <> 'stored'`);
        return r!.n === '0' ? true : undefined;
      });
      const rows = await sql<{ sop_instance_uid: string; spool_path: string | null; blob_key: string | null }>(
        archive,
        'SELECT sop_instance_uid, spool_path, blob_key FROM instance WHERE sop_instance_uid = ANY($1) AND is_current',
        [[...sent.keys()]],
      );
      expect(rows).toHaveLength(sent.size);
      for (const r of rows) {
        expect(r.spool_path).toBeNull();
        expect(r.blob_key).toEqual(expect.any(String));
        // Blob names carry no UIDs (ARCHITECTURE.md invariant 5).
        expect(r.blob_key).not.toContain(r.sop_instance_uid);
      }
      // The spool is empty: what is served now comes from the blob store.
      expect(filesBelow(join(archive.dataDir, 'spool'))).toEqual([]);

      const study = await multipart(await archive.fetch(`/dicomweb/studies/${study1}`, { key: 'reader' }));
      expect(study.map((p) => partInstance(p.headers))).toEqual([`${study1}.1.1`, `${study1}.1.2`, `${study1}.2.1`]);
      for (const p of study) expect(sha256(datasetBytes(p.body))).toBe(sha256(datasetBytes(sent.get(partInstance(p.headers))!)));
      const versioned = await multipart(await archive.fetch(`/dicomweb/studies/${R}.9/series/${R}.9.1/instances/${R}.9.1.1`, { key: 'reader' }));
      expect(sha256(datasetBytes(versioned[0]!.body))).toBe(sha256(datasetBytes(sent.get(`${R}.9.1.1`)!)));

      const bulk = await multipart(await archive.fetch(`/dicomweb/studies/${study1}/series/${study1}.1/instances/${study1}.1.1/bulk/7FE00010`, { key: 'reader' }));
      expect(bulk[0]!.body.equals(syntheticPixels(16, 16, 1, 1))).toBe(true);
      const frames = await multipart(await archive.fetch(`/dicomweb/studies/${R}.6/series/${R}.6.1/instances/${R}.6.1.1/frames/2`, { key: 'reader' }));
      expect(frames[0]!.body.equals(syntheticPixels(4, 5, 3, 7).subarray(40, 80))).toBe(true);
    });
  });
});

describe('DICOMweb limits (VNA_STOW_MAX_BYTES, VNA_QIDO_MAX_RESULTS)', () => {
  let archive: RunningArchive;
  const L = `${TEST_UID_ROOT}.2`;

  beforeAll(async () => {
    archive = await RunningArchive.start({ label: 'dicomweblimits', env: { VNA_STOW_MAX_BYTES: '8192', VNA_QIDO_MAX_RESULTS: '2' } });
  });

  afterAll(async () => {
    await archive?.destroy();
  });

  it('answers 413 to a STOW body over VNA_STOW_MAX_BYTES and stores nothing of it', async () => {
    const big = part10(syntheticInstance({ study: `${L}.1`, series: `${L}.1.1`, sop: `${L}.1.1.1`, image: { rows: 128, columns: 128 } }));
    expect(big.length).toBeGreaterThan(8192 * 4);
    const answer = await stow(archive, [big]);
    expect(answer.status).toBe(413);
    expect(answer.contentType).toMatch(/^application\/problem\+json/);
    expect(answer.body).toMatchObject({ status: 413 });
    expect(await qido(archive, '/dicomweb/instances')).toEqual([]);
    expect(filesBelow(join(archive.dataDir, 'spool'))).toEqual([]);
  });

  it('cuts QIDO-RS results at VNA_QIDO_MAX_RESULTS with a Warning header (PS3.18 10.6.3)', async () => {
    for (let i = 1; i <= 3; i++) {
      const answer = await stow(archive, [part10(syntheticInstance({ study: `${L}.2.${i}`, series: `${L}.2.${i}.1`, sop: `${L}.2.${i}.1.1`, studyDate: `2020010${i}` }))]);
      expect(answer.status).toBe(200);
    }
    for (const path of ['/dicomweb/studies', '/dicomweb/studies?limit=10', '/dicomweb/instances']) {
      const res = await archive.fetch(path, { key: 'reader' });
      expect(res.status).toBe(200);
      expect(res.headers.get('warning')).toMatch(/^299 /);
      expect((await res.json()) as unknown[]).toHaveLength(2);
    }
    const rest = await archive.fetch('/dicomweb/studies?offset=2', { key: 'reader' });
    expect(rest.headers.get('warning')).toBeNull();
    expect(((await rest.json()) as DicomJson[]).map((s) => first(s, Tag.StudyInstanceUID))).toEqual([`${L}.2.1`]);
  });
});
