import { describe, expect, it } from '@jest/globals';
import type { OrderStatus } from '#vna/identity';
import { type OrderRecord, toServiceRequest } from './service-request.mapper.js';

const order = (over: Partial<OrderRecord> = {}): OrderRecord => ({
  id: '42',
  status: 'scheduled',
  accessionNumber: 'ACC-9',
  accessionIssuer: '1.2.840.99',
  placerOrderNumber: 'PL-9',
  placerIssuer: 'RIS',
  fillerOrderNumber: 'FI-9',
  fillerIssuer: '',
  patientFid: 'r7',
  patientId: 'P1',
  patientIssuer: 'HOSP',
  procedureCode: { code: 'CTCHEST', scheme: 'L', meaning: 'CT chest' },
  procedureDescription: '',
  startDate: '20241120',
  startTime: '090000',
  ...over,
});

describe('toServiceRequest (FHIR R4 ServiceRequest of an order)', () => {
  it('maps identifiers (ACSN, PLAC, FILL), intent, subject, code and the scheduled start', () => {
    const r = toServiceRequest(order(), { HOSP: 'https://hosp.example/mrn' });
    const type = (code: string) => ({ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v2-0203', code }] });
    expect(r).toEqual({
      resourceType: 'ServiceRequest',
      id: '42',
      identifier: [
        { type: type('ACSN'), system: 'urn:oid:1.2.840.99', value: 'ACC-9' },
        { type: type('PLAC'), system: 'urn:vna:issuer:RIS', value: 'PL-9' },
        { type: type('FILL'), value: 'FI-9' },
      ],
      status: 'active',
      intent: 'order',
      code: { coding: [{ system: 'urn:vna:coding-scheme:L', code: 'CTCHEST', display: 'CT chest' }], text: 'CT chest' },
      subject: { reference: 'Patient/r7' },
      // DICOM times carry no zone: the date only (as ImagingStudy.started).
      occurrenceDateTime: '2024-11-20',
    });
  });

  it('maps every order state to its request-status', () => {
    const expected: Record<OrderStatus, string> = { scheduled: 'active', 'in-progress': 'active', completed: 'completed', cancelled: 'revoked', discontinued: 'revoked' };
    for (const [status, fhir] of Object.entries(expected)) expect(toServiceRequest(order({ status: status as OrderStatus }), {}).status).toBe(fhir);
  });

  it('leaves out what is unknown; without a patient in the archive the subject is the order\'s patient identifier', () => {
    const r = toServiceRequest(order({ placerOrderNumber: '', fillerOrderNumber: '', procedureCode: null, startDate: null, startTime: null, patientFid: null, accessionIssuer: '' }), {});
    expect(r.identifier).toEqual([{ type: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v2-0203', code: 'ACSN' }] }, value: 'ACC-9' }]);
    expect(r.code).toBeUndefined();
    expect(r.occurrenceDateTime).toBeUndefined();
    expect(r.subject).toEqual({ type: 'Patient', identifier: { system: 'urn:vna:issuer:HOSP', value: 'P1' } });
    expect(toServiceRequest(order({ procedureCode: null, procedureDescription: 'CT head' }), {}).code).toEqual({ text: 'CT head' });
  });
});
