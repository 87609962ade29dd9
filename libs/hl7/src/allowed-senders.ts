import type { Hl7SenderPattern } from '#vna/config';

function glob(pattern: string): RegExp {
  const body = pattern
    .split('*')
    .map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))
    .join('.*');
  return new RegExp(`^${body}$`, 'i');
}

/**
 * VNA_HL7_ALLOWED_SENDERS as a test on MSH-3 and MSH-4 (namespace ids): `APP@FACILITY` patterns,
 * `*` for any run of characters, case-insensitive.
 */
export class AllowedSenders {
  private readonly patterns: readonly { readonly application: RegExp; readonly facility: RegExp }[];

  constructor(patterns: readonly Hl7SenderPattern[]) {
    this.patterns = patterns.map((p) => ({ application: glob(p.application), facility: glob(p.facility) }));
  }

  get configured(): boolean {
    return this.patterns.length > 0;
  }

  allows(application: string, facility: string): boolean {
    return this.patterns.some((p) => p.application.test(application) && p.facility.test(facility));
  }
}
