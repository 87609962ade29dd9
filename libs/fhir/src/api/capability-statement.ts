import type { CapabilityStatement } from '@medplum/fhirtypes';

/** What the FHIR API supports: the one list the CapabilityStatement and the search validation share. */
export const IMAGING_STUDY_SEARCH = {
  _id: 'token',
  identifier: 'token',
  patient: 'reference',
  subject: 'reference',
  'patient.identifier': 'token',
  'patient:identifier': 'token',
  'subject:identifier': 'token',
  started: 'date',
  modality: 'token',
  status: 'token',
  basedon: 'reference',
  'basedon:identifier': 'token',
  endpoint: 'reference',
} as const;

export const SERVICE_REQUEST_SEARCH = {
  _id: 'token',
  identifier: 'token',
  patient: 'reference',
  subject: 'reference',
  status: 'token',
} as const;

export const PATIENT_SEARCH = {
  _id: 'token',
  identifier: 'token',
  name: 'string',
  family: 'string',
  given: 'string',
  birthdate: 'date',
  gender: 'token',
} as const;

const DOCS: Record<string, string> = {
  basedon: 'ServiceRequest/<id> (also <id> or an absolute URL): the studies linked to that order',
  identifier: 'ImagingStudy: Study Instance UID (urn:dicom:uid|urn:oid:<uid>, or the UID alone) or accession number; Patient: system|value (issuer of patient ID as system)',
  patient: 'Patient/<id> (the current patient after merges)',
  'patient.identifier': 'chained: the patient holding this identifier (any identifier of a registry patient)',
  'patient:identifier': 'the same as patient.identifier',
  'subject:identifier': 'the same as patient.identifier',
  started: 'the study date, day precision; prefixes eq ne gt lt ge le sa eb ap',
  modality: 'DICOM modality of any series (system http://dicom.nema.org/resources/ontology/DCM optional)',
  status: 'available, or entered-in-error (every instance rejected)',
  'basedon:identifier': 'accession number or placer order number of the linked order',
  endpoint: 'Endpoint/wado-rs',
  name: 'starts the family, given or middle name, ignoring case and accents; :exact for the whole name (parts separated by spaces)',
  family: 'starts the family name, ignoring case and accents; :exact for the family name as it is',
  given: 'starts the given or middle name, ignoring case and accents; :exact for either as it is',
};

/** Where a resource type documents a parameter its own way. */
const SERVICE_REQUEST_DOCS: Record<string, string> = {
  identifier: 'accession number (ACSN), placer (PLAC) or filler (FILL) order number; system|value with the issuer as system',
  patient: 'Patient/<id>: the orders of that patient (after merges)',
  subject: 'the same as patient',
  status: 'active (scheduled or in progress), completed, revoked (cancelled or discontinued)',
};

function params(list: Record<string, string>, docs: Record<string, string> = DOCS): NonNullable<NonNullable<CapabilityStatement['rest']>[number]['resource']>[number]['searchParam'] {
  return Object.entries(list).map(([name, type]) => ({ name, type: type as 'token', ...(docs[name] ? { documentation: docs[name] } : {}) }));
}

/** The archive's CapabilityStatement (FHIR R4 3.1.0.12 capabilities): exactly what /fhir/R4 serves. */
export function capabilityStatement(baseUrl: string, software: { name: string; version: string }): CapabilityStatement {
  return {
    resourceType: 'CapabilityStatement',
    status: 'active',
    date: '2026-11-24',
    kind: 'instance',
    software,
    implementation: { description: 'Vendor-neutral archive FHIR R4 API', url: baseUrl },
    fhirVersion: '4.0.1',
    format: ['application/fhir+json', 'json'],
    rest: [
      {
        mode: 'server',
        documentation: 'Read-only. Searches reject parameters not listed here (400 OperationOutcome). Paging with _count (1-1000, default 50) and the Bundle\'s next/previous links.',
        security: { description: 'Authorization: Bearer <API key> (reader role or above), as the rest of the HTTP API' },
        resource: [
          {
            type: 'ImagingStudy',
            interaction: [{ code: 'read' }, { code: 'search-type' }],
            searchInclude: ['ImagingStudy:endpoint'],
            searchParam: params(IMAGING_STUDY_SEARCH),
          },
          { type: 'Patient', interaction: [{ code: 'read' }, { code: 'search-type' }], searchParam: params(PATIENT_SEARCH) },
          {
            type: 'ServiceRequest',
            documentation: 'The archive\'s orders (HL7 ORM/OMI from the RIS), read-only',
            interaction: [{ code: 'read' }, { code: 'search-type' }],
            searchParam: params(SERVICE_REQUEST_SEARCH, { ...DOCS, ...SERVICE_REQUEST_DOCS }),
          },
          { type: 'Endpoint', interaction: [{ code: 'read' }] },
        ],
      },
    ],
  };
}
