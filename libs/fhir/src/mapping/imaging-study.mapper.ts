import type { CodeableConcept, Coding, Device, Endpoint, Group, Identifier, ImagingStudy, ImagingStudySeries, Patient, Reference, ServiceRequest } from '@medplum/fhirtypes';
import { fhirDate, fhirDateTime, humanName, issuerSystem } from './fhir-values.js';
import type { OrderSnapshot, StudySnapshot } from './study-snapshot.js';

/** DICOM's own code system: modalities (FHIR R4 ImagingStudy.modality binding, DICOM CID 29). */
export const DICOM_DCM = 'http://dicom.nema.org/resources/ontology/DCM';
/** Study identifier system (FHIR R4 ImagingStudy 11.5.5.1: the Study Instance UID as `urn:oid:`). */
export const DICOM_UID_SYSTEM = 'urn:dicom:uid';
export const V2_0203 = 'http://terminology.hl7.org/CodeSystem/v2-0203';
const SNOMED = 'http://snomed.info/sct';

/** The identifier an ImagingStudy is found by: urn:dicom:uid | urn:oid:<StudyInstanceUID>. */
export function studyIdentifier(studyUid: string): Identifier & { system: string; value: string } {
  return { system: DICOM_UID_SYSTEM, value: `urn:oid:${studyUid}` };
}

/** `system|value` of the study's identifier, for conditional updates and searches. */
export function studyIdentifierToken(studyUid: string): string {
  const id = studyIdentifier(studyUid);
  return `${id.system}|${id.value}`;
}

/**
 * BodyPartExamined (PS3.16 Annex L, CID 4031) to SNOMED CT, for the common terms; others keep the
 * DICOM term as the coding's display.
 */
const BODY_PARTS: Record<string, [string, string]> = {
  ABDOMEN: ['818983003', 'Abdomen'],
  BRAIN: ['12738006', 'Brain'],
  BREAST: ['76752008', 'Breast'],
  CHEST: ['51185008', 'Thorax'],
  HEAD: ['69536005', 'Head'],
  HEART: ['80891009', 'Heart'],
  KNEE: ['72696002', 'Knee'],
  NECK: ['45048000', 'Neck'],
  PELVIS: ['816092008', 'Pelvis'],
  SPINE: ['421060004', 'Spine'],
  CSPINE: ['122494005', 'Cervical spine'],
  LSPINE: ['122496007', 'Lumbar spine'],
  TSPINE: ['122495006', 'Thoracic spine'],
  SHOULDER: ['16982005', 'Shoulder'],
  HAND: ['85562004', 'Hand'],
  FOOT: ['56459004', 'Foot'],
};

export function bodySite(bodyPart: string | null): Coding | undefined {
  const term = bodyPart?.trim().toUpperCase();
  if (!term) return undefined;
  const known = BODY_PARTS[term];
  return known ? { system: SNOMED, code: known[0], display: known[1] } : { display: term };
}

/** DICOM coding scheme designators (PS3.16 8) to FHIR systems, for a procedure code. */
function schemeSystem(scheme: string): string | undefined {
  switch (scheme.trim().toUpperCase()) {
    case '':
      return undefined;
    case 'DCM':
      return DICOM_DCM;
    case 'SCT':
    case 'SRT':
      return SNOMED;
    case 'LN':
      return 'http://loinc.org';
    case 'RADLEX':
    case 'RID':
      return 'http://www.radlex.org';
    default:
      return `urn:vna:coding-scheme:${encodeURIComponent(scheme.trim())}`;
  }
}

/** An order's procedure (code and/or description) as a CodeableConcept list; undefined when unknown. */
export function procedureCode(order: Pick<OrderSnapshot, 'procedureCode' | 'procedureDescription'> | null): CodeableConcept[] | undefined {
  if (!order?.procedureCode?.code && !order?.procedureDescription) return undefined;
  const c = order.procedureCode;
  const coding: Coding[] = c?.code ? [{ ...(schemeSystem(c.scheme) ? { system: schemeSystem(c.scheme) } : {}), code: c.code, ...(c.meaning ? { display: c.meaning } : {}) }] : [];
  const text = c?.meaning || order.procedureDescription || undefined;
  return [{ ...(coding.length ? { coding } : {}), ...(text ? { text } : {}) }];
}

