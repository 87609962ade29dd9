export { CorrectionsModule, IocmIngestModule } from './corrections.module.js';
export { CorrectionService, type PatientTarget } from './correction.service.js';
export { CorrectionError, type CorrectionErrorKind } from './corrections.errors.js';
export type { Correction, CorrectionActor, CorrectionKind } from './correction.model.js';
export { CORRECTABLE, type CorrectableKeyword } from './study-attributes.js';
export { RejectionService, type RevocationResult } from './iocm/rejection.service.js';
export { type Rejection, type RejectionState } from './iocm/rejection.repository.js';
export { KOS_SOP_CLASS, REJECTION_REASONS, parseRejectionNote, type RejectionNote, type RejectedReference } from './iocm/rejection-note.js';
