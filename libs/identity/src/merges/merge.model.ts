import type { MergeCommand, MergeKind } from '../adt/adt-message.parser.js';
import type { RowChange } from '../registry/index-sync.js';
import type { RegistryIdentifier, RegistryPatientState } from '../registry/registry.model.js';

export type { MergeCommand, MergeKind };

export type MergeStatus = 'held' | 'applied' | 'rejected' | 'unmerged';

/**
 * Why a merge or identifier change is suspicious (IHE PIR; HL7 2.5.1 3.6.2): applying it blindly
 * could join two people or lose one.
 */
export type SuspicionCode =
  /** MRG-1 and PID-3 are the same patient. */
  | 'self-merge'
  /** The registry does not know MRG-1. */
  | 'prior-unknown'
  /** MRG-1 was already merged into another patient. */
  | 'prior-merged'
  /** The surviving patient was merged into the prior one: this would reverse an earlier merge. */
  | 'inverse'
  /** The same merge (or change) was already applied. */
  | 'duplicate'
  /** The surviving patient was itself merged into a third one. */
  | 'survivor-merged'
  /** PID-3's identifiers belong to two registry patients. */
  | 'ambiguous-survivor'
  /** A47: the new identifier already belongs to another patient. */
  | 'identifier-taken'
  /** A47: MRG-1 was already replaced by another identifier. */
  | 'prior-replaced';

export interface Suspicion {
  readonly code: SuspicionCode;
  readonly text: string;
}

/** Everything an unmerge needs to restore the registry and the index exactly. */
export interface MergeUndo {
  /** Each registry record the change touched: its state before, or that the change created it. */
  readonly records: readonly {
    readonly id: string;
    readonly role: 'prior' | 'survivor' | 'patient';
    readonly created: boolean;
    readonly before: RegistryPatientState | null;
    /** The record's version right after the change. */
    readonly versionAfter: number;
  }[];
  /** A47: the identifiers before the change (the new one absent: null). */
  readonly identifiers?: { readonly old: RegistryIdentifier; readonly new: RegistryIdentifier | null };
  /** Every index patient row the change wrote: before and after. */
  readonly rows: readonly RowChange[];
}

/** A merge or identifier change as listed and shown. */
export interface PatientMerge {
  readonly id: string;
  readonly kind: MergeKind;
  readonly status: MergeStatus;
  readonly prior: { readonly patientId: string; readonly issuer: string };
  readonly surviving: { readonly patientId: string; readonly issuer: string };
  /** Registry records (ids) once known: the prior's, the survivor's (the patient's, for A47). */
  readonly priorPatient: string | null;
  readonly survivingPatient: string | null;
  readonly suspicion: Suspicion | null;
  readonly requestedBy: string;
  readonly requestedAt: string;
  readonly hl7MessageId: string | null;
  readonly taskId: string | null;
  readonly appliedBy: string | null;
  readonly appliedAt: string | null;
  readonly applyReason: string | null;
  /** Who rejected (held) or unmerged (applied) it, when and why. */
  readonly closedBy: string | null;
  readonly closedAt: string | null;
  readonly closeReason: string | null;
  readonly command: MergeCommand;
  /** Index rows the change wrote (detail only). */
  readonly indexRowsTouched?: number;
}