/** What the mapping needs beyond the index: references, resolved where the resource will live. */
export interface ImagingStudyContext {
  readonly subject: Reference<Patient | Group | Device>;
  readonly basedOn?: readonly Reference<ServiceRequest>[];
  /** The archive's WADO-RS Endpoint. */
  readonly endpoint?: Reference<Endpoint>;
  /** FHIR identifier system per issuer (accession issuers too). */
  readonly identifierSystems: Readonly<Record<string, string>>;
  /** The resource id (the archive's API uses the Study Instance UID; publishing leaves it to the server). */
  readonly id?: string;
}

/** The accession number identifier (type v2-0203 ACSN, the system from its issuer; FHIR R4 ImagingStudy 11.5.5.1). */
export function accessionIdentifier(accession: string, issuer: string | null, systems: Readonly<Record<string, string>>): Identifier {
  const system = issuer ? issuerSystem(issuer, systems) : undefined;
  return { type: { coding: [{ system: V2_0203, code: 'ACSN' }] }, ...(system ? { system } : {}), value: accession };
}

/**
 * An index study as an R4 ImagingStudy (https://hl7.org/fhir/R4/imagingstudy.html). A study whose
 * instances are all rejected (IOCM) is `entered-in-error` with no series.
 */
export function toImagingStudy(study: StudySnapshot, context: ImagingStudyContext): ImagingStudy {
  const series: ImagingStudySeries[] = study.series
    .filter((s) => s.instances.length > 0)
    .map((s) => {
      const started = fhirDateTime(s.startDate, s.startTime);
      const site = bodySite(s.bodyPart);
      return {
        uid: s.seriesUid,
        ...(s.number !== null ? { number: s.number } : {}),
        // modality is 1..1 on a series: OT (other) when the header has none.
        modality: { system: DICOM_DCM, code: s.modality?.trim() || 'OT' },
        ...(s.description ? { description: s.description } : {}),
        numberOfInstances: s.instances.length,
        ...(context.endpoint ? { endpoint: [context.endpoint] } : {}),
        ...(site ? { bodySite: site } : {}),
        ...(started ? { started } : {}),
        instance: s.instances.map((i) => ({
          uid: i.sopInstanceUid,
          sopClass: { system: 'urn:ietf:rfc:3986', code: `urn:oid:${i.sopClassUid}` },
          ...(i.number !== null ? { number: i.number } : {}),
        })),
      };
    });
  const modalities = [...new Set(series.map((s) => s.modality.code!))];
  const identifier: Identifier[] = [studyIdentifier(study.studyUid)];
  const accession = study.accessionNumber?.trim() || study.order?.accessionNumber;
  if (accession) identifier.push(accessionIdentifier(accession, study.accessionIssuer ?? study.order?.accessionIssuer ?? null, context.identifierSystems));
  const started = fhirDateTime(study.studyDate, study.studyTime);
  const referrer = humanName(study.referringPhysician);
  const procedure = procedureCode(study.order);
  const instances = series.reduce((n, s) => n + (s.numberOfInstances ?? 0), 0);
  return {
    resourceType: 'ImagingStudy',
    ...(context.id ? { id: context.id } : {}),
    identifier,
    status: instances > 0 ? 'available' : 'entered-in-error',
    ...(modalities.length ? { modality: modalities.map((code) => ({ system: DICOM_DCM, code })) } : {}),
    subject: context.subject,
    ...(started ? { started } : {}),
    ...(context.basedOn?.length ? { basedOn: [...context.basedOn] } : {}),
    ...(referrer ? { referrer: { display: referrer.text } } : {}),
    ...(context.endpoint && instances > 0 ? { endpoint: [context.endpoint] } : {}),
    numberOfSeries: series.length,
    numberOfInstances: instances,
    ...(procedure ? { procedureCode: procedure } : {}),
    ...(study.description ? { description: study.description } : {}),
    ...(series.length ? { series } : {}),
  };
}

/**
 * The published resource once the study is deleted (by retention): the record that it existed
 * stays in the EHR, without series or endpoint (nothing can be retrieved), status `cancelled`
 * (no images available), and a note saying why.
 */
export function deletedImagingStudy(previous: ImagingStudy, at: Date): ImagingStudy {
  const { series: _series, endpoint: _endpoint, numberOfSeries: _ns, numberOfInstances: _ni, id: _id, meta: _meta, note, ...kept } = previous;
  return {
    ...kept,
    status: 'cancelled',
    numberOfSeries: 0,
    numberOfInstances: 0,
    note: [...(note ?? []).filter((n) => !n.text.startsWith('Images deleted')), { time: at.toISOString(), text: `Images deleted from the archive on ${fhirDate(at.toISOString().slice(0, 10).replace(/-/g, '')) ?? ''}` }],
  };
}
