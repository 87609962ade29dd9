/**
 * A received HL7 v2 message as handlers see it: fields already unescaped (\F\ \S\ \T\ \R\ \E\ \Xhh\,
 * HL7 2.5.1 2.7) and decoded from the message's character set (MSH-18). Positions are 1-based
 * like the standard's (PID-3.4 = field 3, component 4); repetitions are 0-based.
 */
export interface Hl7Segment {
  readonly name: string;
  /** A field's (component's, subcomponent's) text; '' when absent. */
  get(field: number, component?: number, subcomponent?: number, repetition?: number): string;
  /** How many repetitions a field has (0 when empty). */
  repetitions(field: number): number;
}

export interface Hl7Message {
  /** MSH-9.1, e.g. 'ADT'. */
  readonly messageType: string;
  /** MSH-9.2, e.g. 'A01'. */
  readonly triggerEvent: string;
  /** MSH-10. */
  readonly controlId: string;
  /** MSH-3 / MSH-4 / MSH-5 / MSH-6 (namespace ids, component 1). */
  readonly sendingApplication: string;
  readonly sendingFacility: string;
  readonly receivingApplication: string;
  readonly receivingFacility: string;
  /** MSH-12. */
  readonly version: string;
  /** MSH-7 as received (TS). */
  readonly dateTime: string;
  readonly segments: readonly Hl7Segment[];
  /** The first segment of that name. */
  segment(name: string): Hl7Segment | undefined;
  /** Every segment of that name, in order. */
  all(name: string): Hl7Segment[];
}
