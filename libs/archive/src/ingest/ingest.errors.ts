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
  | 'ABORTED'
  /** A re-send of an instance an IOCM rejection note rejected, with the re-send policy `reject`. */
  | 'REJECTED_INSTANCE'
  /** A Key Object Selection rejection note that cannot be applied (no evidence, unknown title code). */
  | 'INVALID_REJECTION_NOTE';

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
