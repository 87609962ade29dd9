/**
 * The patient registry's model (IHE PIR): what ADT says about a patient, and a record's state as
 * kept. Pure types and helpers, no I/O.
 */

/** One identifier: PID-3 (CX) value, assigning authority (= DICOM IssuerOfPatientID), type code. */
export interface PatientIdentifier {
  readonly patientId: string;
  /** The assigning authority; an empty one is already the default issuer here. */
  readonly issuer: string;
  /** CX-5 (HL7 table 0203: MR, PI, PT...); '' when not sent. */
  readonly typeCode: string;
}

/** A DICOM PN by group (PS3.5 6.2.1): each group 'family^given^middle^prefix^suffix'. */
export interface PersonNameGroups {
  readonly alphabetic: string;
  readonly ideographic: string;
  readonly phonetic: string;
}

export const EMPTY_NAME: PersonNameGroups = { alphabetic: '', ideographic: '', phonetic: '' };

/**
 * Demographics as a message states them. HL7 v2 semantics (2.5.1 2.5.3): a field not sent
 * (undefined) leaves the value as it is; `""` (null here) deletes it.
 */
export interface DemographicsUpdate {
  readonly name?: PersonNameGroups | null;
  /** PID-7's date (YYYY[MM[DD]]). */
  readonly birthDate?: string | null;
  /** PID-8 (HL7 table 0001: F, M, O, U, A, N). */
  readonly sex?: string | null;
}

/** A patient as an ADT message describes it: who (identifiers, in PID-3 order) and what changes. */
export interface PatientCommand {
  readonly identifiers: readonly PatientIdentifier[];
  readonly demographics: DemographicsUpdate;
}

export type RegistryStatus = 'active' | 'merged' | 'void';

export interface RegistryIdentifier extends PatientIdentifier {
  /** Order in PID-3 (0 first): the first active one is the patient's primary identifier. */
  readonly position: number;
  /** 'replaced' by an identifier change (A47): still identifies objects that arrive with it. */
  readonly status: 'active' | 'replaced';
}

/** A registry record as kept (and as each version's snapshot). */
export interface RegistryPatientState {
  readonly id: string;
  readonly status: RegistryStatus;
  /** The record this one was merged into (status 'merged'). */
  readonly mergedInto: string | null;
  readonly name: PersonNameGroups;
  readonly birthDate: string | null;
  readonly sex: string | null;
  readonly version: number;
  readonly identifiers: readonly RegistryIdentifier[];
}

/** Who, when (the row's time) and why for every change. */
export interface ChangeAudit {
  /** 'SENDING_APP@SENDING_FACILITY' for HL7, the API key's name for a person. */
  readonly actor: string;
  /** hl7_message.id of the message that made the change. */
  readonly hl7MessageId?: string;
  readonly mergeId?: string;
  readonly reason?: string;
}

export function identityKey(id: { readonly patientId: string; readonly issuer: string }): string {
  return `${id.issuer}|${id.patientId}`;
}

export function sameIdentity(a: { readonly patientId: string; readonly issuer: string }, b: { readonly patientId: string; readonly issuer: string }): boolean {
  return a.patientId === b.patientId && a.issuer === b.issuer;
}

/** An identifier as people write it: 'id^^^issuer' (CX). */
export function identifierText(id: { readonly patientId: string; readonly issuer: string }): string {
  return id.issuer ? `${id.patientId}^^^${id.issuer}` : id.patientId;
}

/** The primary identifier: the first active one by PID-3 position. */
export function primaryIdentifier(state: RegistryPatientState): RegistryIdentifier | undefined {
  return [...state.identifiers].filter((i) => i.status === 'active').sort((a, b) => a.position - b.position)[0];
}
