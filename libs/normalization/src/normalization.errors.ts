/** Why a coercion rule request is refused; `kind` gives the edge its status (problem+json 400/404/409). */
export type NormalizationErrorKind = 'invalid' | 'not-found' | 'conflict';

export class NormalizationError extends Error {
  constructor(
    readonly kind: NormalizationErrorKind,
    readonly code: 'INVALID_RULE' | 'INVALID_OBJECT' | 'RULE_NOT_FOUND' | 'RULE_NAME_TAKEN' | 'VERSION_MISMATCH' | 'INSTANCE_NOT_FOUND',
    message: string,
  ) {
    super(message);
    this.name = 'NormalizationError';
  }
}
