import { readFileSync } from 'node:fs';
import type { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { type QueryLevel, RetrieveService } from '#vna/archive';
import { DicomNodeService } from '#vna/dimse';
import { datasetToJson, type DicomJson, EXPLICIT_LE, readWholeDataset, Tag, tagToHex, type WriteElement } from '#vna/dicom';
import { type ArchiveHarness, imageDataset, type MediumEnv, mediumEnv, startArchive, storeDataset, uid } from '../../../test/support/medium.js';
import { CoercionRulesService } from './coercion-rules.service.js';
import { NormalizationError } from './normalization.errors.js';
import { NormalizationCoreModule } from './normalization.module.js';

let env: MediumEnv;
let archive: ArchiveHarness;
let rules: CoercionRulesService;
let retrieve: RetrieveService;

beforeAll(async () => {
  env = await mediumEnv('normalization', { VNA_COERCION_SOURCE_ISSUERS: 'CT_NORTH=NORTHSIDE', VNA_EGRESS_CHARSETS: 'OLDPACS=ISO_IR 100' });
  archive = await startArchive(env, [NormalizationCoreModule]);
  rules = archive.module.get(CoercionRulesService);
  retrieve = archive.module.get(RetrieveService);
}, 60_000);

afterAll(async () => {
  await archive?.close();
  await env?.cleanup();
});

async function search(level: QueryLevel, keys: [number, string][], include: number[] = []): Promise<DicomJson[]> {
  const result = await archive.query.search({ level, keys: new Map(keys), includeFields: include, includeAll: false, limit: 100, offset: 0, relational: true });
  return result.matches;
}

const first = (json: DicomJson | undefined, tag: number): unknown => json?.[tagToHex(tag)]?.Value?.[0];

async function store(extra: WriteElement[], aet = 'MEDIUM', ids = { studyUid: uid(), seriesUid: uid(), sopInstanceUid: uid() }, batch?: string) {
  // A patient of its own unless the test names one (the patient row keeps its first object's values).
  const own: WriteElement[] = extra.some((e) => e.tag === Tag.PatientID) ? [] : [{ tag: Tag.PatientID, vr: 'LO', value: `NORM-${ids.sopInstanceUid.slice(-12)}` }];
  const bytes = imageDataset({ ...ids, extra: [...own, ...extra] });
  const result = await storeDataset(archive.ingest, bytes, ids, batch ? { kind: 'import', aet, batch } : { kind: 'dimse', aet });
  return { ...ids, bytes, result };
}

async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

async function retrieved(sopInstanceUid: string, studyUid: string, destination = 'TEST'): Promise<{ dataset: Buffer; asReceived: Buffer }> {
  const [instance] = await retrieve.instances({ studyUid, sopInstanceUid, seriesUid: undefined });
  return { dataset: await readAll(await retrieve.openDataset(instance!, destination)), asReceived: await readAll(await retrieve.openAsReceived(instance!)) };
}

describe('out of the box', () => {
  it('folds Manufacturer spellings to one vendor for search, while objects leave with the Manufacturer as sent', async () => {
    const studyUid = uid();
    for (const spelling of ['GE MEDICAL SYSTEMS', 'GE Medical Systems', 'G.E. Medical Systems']) {
      await store([{ tag: Tag.Manufacturer, vr: 'LO', value: spelling }], 'MEDIUM', { studyUid, seriesUid: uid(), sopInstanceUid: uid() });
    }
    const found = await search('SERIES', [[Tag.StudyInstanceUID, studyUid], [Tag.Manufacturer, 'GE Healthcare']]);
    expect(found).toHaveLength(3);
    const one = (await search('IMAGE', [[Tag.StudyInstanceUID, studyUid]]))[0]!;
    const sop = String(first(one, Tag.SOPInstanceUID));
    const { dataset } = await retrieved(sop, studyUid);
    expect(String(first(datasetToJson(readWholeDataset(dataset, EXPLICIT_LE)), Tag.Manufacturer))).toMatch(/G\.?E\.? MEDICAL SYSTEMS/i);
  });

  it('legacy dates and names with stray spaces or carets are indexed normalized, received values kept, stored bytes untouched', async () => {
    const o = await store([
      { tag: Tag.StudyDate, vr: 'DA', value: '1993.04.30' },
      { tag: Tag.PatientBirthDate, vr: 'DA', value: '1950-02-01' },
      { tag: Tag.PatientName, vr: 'PN', value: ' Doe ^ John ^^^' },
    ]);
    const [study] = await search('STUDY', [[Tag.StudyInstanceUID, o.studyUid]], [Tag.PatientName, Tag.PatientBirthDate]);
    expect(first(study, Tag.StudyDate)).toBe('19930430');
    expect(first(study, Tag.PatientBirthDate)).toBe('19500201');
    expect(first(study, Tag.PatientName)).toEqual({ Alphabetic: 'Doe^John' });
    expect(await search('STUDY', [[Tag.StudyDate, '19930101-19931231'], [Tag.StudyInstanceUID, o.studyUid]])).toHaveLength(1);
    // The spool file is the received bytes.
    expect(readFileSync(o.result.spoolPath).includes(Buffer.from('1993.04.30'))).toBe(true);
    const record = await rules.instanceCoercion(o.sopInstanceUid);
    expect(record.rules.length).toBeGreaterThanOrEqual(2);
    expect((record.received as DicomJson)['00080020']).toEqual({ vr: 'DA', Value: ['1993.04.30'] });
    // Retrieved: the overlay carries the normalized values; as received: the original bytes.
    const { dataset, asReceived } = await retrieved(o.sopInstanceUid, o.studyUid);
    const out = datasetToJson(readWholeDataset(dataset, EXPLICIT_LE));
    expect(first(out, Tag.StudyDate)).toBe('19930430');
    expect(first(out, Tag.PatientName)).toEqual({ Alphabetic: 'Doe^John' });
    expect(asReceived.equals(readFileSync(o.result.spoolPath))).toBe(true);
    // Pixel data leaves byte for byte.
    expect(dataset.subarray(-64).equals(o.bytes.subarray(-64))).toBe(true);
  });

  it("a missing IssuerOfPatientID takes the source's default; a present one stays", async () => {
    const a = await store([{ tag: Tag.PatientID, vr: 'LO', value: 'ISS-1' }], 'CT_NORTH');
    const b = await store([{ tag: Tag.PatientID, vr: 'LO', value: 'ISS-2' }, { tag: Tag.IssuerOfPatientID, vr: 'LO', value: 'OTHER' }], 'CT_NORTH');
    const c = await store([{ tag: Tag.PatientID, vr: 'LO', value: 'ISS-3' }], 'UNKNOWN_AE');
    const issuer = async (o: { studyUid: string }) => first((await search('STUDY', [[Tag.StudyInstanceUID, o.studyUid]], [Tag.IssuerOfPatientID]))[0], Tag.IssuerOfPatientID);
    expect(await issuer(a)).toBe('NORTHSIDE');
    expect(await issuer(b)).toBe('OTHER');
    expect(await issuer(c)).toBeUndefined();
  });

  it('OtherPatientIDsSequence is indexed for matching: a query by an other patient ID finds the patient', async () => {
    const o = await store([
      { tag: Tag.PatientID, vr: 'LO', value: 'MAIN-77' },
      { tag: Tag.OtherPatientIDsSequence, vr: 'SQ', value: [[{ tag: Tag.PatientID, vr: 'LO', value: 'ALT-77' }, { tag: Tag.IssuerOfPatientID, vr: 'LO', value: 'SOUTHSIDE' }]] },
    ]);
    const byOther = await search('STUDY', [[Tag.PatientID, 'ALT-77']]);
    expect(byOther.map((m) => first(m, Tag.StudyInstanceUID))).toEqual([o.studyUid]);
    expect(first(byOther[0], Tag.PatientID)).toBe('MAIN-77');
    expect(await search('STUDY', [[Tag.PatientID, 'ALT-78']])).toHaveLength(0);
  });

  it('invalid UIDs and IS/DS values are reported, not fatal', async () => {
    const o = await store([
      { tag: 0x00200052, vr: 'UI', value: '1.2.03.abc' },
      { tag: Tag.SeriesNumber, vr: 'IS', value: 'twelve' },
      { tag: 0x00281050, vr: 'DS', value: '40,5' },
    ]);
    expect(o.result.outcome).toBe('stored');
    expect(o.result.warnings).toEqual(expect.arrayContaining(['invalid UID in 00200052', 'invalid IS value in 00200011', 'invalid DS value in 00281050']));
    // Kept with the instance (DIMSE has no place for them in a success), as tag references without values.
    expect((await rules.instanceCoercion(o.sopInstanceUid)).warnings).toEqual(expect.arrayContaining(['invalid UID in 00200052', 'invalid IS value in 00200011']));
  });
});

describe('rules through the service', () => {
  it('are versioned: create, update, delete, every version kept with who and why', async () => {
    const created = await rules.create({ rule: { name: 'prefix north', phase: 'ingest', conditions: [{ context: 'aet', equals: 'NORTH_PACS' }], actions: [{ op: 'prefix', attribute: 'PatientID', prefix: 'N-' }] }, reason: 'migration' }, 'alice');
    expect(created.version).toBe(1);
    const a = await store([{ tag: Tag.PatientID, vr: 'LO', value: '1001' }], 'NORTH_PACS');
    expect(first((await search('STUDY', [[Tag.StudyInstanceUID, a.studyUid]]))[0], Tag.PatientID)).toBe('N-1001');
    expect((await rules.instanceCoercion(a.sopInstanceUid)).rules).toContain(`${created.id}@1`);

    const updated = await rules.update(created.id, { rule: { name: 'prefix north', phase: 'ingest', conditions: [{ context: 'aet', equals: 'NORTH_PACS' }], actions: [{ op: 'prefix', attribute: 'PatientID', prefix: 'NS-' }] }, expectedVersion: 1 }, 'bob');
    expect(updated.version).toBe(2);
    const b = await store([{ tag: Tag.PatientID, vr: 'LO', value: '1002' }], 'NORTH_PACS');
    expect(first((await search('STUDY', [[Tag.StudyInstanceUID, b.studyUid]]))[0], Tag.PatientID)).toBe('NS-1002');
    expect((await rules.instanceCoercion(b.sopInstanceUid)).rules).toContain(`${created.id}@2`);
    // The earlier object keeps the record of the version that touched it.
    expect((await rules.instanceCoercion(a.sopInstanceUid)).rules).toContain(`${created.id}@1`);

    await expect(rules.update(created.id, { rule: updated.rule, expectedVersion: 1 }, 'carol')).rejects.toMatchObject({ kind: 'conflict', code: 'VERSION_MISMATCH' });
    await rules.remove(created.id, 'carol', 'done');
    const c = await store([{ tag: Tag.PatientID, vr: 'LO', value: '1003' }], 'NORTH_PACS');
    expect(first((await search('STUDY', [[Tag.StudyInstanceUID, c.studyUid]]))[0], Tag.PatientID)).toBe('1003');
    const versions = await rules.versions(created.id);
    expect(versions.map((v) => [v.version, v.change, v.actor])).toEqual([[1, 'created', 'alice'], [2, 'updated', 'bob'], [3, 'deleted', 'carol']]);
    expect(versions[0]!.reason).toBe('migration');
    await expect(rules.update(created.id, { rule: updated.rule }, 'dave')).rejects.toMatchObject({ kind: 'not-found' });
  });

  it('apply per import batch', async () => {
    await rules.create({ rule: { name: 'batch 2019', phase: 'ingest', conditions: [{ context: 'batch', equals: 'MIGRATION-2019' }, { context: 'sourceKind', equals: 'import' }], actions: [{ op: 'set', attribute: 'InstitutionName', value: 'Old Site' }] } }, 'alice');
    const inBatch = await store([], 'migrator-key', undefined, 'MIGRATION-2019');
    const other = await store([], 'migrator-key', undefined, 'MIGRATION-2020');
    const institution = async (o: { studyUid: string }) => first((await search('SERIES', [[Tag.StudyInstanceUID, o.studyUid]], [0x00080080]))[0], 0x00080080);
    expect(await institution(inBatch)).toBe('Old Site');
    expect(await institution(other)).toBeUndefined();
  });

  it('refuse a broken rule at save time with the part named, and a second rule of the same name', async () => {
    const before = (await rules.list(true)).length;
    await expect(rules.create({ rule: { name: 'bad', phase: 'ingest', actions: [{ op: 'replace', attribute: 'PatientID', pattern: '([', replacement: '' }] } }, 'alice')).rejects.toThrow(
      /invalid coercion rule: actions\[0\]\.pattern: invalid regular expression/,
    );
    await expect(rules.create({ rule: { name: 'bad', phase: 'ingest', actions: [{ op: 'trim', attribute: 'NoSuchKeyword' }] } }, 'alice')).rejects.toBeInstanceOf(NormalizationError);
    expect((await rules.list(true)).length).toBe(before);
    await rules.create({ rule: { name: 'Twice', phase: 'egress', enabled: false, actions: [{ op: 'trim', attribute: 'PatientID' }] } }, 'alice');
    await expect(rules.create({ rule: { name: 'twice', phase: 'egress', actions: [{ op: 'trim', attribute: 'PatientID' }] } }, 'alice')).rejects.toMatchObject({ kind: 'conflict' });
  });

  it('dry run shows before and after without storing anything, with a rule being tried', () => {
    const json: DicomJson = { '00100020': { vr: 'LO', Value: ['77'] }, '00080020': { vr: 'DA', Value: ['2001/02/03'] } };
    const r = rules.dryRun({ json, phase: 'ingest', aet: 'X', rule: { name: 'try me', phase: 'ingest', actions: [{ op: 'prefix', attribute: 'PatientID', prefix: 'T-' }] } });
    expect(r.before).toBe(json);
    expect(r.after['00100020']).toEqual({ vr: 'LO', Value: ['T-77'] });
    expect(r.after['00080020']).toEqual({ vr: 'DA', Value: ['20010203'] });
    expect(r.applied.map((a) => a.name)).toEqual(expect.arrayContaining(['try me', 'builtin: legacy dates and times']));
    expect(json['00100020']).toEqual({ vr: 'LO', Value: ['77'] });
  });
});

describe('egress', () => {
  it('applies egress rules per destination and writes the destination character set', async () => {
    await rules.create({
      rule: { name: 'to OLDPACS', phase: 'egress', conditions: [{ context: 'aet', equals: 'OLDPACS' }], actions: [{ op: 'remove', attribute: 'StudyDescription' }, { op: 'set', attribute: 'InstitutionName', value: 'Klinikum Süd' }] },
    }, 'alice');
    const o = await store([
      { tag: Tag.StudyDescription, vr: 'LO', value: 'Thorax' },
      { tag: Tag.PatientName, vr: 'PN', value: 'Müller^Jürgen' },
      { tag: 0x00090010, vr: 'LO', value: 'ACME' },
      { tag: 0x00091001, vr: 'OB', value: Buffer.from([1, 2, 3, 4]) },
    ]);
    const toOld = await retrieved(o.sopInstanceUid, o.studyUid, 'OLDPACS');
    const ds = readWholeDataset(toOld.dataset, EXPLICIT_LE);
    expect(ds.specificCharacterSet()).toEqual(['ISO_IR 100']);
    const out = datasetToJson(ds);
    expect(out['00081030']).toBeUndefined();
    expect(first(out, 0x00080080)).toBe('Klinikum Süd');
    expect(first(out, Tag.PatientName)).toEqual({ Alphabetic: 'Müller^Jürgen' });
    expect(toOld.dataset.includes(Buffer.from('Müller', 'latin1'))).toBe(true);
    expect(toOld.dataset.includes(Buffer.from([1, 2, 3, 4]))).toBe(true);
    // Another destination: as stored (UTF-8, description kept).
    const other = await retrieved(o.sopInstanceUid, o.studyUid, 'NEWPACS');
    expect(other.dataset.equals(other.asReceived.subarray(other.asReceived.length - other.dataset.length))).toBe(true);
    expect(first(datasetToJson(readWholeDataset(other.dataset, EXPLICIT_LE)), Tag.StudyDescription)).toBe('Thorax');
  });

  it("writes a node's own character set (set over /api/v1/dicom-nodes), refusing one that is not a Specific Character Set", async () => {
    const nodes = archive.module.get(DicomNodeService);
    await expect(nodes.add({ aet: 'BADPACS', host: '127.0.0.1', port: 104, charset: 'LATIN1' })).rejects.toMatchObject({ kind: 'invalid' });
    await nodes.add({ aet: 'LATINPACS', host: '127.0.0.1', port: 104 });
    const o = await store([{ tag: Tag.PatientName, vr: 'PN', value: 'Müller^Jürgen' }]);
    expect((await retrieved(o.sopInstanceUid, o.studyUid, 'LATINPACS')).dataset.equals((await retrieved(o.sopInstanceUid, o.studyUid, 'NEWPACS')).dataset)).toBe(true);
    expect((await nodes.setCharset('LATINPACS', 'ISO_IR 100')).charset).toEqual(['ISO_IR 100']);
    const latin = readWholeDataset((await retrieved(o.sopInstanceUid, o.studyUid, 'LATINPACS')).dataset, EXPLICIT_LE);
    expect(latin.specificCharacterSet()).toEqual(['ISO_IR 100']);
    expect(first(datasetToJson(latin), Tag.PatientName)).toEqual({ Alphabetic: 'Müller^Jürgen' });
    await expect(nodes.setCharset('NOSUCH', 'ISO_IR 100')).rejects.toMatchObject({ kind: 'not-found' });
    await expect(nodes.setCharset('LATINPACS', 'ISO_IR 999')).rejects.toMatchObject({ kind: 'invalid' });
    expect((await nodes.setCharset('LATINPACS', null)).charset).toBeNull();
  });
});
