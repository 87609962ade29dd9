import type { DicomJson } from '#vna/dicom';

export type CorrectionKind = 'study-attributes' | 'move-series' | 'split-study' | 'join-studies';

/** A `study` row as corrections read and write it (what undo puts back exactly). */
export interface StudyState {
  readonly id: string;
  readonly studyUid: string;
  readonly patientFk: string;
  readonly studyDate: string | null;
  readonly studyTime: string | null;
  readonly accessionNumber: string | null;
  readonly studyId: string | null;
  readonly description: string | null;
  readonly referringPhysician: string;
  readonly attributes: DicomJson;
  readonly overlay: DicomJson;
}

/** A `series` row as corrections read and write it. */
export interface SeriesState {
  readonly id: string;
  readonly seriesUid: string;
  readonly studyFk: string;
  readonly overlay: DicomJson;
}

/** The rows a correction touched, as they were or became. `created`: study rows it made (a split's new study). */
export interface RowStates {
  readonly studies: readonly StudyState[];
  readonly series: readonly SeriesState[];
  readonly created: readonly string[];
}

/** An index patient row, as a move to another patient needs it. */
export interface PatientRow {
  readonly id: string;
  readonly patientId: string;
  readonly issuer: string;
  readonly currentPatientId: string;
  readonly currentIssuer: string;
  readonly attributes: DicomJson;
}

/** A recorded correction: who, when, why, what was asked, and whether it was undone. */
export interface Correction {
  readonly id: string;
  readonly kind: CorrectionKind;
  readonly at: string;
  readonly actor: string;
  readonly apiKey: string;
  readonly reason: string;
  readonly request: Record<string, unknown>;
  /** The studies it touched (Study Instance UIDs), a new study's included. */
  readonly studyUids: readonly string[];
  readonly undoneAt: string | null;
  readonly undoneBy: string | null;
  readonly undoReason: string | null;
}

/** Who asks: the person (X-User) acting through an API key (its name when no X-User was given). */
export interface CorrectionActor {
  readonly user: string;
  readonly apiKey: string;
}
