import type { OperationOutcome } from '@medplum/fhirtypes';
import { AccessDeniedError } from '#vna/auth';
import { FhirError, ISSUE_CODE } from '../fhir.errors.js';

const STATUS: Record<FhirError['kind'], number> = { invalid: 400, 'not-found': 404, 'not-supported': 400, conflict: 409 };

/**
 * Every error of the FHIR API as an OperationOutcome (FHIR R4 3.1.0.4.1), in this one place:
 * FHIR errors by kind, access control (401/403) and anything else (500, no detail leaked).
 */
export function toOperationOutcome(e: unknown): { status: number; outcome: OperationOutcome } {
  const issue = (severity: 'error' | 'fatal', code: string, diagnostics: string): OperationOutcome => ({
    resourceType: 'OperationOutcome',
    issue: [{ severity, code: code as never, diagnostics }],
  });
  if (e instanceof FhirError) return { status: STATUS[e.kind], outcome: issue('error', ISSUE_CODE[e.kind], e.message) };
  if (e instanceof AccessDeniedError) return { status: e.status, outcome: issue('error', e.status === 401 ? 'login' : 'forbidden', e.message) };
  const httpStatus = (e as { getStatus?: () => number }).getStatus?.();
  if (typeof httpStatus === 'number' && httpStatus < 500) {
    return { status: httpStatus, outcome: issue('error', httpStatus === 404 ? 'not-found' : 'invalid', (e as Error).message) };
  }
  return { status: 500, outcome: issue('fatal', 'exception', 'internal error') };
}
