/** What an identity error means to its caller; libs/http maps it to problem+json (400, 404, 409). */
export type IdentityErrorKind = 'invalid' | 'not-found' | 'conflict';

/** Why the registry refused: stable codes the HL7 edge maps to table 0357 (ERR-3). */
export type IdentityErrorCode =
  /** An identifier of the message belongs to a merged patient. */
  | 'identifier-merged'
  /** An identifier of the message was replaced by an identifier change (A47). */
  | 'identifier-replaced'
  /** The message's identifiers belong to two or more registry patients. */
  | 'identifiers-ambiguous';

/** A request the registry, merges or reconciliation cannot carry out; nothing was changed. */
export class IdentityError extends Error {
  constructor(
    readonly kind: IdentityErrorKind,
    message: string,
    readonly code?: IdentityErrorCode,
  ) {
    super(message);
    this.name = 'IdentityError';
  }
}
