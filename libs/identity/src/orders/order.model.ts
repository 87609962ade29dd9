/**
 * Orders as the archive keeps them (IHE SWF.b): an imaging service request identified by its
 * accession number, its requested procedures (one study each) and their scheduled procedure steps.
 * Pure types: the HL7 parser produces them, the repository stores them, the worklist reads them.
 */

/** IHE SWF order and step states (RAD TF-2 4.4, 4.13): the worklist serves 'scheduled' and 'in-progress'. */
export type OrderStatus = 'scheduled' | 'in-progress' | 'completed' | 'cancelled' | 'discontinued';

export const ORDER_STATUSES: readonly OrderStatus[] = ['scheduled', 'in-progress', 'completed', 'cancelled', 'discontinued'];

/** States in which a step is on the Modality Worklist. */
export const OPEN_STATUSES: readonly OrderStatus[] = ['scheduled', 'in-progress'];

/** ORC-1 order control codes the archive applies (HL7 table 0119). */
export type OrderControl = 'NW' | 'XO' | 'CA' | 'DC' | 'SC';

/** A code (HL7 CE/CWE; DICOM Code Sequence item): value, coding scheme designator, meaning. */
export interface CodedValue {
  readonly value: string;
  readonly scheme: string;
  readonly meaning: string;
}

/** A person name in DICOM's three groups, each 'Family^Given^Middle^Prefix^Suffix'. */
export interface PersonNameGroups {
  readonly alphabetic: string;
  readonly ideographic: string;
  readonly phonetic: string;
}

export interface IdentifierWithIssuer {
  readonly id: string;
  readonly issuer: string;
}

/** The patient the order was placed for, as the order message says (PID). */
export interface OrderPatient {
  readonly id: string;
  readonly issuer: string;
  readonly name: PersonNameGroups;
  /** DA, or null when not given. */
  readonly birthDate: string | null;
  /** M, F, O, or null. */
  readonly sex: string | null;
  readonly otherIds: readonly IdentifierWithIssuer[];
}

/** The visit (PV1): admission id, where the patient is, who referred them (DICOM PN). */
export interface OrderVisit {
  readonly admissionId: string;
  readonly location: string;
  readonly referringPhysician: string;
}

export interface ScheduledStepData {
  readonly stepId: string;
  /** True when the message named the step (OBR-20, IPC-4) rather than the archive defaulting it. */
  readonly explicitStepId: boolean;
  readonly modality: string;
  readonly stationAet: string;
  readonly stationName: string;
  readonly location: string;
  /** DA ('' when not given). */
  readonly startDate: string;
  /** TM ('' when not given). */
  readonly startTime: string;
  readonly description: string;
  readonly protocolCodes: readonly CodedValue[];
  /** DICOM PN. */
  readonly performingPhysician: string;
}

export interface RequestedProcedureData {
  readonly requestedProcedureId: string;
  /** True when the message named the procedure (OBR-19, IPC-2). */
  readonly explicitProcedureId: boolean;
  /** '' when the message has none (generated for new orders when configured). */
  readonly studyUid: string;
  readonly code: CodedValue | null;
  readonly description: string;
  readonly priority: string;
  readonly reason: string;
  /**
   * The body part examined (OBR-15.4, the body site of the specimen source), trimmed and upper-cased
   * like DICOM's Body Part Examined (0018,0015) terms (CHEST, HEAD, KNEE); '' when not given.
   * Prefetch of priors matches it (VNA_LIFECYCLE_PREFETCH_MATCH body-part).
   */
  readonly bodyPart: string;
  readonly steps: readonly ScheduledStepData[];
}

/** One order (accession number) as one ORC group of the message states it. */
export interface OrderRequest {
  readonly control: OrderControl;
  /** ORC-5 as received ('' when absent). */
  readonly orderStatus: string;
  /** The state ORC-1 (and ORC-5 for SC) asks for; undefined for NW/XO (details, not state). */
  readonly targetStatus?: OrderStatus;
  readonly accessionNumber: string;
  readonly accessionIssuer: string;
  readonly placerOrder: IdentifierWithIssuer;
  readonly fillerOrder: IdentifierWithIssuer;
  /** DICOM PN (ORC-12 / OBR-16). */
  readonly requestingPhysician: string;
  readonly procedures: readonly RequestedProcedureData[];
  /** ERR location of the ORC this came from ('ORC^2'), for errors found later (unknown order, say). */
  readonly location: string;
}

/** An ORM^O01 or OMI^O23 message, read. */
export interface OrderMessage {
  readonly patient: OrderPatient;
  readonly visit: OrderVisit;
  readonly orders: readonly OrderRequest[];
}
