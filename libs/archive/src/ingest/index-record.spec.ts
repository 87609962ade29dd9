import { describe, expect, it } from '@jest/globals';
import { type DicomDataset, encodeDataset, EXPLICIT_LE, readWholeDataset, Tag, type WriteElement } from '#vna/dicom';
import { PATIENT_LEVEL, SERIES_LEVEL, STUDY_LEVEL } from '../model/levels.js';
import { BULK_PLACEHOLDER_PREFIX, buildIndexRecord, MissingAttributeError } from './index-record.js';

const STUDY = '1.2.826.0.1.3680043.8.498.1';
const SERIES = '1.2.826.0.1.3680043.8.498.1.1';
const SOP = '1.2.826.0.1.3680043.8.498.1.1.1';
const CT = '1.2.840.10008.5.1.4.1.1.2';

function ct(overrides: WriteElement[] = [], without: number[] = []): WriteElement[] {
  const base: WriteElement[] = [
    { tag: Tag.SpecificCharacterSet, vr: 'CS', value: 'ISO_IR 100' },
    { tag: Tag.ImageType, vr: 'CS', value: 'ORIGINAL\\PRIMARY\\AXIAL' },
    { tag: Tag.SOPClassUID, vr: 'UI', value: CT },
    { tag: Tag.SOPInstanceUID, vr: 'UI', value: SOP },
    { tag: Tag.StudyDate, vr: 'DA', value: '20200131' },
    { tag: Tag.StudyTime, vr: 'TM', value: '101500' },
    { tag: Tag.AccessionNumber, vr: 'SH', value: 'ACC1' },
    { tag: Tag.Modality, vr: 'CS', value: 'CT' },
    { tag: Tag.Manufacturer, vr: 'LO', value: 'ACME' },
    { tag: Tag.ReferringPhysicianName, vr: 'PN', value: Buffer.from('Ärztin^Eva', 'latin1') },
    { tag: Tag.StudyDescription, vr: 'LO', value: Buffer.from('Thorax Übersicht', 'latin1') },
    { tag: Tag.SeriesDescription, vr: 'LO', value: 'Axial 1mm' },
    { tag: Tag.PatientName, vr: 'PN', value: Buffer.from('Müller^Hans', 'latin1') },
    { tag: Tag.PatientID, vr: 'LO', value: 'PID-1' },
    { tag: Tag.IssuerOfPatientID, vr: 'LO', value: 'HOSP' },
    { tag: Tag.PatientBirthDate, vr: 'DA', value: '19700101' },
    { tag: Tag.PatientSex, vr: 'CS', value: 'M' },
    { tag: Tag.PatientAge, vr: 'AS', value: '050Y' },
    { tag: Tag.BodyPartExamined, vr: 'CS', value: 'CHEST' },
    { tag: Tag.StudyInstanceUID, vr: 'UI', value: STUDY },
    { tag: Tag.SeriesInstanceUID, vr: 'UI', value: SERIES },
    { tag: Tag.StudyID, vr: 'SH', value: 'S1' },
    { tag: Tag.SeriesNumber, vr: 'IS', value: '3' },
    { tag: Tag.InstanceNumber, vr: 'IS', value: '17' },
    { tag: Tag.PerformedProcedureStepStartDate, vr: 'DA', value: '20200131' },
    { tag: Tag.PerformedProcedureStepStartTime, vr: 'TM', value: '1015' },
    { tag: Tag.SamplesPerPixel, vr: 'US', value: [1] },
    { tag: Tag.NumberOfFrames, vr: 'IS', value: '2' },
    { tag: Tag.Rows, vr: 'US', value: [512] },
    { tag: Tag.Columns, vr: 'US', value: [256] },
    { tag: Tag.BitsAllocated, vr: 'US', value: [16] },
  ];
  const replaced = new Set(overrides.map((e) => e.tag));
  return [...base.filter((e) => !replaced.has(e.tag) && !without.includes(e.tag)), ...overrides];
}

function parse(elements: WriteElement[]): DicomDataset {
  return readWholeDataset(encodeDataset(elements, EXPLICIT_LE), EXPLICIT_LE);
}

const keysOf = (json: object): number[] => Object.keys(json).map((k) => parseInt(k, 16));

