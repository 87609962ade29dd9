import { Hl7ErrorCode, type Hl7Message, Hl7ProcessingError, type Hl7Segment } from '#vna/hl7';
import type { DemographicsUpdate, PatientCommand, PatientIdentifier, PersonNameGroups } from '../registry/registry.model.js';

/**
 * ADT segments to registry commands (HL7 2.5.1 chapter 3; data types 2A). Pure: a parsed message
 * in, commands out; a message that cannot be applied gives an Hl7ProcessingError (AE + ERR).
 */

/** HL7's explicit null (2.5.1 2.5.3): `""` deletes the value; an empty field leaves it alone. */
const HL7_NULL = '""';

/** Characters with a meaning of their own in a DICOM PN value (PS3.5 6.2: ^ components, = groups, \ values). */
function pnComponent(text: string): string {
  return text.replace(/[\\^=]/g, ' ').trim();
}

/**
 * One XPN repetition (family&...^given^middle^suffix^prefix^degree^type^representation) as a
 * DICOM PN group (family^given^middle^prefix^suffix, PS3.5 6.2.1.1; IHE RAD TF-2 appendix B);
 * the degree (XPN-6) follows the suffix. Empty trailing components are dropped.
 */
export function xpnToPn(segment: Hl7Segment, field: number, repetition = 0): string {
  const c = (n: number): string => pnComponent(segment.get(field, n, 1, repetition));
  const suffix = [c(4), c(6)].filter(Boolean).join(' ');
  return [c(1), c(2), c(3), c(5), suffix].join('^').replace(/\^+$/, '');
}

/**
 * A name field with all its repetitions as a DICOM PN: XPN-8 (table 4000) says the group,
 * I ideographic, P phonetic, A or nothing alphabetic; the first repetition of each group counts
 * (the alphabetic group is the first XPN without another code). Undefined when the field is empty
 * (not sent), null for `""` (delete).
 */
export function nameGroups(segment: Hl7Segment, field: number): PersonNameGroups | null | undefined {
  const count = segment.repetitions(field);
  if (count === 0) return undefined;
  if (count === 1 && segment.get(field, 1, 1, 0) === HL7_NULL) return null;
  const groups = { alphabetic: '', ideographic: '', phonetic: '' };
  for (let r = 0; r < count; r++) {
    const name = xpnToPn(segment, field, r);
    if (!name) continue;
    const code = segment.get(field, 8, 1, r).trim().toUpperCase();
    const group = code === 'I' ? 'ideographic' : code === 'P' ? 'phonetic' : 'alphabetic';
    if (!groups[group]) groups[group] = name;
  }
  return groups.alphabetic || groups.ideographic || groups.phonetic ? groups : undefined;
}

/**
 * One CX repetition (id^check digit^scheme^assigning authority^type code...): the assigning
 * authority's namespace id (HD-1; its universal id HD-2 when HD-1 is empty) is the issuer, an
 * empty one the default issuer. Undefined when the repetition has no id.
 */
export function cxIdentifier(segment: Hl7Segment, field: number, repetition: number, defaultIssuer: string): PatientIdentifier | undefined {
  const patientId = segment.get(field, 1, 1, repetition).trim();
  if (!patientId || patientId === HL7_NULL) return undefined;
  const issuer = segment.get(field, 4, 1, repetition).trim() || segment.get(field, 4, 2, repetition).trim() || defaultIssuer;
  return { patientId, issuer, typeCode: segment.get(field, 5, 1, repetition).trim() };
}

/** Every identifier of a CX field, in order, without repeats. */
export function cxIdentifiers(segment: Hl7Segment, field: number, defaultIssuer: string): PatientIdentifier[] {
  const out: PatientIdentifier[] = [];
  for (let r = 0; r < segment.repetitions(field); r++) {
    const id = cxIdentifier(segment, field, r, defaultIssuer);
    if (id && !out.some((o) => o.patientId === id.patientId && o.issuer === id.issuer)) out.push(id);
  }
  return out;
}

/** A TS/DT/DTM's date part (YYYY[MM[DD]]); undefined when empty, null for `""`. */
function dateField(segment: Hl7Segment, field: number, location: string): string | null | undefined {
  const raw = segment.get(field).trim();
  if (!raw) return undefined;
  if (raw === HL7_NULL) return null;
  const m = /^(\d{4}(?:\d{2}(?:\d{2})?)?)(?:\d{2,6}(?:\.\d{1,4})?)?(?:[+-]\d{4})?$/.exec(raw);
  if (!m) throw new Hl7ProcessingError('AE', Hl7ErrorCode.DataTypeError, `"${raw}" is not a date (YYYY[MM[DD]])`, location);
  return m[1]!;
}

