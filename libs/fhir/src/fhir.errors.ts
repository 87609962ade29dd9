/**
 * Why a FHIR request was refused, as stable codes; the HTTP edges map them once: OperationOutcome
 * for /fhir/R4 (api/operation-outcome.ts), problem+json for /api/v1 (libs/http, by `kind`).
 */
export type FhirErrorKind = 'invalid' | 'not-found' | 'not-supported' | 'conflict';

/** OperationOutcome.issue.code (FHIR R4 IssueType) of each kind. */
export const ISSUE_CODE: Record<FhirErrorKind, string> = {
  invalid: 'invalid',
  'not-found': 'not-found',
  'not-supported': 'not-supported',
  conflict: 'conflict',
};

export class FhirError extends Error {
  constructor(
    readonly kind: FhirErrorKind,
    message: string,
  ) {
    super(message);
    this.name = 'FhirError';
  }
}

/**
 * A delivery to a FHIR server that failed. `transient` ones (network, timeout, 408, 429, 5xx) are
 * expected to pass on a retry; `permanent` ones (other 4xx: the server refuses the content or the
 * credentials) need a person, but are retried too, and dead-letter after the outbox's attempts.
 */
export class FhirDeliveryError extends Error {
  constructor(
    readonly classification: 'transient' | 'permanent',
    message: string,
    readonly status?: number,
  ) {
    super(`${classification}: ${message}`);
    this.name = 'FhirDeliveryError';
  }
}
