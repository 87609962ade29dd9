import { describe, expect, it } from '@jest/globals';
import { deletedImagingStudy, toImagingStudy } from './imaging-study.mapper.js';
import { fhirDateTime, humanName, issuerSystem, systemIssuer } from './fhir-values.js';
import type { StudySnapshot } from './study-snapshot.js';

const study = (over: Partial<StudySnapshot> = {}): StudySnapshot => ({
  studyUid: '1.2.3',
  studyDate: '20241115',
  studyTime: '101500',
  accessionNumber: 'ACC-1',
  accessionIssuer: '1.2.840.99',
  description: 'CT CHEST',
  referringPhysician: 'House^Gregory^^Dr',
  patient: { rowId: '7', registryId: null, patientId: 'P1', issuer: 'HOSP', name: 'Doe^Jane', birthDate: '19700101', sex: 'F' },
  order: { id: '5', accessionNumber: 'ACC-1', accessionIssuer: '', placerOrderNumber: 'PL-1', placerIssuer: '', procedureCode: { code: '24627-2', scheme: 'LN', meaning: 'CT Chest' }, procedureDescription: '' },
  series: [
    { seriesUid: '1.2.3.1', number: 1, modality: 'CT', description: 'AX', bodyPart: 'CHEST', startDate: '20241115', startTime: null, instances: [{ sopInstanceUid: '1.2.3.1.1', sopClassUid: '1.2.840.10008.5.1.4.1.1.2', number: 1 }] },
    { seriesUid: '1.2.3.2', number: null, modality: null, description: null, bodyPart: 'ELBOW', startDate: null, startTime: null, instances: [{ sopInstanceUid: '1.2.3.2.1', sopClassUid: '1.2.840.10008.5.1.4.1.1.7', number: null }] },
    { seriesUid: '1.2.3.3', number: 3, modality: 'PR', description: null, bodyPart: null, startDate: null, startTime: null, instances: [] },
  ],
  ...over,
});

describe('toImagingStudy (FHIR R4 ImagingStudy)', () => {
  const context = { subject: { reference: 'Patient/9' }, endpoint: { reference: 'Endpoint/e' }, identifierSystems: {} };

  it('maps identifiers, status, counts, series and instances, procedure code and referrer', () => {
    const r = toImagingStudy(study(), context);
    expect(r.identifier).toEqual([
      { system: 'urn:dicom:uid', value: 'urn:oid:1.2.3' },
      { type: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v2-0203', code: 'ACSN' }] }, system: 'urn:oid:1.2.840.99', value: 'ACC-1' },
    ]);
    expect(r).toMatchObject({ status: 'available', numberOfSeries: 2, numberOfInstances: 2, started: '2024-11-15', description: 'CT CHEST', referrer: { display: 'Dr Gregory House' } });
    expect(r.modality).toEqual([
      { system: 'http://dicom.nema.org/resources/ontology/DCM', code: 'CT' },
      { system: 'http://dicom.nema.org/resources/ontology/DCM', code: 'OT' },
    ]);
    expect(r.procedureCode).toEqual([{ coding: [{ system: 'http://loinc.org', code: '24627-2', display: 'CT Chest' }], text: 'CT Chest' }]);
    // A series without instances (all rejected) is left out; a series without modality is OT.
    expect(r.series?.map((s) => s.uid)).toEqual(['1.2.3.1', '1.2.3.2']);
    expect(r.series?.[1]).toMatchObject({ modality: { code: 'OT' }, bodySite: { display: 'ELBOW' }, instance: [{ uid: '1.2.3.2.1', sopClass: { code: 'urn:oid:1.2.840.10008.5.1.4.1.1.7' } }] });
    expect(r.series?.[1]?.number).toBeUndefined();
    expect(r.endpoint).toEqual([{ reference: 'Endpoint/e' }]);
  });

  it('is entered-in-error without series or endpoint when no instance is left', () => {
    const r = toImagingStudy(study({ series: [] }), context);
    expect(r).toMatchObject({ status: 'entered-in-error', numberOfSeries: 0, numberOfInstances: 0 });
    expect(r.series).toBeUndefined();
    expect(r.endpoint).toBeUndefined();
  });

  it('leaves out what is unknown', () => {
    const r = toImagingStudy(study({ studyDate: null, description: null, referringPhysician: '', accessionNumber: null, order: null }), context);
    expect(r.started).toBeUndefined();
    expect(r.description).toBeUndefined();
    expect(r.referrer).toBeUndefined();
    expect(r.procedureCode).toBeUndefined();
    expect(r.identifier).toHaveLength(1);
  });

  it('keeps a deleted study as cancelled, without series or endpoint, with a note', () => {
    const r = deletedImagingStudy(toImagingStudy(study(), context), new Date('2026-01-02T03:04:05Z'));
    expect(r).toMatchObject({ status: 'cancelled', numberOfSeries: 0, numberOfInstances: 0, identifier: expect.any(Array), subject: { reference: 'Patient/9' } });
    expect(r.series).toBeUndefined();
    expect(r.endpoint).toBeUndefined();
    expect(r.note).toEqual([{ time: '2026-01-02T03:04:05.000Z', text: 'Images deleted from the archive on 2026-01-02' }]);
  });
});

describe('FHIR values', () => {
  it('gives issuers a system: configured, OID, URI, else a urn naming it; and back', () => {
    const systems = { HOSP: 'https://hosp.example/mrn' };
    expect(issuerSystem('HOSP', systems)).toBe('https://hosp.example/mrn');
    expect(issuerSystem('1.2.3', systems)).toBe('urn:oid:1.2.3');
    expect(issuerSystem('urn:x:y', systems)).toBe('urn:x:y');
    expect(issuerSystem('MY CLINIC', systems)).toBe('urn:vna:issuer:MY%20CLINIC');
    expect(systemIssuer('https://hosp.example/mrn', systems)).toBe('HOSP');
    expect(systemIssuer('urn:oid:1.2.3', systems)).toBe('1.2.3');
    expect(systemIssuer('urn:vna:issuer:MY%20CLINIC', systems)).toBe('MY CLINIC');
  });

  it('writes a time only with a zone, and names as HumanName', () => {
    expect(fhirDateTime('20241115', '101500')).toBe('2024-11-15');
    expect(fhirDateTime('20241115', '101500.25', '+0100')).toBe('2024-11-15T10:15:00.25+01:00');
    expect(fhirDateTime('2024', null)).toBeUndefined();
    expect(humanName('Doe^Jane^Q^Dr^Jr')).toEqual({ family: 'Doe', given: ['Jane', 'Q'], prefix: ['Dr'], suffix: ['Jr'], text: 'Dr Jane Q Doe Jr' });
    expect(humanName('  ')).toBeUndefined();
  });
});