describe('buildIndexRecord', () => {
  it('fills the patient, study, series and instance columns, text decoded to UTF-8', () => {
    const r = buildIndexRecord(parse(ct()));
    expect(r.patient).toMatchObject({
      patientId: 'PID-1',
      issuer: 'HOSP',
      name: { Alphabetic: 'Müller^Hans' },
      birthDate: '19700101',
      sex: 'M',
    });
    expect(r.study).toMatchObject({
      studyUid: STUDY,
      studyDate: '20200131',
      studyTime: '101500',
      accessionNumber: 'ACC1',
      studyId: 'S1',
      description: 'Thorax Übersicht',
      referringPhysician: 'Ärztin^Eva',
    });
    expect(r.series).toMatchObject({
      seriesUid: SERIES,
      modality: 'CT',
      seriesNumber: 3,
      description: 'Axial 1mm',
      bodyPart: 'CHEST',
      performedStartDate: '20200131',
      performedStartTime: '1015',
    });
    expect(r.instance).toMatchObject({
      sopInstanceUid: SOP,
      sopClassUid: CT,
      instanceNumber: 17,
      rows: 512,
      columns: 256,
      bitsAllocated: 16,
      samplesPerPixel: 1,
      numberOfFrames: 2,
    });
    expect(r.warnings).toEqual([]);
  });

  it('splits the attributes by level; the instance metadata keeps everything', () => {
    const r = buildIndexRecord(parse(ct()));
    expect(keysOf(r.patient.attributes).sort()).toEqual([Tag.PatientName, Tag.PatientID, Tag.IssuerOfPatientID, Tag.PatientBirthDate, Tag.PatientSex].sort());
    for (const t of keysOf(r.study.attributes)) expect(STUDY_LEVEL.has(t)).toBe(true);
    expect(keysOf(r.study.attributes)).toEqual(
      expect.arrayContaining([Tag.StudyInstanceUID, Tag.StudyDate, Tag.StudyTime, Tag.AccessionNumber, Tag.ReferringPhysicianName, Tag.StudyDescription, Tag.StudyID, Tag.PatientAge]),
    );
    for (const t of keysOf(r.series.attributes)) expect(SERIES_LEVEL.has(t)).toBe(true);
    expect(keysOf(r.series.attributes)).toEqual(expect.arrayContaining([Tag.SeriesInstanceUID, Tag.Modality, Tag.SeriesNumber, Tag.Manufacturer, Tag.BodyPartExamined]));
    // Nothing of one level leaks into another.
    for (const t of keysOf(r.study.attributes)) expect(PATIENT_LEVEL.has(t) || SERIES_LEVEL.has(t)).toBe(false);
    for (const t of keysOf(r.series.attributes)) expect(PATIENT_LEVEL.has(t)).toBe(false);
    // The metadata is the whole dataset (Specific Character Set dropped: the JSON is Unicode).
    expect(r.instance.metadata['00100010']).toEqual({ vr: 'PN', Value: [{ Alphabetic: 'Müller^Hans' }] });
    expect(r.instance.metadata['00080008']).toEqual({ vr: 'CS', Value: ['ORIGINAL', 'PRIMARY', 'AXIAL'] });
    expect(r.instance.metadata['00280010']).toEqual({ vr: 'US', Value: [512] });
    expect(r.instance.metadata['00080005']).toBeUndefined();
    expect(r.study.attributes['00081030']).toEqual({ vr: 'LO', Value: ['Thorax Übersicht'] });
  });

  it('keeps the name groups', () => {
    const r = buildIndexRecord(
      parse(
        ct([
          { tag: Tag.SpecificCharacterSet, vr: 'CS', value: 'ISO_IR 192' },
          { tag: Tag.PatientName, vr: 'PN', value: Buffer.from('Yamada^Tarou=山田^太郎=やまだ^たろう') },
          { tag: Tag.ReferringPhysicianName, vr: 'PN', value: Buffer.from('=佐藤') },
          { tag: Tag.StudyDescription, vr: 'LO', value: Buffer.from('胸部') },
        ]),
      ),
    );
    expect(r.patient.name).toEqual({ Alphabetic: 'Yamada^Tarou', Ideographic: '山田^太郎', Phonetic: 'やまだ^たろう' });
    // The referring physician column holds the alphabetic group only.
    expect(r.study.referringPhysician).toBe('');
    expect(r.study.description).toBe('胸部');
  });

  it('archives an object without patient or study details, with empty identity and nulls', () => {
    const r = buildIndexRecord(
      parse(ct([], [Tag.PatientID, Tag.IssuerOfPatientID, Tag.PatientName, Tag.PatientBirthDate, Tag.PatientSex, Tag.StudyDate, Tag.StudyTime, Tag.AccessionNumber, Tag.Modality, Tag.SeriesNumber, Tag.InstanceNumber, Tag.Rows, Tag.Columns, Tag.BitsAllocated, Tag.SamplesPerPixel, Tag.NumberOfFrames, Tag.ReferringPhysicianName])),
    );
    expect(r.patient).toMatchObject({ patientId: '', issuer: '', name: {}, birthDate: null, sex: null });
    expect(r.study).toMatchObject({ studyDate: null, studyTime: null, accessionNumber: null, referringPhysician: '' });
    expect(r.series).toMatchObject({ modality: null, seriesNumber: null });
    expect(r.instance).toMatchObject({ instanceNumber: null, rows: null, columns: null, bitsAllocated: null, samplesPerPixel: null, numberOfFrames: null });
  });

  it('takes empty values as absent', () => {
    const r = buildIndexRecord(parse(ct([{ tag: Tag.PatientID, vr: 'LO', value: '' }, { tag: Tag.StudyDate, vr: 'DA', value: '' }])));
    expect(r.patient.patientId).toBe('');
    expect(r.study.studyDate).toBeNull();
  });

  for (const [tag, keyword] of [
    [Tag.SOPInstanceUID, 'SOPInstanceUID'],
    [Tag.SOPClassUID, 'SOPClassUID'],
    [Tag.StudyInstanceUID, 'StudyInstanceUID'],
    [Tag.SeriesInstanceUID, 'SeriesInstanceUID'],
  ] as const) {
    it(`refuses an object without ${keyword}, missing or empty`, () => {
      for (const elements of [ct([], [tag]), ct([{ tag, vr: 'UI', value: '' }])]) {
        let error: unknown;
        try {
          buildIndexRecord(parse(elements));
        } catch (e) {
          error = e;
        }
        expect(error).toBeInstanceOf(MissingAttributeError);
        expect((error as MissingAttributeError).keyword).toBe(keyword);
        expect((error as Error).message).toContain(keyword);
      }
    });
  }

  it('collects warnings for bad numbers instead of failing, and leaves the columns null', () => {
    const r = buildIndexRecord(
      parse(
        ct([
          { tag: Tag.SeriesNumber, vr: 'IS', value: 'three' },
          { tag: Tag.InstanceNumber, vr: 'IS', value: '1.5' },
          { tag: 0x00180050, vr: 'DS', value: '1,25' },
        ]),
      ),
    );
    expect(r.series.seriesNumber).toBeNull();
    expect(r.instance.instanceNumber).toBeNull();
    expect(r.warnings).toHaveLength(3);
    expect(r.warnings.join('\n')).toContain('00200011');
    expect(r.warnings.join('\n')).toContain('00200013');
    expect(r.warnings.join('\n')).toContain('00180050');
  });

  it('points bulk data at a placeholder under the instance path', () => {
    const ds = parse(ct());
    ds.set({ tag: Tag.PixelData, vr: 'OW', offset: 4000, length: 512 * 256 * 2 * 2, bulk: true });
    const r = buildIndexRecord(ds);
    expect(r.instance.metadata['7FE00010']).toEqual({
      vr: 'OW',
      BulkDataURI: `${BULK_PLACEHOLDER_PREFIX}/studies/${STUDY}/series/${SERIES}/instances/${SOP}/bulk/7FE00010`,
    });
  });

  it('places large binary values that are not pixel data behind a placeholder too', () => {
    const r = buildIndexRecord(parse(ct([{ tag: 0x00091010, vr: 'OB', value: Buffer.alloc(70 * 1024, 1) }, { tag: 0x00090010, vr: 'LO', value: 'ACME' }])));
    expect(r.instance.metadata['00091010']?.BulkDataURI).toBe(`${BULK_PLACEHOLDER_PREFIX}/studies/${STUDY}/series/${SERIES}/instances/${SOP}/bulk/00091010`);
    expect(r.instance.metadata['00090010']).toEqual({ vr: 'LO', Value: ['ACME'] });
  });

  it('does not give a nested binary value the URI of the top-level pixel data', () => {
    // An icon (IconImageSequence, PS3.3 F.7) of 256 x 256 16-bit pixels: above the inline limit.
    const IconImageSequence = 0x00880200;
    const ds = parse(
      ct([
        {
          tag: IconImageSequence,
          vr: 'SQ',
          value: [
            [
              { tag: Tag.Rows, vr: 'US', value: [256] },
              { tag: Tag.Columns, vr: 'US', value: [256] },
              { tag: Tag.PixelData, vr: 'OW', value: Buffer.alloc(256 * 256 * 2, 7) },
            ],
          ],
        },
      ]),
    );
    ds.set({ tag: Tag.PixelData, vr: 'OW', offset: 400_000, length: 512 * 256 * 2 * 2, bulk: true });
    const r = buildIndexRecord(ds);
    const top = r.instance.metadata['7FE00010']?.BulkDataURI;
    const icon = (r.instance.metadata['00880200']?.Value?.[0] as Record<string, { BulkDataURI?: string }>)['7FE00010'];
    expect(top).toBeDefined();
    expect(icon).toBeDefined();
    // Following the icon's URI must not fetch the image's pixel data.
    expect(icon!.BulkDataURI).not.toBe(top);
  });
});
