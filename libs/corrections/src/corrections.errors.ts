/** What a corrections error means to its caller; libs/http maps `kind` to problem+json (400, 404, 409). */
export type CorrectionErrorKind = 'invalid' | 'not-found' | 'conflict';

/** A correction, undo or revocation that cannot be carried out; nothing was changed. */
export class CorrectionError extends Error {
  constructor(
    readonly kind: CorrectionErrorKind,
    message: string,
  ) {
    super(message);
    this.name = 'CorrectionError';
  }
}
