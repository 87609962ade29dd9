import { Injectable } from '@nestjs/common';
import type { SqlRunner } from '#vna/persistence';
import type { Hl7Message } from './hl7-message.js';

/** HL7 table 0357 (message error condition codes) values the archive uses in ERR-3. */
export const Hl7ErrorCode = {
  SegmentSequenceError: '100',
  RequiredFieldMissing: '101',
  DataTypeError: '102',
  TableValueNotFound: '103',
  UnsupportedMessageType: '200',
  UnsupportedEventCode: '201',
  UnsupportedProcessingId: '202',
  UnsupportedVersionId: '203',
  UnknownKeyIdentifier: '204',
  DuplicateKeyIdentifier: '205',
  ApplicationRecordLocked: '206',
  ApplicationInternalError: '207',
} as const;

/**
 * A message the archive will not apply, with the ERR segment that says why (HL7 2.5.1 2.15.5).
 * `status` 'AE' (application error: the content is wrong) or 'AR' (rejected: the message cannot be
 * processed at all, e.g. unknown sender or unsupported type). Handlers throw it; nothing they did
 * in the transaction is kept, but the message itself is stored with the ACK it got.
 */
export class Hl7ProcessingError extends Error {
  constructor(
    readonly status: 'AE' | 'AR',
    readonly code: string,
    message: string,
    /** ERR-2 error location: segment^sequence^field^component, e.g. 'PID^1^3'. */
    readonly location?: string,
  ) {
    super(message);
    this.name = 'Hl7ProcessingError';
  }
}

export interface Hl7HandlerContext {
  /** The transaction the raw message is stored in: handlers write their effects here (one commit, then the ACK). */
  readonly tx: SqlRunner;
  /** The stored message's id (hl7_message.id), for history rows ("which message"). */
  readonly messageId: string;
  /** Who sent it, for history rows ("who"): 'SENDING_APP@SENDING_FACILITY'. */
  readonly actor: string;
}

/** What a handler reports back: AA, optionally with a note for the message log. */
export interface Hl7HandlerResult {
  /** Patient identifiers the message was about, for searching the message log ("by patient"). */
  readonly patientIds?: readonly string[];
  readonly note?: string;
}

export type Hl7Handler = (message: Hl7Message, context: Hl7HandlerContext) => Promise<Hl7HandlerResult | void>;

/**
 * Handlers by message type and trigger ('ADT^A01', 'ORM^O01', ...). Feature libs register theirs
 * (in onModuleInit); the MLLP edge dispatches without knowing them.
 */
@Injectable()
export class Hl7HandlerRegistry {
  private readonly handlers = new Map<string, Hl7Handler>();

  register(types: readonly string[], handler: Hl7Handler): void {
    for (const type of types) {
      if (this.handlers.has(type)) throw new Error(`an HL7 handler for ${type} is already registered`);
      this.handlers.set(type, handler);
    }
  }

  get(messageType: string, triggerEvent: string): Hl7Handler | undefined {
    return this.handlers.get(`${messageType}^${triggerEvent}`);
  }

  types(): string[] {
    return [...this.handlers.keys()].sort();
  }
}