function sexField(segment: Hl7Segment, field: number): string | null | undefined {
  const raw = segment.get(field).trim();
  if (!raw) return undefined;
  if (raw === HL7_NULL) return null;
  return raw.toUpperCase();
}

const PID3_MISSING = (): Hl7ProcessingError =>
  new Hl7ProcessingError('AE', Hl7ErrorCode.RequiredFieldMissing, 'PID-3 (patient identifier list) has no identifier', 'PID^1^3');

/** A PID segment as a registry command (identifiers PID-3, name PID-5, birth date PID-7, sex PID-8). */
export function patientCommand(pid: Hl7Segment | undefined, defaultIssuer: string): PatientCommand {
  if (!pid) throw new Hl7ProcessingError('AE', Hl7ErrorCode.SegmentSequenceError, 'the message has no PID segment', 'PID');
  const identifiers = cxIdentifiers(pid, 3, defaultIssuer);
  if (identifiers.length === 0) throw PID3_MISSING();
  const demographics: { -readonly [K in keyof DemographicsUpdate]: DemographicsUpdate[K] } = {};
  const name = nameGroups(pid, 5);
  if (name !== undefined) demographics.name = name;
  const birthDate = dateField(pid, 7, 'PID^1^7');
  if (birthDate !== undefined) demographics.birthDate = birthDate;
  const sex = sexField(pid, 8);
  if (sex !== undefined) demographics.sex = sex;
  return { identifiers, demographics };
}

export type MergeKind = 'merge' | 'change-identifier';

/**
 * One merge (A40) or identifier change (A47): MRG-1 the prior identifier, PID-3 the surviving
 * patient (A40) or the new identifier (A47, its first repetition).
 */
export interface MergeCommand {
  readonly kind: MergeKind;
  readonly prior: PatientIdentifier;
  /** MRG-1's other repetitions (the prior's other identifiers, informational). */
  readonly priorOthers: readonly PatientIdentifier[];
  /** MRG-7 (prior patient name), for a prior the registry does not know. */
  readonly priorName?: PersonNameGroups;
  readonly surviving: PatientCommand;
}

/**
 * Every PID/MRG pair of an A40 or A47 (HL7 2.5.1 3.3.40, 3.3.47: the PATIENT group repeats), each
 * MRG with the PID before it.
 */
export function mergeCommands(message: Hl7Message, kind: MergeKind, defaultIssuer: string): MergeCommand[] {
  const commands: MergeCommand[] = [];
  let pid: Hl7Segment | undefined;
  let pidIndex = 0;
  let pairs = 0;
  for (const segment of message.segments) {
    if (segment.name === 'PID') {
      pid = segment;
      pidIndex++;
      continue;
    }
    if (segment.name !== 'MRG') continue;
    pairs++;
    if (!pid) throw new Hl7ProcessingError('AE', Hl7ErrorCode.SegmentSequenceError, 'MRG without a PID before it', `MRG^${pairs}`);
    const surviving = patientCommandAt(pid, pidIndex, defaultIssuer);
    const priors = cxIdentifiers(segment, 1, defaultIssuer);
    if (priors.length === 0) {
      throw new Hl7ProcessingError('AE', Hl7ErrorCode.RequiredFieldMissing, 'MRG-1 (prior patient identifier list) has no identifier', `MRG^${pairs}^1`);
    }
    const priorName = nameGroups(segment, 7) ?? undefined;
    commands.push({ kind, prior: priors[0]!, priorOthers: priors.slice(1), priorName, surviving });
    pid = undefined;
  }
  if (pairs === 0) throw new Hl7ProcessingError('AE', Hl7ErrorCode.SegmentSequenceError, `${kind === 'merge' ? 'A40' : 'A47'} needs an MRG segment`, 'MRG');
  return commands;
}

/** patientCommand with the error location naming which PID (PID^n^3). */
function patientCommandAt(pid: Hl7Segment, index: number, defaultIssuer: string): PatientCommand {
  try {
    return patientCommand(pid, defaultIssuer);
  } catch (e) {
    if (e instanceof Hl7ProcessingError && e.location?.startsWith('PID^1')) {
      throw new Hl7ProcessingError(e.status, e.code, e.message, e.location.replace('PID^1', `PID^${index}`));
    }
    throw e;
  }
}
