import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { type DicomJson, Tag, tagToHex, type WriteElement } from '#vna/dicom';
import {
  type ArchiveHarness,
  CT_IMAGE_STORAGE,
  imageDataset,
  MR_IMAGE_STORAGE,
  type MediumEnv,
  mediumEnv,
  startArchive,
  storeDataset,
  uid,
} from '../../../../test/support/medium.js';
import { QueryValueError } from './matching.js';
import type { QueryLevel, QueryRequest } from './query.model.js';

/**
 * QueryService against PostgreSQL with 40 patients, 80 studies, 160 series and 320 instances,
 * ingested through the real path. Every search is checked against the same question asked of
 * the generated model in memory: it must find what it should, and only that.
 */

const NameOfPhysiciansReadingStudy = 0x00081060; // study level, PN, no column of its own
const PR_STORAGE = '1.2.840.10008.5.1.4.1.1.11.1'; // Grayscale Softcopy Presentation State: no Rows
const MAX_RESULTS = 150;
const NAMES = [
  'Smith^John',
  'Smithson^Jane',
  'Müller^Hans',
  'MUELLER^Anna',
  'O_Neil^Pat',
  'OXNeil^Sam',
  'Yamada^Tarou=山田^太郎=やまだ^たろう',
  'Doe^Jane',
  'Dupont^René',
  'Lee^Min',
];

interface PatientM {
  id: string;
  name: string;
  birthDate: string;
  sex: string;
  studies: StudyM[];
}
interface StudyM {
  patient: PatientM;
  uid: string;
  date: string;
  time: string;
  accession: string;
  description: string;
  referring: string;
  reader: string;
  series: SeriesM[];
}
interface SeriesM {
  study: StudyM;
  uid: string;
  modality: string;
  number: number;
  bodyPart: string;
  manufacturer: string;
  sopClass: string;
  instances: InstanceM[];
}
interface InstanceM {
  series: SeriesM;
  uid: string;
  number: number;
}

const pad = (n: number, w: number): string => String(n).padStart(w, '0');

function model(): PatientM[] {
  const patients: PatientM[] = [];
  for (let p = 0; p < 40; p++) {
    const patient: PatientM = { id: `QP${pad(p, 3)}`, name: NAMES[p % NAMES.length]!, birthDate: `${1950 + p}0615`, sex: p % 2 ? 'F' : 'M', studies: [] };
    for (let s = 0; s < 2; s++) {
      const n = p * 2 + s;
      const day = new Date(Date.UTC(2019, 0, 1) + n * 9 * 86_400_000);
      const study: StudyM = {
        patient,
        uid: uid(),
        date: `${day.getUTCFullYear()}${pad(day.getUTCMonth() + 1, 2)}${pad(day.getUTCDate(), 2)}`,
        time: `${pad(n % 24, 2)}${pad((p * 7 + s * 13) % 60, 2)}00`,
        accession: `ACC${pad(n, 4)}`,
        description: s === 0 ? `Thorax ${p}` : `Knee ${p}`,
        referring: p % 3 === 0 ? 'House^Gregory' : 'Wilson^James',
        reader: p % 5 === 0 ? 'Reader^Rita' : 'Other^Otto',
        series: [],
      };
      patient.studies.push(study);
      for (let e = 0; e < 2; e++) {
        const modality = s === 0 ? (e === 0 ? 'CT' : 'PR') : 'MR';
        const series: SeriesM = {
          study,
          uid: uid(),
          modality,
          number: e + 1,
          bodyPart: s === 0 ? 'CHEST' : 'KNEE',
          manufacturer: p % 4 === 0 ? 'ACME' : 'Globex',
          sopClass: modality === 'CT' ? CT_IMAGE_STORAGE : modality === 'MR' ? MR_IMAGE_STORAGE : PR_STORAGE,
          instances: [],
        };
        study.series.push(series);
        for (let i = 0; i < 2; i++) series.instances.push({ series, uid: uid(), number: i + 1 });
      }
    }
    patients.push(patient);
  }
  return patients;
}

