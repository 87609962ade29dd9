import type { DicomJson, DicomJsonAttribute, DicomJsonPersonName } from '#vna/dicom';
import type { CodedValue, IdentifierWithIssuer, OrderStatus } from './order.model.js';
import { SPS_STATUS_OF } from './order-status.js';
import { hex, MwlTag } from './worklist-matching.js';

/** One scheduled step with its procedure, order and patient: a worklist item's source row. */
export interface WorklistRow {
  readonly accessionNumber: string;
  readonly accessionIssuer: string;
  readonly placerOrderNumber: string;
  readonly fillerOrderNumber: string;
  readonly patientId: string;
  readonly patientIssuer: string;
  readonly patientName: { readonly alphabetic: string; readonly ideographic: string; readonly phonetic: string };
  readonly patientBirthDate: string | null;
  readonly patientSex: string | null;
  readonly otherPatientIds: readonly IdentifierWithIssuer[];
  readonly admissionId: string;
  readonly patientLocation: string;
  readonly referringPhysician: string;
  readonly requestingPhysician: string;
  readonly requestedProcedureId: string;
  readonly studyUid: string;
  readonly procedureCode: CodedValue | null;
  readonly procedureDescription: string;
  readonly priority: string;
  readonly reason: string;
  readonly stepId: string;
  readonly stepStatus: OrderStatus;
  readonly modality: string;
  readonly stationAet: string;
  readonly stationName: string;
  readonly location: string;
  readonly startDate: string;
  readonly startTime: string;
  readonly stepDescription: string;
  readonly protocolCodes: readonly CodedValue[];
  readonly performingPhysician: string;
}

function text(vr: string, value: string | null | undefined): DicomJsonAttribute {
  return value ? { vr, Value: [value] } : { vr };
}

function person(value: string): DicomJsonAttribute {
  return value ? { vr: 'PN', Value: [{ Alphabetic: value }] } : { vr: 'PN' };
}

function personGroups(name: WorklistRow['patientName']): DicomJsonAttribute {
  const pn: DicomJsonPersonName = {};
  if (name.alphabetic) pn.Alphabetic = name.alphabetic;
  if (name.ideographic) pn.Ideographic = name.ideographic;
  if (name.phonetic) pn.Phonetic = name.phonetic;
  return Object.keys(pn).length ? { vr: 'PN', Value: [pn] } : { vr: 'PN' };
}

function code(c: CodedValue): DicomJson {
  return { [hex(MwlTag.CodeValue)]: text('SH', c.value), [hex(MwlTag.CodingSchemeDesignator)]: text('SH', c.scheme), [hex(MwlTag.CodeMeaning)]: text('LO', c.meaning) };
}

function sequence(items: readonly DicomJson[]): DicomJsonAttribute {
  return { vr: 'SQ', Value: [...items] };
}

/**
 * A worklist item (PS3.4 K.6.1.2.2, Table K.6-1) in the DICOM JSON model: the patient
 * (identification, demographics), visit, imaging service request, requested procedure and the
 * one scheduled procedure step of the row. Every return key the table lists is present, empty
 * when unknown; the DIMSE edge keeps the ones the query asked for.
 */
export function worklistItem(r: WorklistRow): DicomJson {
  const step: DicomJson = {
    [hex(MwlTag.Modality)]: text('CS', r.modality),
    [hex(MwlTag.ScheduledStationAETitle)]: text('AE', r.stationAet),
    [hex(MwlTag.ScheduledProcedureStepStartDate)]: text('DA', r.startDate),
    [hex(MwlTag.ScheduledProcedureStepStartTime)]: text('TM', r.startTime),
    [hex(MwlTag.ScheduledPerformingPhysicianName)]: person(r.performingPhysician),
    [hex(MwlTag.ScheduledProcedureStepDescription)]: text('LO', r.stepDescription),
    [hex(MwlTag.ScheduledProtocolCodeSequence)]: sequence(r.protocolCodes.map(code)),
    [hex(MwlTag.ScheduledProcedureStepID)]: text('SH', r.stepId),
    [hex(MwlTag.ScheduledStationName)]: text('SH', r.stationName),
    [hex(MwlTag.ScheduledProcedureStepLocation)]: text('SH', r.location),
    [hex(MwlTag.ScheduledProcedureStepStatus)]: text('CS', SPS_STATUS_OF[r.stepStatus]),
  };
  const item: DicomJson = {
    [hex(MwlTag.AccessionNumber)]: text('SH', r.accessionNumber),
    [hex(MwlTag.IssuerOfAccessionNumberSequence)]: sequence(r.accessionIssuer ? [{ [hex(MwlTag.LocalNamespaceEntityID)]: text('UT', r.accessionIssuer) }] : []),
    [hex(MwlTag.ReferringPhysicianName)]: person(r.referringPhysician),
    [hex(MwlTag.ReferencedStudySequence)]: sequence([]),
    [hex(MwlTag.ReferencedPatientSequence)]: sequence([]),
    [hex(MwlTag.PatientName)]: personGroups(r.patientName),
    [hex(MwlTag.PatientID)]: text('LO', r.patientId),
    [hex(MwlTag.IssuerOfPatientID)]: text('LO', r.patientIssuer),
    [hex(MwlTag.PatientBirthDate)]: text('DA', r.patientBirthDate),
    [hex(MwlTag.PatientSex)]: text('CS', r.patientSex),
    [hex(MwlTag.OtherPatientIDsSequence)]: sequence(
      r.otherPatientIds.map((o) => ({ [hex(MwlTag.PatientID)]: text('LO', o.id), [hex(MwlTag.IssuerOfPatientID)]: text('LO', o.issuer) })),
    ),
    [hex(MwlTag.StudyInstanceUID)]: text('UI', r.studyUid),
    [hex(MwlTag.RequestingPhysician)]: person(r.requestingPhysician),
    [hex(MwlTag.RequestedProcedureDescription)]: text('LO', r.procedureDescription),
    [hex(MwlTag.RequestedProcedureCodeSequence)]: sequence(r.procedureCode ? [code(r.procedureCode)] : []),
    [hex(MwlTag.AdmissionID)]: text('LO', r.admissionId),
    [hex(MwlTag.CurrentPatientLocation)]: text('LO', r.patientLocation),
    [hex(MwlTag.ScheduledProcedureStepSequence)]: sequence([step]),
    [hex(MwlTag.RequestedProcedureID)]: text('SH', r.requestedProcedureId),
    [hex(MwlTag.ReasonForTheRequestedProcedure)]: text('LO', r.reason),
    [hex(MwlTag.RequestedProcedurePriority)]: text('SH', r.priority),
    [hex(MwlTag.PlacerOrderNumberImagingServiceRequest)]: text('LO', r.placerOrderNumber),
    [hex(MwlTag.FillerOrderNumberImagingServiceRequest)]: text('LO', r.fillerOrderNumber),
  };
  return Object.fromEntries(Object.entries(item).sort(([a], [b]) => (a < b ? -1 : 1)));
}
