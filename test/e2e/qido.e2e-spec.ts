import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { type DicomJson, Tag } from '#vna/dicom';
import { RunningArchive } from '../support/archive-process.js';
import { first, qido, SOP_CLASS, stowAll, syntheticInstance, TEST_UID_ROOT, values } from '../support/dicomweb.js';

const Q = `${TEST_UID_ROOT}.3`;

// Four studies, sorted newest first as QIDO answers them: C, B, A, D.
const A = `${Q}.1`;
const B = `${Q}.2`;
const C = `${Q}.3`;
const D = `${Q}.4`;
const YAMADA = { Alphabetic: 'Yamada^Tarou', Ideographic: '山田^太郎', Phonetic: 'やまだ^たろう' };

const OBJECTS: DicomJson[] = [
  // Study A: a CT series of two images and an SR series of one document.
  ...[1, 2].map((n) =>
    syntheticInstance({
      study: A, series: `${A}.1`, sop: `${A}.1.${n}`, sopClass: SOP_CLASS.CT, modality: 'CT', seriesNumber: 1, instanceNumber: n,
      patientId: 'PID-Q1', patientName: { Alphabetic: 'Doe^John' }, studyDate: '20200315', studyTime: '083000', accession: 'ACC-100',
      studyDescription: 'CHEST CT',
      extra: { '00101010': { vr: 'AS', Value: ['045Y'] }, '00204000': { vr: 'LT', Value: [`image comment ${n}`] } },
    }),
  ),
  syntheticInstance({
    study: A, series: `${A}.2`, sop: `${A}.2.1`, sopClass: SOP_CLASS.BasicTextSR, modality: 'SR', seriesNumber: 2,
    patientId: 'PID-Q1', patientName: { Alphabetic: 'Doe^John' }, studyDate: '20200315', studyTime: '083000', accession: 'ACC-100',
    studyDescription: 'CHEST CT', extra: { '00101010': { vr: 'AS', Value: ['045Y'] } },
  }),
  syntheticInstance({
    study: B, series: `${B}.1`, sop: `${B}.1.1`, sopClass: SOP_CLASS.MR, modality: 'MR', patientId: 'PID-Q2',
    patientName: { Alphabetic: 'DOE^Jane' }, studyDate: '20201231', studyTime: '170000', accession: 'ACC-200', studyDescription: 'BRAIN MR',
  }),
  syntheticInstance({
    study: C, series: `${C}.1`, sop: `${C}.1.1`, modality: 'US', patientId: 'PID-Q3',
    patientName: { Alphabetic: 'Smith^Anna' }, studyDate: '20210101', studyTime: '120000', accession: 'ACC-201', studyDescription: 'ABDOMEN US',
  }),
  syntheticInstance({
    study: D, series: `${D}.1`, sop: `${D}.1.1`, sopClass: SOP_CLASS.CT, modality: 'CT', patientId: 'PID-Q4',
    patientName: YAMADA, studyDate: '20191231', studyTime: '235959', accession: 'ACC-300', studyDescription: 'HEAD CT',
  }),
];

const uids = (rows: DicomJson[], tag: number): unknown[] => rows.map((r) => first(r, tag));