function elementsOf(inst: InstanceM): WriteElement[] {
  const se = inst.series;
  const st = se.study;
  const pt = st.patient;
  const els: WriteElement[] = [
    { tag: Tag.SOPClassUID, vr: 'UI', value: se.sopClass },
    { tag: Tag.PatientName, vr: 'PN', value: pt.name },
    { tag: Tag.PatientID, vr: 'LO', value: pt.id },
    { tag: Tag.PatientBirthDate, vr: 'DA', value: pt.birthDate },
    { tag: Tag.PatientSex, vr: 'CS', value: pt.sex },
    { tag: Tag.StudyDate, vr: 'DA', value: st.date },
    { tag: Tag.StudyTime, vr: 'TM', value: st.time },
    { tag: Tag.AccessionNumber, vr: 'SH', value: st.accession },
    { tag: Tag.StudyDescription, vr: 'LO', value: st.description },
    { tag: Tag.ReferringPhysicianName, vr: 'PN', value: st.referring },
    { tag: NameOfPhysiciansReadingStudy, vr: 'PN', value: st.reader },
    { tag: Tag.StudyID, vr: 'SH', value: `S${st.accession.slice(3)}` },
    { tag: Tag.Modality, vr: 'CS', value: se.modality },
    { tag: Tag.SeriesNumber, vr: 'IS', value: String(se.number) },
    { tag: Tag.BodyPartExamined, vr: 'CS', value: se.bodyPart },
    { tag: Tag.Manufacturer, vr: 'LO', value: se.manufacturer },
    { tag: Tag.SeriesDescription, vr: 'LO', value: `${se.modality} series ${se.number}` },
    { tag: Tag.InstanceNumber, vr: 'IS', value: String(inst.number) },
  ];
  return els;
}

let env: MediumEnv;
let archive: ArchiveHarness;
let patients: PatientM[];
let studies: StudyM[];
let series: SeriesM[];
let instances: InstanceM[];
let revised: InstanceM;

beforeAll(async () => {
  env = await mediumEnv('query', { VNA_QIDO_MAX_RESULTS: String(MAX_RESULTS) });
  archive = await startArchive(env);
  patients = model();
  studies = patients.flatMap((p) => p.studies);
  series = studies.flatMap((s) => s.series);
  instances = series.flatMap((s) => s.instances);
  const queue = [...instances];
  const store = async (inst: InstanceM, fill = 0): Promise<void> => {
    const bytes = imageDataset({
      sopInstanceUid: inst.uid,
      studyUid: inst.series.study.uid,
      seriesUid: inst.series.uid,
      sopClassUid: inst.series.sopClass,
      extra: elementsOf(inst),
      pixels: Buffer.alloc(32, fill),
      // A presentation state has no image attributes.
      noImage: inst.series.modality === 'PR',
    });
    await storeDataset(archive.ingest, bytes, { sopInstanceUid: inst.uid, sopClassUid: inst.series.sopClass });
  };
  await Promise.all(
    Array.from({ length: 8 }, async () => {
      for (let inst = queue.shift(); inst; inst = queue.shift()) await store(inst);
    }),
  );
  // A second version of one instance: queries see the current one only, counts do not change.
  revised = instances[5]!;
  await store(revised, 0x55);
}, 180_000);

afterAll(async () => {
  await archive?.close();
  await env?.cleanup();
});


function request(level: QueryLevel, keys: [number, string][] = [], extra: Partial<QueryRequest> = {}): QueryRequest {
  return { level, keys: new Map(keys), includeFields: [], includeAll: false, limit: 1000, offset: 0, relational: true, ...extra };
}

async function search(level: QueryLevel, keys: [number, string][] = [], extra: Partial<QueryRequest> = {}): Promise<DicomJson[]> {
  return (await archive.query.search(request(level, keys, extra))).matches;
}

const value = (m: DicomJson, tag: number): unknown => m[tagToHex(tag)]?.Value?.[0];
const uids = (matches: DicomJson[], tag: number): string[] => matches.map((m) => String(value(m, tag))).sort();
const sorted = (xs: string[]): string[] => [...xs].sort();

/**
 * What a search must find: `some` (the usual case) is neither nothing nor everything, so that a
 * key that matched nothing, or was ignored, cannot pass for one that works.
 */
type Expect = 'some' | 'none' | 'all';

