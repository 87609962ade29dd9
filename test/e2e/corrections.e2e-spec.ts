import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { datasetToJson, type DicomJson, lookupTransferSyntax, readPart10Prefix, readWholeDataset, Tag, tagToHex } from '#vna/dicom';
import { RunningArchive } from '../support/archive-process.js';
import { dcmtk, dcmtkDaemon } from '../support/dcmtk.js';
import { first, items, qido, stow, stowAll, syntheticInstance, TEST_UID_ROOT } from '../support/dicomweb.js';
import { multipartBodies, part10 } from '../support/fixtures.js';
import { freePort } from '../support/test-env.js';

/**
 * HIM corrections and IHE IOCM rejection notes end to end against the built archive: corrections
 * over /api/v1 (recorded with the X-User, undone exactly) reflected at once by QIDO-RS, C-FIND,
 * WADO-RS and C-GET; rejection notes sent with dcmtk storescu and over STOW-RS hiding what they
 * reject (QIDO, C-FIND, WADO 404), the re-send policy (reject) over both, and an admin's revocation.
 */

const ROOT = `${TEST_UID_ROOT}.48`;
const A = `${ROOT}.1`;
const B = `${ROOT}.2`;
const KOS = '1.2.840.10008.5.1.4.1.1.88.59';

const sop = (study: string, series: number, n: number): string => `${study}.${series}.${n}`;

function instance(study: string, series: number, n: number, o: { accession: string; description: string }): DicomJson {
  return syntheticInstance({
    study,
    series: `${study}.${series}`,
    sop: sop(study, series, n),
    patientId: 'E2E-CORR',
    patientName: { Alphabetic: 'Correct^Carla' },
    accession: o.accession,
    studyDescription: o.description,
    modality: 'CT',
    seriesNumber: series,
    instanceNumber: n,
    image: { rows: 4, columns: 4, seed: n },
  });
}

/** A Key Object Selection document: title `code` (DCM), evidence of `refs` (one series). */
function rejectionNote(uid: string, code: string | undefined, refs: { study: string; series: string; sop: string }[], evidence = true): DicomJson {
  const json = syntheticInstance({ study: `${uid}.9`, series: `${uid}.9.1`, sop: uid, sopClass: KOS, modality: 'KO', patientId: 'E2E-CORR' });
  json['0040A040'] = { vr: 'CS', Value: ['CONTAINER'] };
  json['0040A050'] = { vr: 'CS', Value: ['SEPARATE'] };
  json['0040A043'] = { vr: 'SQ', Value: code ? [{ '00080100': { vr: 'SH', Value: [code] }, '00080102': { vr: 'SH', Value: ['DCM'] }, '00080104': { vr: 'LO', Value: ['Rejected'] } }] : [] };
  if (evidence) {
    json['0040A375'] = {
      vr: 'SQ',
      Value: refs.map((r) => ({
        '0020000D': { vr: 'UI', Value: [r.study] },
        '00081115': {
          vr: 'SQ',
          Value: [{ '0020000E': { vr: 'UI', Value: [r.series] }, '00081199': { vr: 'SQ', Value: [{ '00081150': { vr: 'UI', Value: ['1.2.840.10008.5.1.4.1.1.7'] }, '00081155': { vr: 'UI', Value: [r.sop] } }] } }],
        },
      })),
    };
  }
  return json;
}

function parseObject(file: Buffer): DicomJson {
  const prefix = readPart10Prefix(file, true)!;
  return datasetToJson(readWholeDataset(file.subarray(prefix.datasetOffset), lookupTransferSyntax(prefix.transferSyntaxUid)!));
}

const str = (json: DicomJson | undefined, tag: number): unknown => first(json, tag);

