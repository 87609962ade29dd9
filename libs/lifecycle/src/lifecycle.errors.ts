/** What a lifecycle error means to its caller; libs/http maps the kind to problem+json (400, 404, 409). */
export type LifecycleErrorKind = 'invalid' | 'not-found' | 'conflict';

/** Stable codes for callers that act on the reason (IOCM, routing, the console). */
export type LifecycleErrorCode = 'legal-hold' | 'same-approver' | 'not-approvable' | 'not-deletable';

/** A lifecycle request that cannot be carried out; nothing was changed (unless the message says what was). */
export class LifecycleError extends Error {
  constructor(
    readonly kind: LifecycleErrorKind,
    message: string,
    readonly code?: LifecycleErrorCode,
  ) {
    super(message);
    this.name = 'LifecycleError';
  }
}
