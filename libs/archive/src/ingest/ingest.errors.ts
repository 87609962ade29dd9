/**
 * Why a received object was refused. Stable codes; each edge maps them to its protocol
 * (C-STORE status, STOW-RS FailureReason).
 */
export type IngestErrorCode =
  | 'NOT_DICOM'
  | 'MALFORMED'
  | 'MISSING_ATTRIBUTE'
  | 'UNSUPPORTED_TRANSFER_SYNTAX'
  | 'TOO_LARGE'
  | 'MISMATCH'
  | 'STUDY_MISMATCH'
  | 'OUT_OF_RESOURCES'
  | 'ABORTED';

export class IngestError extends Error {
  constructor(
    readonly code: IngestErrorCode,
    message: string,
    /** The object's identity, when it could be read (STOW lists it in FailedSOPSequence). */
    readonly sopClassUid = '',
    readonly sopInstanceUid = '',
  ) {
    super(message);
    this.name = 'IngestError';
  }
}