describe('corrections and IOCM end to end', () => {
  let archive: RunningArchive;
  let work: string;
  let scpPort: number;

  const cfind = async (label: string, level: 'STUDY' | 'IMAGE', keys: string[]): Promise<DicomJson[]> => {
    const out = join(work, `find-${label}`);
    mkdirSync(out, { recursive: true });
    const r = await dcmtk('findscu', ['-aec', 'VNA', '-S', '-X', '-od', out, '127.0.0.1', String(archive.dicomPort), '-k', `QueryRetrieveLevel=${level}`, ...keys.flatMap((k) => ['-k', k])]);
    expect(r.code).toBe(0);
    return readdirSync(out).sort().map((f) => parseObject(readFileSync(join(out, f))));
  };
  const cget = async (label: string, study: string, series: string): Promise<DicomJson[]> => {
    const out = join(work, `get-${label}`);
    mkdirSync(out, { recursive: true });
    const r = await dcmtk('getscu', ['-S', '-aec', 'VNA', '-od', out, '127.0.0.1', String(archive.dicomPort), '-k', 'QueryRetrieveLevel=SERIES', '-k', `StudyInstanceUID=${study}`, '-k', `SeriesInstanceUID=${series}`]);
    expect(r.code).toBe(0);
    return readdirSync(out).sort().map((f) => parseObject(readFileSync(join(out, f))));
  };
  const wado = async (study: string, series: string, instanceUid: string): Promise<{ status: number; json?: DicomJson }> => {
    const res = await archive.fetch(`/dicomweb/studies/${study}/series/${series}/instances/${instanceUid}`, { key: 'reader' });
    if (res.status !== 200) return { status: res.status };
    const [part] = multipartBodies(Buffer.from(await res.arrayBuffer()), res.headers.get('content-type')!);
    return { status: 200, json: parseObject(part!.body) };
  };
  const api = async (path: string, body: unknown, key: 'admin' | 'writer' | 'reader' = 'writer', user?: string): Promise<{ status: number; type: string; json: Record<string, unknown> }> => {
    const res = await archive.fetch(path, {
      method: 'POST',
      key,
      headers: { 'Content-Type': 'application/json', ...(user ? { 'X-User': user } : {}) },
      body: typeof body === 'string' ? body : JSON.stringify(body),
    });
    return { status: res.status, type: res.headers.get('content-type') ?? '', json: (await res.json()) as Record<string, unknown> };
  };
  const storescu = async (label: string, json: DicomJson): Promise<string> => {
    const path = join(work, `${label}.dcm`);
    writeFileSync(path, part10(json));
    const r = await dcmtk('storescu', ['-v', '-aec', 'VNA', '127.0.0.1', String(archive.dicomPort), path]);
    return `${r.stdout}\n${r.stderr}`;
  };
  const studyQido = async (query: string): Promise<DicomJson[]> => qido(archive, `/dicomweb/studies?${query}`);

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'vna-corr-'));
    scpPort = await freePort();
    archive = await RunningArchive.start({ label: 'corrections', env: { VNA_DICOM_NODES: `STORESCP@127.0.0.1:${scpPort}` } });
    await stowAll(archive, [
      instance(A, 1, 1, { accession: 'E2E-A', description: 'CT HEAD' }),
      instance(A, 1, 2, { accession: 'E2E-A', description: 'CT HEAD' }),
      instance(A, 2, 1, { accession: 'E2E-A', description: 'CT HEAD' }),
      instance(B, 1, 1, { accession: 'E2E-B', description: 'CT CHEST' }),
    ]);
  });

  afterAll(async () => {
    await archive?.destroy();
    rmSync(work, { recursive: true, force: true });
  });

  it('corrects a study over /api/v1: recorded with the X-User, shown by QIDO, C-FIND and WADO at once, undone exactly', async () => {
    const before = await studyQido(`StudyInstanceUID=${A}&includefield=StudyDescription`);
    const c = await api(`/api/v1/studies/${A}/attributes`, { attributes: { AccessionNumber: 'E2E-A2', StudyDescription: 'CT HEAD W/O' }, reason: 'wrong order' }, 'writer', 'him.clerk');
    expect(c.status).toBe(200);
    expect(c.json).toMatchObject({ kind: 'study-attributes', actor: 'him.clerk', apiKey: 'writer', reason: 'wrong order' });
    expect((await studyQido('AccessionNumber=E2E-A2')).map((m) => str(m, Tag.StudyInstanceUID))).toEqual([A]);
    expect(await studyQido('AccessionNumber=E2E-A')).toEqual([]);
    const found = await cfind('acc', 'STUDY', ['AccessionNumber=E2E-A2', 'StudyInstanceUID', 'StudyDescription']);
    expect(found.map((m) => [str(m, Tag.StudyInstanceUID), str(m, Tag.StudyDescription)])).toEqual([[A, 'CT HEAD W/O']]);
    expect(str((await wado(A, `${A}.1`, sop(A, 1, 1))).json, Tag.AccessionNumber)).toBe('E2E-A2');
    const listed = await (await archive.fetch(`/api/v1/corrections?studyUid=${A}`, { key: 'reader' })).json();
    expect(listed).toEqual([expect.objectContaining({ id: c.json['id'], actor: 'him.clerk' })]);

    expect((await api(`/api/v1/corrections/${String(c.json['id'])}/undo`, { reason: 'wrong study' })).status).toBe(200);
    expect(await studyQido(`StudyInstanceUID=${A}&includefield=StudyDescription`)).toEqual(before);
    expect(str((await wado(A, `${A}.1`, sop(A, 1, 1))).json, Tag.AccessionNumber)).toBe('E2E-A');
  });

  it('moves a series to another study: QIDO, WADO metadata and C-GET carry the new study at once', async () => {
    const moved = await api(`/api/v1/series/${A}.2/move`, { targetStudyUid: B, reason: 'belongs to the chest exam' });
    expect(moved.status).toBe(200);
    const series = await qido(archive, `/dicomweb/studies/${B}/series`);
    expect(series.map((s) => str(s, Tag.SeriesInstanceUID)).sort()).toEqual([`${A}.2`, `${B}.1`].sort());
    const got = await cget('moved', B, `${A}.2`);
    expect(got.map((j) => [str(j, Tag.StudyInstanceUID), str(j, Tag.AccessionNumber), str(j, Tag.StudyDescription)])).toEqual([[B, 'E2E-B', 'CT CHEST']]);
    const meta = (await (await archive.fetch(`/dicomweb/studies/${B}/series/${A}.2/metadata`, { key: 'reader' })).json()) as DicomJson[];
    expect(str(meta[0], Tag.StudyInstanceUID)).toBe(B);
    expect((await api(`/api/v1/corrections/${String(moved.json['id'])}/undo`, { reason: 'no' })).status).toBe(200);
    expect(str((await cget('back', A, `${A}.2`))[0], Tag.StudyInstanceUID)).toBe(A);
  });

  it('splits a study and joins studies over /api/v1, each undone', async () => {
    const split = await api(`/api/v1/studies/${A}/split`, { seriesUids: [`${A}.2`], reason: 'two exams' }, 'writer', 'him.clerk');
    expect(split.status).toBe(200);
    const newStudy = String((split.json['request'] as Record<string, unknown>)['studyUid']);
    expect((await studyQido('PatientID=E2E-CORR')).map((m) => str(m, Tag.StudyInstanceUID)).sort()).toEqual([A, B, newStudy].sort());
    expect(str((await wado(newStudy, `${A}.2`, sop(A, 2, 1))).json, Tag.StudyInstanceUID)).toBe(newStudy);
    expect((await api(`/api/v1/corrections/${String(split.json['id'])}/undo`, { reason: 'one exam' })).status).toBe(200);

    const join = await api(`/api/v1/studies/${A}/join`, { sourceStudyUids: [B], reason: 'one visit' });
    expect(join.status).toBe(200);
    expect((await studyQido('PatientID=E2E-CORR')).map((m) => str(m, Tag.StudyInstanceUID))).toEqual([A]);
    expect(await cfind('joined', 'STUDY', [`StudyInstanceUID=${B}`])).toEqual([]);
    expect(str((await wado(A, `${B}.1`, sop(B, 1, 1))).json, Tag.StudyInstanceUID)).toBe(A);
    expect((await api(`/api/v1/corrections/${String(join.json['id'])}/undo`, { reason: 'two visits' })).status).toBe(200);
    expect((await studyQido('PatientID=E2E-CORR')).map((m) => str(m, Tag.StudyInstanceUID)).sort()).toEqual([A, B].sort());
  });

  it('refuses bad corrections with problem+json and changes nothing', async () => {
    const before = await studyQido('PatientID=E2E-CORR&includefield=StudyDescription');
    const cases: [string, string, unknown, 'writer' | 'reader', number][] = [
      ['reader role', `/api/v1/studies/${A}/attributes`, { attributes: { StudyDescription: 'x' }, reason: 'r' }, 'reader', 403],
      ['unknown study', `/api/v1/studies/${ROOT}.77/attributes`, { attributes: { StudyDescription: 'x' }, reason: 'r' }, 'writer', 404],
      ['invalid date', `/api/v1/studies/${A}/attributes`, { attributes: { StudyDate: '31.01.2024' }, reason: 'r' }, 'writer', 400],
      ['wrong type', `/api/v1/studies/${A}/attributes`, { attributes: 'StudyDescription=x', reason: 'r' }, 'writer', 400],
      ['no reason', `/api/v1/studies/${A}/attributes`, { attributes: { StudyDescription: 'x' } }, 'writer', 400],
      ['move to itself', `/api/v1/series/${A}.1/move`, { targetStudyUid: A, reason: 'r' }, 'writer', 400],
      ['unknown series', `/api/v1/series/${ROOT}.77.1/move`, { targetStudyUid: B, reason: 'r' }, 'writer', 404],
      ['split unknown series', `/api/v1/studies/${A}/split`, { seriesUids: [`${B}.1`], reason: 'r' }, 'writer', 404],
      ['bad JSON', `/api/v1/studies/${A}/join`, '{"sourceStudyUids": [', 'writer', 400],
      ['undo unknown', '/api/v1/corrections/424242/undo', { reason: 'r' }, 'writer', 404],
      ['join an unknown study', `/api/v1/studies/${A}/join`, { sourceStudyUids: [`${ROOT}.78`], reason: 'r' }, 'writer', 404],
      ['unknown field', `/api/v1/studies/${A}/split`, { seriesUids: [`${A}.2`], reason: 'r', newStudyUid: '1.2.3' }, 'writer', 400],
    ];
    for (const [what, path, body, key, status] of cases) {
      const r = await api(path, body, key);
      expect({ what, status: r.status, type: r.type }).toEqual({ what, status, type: expect.stringContaining('application/problem+json') });
    }
    expect(await studyQido('PatientID=E2E-CORR&includefield=StudyDescription')).toEqual(before);
  });

  it('a rejection note by storescu hides the instance (QIDO, C-FIND, WADO 404); a re-send is refused; revocation shows it again', async () => {
    const target = { study: A, series: `${A}.1`, sop: sop(A, 1, 2) };
    const noteUid = `${ROOT}.100`;
    const out = await storescu('note', rejectionNote(noteUid, '113001', [target]));
    expect(out).not.toMatch(/0x0124|0xa900|Failed|Error/i);
    const images = async (): Promise<unknown[]> => (await qido(archive, `/dicomweb/studies/${A}/instances`)).map((m) => str(m, Tag.SOPInstanceUID));
    expect(await images()).not.toContain(target.sop);
    expect((await wado(target.study, target.series, target.sop)).status).toBe(404);
    expect((await cfind('rejected', 'IMAGE', [`StudyInstanceUID=${A}`, `SeriesInstanceUID=${target.series}`, 'SOPInstanceUID'])).map((m) => str(m, Tag.SOPInstanceUID))).toEqual([sop(A, 1, 1)]);
    expect((await cget('rejected', A, target.series)).map((j) => str(j, Tag.SOPInstanceUID))).toEqual([sop(A, 1, 1)]);
    const [counted] = await cfind('rejected-count', 'STUDY', [`StudyInstanceUID=${A}`, 'NumberOfStudyRelatedInstances']);
    expect(str(counted, Tag.NumberOfStudyRelatedInstances)).toBe(2);

    // Re-send (reject policy): C-STORE refused with Not Authorized, STOW lists it as failed (0x0124).
    const again = await storescu('again', instance(A, 1, 2, { accession: 'E2E-A', description: 'CT HEAD' }));
    expect(again).toMatch(/Store Response \([^)]*0x0?124\)/i);
    const stowAgain = await stow(archive, [part10(instance(A, 1, 2, { accession: 'E2E-A', description: 'CT HEAD' }))]);
    expect(stowAgain.status).toBe(409);
    expect(items(stowAgain.body, Tag.FailedSOPSequence).map((f) => first(f, Tag.FailureReason))).toEqual([0x0124]);
    expect(await images()).not.toContain(target.sop);

    // Revocation: admin only, recorded; the instance is back.
    expect((await api(`/api/v1/rejections/${noteUid}/revoke`, { reason: 'r' }, 'writer')).status).toBe(403);
    const revoked = await api(`/api/v1/rejections/${noteUid}/revoke`, { reason: 'rejected the wrong image' }, 'admin', 'pacs.admin');
    expect(revoked.status).toBe(200);
    expect(revoked.json).toMatchObject({ revoked: 1, shown: 1 });
    expect((await wado(target.study, target.series, target.sop)).status).toBe(200);
    expect(await images()).toContain(target.sop);
    const rejections = (await (await archive.fetch(`/api/v1/rejections?studyUid=${A}`, { key: 'reader' })).json()) as Record<string, unknown>[];
    expect(rejections[0]).toMatchObject({ state: 'revoked', endedBy: 'pacs.admin', reasonCode: '113001' });
  });

  it('a rejection note over STOW hides a series; malformed notes are refused with a failure reason and change nothing', async () => {
    const bad = await stow(archive, [part10(rejectionNote(`${ROOT}.201`, '113001', [], false)), part10(rejectionNote(`${ROOT}.202`, '113555', [{ study: B, series: `${B}.1`, sop: sop(B, 1, 1) }]))]);
    expect(bad.status).toBe(409);
    expect(items(bad.body, Tag.FailedSOPSequence).map((f) => first(f, Tag.FailureReason))).toEqual([0xa900, 0xa900]);
    expect((await wado(B, `${B}.1`, sop(B, 1, 1))).status).toBe(200);

    const good = await stow(archive, [part10(rejectionNote(`${ROOT}.203`, '113037', [{ study: B, series: `${B}.1`, sop: sop(B, 1, 1) }]))]);
    expect(good.status).toBe(200);
    expect((await wado(B, `${B}.1`, sop(B, 1, 1))).status).toBe(404);
    expect(await studyQido(`StudyInstanceUID=${B}`)).toEqual([]);
    expect(await cfind('hidden-study', 'STUDY', [`StudyInstanceUID=${B}`])).toEqual([]);
    expect(tagToHex(Tag.FailureReason)).toBe('00081197');
  });

  it('C-MOVE sends a corrected study with the correction laid over and without its rejected instances', async () => {
    expect((await api(`/api/v1/studies/${A}/attributes`, { attributes: { StudyDescription: 'CT HEAD (corrected)' }, reason: 'typo' })).status).toBe(200);
    expect(await storescu('note-move', rejectionNote(`${ROOT}.300`, '113038', [{ study: A, series: `${A}.1`, sop: sop(A, 1, 1) }]))).not.toMatch(/Failed|Error/i);
    const received = join(work, 'moved');
    mkdirSync(received, { recursive: true });
    const scp = dcmtkDaemon('storescp', ['-aet', 'STORESCP', '+xa', '-od', received, String(scpPort)]);
    try {
      await new Promise((r) => setTimeout(r, 300));
      const r = await dcmtk('movescu', ['-S', '-aec', 'VNA', '-aem', 'STORESCP', '127.0.0.1', String(archive.dicomPort), '-k', 'QueryRetrieveLevel=STUDY', '-k', `StudyInstanceUID=${A}`]);
      expect({ code: r.code, errors: r.stderr }).toEqual({ code: 0, errors: '' });
      const moved = readdirSync(received).map((f) => parseObject(readFileSync(join(received, f))));
      expect(moved.map((j) => str(j, Tag.SOPInstanceUID)).sort()).toEqual([sop(A, 1, 2), sop(A, 2, 1)].sort());
      expect(moved.map((j) => str(j, Tag.StudyDescription))).toEqual(['CT HEAD (corrected)', 'CT HEAD (corrected)']);
    } finally {
      await scp.stop();
    }
  });
});