function check<T extends { uid: string }>(all: T[], expected: (x: T) => boolean, kind: Expect): string[] {
  const want = sorted(all.filter(expected).map((x) => x.uid));
  expect(want.length).toBeLessThanOrEqual(MAX_RESULTS);
  if (kind === 'none') expect(want).toHaveLength(0);
  if (kind === 'all') expect(want).toHaveLength(all.length);
  if (kind === 'some') {
    expect(want.length).toBeGreaterThan(0);
    expect(want.length).toBeLessThan(all.length);
  }
  return want;
}

async function expectStudies(keys: [number, string][], expected: (s: StudyM) => boolean, kind: Expect = 'some'): Promise<void> {
  const want = check(studies, expected, kind);
  expect(uids(await search('STUDY', keys), Tag.StudyInstanceUID)).toEqual(want);
}

async function expectSeries(keys: [number, string][], expected: (s: SeriesM) => boolean, kind: Expect = 'some'): Promise<void> {
  const want = check(series, expected, kind);
  expect(uids(await search('SERIES', keys), Tag.SeriesInstanceUID)).toEqual(want);
}

async function expectInstances(keys: [number, string][], expected: (i: InstanceM) => boolean, kind: Expect = 'some'): Promise<void> {
  const want = check(instances, expected, kind);
  expect(uids(await search('IMAGE', keys), Tag.SOPInstanceUID)).toEqual(want);
}

const alphabetic = (name: string): string => name.split('=')[0]!;

