import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { datasetToJson, type DicomJson, lookupTransferSyntax, readPart10Prefix, readWholeDataset, Tag } from '#vna/dicom';
import { RunningArchive } from '../support/archive-process.js';
import { dcmtk } from '../support/dcmtk.js';
import { datasetBytes, fixtureJson, multipartBodies, uidOf, writeFixture } from '../support/fixtures.js';

function parse(file: Buffer): { json: DicomJson; dataset: Buffer } {
  const prefix = readPart10Prefix(file, true)!;
  const dataset = file.subarray(prefix.datasetOffset);
  return { json: datasetToJson(readWholeDataset(dataset, lookupTransferSyntax(prefix.transferSyntaxUid)!)), dataset };
}

/**
 * The egress overlay: the index's current patient (after ADT updates and merges) laid over stored
 * originals on every way out, the originals untouched. Here the index row is changed directly, as
 * the registry does.
 */
describe('the egress overlay', () => {
  let archive: RunningArchive;
  let work: string;
  const ct = fixtureJson('ct-ge-latin1');
  const study = uidOf(ct, Tag.StudyInstanceUID);
  const series = uidOf(ct, Tag.SeriesInstanceUID);
  const sop = uidOf(ct, Tag.SOPInstanceUID);
  let sent: Buffer;

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'vna-overlay-'));
    archive = await RunningArchive.start({ label: 'overlay', env: { VNA_DICOM_NODES: 'GETSCU@127.0.0.1:1' } });
    const path = writeFixture(work, 'ct', ct);
    sent = readFileSync(path);
    expect((await dcmtk('storescu', ['-aec', 'VNA', '127.0.0.1', String(archive.dicomPort), path])).code).toBe(0);
    const db = new pg.Client({ connectionString: archive.databaseUrl });
    await db.connect();
    try {
      // What a merge into a Japanese patient record leaves on the index row (received values stay in `attributes`).
      await db.query(
        `UPDATE patient SET current_patient_id = 'SURV-9', current_issuer = 'HOSP-A', name_alphabetic = 'Yamada^Tarou', name_ideographic = '山田^太郎',
           overlay = $1::jsonb WHERE patient_id = 'PID-GE-1'`,
        [
          JSON.stringify({
            '00100010': { vr: 'PN', Value: [{ Alphabetic: 'Yamada^Tarou', Ideographic: '山田^太郎' }] },
            '00100020': { vr: 'LO', Value: ['SURV-9'] },
            '00100021': { vr: 'LO', Value: ['HOSP-A'] },
          }),
        ],
      );
    } finally {
      await db.end();
    }
  });

  afterAll(async () => {
    await archive?.destroy();
    rmSync(work, { recursive: true, force: true });
  });

  it('answers queries with the current patient', async () => {
    const res = await archive.fetch('/dicomweb/studies?PatientID=SURV-9');
    const [row] = (await res.json()) as DicomJson[];
    expect(row?.['00100010']?.Value).toEqual([{ Alphabetic: 'Yamada^Tarou', Ideographic: '山田^太郎' }]);
    expect((await archive.fetch('/dicomweb/studies?PatientID=PID-GE-1')).status).toBe(204);
  });

  it('lays the current patient over the object on WADO-RS, in UTF-8 when its Latin-1 cannot hold the name; pixel data and private tags unchanged', async () => {
    const res = await archive.fetch(`/dicomweb/studies/${study}/series/${series}/instances/${sop}`);
    expect(res.status).toBe(200);
    const [part] = multipartBodies(Buffer.from(await res.arrayBuffer()), res.headers.get('content-type')!);
    const out = parse(part!.body);
    const original = parse(sent);
    expect(out.json['00100010']?.Value).toEqual([{ Alphabetic: 'Yamada^Tarou', Ideographic: '山田^太郎' }]);
    expect(out.json['00100020']?.Value).toEqual(['SURV-9']);
    expect(readWholeDataset(datasetBytes(part!.body), lookupTransferSyntax('1.2.840.10008.1.2.1')!).specificCharacterSet()).toEqual(['ISO_IR 192']);
    for (const key of ['7FE00010', '00090010', '00091001', '00091027', '00081110', '00081030', '00100030']) expect(out.json[key]).toEqual(original.json[key]);
    // The pixel data bytes themselves: the tail of the dataset is the original's.
    const pixels = original.dataset.subarray(original.dataset.length - 512);
    expect(out.dataset.subarray(out.dataset.length - 512).equals(pixels)).toBe(true);
  });

  it('shows the current patient in WADO-RS metadata', async () => {
    const [meta] = (await (await archive.fetch(`/dicomweb/studies/${study}/metadata`)).json()) as DicomJson[];
    expect(meta?.['00100020']?.Value).toEqual(['SURV-9']);
    const [one] = (await (await archive.fetch(`/dicomweb/studies/${study}/series/${series}/instances/${sop}/metadata`)).json()) as DicomJson[];
    expect(one?.['00100010']?.Value).toEqual([{ Alphabetic: 'Yamada^Tarou', Ideographic: '山田^太郎' }]);
  });

  it('sends the overlaid object on C-GET', async () => {
    const out = join(work, 'got');
    mkdirSync(out, { recursive: true });
    const r = await dcmtk('getscu', ['-S', '-aec', 'VNA', '-od', out, '127.0.0.1', String(archive.dicomPort), '-k', 'QueryRetrieveLevel=STUDY', '-k', `StudyInstanceUID=${study}`]);
    expect(r.code).toBe(0);
    const [file] = readdirSync(out);
    const got = parse(readFileSync(join(out, file!)));
    expect(got.json['00100020']?.Value).toEqual(['SURV-9']);
    expect(got.json['7FE00010']).toEqual(parse(sent).json['7FE00010']);
  });

  it('keeps the original untouched in storage', async () => {
    const db = new pg.Client({ connectionString: archive.databaseUrl });
    await db.connect();
    try {
      const { rows } = await db.query<{ spool_path: string | null; attributes: DicomJson }>(
        `SELECT i.spool_path, p.attributes FROM instance i JOIN series se ON se.id = i.series_fk JOIN study st ON st.id = se.study_fk JOIN patient p ON p.id = st.patient_fk`,
      );
      expect(rows[0]!.attributes['00100020']?.Value).toEqual(['PID-GE-1']);
      if (rows[0]!.spool_path) expect(datasetBytes(readFileSync(rows[0]!.spool_path)).equals(datasetBytes(sent))).toBe(true);
    } finally {
      await db.end();
    }
  });
});