describe('IOCM re-send policy restore end to end', () => {
  let archive: RunningArchive;

  beforeAll(async () => {
    archive = await RunningArchive.start({ label: 'iocmrestore', env: { VNA_IOCM_RESEND: 'restore' } });
  });

  afterAll(async () => {
    await archive?.destroy();
  });

  it('a rejected instance sent again over STOW is stored and visible again, the rejection ended as restored', async () => {
    const study = `${ROOT}.500`;
    const image = instance(study, 1, 1, { accession: 'E2E-R', description: 'CT' });
    await stowAll(archive, [image]);
    expect((await stow(archive, [part10(rejectionNote(`${ROOT}.501`, '113001', [{ study, series: `${study}.1`, sop: sop(study, 1, 1) }]))])).status).toBe(200);
    const url = `/dicomweb/studies/${study}/series/${study}.1/instances/${sop(study, 1, 1)}`;
    expect((await archive.fetch(url, { key: 'reader' })).status).toBe(404);
    expect((await stow(archive, [part10(image)])).status).toBe(200);
    expect((await archive.fetch(url, { key: 'reader' })).status).toBe(200);
    const [rejection] = (await (await archive.fetch(`/api/v1/rejections?studyUid=${study}`, { key: 'reader' })).json()) as Record<string, unknown>[];
    expect(rejection).toMatchObject({ state: 'restored', reasonCode: '113001' });
  });
});
