import { matchText, matchUidList, matchValueList, normalizeTemporal, QueryValueError, type SqlParams, upperBound } from '#vna/archive';
import { type DicomJson, type DicomJsonAttribute, type DicomJsonPersonName, tagToHex } from '#vna/dicom';

/**
 * Modality Worklist matching (PS3.4 K.6.1.2.1 and C.2.2.2) turned into SQL conditions on the
 * order tables (aliases o = imaging_order, rp = requested_procedure, ss = scheduled_step). Pure.
 * Single value, wildcard, list and date/time value matching are the archive's (libs/archive query matching).
 */

/** A key value the worklist cannot match (a malformed date, a UID that is not one): the query's matching errors. */
export { QueryValueError as WorklistQueryError };

/** Tags of the Modality Worklist Information Model (PS3.4 Table K.6-1). */
export const MwlTag = {
  AccessionNumber: 0x00080050,
  IssuerOfAccessionNumberSequence: 0x00080051,
  Modality: 0x00080060,
  ReferringPhysicianName: 0x00080090,
  ReferencedStudySequence: 0x00081110,
  ReferencedPatientSequence: 0x00081120,
  PatientName: 0x00100010,
  PatientID: 0x00100020,
  IssuerOfPatientID: 0x00100021,
  PatientBirthDate: 0x00100030,
  PatientSex: 0x00100040,
  OtherPatientIDsSequence: 0x00101002,
  StudyInstanceUID: 0x0020000d,
  RequestingPhysician: 0x00321032,
  RequestedProcedureDescription: 0x00321060,
  RequestedProcedureCodeSequence: 0x00321064,
  AdmissionID: 0x00380010,
  CurrentPatientLocation: 0x00380300,
  ScheduledStationAETitle: 0x00400001,
  ScheduledProcedureStepStartDate: 0x00400002,
  ScheduledProcedureStepStartTime: 0x00400003,
  ScheduledPerformingPhysicianName: 0x00400006,
  ScheduledProcedureStepDescription: 0x00400007,
  ScheduledProtocolCodeSequence: 0x00400008,
  ScheduledProcedureStepID: 0x00400009,
  ScheduledStationName: 0x00400010,
  ScheduledProcedureStepLocation: 0x00400011,
  ScheduledProcedureStepStatus: 0x00400020,
  LocalNamespaceEntityID: 0x00400031,
  ScheduledProcedureStepSequence: 0x00400100,
  RequestedProcedureID: 0x00401001,
  ReasonForTheRequestedProcedure: 0x00401002,
  RequestedProcedurePriority: 0x00401003,
  PlacerOrderNumberImagingServiceRequest: 0x00402016,
  FillerOrderNumberImagingServiceRequest: 0x00402017,
  CodeValue: 0x00080100,
  CodingSchemeDesignator: 0x00080102,
  CodeMeaning: 0x00080104,
} as const;

/** A tag's DICOM JSON key. */
export function hex(tag: number): string {
  return tagToHex(tag);
}

/** A key's value as matching text: values joined by '\', a person name as 'Alphabetic=Ideographic=Phonetic'. */
export function keyText(attr: DicomJsonAttribute | undefined): string {
  const values = attr?.Value ?? [];
  return values
    .map((v) => {
      if (v === null || v === undefined) return '';
      if (typeof v === 'object') {
        const pn = v as DicomJsonPersonName;
        return [pn.Alphabetic ?? '', pn.Ideographic ?? '', pn.Phonetic ?? ''].join('=').replace(/=+$/, '');
      }
      return String(v);
    })
    .join('\\')
    .trim();
}

/** PN matching on three group columns: one value matches any group, 'A=I=P' each given group. */
export function matchPersonName(columns: readonly [string, string, string], value: string, p: SqlParams): string | undefined {
  const groups = value.split('=');
  if (groups.length === 1) {
    const any = columns.map((c, i) => matchText(c, value, p, i === 0)).filter((c): c is string => !!c);
    return any.length ? `(${any.join(' OR ')})` : undefined;
  }
  const all = groups.map((g, i) => (g && columns[i] ? matchText(columns[i]!, g, p, i === 0) : undefined)).filter((c): c is string => !!c);
  return all.length ? `(${all.join(' AND ')})` : undefined;
}

const date = (raw: string): string => normalizeTemporal('DA', raw);
const time = (raw: string): string => normalizeTemporal('TM', raw);

function range(value: string): [string, string] | undefined {
  const v = value.trim();
  if (v === '' || v === '-' || /^\*+$/.test(v)) return undefined;
  const dash = v.indexOf('-');
  // A range has one '-' (C.2.2.2.5): "2024-11-20" is an ISO date the query should not carry.
  if (dash !== v.lastIndexOf('-')) throw new QueryValueError(`"${v}" is not a single value or a range`);
  return dash < 0 ? [v, v] : [v.slice(0, dash), v.slice(dash + 1)];
}

/**
 * Scheduled Procedure Step Start Date and Time, each matched on its own (PS3.4 C.2.2.2.5: a date
 * range and a time range are one combined date-time range only when Extended Negotiation agreed to
 * it, which this SCP does not offer): "20240102-20240103" with "0800-1700" is 08:00 to 17:00 on
 * each of the two days.
 */