describe('QueryService against PostgreSQL', () => {
  describe('patient name (PN)', () => {
    it('wildcards, case-insensitive on the alphabetic group', async () => {
      await expectStudies([[Tag.PatientName, 'Smith*']], (s) => alphabetic(s.patient.name).toUpperCase().startsWith('SMITH'));
      await expectStudies([[Tag.PatientName, 'smith^john']], (s) => s.patient.name === 'Smith^John');
      await expectStudies([[Tag.PatientName, '*^JAN?']], (s) => /\^Jane$/.test(s.patient.name));
    });

    it('LIKE metacharacters in the value match only themselves', async () => {
      await expectStudies([[Tag.PatientName, 'O_Neil*']], (s) => s.patient.name.startsWith('O_Neil'));
      await expectStudies([[Tag.PatientName, 'O?Neil*']], (s) => /^O.Neil/.test(s.patient.name));
    });

    it('non-ASCII letters fold case too, and MUELLER is not Müller', async () => {
      await expectStudies([[Tag.PatientName, 'müller*']], (s) => s.patient.name === 'Müller^Hans');
      await expectStudies([[Tag.PatientName, 'MUELLER*']], (s) => s.patient.name === 'MUELLER^Anna');
    });

    it('the ideographic and phonetic groups', async () => {
      const yamada = (s: StudyM): boolean => s.patient.name.startsWith('Yamada');
      await expectStudies([[Tag.PatientName, '山田*']], yamada);
      await expectStudies([[Tag.PatientName, 'やまだ^たろう']], yamada);
      await expectStudies([[Tag.PatientName, '=山田^太郎']], yamada);
      await expectStudies([[Tag.PatientName, 'Yamada^Tarou=山田*']], yamada);
      await expectStudies([[Tag.PatientName, 'Yamada^Tarou=佐藤*']], () => false, 'none');
    });

    it('is returned as decoded groups', async () => {
      const [m] = await search('STUDY', [[Tag.PatientName, '山田*']], { limit: 1 });
      expect(m?.['00100010']).toEqual({ vr: 'PN', Value: [{ Alphabetic: 'Yamada^Tarou', Ideographic: '山田^太郎', Phonetic: 'やまだ^たろう' }] });
    });

    it('universal matching', async () => {
      await expectStudies([[Tag.PatientName, '*']], () => true, 'all');
      await expectStudies([[Tag.PatientName, '']], () => true, 'all');
    });

    it('a PN attribute without a column of its own (Name of Physician(s) Reading Study): matched, or at worst ignored', async () => {
      // PS3.18 lets a server ignore a key it does not support, but not answer "no match" for one that matches.
      const want = sorted(studies.filter((s) => s.reader === 'Reader^Rita').map((s) => s.uid));
      expect(want.length).toBeGreaterThan(0);
      for (const value of ['Reader^Rita', 'Reader*']) {
        const found = uids(await search('STUDY', [[NameOfPhysiciansReadingStudy, value]]), Tag.StudyInstanceUID);
        expect(found).toEqual(expect.arrayContaining(want));
      }
    });

    it('referring physician, case-insensitive', async () => {
      await expectStudies([[Tag.ReferringPhysicianName, 'house*']], (s) => s.referring.startsWith('House'));
    });
  });

  describe('text, UID and list keys', () => {
    it('patient ID, single value and wildcard', async () => {
      await expectStudies([[Tag.PatientID, 'QP007']], (s) => s.patient.id === 'QP007');
      await expectStudies([[Tag.PatientID, 'QP00*']], (s) => s.patient.id.startsWith('QP00'));
      await expectStudies([[Tag.PatientID, 'qp007']], () => false, 'none');
    });

    it('accession number and study description', async () => {
      await expectStudies([[Tag.AccessionNumber, 'ACC0042']], (s) => s.accession === 'ACC0042');
      await expectStudies([[Tag.StudyDescription, 'Thorax 1*']], (s) => s.description.startsWith('Thorax 1'));
    });

    it('a list of study UIDs', async () => {
      const some = [studies[3]!, studies[40]!, studies[77]!];
      await expectStudies([[Tag.StudyInstanceUID, some.map((s) => s.uid).join('\\')]], (s) => some.includes(s));
      await expectStudies([[Tag.StudyInstanceUID, studies[9]!.uid]], (s) => s === studies[9]);
    });

    it('modalities in study and SOP classes in study', async () => {
      await expectStudies([[Tag.ModalitiesInStudy, 'PR']], (s) => s.series.some((x) => x.modality === 'PR'));
      await expectStudies([[Tag.ModalitiesInStudy, 'CT\\MR']], (s) => s.series.some((x) => ['CT', 'MR'].includes(x.modality)), 'all');
      await expectStudies([[Tag.ModalitiesInStudy, 'US']], () => false, 'none');
      await expectStudies([[Tag.SOPClassesInStudy, MR_IMAGE_STORAGE]], (s) => s.series.some((x) => x.sopClass === MR_IMAGE_STORAGE));
    });

    it('several keys together: all must match', async () => {
      await expectStudies(
        [
          [Tag.PatientName, 'Smith*'],
          [Tag.ModalitiesInStudy, 'MR'],
          [Tag.StudyDate, '20190101-20191231'],
        ],
        (s) => alphabetic(s.patient.name).startsWith('Smith') && s.series.some((x) => x.modality === 'MR') && s.date <= '20191231',
      );
    });

    it('refuses values that cannot be matched', async () => {
      await expect(search('STUDY', [[Tag.StudyInstanceUID, '1.2.*']])).rejects.toBeInstanceOf(QueryValueError);
      await expect(search('STUDY', [[Tag.StudyDate, 'yesterday']])).rejects.toBeInstanceOf(QueryValueError);
      await expect(search('SERIES', [[Tag.SeriesNumber, 'two']])).rejects.toBeInstanceOf(QueryValueError);
    });
  });

  describe('dates and times', () => {
    it('single date, closed range, open ranges', async () => {
      const d = studies[10]!.date;
      await expectStudies([[Tag.StudyDate, d]], (s) => s.date === d);
      await expectStudies([[Tag.StudyDate, '20190301-20190630']], (s) => s.date >= '20190301' && s.date <= '20190630');
      await expectStudies([[Tag.StudyDate, '20200601-']], (s) => s.date >= '20200601');
      await expectStudies([[Tag.StudyDate, '-20190115']], (s) => s.date <= '20190115');
      await expectStudies([[Tag.StudyDate, '2019.03.01-2019.06.30']], (s) => s.date >= '20190301' && s.date <= '20190630');
    });

    it('patient birth date range', async () => {
      await expectStudies([[Tag.PatientBirthDate, '19600101-19691231']], (s) => s.patient.birthDate >= '19600101' && s.patient.birthDate <= '19691231');
    });

    it('time ranges and partial times', async () => {
      await expectStudies([[Tag.StudyTime, '0800-1159']], (s) => s.time >= '0800' && s.time <= '115959.999999');
      await expectStudies([[Tag.StudyTime, '10']], (s) => s.time.startsWith('10'));
      await expectStudies([[Tag.StudyTime, '-0130']], (s) => s.time <= '013059.999999');
    });
  });

  describe('series level', () => {
    it('modality, single and list', async () => {
      await expectSeries([[Tag.Modality, 'CT']], (s) => s.modality === 'CT');
      await expectSeries([[Tag.Modality, 'CT\\PR']], (s) => ['CT', 'PR'].includes(s.modality));
    });

    it('series number, body part, and an attribute without a column of its own', async () => {
      await expectSeries([[Tag.SeriesNumber, '2'], [Tag.BodyPartExamined, 'KNEE']], (s) => s.number === 2 && s.bodyPart === 'KNEE');
      await expectSeries([[Tag.Manufacturer, 'ACME'], [Tag.Modality, 'MR']], (s) => s.manufacturer === 'ACME' && s.modality === 'MR');
      await expectSeries([[Tag.Manufacturer, 'Glob*'], [Tag.PatientID, 'QP01*']], (s) => s.manufacturer === 'Globex' && s.study.patient.id.startsWith('QP01'));
    });

    it('within one study, with its instance count', async () => {
      const st = studies[20]!;
      const matches = await search('SERIES', [[Tag.StudyInstanceUID, st.uid]], { includeFields: [Tag.NumberOfSeriesRelatedInstances] });
      expect(uids(matches, Tag.SeriesInstanceUID)).toEqual(sorted(st.series.map((s) => s.uid)));
      for (const m of matches) expect(value(m, Tag.NumberOfSeriesRelatedInstances)).toBe(2);
      // Ordered by series number.
      expect(matches.map((m) => value(m, Tag.SeriesNumber))).toEqual([1, 2]);
    });
  });

  describe('instance level', () => {
    it('SOP Instance UID list, SOP class, instance number', async () => {
      const some = [instances[0]!, instances[123]!, instances[319]!];
      await expectInstances([[Tag.SOPInstanceUID, some.map((i) => i.uid).join('\\')]], (i) => some.includes(i));
      await expectInstances([[Tag.SOPClassUID, PR_STORAGE], [Tag.PatientID, 'QP00*']], (i) => i.series.sopClass === PR_STORAGE && i.series.study.patient.id.startsWith('QP00'));
      await expectInstances([[Tag.InstanceNumber, '2'], [Tag.Modality, 'CT']], (i) => i.number === 2 && i.series.modality === 'CT');
    });

    it('within a series, current versions only, with their image attributes', async () => {
      const se = revised.series;
      const matches = await search('IMAGE', [[Tag.StudyInstanceUID, se.study.uid], [Tag.SeriesInstanceUID, se.uid]]);
      expect(uids(matches, Tag.SOPInstanceUID)).toEqual(sorted(se.instances.map((i) => i.uid)));
      expect(matches.map((m) => value(m, Tag.InstanceNumber))).toEqual([1, 2]);
      const image = matches[0]!;
      expect(image['00280010']).toEqual(se.modality === 'PR' ? { vr: 'US' } : { vr: 'US', Value: [4] });
    });

    it('a presentation state has no Rows: answered with an empty attribute', async () => {
      const pr = instances.find((i) => i.series.modality === 'PR')!;
      const [m] = await search('IMAGE', [[Tag.SOPInstanceUID, pr.uid]]);
      expect(m?.['00280010']).toEqual({ vr: 'US' });
      expect(value(m!, Tag.SOPClassUID)).toBe(PR_STORAGE);
    });
  });

  describe('counts', () => {
    it('studies: series and instances, a second version not counted twice; modalities in study', async () => {
      const matches = await search('STUDY', [], { includeFields: [Tag.NumberOfStudyRelatedSeries, Tag.NumberOfStudyRelatedInstances, Tag.ModalitiesInStudy], limit: MAX_RESULTS });
      expect(matches).toHaveLength(studies.length);
      for (const m of matches) {
        const st = studies.find((s) => s.uid === value(m, Tag.StudyInstanceUID))!;
        expect(value(m, Tag.NumberOfStudyRelatedSeries)).toBe(2);
        expect(value(m, Tag.NumberOfStudyRelatedInstances)).toBe(4);
        expect([...((m['00080061']?.Value as string[]) ?? [])].sort()).toEqual(sorted([...new Set(st.series.map((s) => s.modality))]));
      }
    });

    it('patients: studies, series and instances', async () => {
      const matches = await search('PATIENT', [[Tag.PatientName, 'Smith^John']], {
        includeFields: [Tag.NumberOfPatientRelatedStudies, Tag.NumberOfPatientRelatedSeries, Tag.NumberOfPatientRelatedInstances],
      });
      expect(uids(matches, Tag.PatientID)).toEqual(sorted(patients.filter((p) => p.name === 'Smith^John').map((p) => p.id)));
      for (const m of matches) {
        expect(value(m, Tag.NumberOfPatientRelatedStudies)).toBe(2);
        expect(value(m, Tag.NumberOfPatientRelatedSeries)).toBe(4);
        expect(value(m, Tag.NumberOfPatientRelatedInstances)).toBe(8);
      }
    });

    it('instances: one row per SOP Instance UID although one has two versions', async () => {
      const all: DicomJson[] = [];
      for (let offset = 0; ; offset += MAX_RESULTS) {
        const page = await archive.query.search(request('IMAGE', [], { limit: MAX_RESULTS, offset }));
        all.push(...page.matches);
        if (!page.truncated) break;
      }
      expect(all).toHaveLength(instances.length);
      expect(uids(all, Tag.SOPInstanceUID)).toEqual(sorted(instances.map((i) => i.uid)));
    });
  });

  describe('paging', () => {
    async function pages(level: QueryLevel, size: number): Promise<{ matches: DicomJson[]; truncated: boolean }[]> {
      const out = [];
      for (let offset = 0; offset < 400; offset += size) {
        const page = await archive.query.search(request(level, [], { limit: size, offset }));
        out.push(page);
        if (!page.truncated) break;
      }
      return out;
    }

    it('studies: pages of 7 add up to the whole list once each, in a stable order', async () => {
      const whole = (await archive.query.search(request('STUDY', [], { limit: MAX_RESULTS }))).matches.map((m) => String(value(m, Tag.StudyInstanceUID)));
      expect(whole).toHaveLength(studies.length);
      const paged = await pages('STUDY', 7);
      expect(paged.map((p) => p.truncated)).toEqual([...new Array<boolean>(paged.length - 1).fill(true), false]);
      expect(paged.at(-1)!.matches).toHaveLength(studies.length % 7 || 7);
      const joined = paged.flatMap((p) => p.matches.map((m) => String(value(m, Tag.StudyInstanceUID))));
      expect(joined).toEqual(whole);
      // Newest first.
      const dates = paged.flatMap((p) => p.matches.map((m) => String(value(m, Tag.StudyDate))));
      expect(dates).toEqual([...dates].sort().reverse());
      // The same page twice is the same page.
      const again = await archive.query.search(request('STUDY', [], { limit: 7, offset: 14 }));
      expect(again.matches).toEqual(paged[2]!.matches);
    });

    it('series: pages of 13 add up to the whole list once each', async () => {
      const joined = (await pages('SERIES', 13)).flatMap((p) => p.matches.map((m) => String(value(m, Tag.SeriesInstanceUID))));
      expect(joined).toHaveLength(series.length);
      expect(new Set(joined).size).toBe(series.length);
    });

    it('an offset past the end is empty and not truncated', async () => {
      expect(await archive.query.search(request('STUDY', [], { limit: 10, offset: 1000 }))).toEqual({ matches: [], truncated: false });
    });

    it('a limit above VNA_QIDO_MAX_RESULTS is capped, and the answer says there is more', async () => {
      const result = await archive.query.search(request('IMAGE', [], { limit: 100_000 }));
      expect(result.matches).toHaveLength(MAX_RESULTS);
      expect(result.truncated).toBe(true);
    });

    it('an exact fit is not truncated', async () => {
      const result = await archive.query.search(request('STUDY', [], { limit: studies.length }));
      expect(result.matches).toHaveLength(studies.length);
      expect(result.truncated).toBe(false);
    });
  });
});