describe('QIDO-RS against the running archive', () => {
  let archive: RunningArchive;
  const studies = async (query: string): Promise<unknown[]> => uids(await qido(archive, `/dicomweb/studies?${query}`), Tag.StudyInstanceUID);

  beforeAll(async () => {
    archive = await RunningArchive.start({ label: 'qido' });
    await stowAll(archive, OBJECTS);
  });

  afterAll(async () => {
    await archive?.destroy();
  });

  it('answers in application/dicom+json with the study attributes of PS3.18 Table 10.6.3-3', async () => {
    const res = await archive.fetch(`/dicomweb/studies?StudyInstanceUID=${A}`, { key: 'reader', headers: { Accept: 'application/dicom+json' } });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^application\/dicom\+json/);
    const [study, ...more] = (await res.json()) as DicomJson[];
    expect(more).toEqual([]);
    expect(study).toMatchObject({
      '00080020': { vr: 'DA', Value: ['20200315'] },
      '00080030': { vr: 'TM', Value: ['083000'] },
      '00080050': { vr: 'SH', Value: ['ACC-100'] },
      '00080061': { vr: 'CS', Value: ['CT', 'SR'] },
      '00081030': { vr: 'LO', Value: ['CHEST CT'] },
      '00081190': { vr: 'UR', Value: [`${archive.baseUrl}/dicomweb/studies/${A}`] },
      '00100010': { vr: 'PN', Value: [{ Alphabetic: 'Doe^John' }] },
      '00100020': { vr: 'LO', Value: ['PID-Q1'] },
      '0020000D': { vr: 'UI', Value: [A] },
      '00201206': { vr: 'IS', Value: [2] },
      '00201208': { vr: 'IS', Value: [3] },
    });
    // Only asked-for attributes beyond the defaults: Patient's Age is not one of them.
    expect(study!['00101010']).toBeUndefined();
    // Names keep their three groups, decoded to UTF-8 (PS3.18 F.2.2).
    const [yamada] = await qido(archive, `/dicomweb/studies?PatientID=PID-Q4`);
    expect(first(yamada, Tag.PatientName)).toEqual(YAMADA);
  });

  it('matches single values and wildcards (* and ?)', async () => {
    expect(await studies('AccessionNumber=ACC-200')).toEqual([B]);
    expect(await studies('00080050=ACC-200')).toEqual([B]);
    expect(await studies('AccessionNumber=ACC-2*')).toEqual([C, B]);
    expect(await studies('AccessionNumber=ACC-?00')).toEqual([B, A, D]);
    expect(await studies('AccessionNumber=ACC-20?')).toEqual([C, B]);
    expect(await studies('StudyDescription=*CT')).toEqual([A, D]);
    expect(await studies('AccessionNumber=*')).toEqual([C, B, A, D]);
    expect(await studies('PatientID=PID-Q3')).toEqual([C]);
    expect(await studies('AccessionNumber=ACC-2')).toEqual([]);
  });

  it('matches PatientName case-insensitively by prefix, in any of its groups; fuzzymatching=true is accepted', async () => {
    expect(await studies('PatientName=doe*')).toEqual([B, A]);
    expect(await studies('PatientName=DOE%5EJ*')).toEqual([B, A]);
    expect(await studies('PatientName=d?e%5Ejohn')).toEqual([A]);
    expect(await studies(`PatientName=${encodeURIComponent('山田*')}`)).toEqual([D]);
    expect(await studies(`PatientName=${encodeURIComponent('やまだ*')}`)).toEqual([D]);
    expect(await studies('PatientName=smith%5Eanna')).toEqual([C]);
    expect(await studies('PatientName=doe')).toEqual([]);
    expect(await studies('PatientName=doe&fuzzymatching=true')).toEqual([B, A]);
    expect(await studies('PatientName=smi&fuzzymatching=false')).toEqual([]);
  });

  it('matches date and time ranges, closed and open (PS3.4 C.2.2.2.5)', async () => {
    expect(await studies('StudyDate=20200101-20201231')).toEqual([B, A]);
    expect(await studies('StudyDate=20201231')).toEqual([B]);
    expect(await studies('StudyDate=20201231-')).toEqual([C, B]);
    expect(await studies('StudyDate=-20200315')).toEqual([A, D]);
    expect(await studies('StudyDate=20220101-')).toEqual([]);
    expect(await studies('StudyTime=080000-120000')).toEqual([C, A]);
    expect(await studies('StudyTime=1700-')).toEqual([B, D]);
    expect(await studies('StudyTime=-0830')).toEqual([A]);
    expect(await studies('StudyDate=20200101-20201231&StudyTime=1200-')).toEqual([B]);
  });

  it('matches a list of UIDs, comma-separated (PS3.18 8.3.4.1) or backslash-separated (PS3.4 C.2.2.2.2)', async () => {
    expect(await studies(`StudyInstanceUID=${A},${C}`)).toEqual([C, A]);
    expect(await studies(`StudyInstanceUID=${A}%5C${C}`)).toEqual([C, A]);
    expect(await studies(`StudyInstanceUID=${A}&StudyInstanceUID=${D}`)).toEqual([A, D]);
    expect(uids(await qido(archive, `/dicomweb/series?SeriesInstanceUID=${A}.2,${B}.1`), Tag.SeriesInstanceUID)).toEqual([`${A}.2`, `${B}.1`]);
    expect(uids(await qido(archive, `/dicomweb/instances?SOPInstanceUID=${A}.1.2,${D}.1.1`), Tag.SOPInstanceUID)).toEqual([`${A}.1.2`, `${D}.1.1`]);
  });

  it('matches ModalitiesInStudy', async () => {
    expect(await studies('ModalitiesInStudy=CT')).toEqual([A, D]);
    expect(await studies('ModalitiesInStudy=SR')).toEqual([A]);
    expect(await studies('ModalitiesInStudy=MR')).toEqual([B]);
    expect(await studies('ModalitiesInStudy=XA')).toEqual([]);
  });

  it('returns include fields named by tag or keyword, and every stored attribute with includefield=all', async () => {
    const age = async (query: string) => (await qido(archive, `/dicomweb/studies?StudyInstanceUID=${A}&${query}`)).map((s) => s['00101010']);
    expect(await age('includefield=00101010')).toEqual([{ vr: 'AS', Value: ['045Y'] }]);
    expect(await age('includefield=PatientAge')).toEqual([{ vr: 'AS', Value: ['045Y'] }]);
    expect(await age('includefield=PatientAge,StudyID')).toEqual([{ vr: 'AS', Value: ['045Y'] }]);
    expect(await age('includefield=all')).toEqual([{ vr: 'AS', Value: ['045Y'] }]);
    const [instance] = await qido(archive, `/dicomweb/studies/${A}/series/${A}.1/instances?SOPInstanceUID=${A}.1.2&includefield=all`);
    expect(instance!['00204000']).toEqual({ vr: 'LT', Value: ['image comment 2'] });
    const [plain] = await qido(archive, `/dicomweb/studies/${A}/series/${A}.1/instances?SOPInstanceUID=${A}.1.2`);
    expect(plain!['00204000']).toBeUndefined();
    const [asked] = await qido(archive, `/dicomweb/studies/${A}/series/${A}.1/instances?SOPInstanceUID=${A}.1.2&includefield=ImageComments`);
    expect(asked!['00204000']).toEqual({ vr: 'LT', Value: ['image comment 2'] });
  });

  it('pages with limit and offset', async () => {
    expect(await studies('limit=2')).toEqual([C, B]);
    expect(await studies('limit=2&offset=2')).toEqual([A, D]);
    expect(await studies('offset=3')).toEqual([D]);
    expect(await studies('offset=4')).toEqual([]);
    const res = await archive.fetch('/dicomweb/studies?limit=4', { key: 'reader' });
    expect(res.headers.get('warning')).toBeNull();
  });

  it('searches series at /series and /studies/{uid}/series', async () => {
    const all = await qido(archive, '/dicomweb/series');
    expect(uids(all, Tag.SeriesInstanceUID).sort()).toEqual([`${A}.1`, `${A}.2`, `${B}.1`, `${C}.1`, `${D}.1`]);
    // Without a study in the path, the study's attributes come along (PS3.18 10.6.3.3).
    const b = all.find((s) => first(s, Tag.SeriesInstanceUID) === `${B}.1`)!;
    expect(first(b, Tag.PatientName)).toEqual({ Alphabetic: 'DOE^Jane' });
    expect(first(b, Tag.StudyInstanceUID)).toBe(B);

    const ofA = await qido(archive, `/dicomweb/studies/${A}/series`);
    expect(ofA.map((s) => ({ uid: first(s, Tag.SeriesInstanceUID), modality: first(s, Tag.Modality), number: first(s, Tag.SeriesNumber), count: first(s, Tag.NumberOfSeriesRelatedInstances), url: first(s, Tag.RetrieveURL) }))).toEqual([
      { uid: `${A}.1`, modality: 'CT', number: 1, count: 2, url: `${archive.baseUrl}/dicomweb/studies/${A}/series/${A}.1` },
      { uid: `${A}.2`, modality: 'SR', number: 2, count: 1, url: `${archive.baseUrl}/dicomweb/studies/${A}/series/${A}.2` },
    ]);
    expect(uids(await qido(archive, `/dicomweb/studies/${A}/series?Modality=SR`), Tag.SeriesInstanceUID)).toEqual([`${A}.2`]);
    expect(uids(await qido(archive, '/dicomweb/series?Modality=CT'), Tag.SeriesInstanceUID)).toEqual([`${A}.1`, `${D}.1`]);
    expect(uids(await qido(archive, '/dicomweb/series?PatientName=doe*'), Tag.SeriesInstanceUID)).toEqual([`${A}.1`, `${A}.2`, `${B}.1`]);
    expect(uids(await qido(archive, `/dicomweb/series?StudyInstanceUID=${B}`), Tag.SeriesInstanceUID)).toEqual([`${B}.1`]);
    expect(await qido(archive, `/dicomweb/studies/${Q}.404/series`)).toEqual([]);
  });

  it('searches instances at /instances, /studies/{uid}/instances and /studies/{uid}/series/{uid}/instances', async () => {
    const all = await qido(archive, '/dicomweb/instances');
    expect(uids(all, Tag.SOPInstanceUID).sort()).toEqual(OBJECTS.map((o) => first(o, Tag.SOPInstanceUID)).sort());
    const d = all.find((i) => first(i, Tag.SOPInstanceUID) === `${D}.1.1`)!;
    expect(first(d, Tag.PatientName)).toEqual(YAMADA);
    expect(first(d, Tag.RetrieveURL)).toBe(`${archive.baseUrl}/dicomweb/studies/${D}/series/${D}.1/instances/${D}.1.1`);
    expect(first(d, Tag.SOPClassUID)).toBe(SOP_CLASS.CT);

    const ofA = await qido(archive, `/dicomweb/studies/${A}/instances`);
    expect(ofA.map((i) => [first(i, Tag.SeriesInstanceUID), first(i, Tag.SOPInstanceUID), first(i, Tag.InstanceNumber)])).toEqual([
      [`${A}.1`, `${A}.1.1`, 1],
      [`${A}.1`, `${A}.1.2`, 2],
      [`${A}.2`, `${A}.2.1`, 1],
    ]);
    expect(uids(await qido(archive, `/dicomweb/studies/${A}/series/${A}.1/instances`), Tag.SOPInstanceUID)).toEqual([`${A}.1.1`, `${A}.1.2`]);
    expect(uids(await qido(archive, `/dicomweb/studies/${A}/instances?InstanceNumber=2`), Tag.SOPInstanceUID)).toEqual([`${A}.1.2`]);
    expect(uids(await qido(archive, `/dicomweb/studies/${A}/instances?SOPClassUID=${SOP_CLASS.BasicTextSR}`), Tag.SOPInstanceUID)).toEqual([`${A}.2.1`]);
    expect(uids(await qido(archive, '/dicomweb/instances?Modality=CT'), Tag.SOPInstanceUID)).toEqual([`${A}.1.1`, `${A}.1.2`, `${D}.1.1`]);
    expect(uids(await qido(archive, '/dicomweb/instances?StudyDate=20201231'), Tag.SOPInstanceUID)).toEqual([`${B}.1.1`]);
    // The series in the path must belong to the study in the path.
    expect(await qido(archive, `/dicomweb/studies/${B}/series/${A}.1/instances`)).toEqual([]);
  });

  it('answers 204 with no body when nothing matches (PS3.18 10.6.3.1)', async () => {
    const res = await archive.fetch('/dicomweb/studies?PatientID=NOBODY', { key: 'reader' });
    expect(res.status).toBe(204);
    expect(await res.text()).toBe('');
  });

  it('answers 400 as problem+json for an unknown attribute or a bad value', async () => {
    for (const query of [
      'NoSuchAttribute=1',
      'includefield=NoSuchKeyword',
      'includefield=GGGGEEEE',
      'limit=-1',
      'limit=ten',
      'offset=x',
      'StudyDate=2020',
      'StudyDate=20200101-20201301x',
      'StudyTime=25h',
      'StudyInstanceUID=not-a-uid',
      'ReferencedStudySequence.StudyInstanceUID=1.2',
    ]) {
      const res = await archive.fetch(`/dicomweb/studies?${query}`, { key: 'reader' });
      const body = (await res.json()) as { status?: number };
      expect({ query, status: res.status, type: res.headers.get('content-type'), body: body.status }).toEqual({
        query,
        status: 400,
        type: expect.stringMatching(/^application\/problem\+json/),
        body: 400,
      });
    }
  });
});