export function matchStart(dateColumn: string, timeColumn: string, dateValue: string, timeValue: string, p: SqlParams): string[] {
  const d = range(dateValue);
  const t = range(timeValue);
  const out: string[] = [];
  if (d) {
    // A single date: one parameter only (an added but unused parameter has no type and fails the query).
    if (d[0] && d[0] === d[1]) out.push(`${dateColumn} = ${p.add(date(d[0]))}`);
    else {
      if (d[0]) out.push(`${dateColumn} >= ${p.add(date(d[0]))}`);
      if (d[1]) out.push(`${dateColumn} <= ${p.add(date(d[1]))}`);
    }
  }
  if (t) {
    if (t[0]) out.push(`${timeColumn} >= ${p.add(time(t[0]))}`);
    if (t[1]) out.push(`${timeColumn} <= ${p.add(upperBound('TM', time(t[1])))}`);
  }
  return out;
}

/** Birth date: single value or range. */
export function matchDate(column: string, value: string, p: SqlParams): string[] {
  const d = range(value);
  if (!d) return [];
  if (d[0] && d[0] === d[1]) return [`${column} = ${p.add(date(d[0]))}`];
  const out: string[] = [];
  if (d[0]) out.push(`${column} >= ${p.add(date(d[0]))}`);
  if (d[1]) out.push(`${column} <= ${p.add(date(d[1]))}`);
  return out;
}

/**
 * The order's patient as the registry knows them now (`cur`, see WorklistService), else as the
 * order named them: the worklist matches and answers with these.
 */
export const CURRENT = {
  patientId: 'COALESCE(cur.patient_id, o.patient_id)',
  issuer: 'COALESCE(cur.issuer, o.patient_issuer)',
  nameAlphabetic: 'COALESCE(cur.name_alphabetic, o.patient_name_alphabetic)',
  nameIdeographic: 'COALESCE(cur.name_ideographic, o.patient_name_ideographic)',
  namePhonetic: 'COALESCE(cur.name_phonetic, o.patient_name_phonetic)',
  birthDate: 'CASE WHEN cur.patient_id IS NULL THEN o.patient_birth_date ELSE cur.birth_date END',
  sex: 'CASE WHEN cur.patient_id IS NULL THEN o.patient_sex ELSE cur.sex END',
} as const;

/** DICOM Scheduled Procedure Step Status to the stored state. */
const SPS_STATES: Readonly<Record<string, string>> = { SCHEDULED: 'scheduled', ARRIVED: 'scheduled', READY: 'scheduled', STARTED: 'in-progress' };

/**
 * The WHERE conditions of a worklist query. Only open steps (scheduled, in progress) are ever
 * on the worklist: cancelled, discontinued and completed ones have left it. A Scheduled
 * Procedure Step Status key narrows among those.
 */
export function worklistConditions(query: DicomJson, p: SqlParams): string[] {
  const where: string[] = [`ss.status IN ('scheduled', 'in-progress')`];
  const top = (tag: number): string => keyText(query[hex(tag)]);
  const add = (c: string | undefined): void => {
    if (c) where.push(c);
  };
  add(matchPersonName([CURRENT.nameAlphabetic, CURRENT.nameIdeographic, CURRENT.namePhonetic], top(MwlTag.PatientName), p));
  add(matchText(CURRENT.patientId, top(MwlTag.PatientID), p));
  add(matchText(CURRENT.issuer, top(MwlTag.IssuerOfPatientID), p));
  where.push(...matchDate(CURRENT.birthDate, top(MwlTag.PatientBirthDate), p));
  add(matchValueList(CURRENT.sex, top(MwlTag.PatientSex), p));
  add(matchText('o.accession_number', top(MwlTag.AccessionNumber), p));
  add(matchText('o.admission_id', top(MwlTag.AdmissionID), p));
  add(matchText('o.referring_physician', top(MwlTag.ReferringPhysicianName), p, true));
  add(matchText('o.placer_order_number', top(MwlTag.PlacerOrderNumberImagingServiceRequest), p));
  add(matchText('o.filler_order_number', top(MwlTag.FillerOrderNumberImagingServiceRequest), p));
  add(matchText('rp.requested_procedure_id', top(MwlTag.RequestedProcedureID), p));
  add(matchUidList('rp.study_uid', top(MwlTag.StudyInstanceUID), p));
  const sps = query[hex(MwlTag.ScheduledProcedureStepSequence)]?.Value?.[0] as DicomJson | undefined;
  if (sps) {
    const item = (tag: number): string => keyText(sps[hex(tag)]);
    add(matchValueList('ss.station_aet', item(MwlTag.ScheduledStationAETitle), p));
    add(matchValueList('ss.modality', item(MwlTag.Modality), p));
    where.push(...matchStart('ss.start_date', 'ss.start_time', item(MwlTag.ScheduledProcedureStepStartDate), item(MwlTag.ScheduledProcedureStepStartTime), p));
    add(matchText('ss.performing_physician', item(MwlTag.ScheduledPerformingPhysicianName), p, true));
    add(matchText('ss.step_id', item(MwlTag.ScheduledProcedureStepID), p));
    add(matchText('ss.station_name', item(MwlTag.ScheduledStationName), p));
    add(matchText('ss.location', item(MwlTag.ScheduledProcedureStepLocation), p));
    const statuses = item(MwlTag.ScheduledProcedureStepStatus).split('\\').map((s) => s.trim().toUpperCase()).filter(Boolean);
    if (statuses.length > 0) where.push(`ss.status = ANY(${p.add([...new Set(statuses.map((s) => SPS_STATES[s] ?? 'none'))])}::text[])`);
  }
  return where;
}
