import { Injectable, Logger } from '@nestjs/common';
import type { AckCode } from './hl7-ack.js';
import { type Hl7MessageDetail, Hl7MessageRepository, type Hl7MessageSummary } from './hl7-message.repository.js';

/** A message log request the service refuses; `kind` gives the HTTP status (libs/http). */
export class Hl7MessageLogError extends Error {
  constructor(
    readonly kind: 'invalid' | 'not-found',
    message: string,
  ) {
    super(message);
    this.name = 'Hl7MessageLogError';
  }
}

/** The search as the API takes it (strings from the query; checked here). */
export interface Hl7MessageQuery {
  readonly controlId?: string;
  /** MSH-9.1, or type^trigger ('ADT^A08'). */
  readonly type?: string;
  readonly trigger?: string;
  readonly patientId?: string;
  readonly status?: AckCode;
  readonly sendingApplication?: string;
  readonly sendingFacility?: string;
  /** ISO 8601: received at or after. */
  readonly since?: string;
  /** ISO 8601: received before. */
  readonly until?: string;
  readonly limit?: number;
  readonly offset?: number;
}

export const HL7_LOG_DEFAULT_LIMIT = 100;
export const HL7_LOG_MAX_LIMIT = 1000;

function date(name: string, value: string | undefined): Date | undefined {
  if (value === undefined) return undefined;
  const d = new Date(value);
  if (Number.isNaN(d.getTime())) throw new Hl7MessageLogError('invalid', `${name} must be an ISO 8601 date/time`);
  return d;
}

/** /api/v1/hl7/messages: every received message with its outcome, newest first. */
@Injectable()
export class Hl7MessageLogService {
  private readonly logger = new Logger('HL7');

  constructor(private readonly messages: Hl7MessageRepository) {}

  async search(q: Hl7MessageQuery): Promise<Hl7MessageSummary[]> {
    const [type, triggerInType] = (q.type ?? '').split('^');
    if (triggerInType !== undefined && q.trigger !== undefined && triggerInType !== q.trigger) {
      throw new Hl7MessageLogError('invalid', 'type names a trigger event that differs from trigger');
    }
    const limit = q.limit ?? HL7_LOG_DEFAULT_LIMIT;
    const offset = q.offset ?? 0;
    if (!Number.isInteger(limit) || limit < 1 || limit > HL7_LOG_MAX_LIMIT) throw new Hl7MessageLogError('invalid', `limit must be 1-${HL7_LOG_MAX_LIMIT}`);
    if (!Number.isInteger(offset) || offset < 0) throw new Hl7MessageLogError('invalid', 'offset must be 0 or more');
    return this.messages.search({
      controlId: q.controlId,
      messageType: type || undefined,
      triggerEvent: triggerInType ?? q.trigger,
      patientId: q.patientId,
      status: q.status,
      since: date('since', q.since),
      until: date('until', q.until),
      sender: { application: q.sendingApplication, facility: q.sendingFacility },
      limit,
      offset,
    });
  }

  /** One message with its raw text and ACK (PHI: the caller is named in the log). */
  async get(id: string, caller: string): Promise<Hl7MessageDetail> {
    if (!/^\d{1,18}$/.test(id)) throw new Hl7MessageLogError('not-found', `no HL7 message ${id}`);
    const message = await this.messages.get(id);
    if (!message) throw new Hl7MessageLogError('not-found', `no HL7 message ${id}`);
    this.logger.log(`HL7 message ${id} (control id ${message.controlId}) read by ${caller}`);
    return message;
  }
}
