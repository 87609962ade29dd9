import type { IngestErrorCode } from '#vna/archive';

/** DIMSE status codes the archive answers with (PS3.4 Annex B, C; PS3.7 Annex C). */
export const DimseStatus = {
  Success: 0x0000,
  Pending: 0xff00,
  Cancel: 0xfe00,
  /** C-STORE: Refused: Out of Resources. */
  OutOfResources: 0xa700,
  /** C-FIND/C-MOVE/C-GET: Refused: Out of Resources - unable to calculate number of matches. */
  OutOfResourcesMatches: 0xa701,
  /** C-MOVE/C-GET: Refused: Out of Resources - unable to perform sub-operations. */
  OutOfResourcesSubOperations: 0xa702,
  /** C-MOVE: Refused: Move Destination unknown. */
  MoveDestinationUnknown: 0xa801,
  /** Error: Data Set does not match SOP Class / Identifier does not match SOP Class. */
  DataSetDoesNotMatchSopClass: 0xa900,
  /** Error: Cannot understand. */
  CannotUnderstand: 0xc000,
  /** Unable to process. */
  UnableToProcess: 0xc001,
  /** Warning: sub-operations complete, one or more failures. */
  SubOperationsCompleteWithFailures: 0xb000,
  /** Failure: SOP Class not supported (PS3.7 C.5). */
  SopClassNotSupported: 0x0122,
  /** Refused: Not Authorized (PS3.7 C.5): here, a re-send of an instance an IOCM rejection note rejected. */
  NotAuthorized: 0x0124,
} as const;

/** A refused C-STORE: the status says which kind of failure, the Error Comment says why (max 64 chars). */
export function cStoreFailureStatus(code: IngestErrorCode): number {
  switch (code) {
    case 'OUT_OF_RESOURCES':
    case 'TOO_LARGE':
      return DimseStatus.OutOfResources;
    case 'MISSING_ATTRIBUTE':
    case 'MISMATCH':
    case 'STUDY_MISMATCH':
    case 'INVALID_REJECTION_NOTE':
      return DimseStatus.DataSetDoesNotMatchSopClass;
    case 'REJECTED_INSTANCE':
      return DimseStatus.NotAuthorized;
    default:
      return DimseStatus.CannotUnderstand;
  }
}

/** Error Comment (0000,0902) is LO: at most 64 characters. */
export function errorComment(message: string): string {
  return message.replace(/[\\\r\n]/g, ' ').slice(0, 64);
}
