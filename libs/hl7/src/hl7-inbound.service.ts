import { Inject, Injectable, Logger } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { DataSource } from 'typeorm';
import { VNA_CONFIG, type VnaConfig } from '#vna/config';
import { type SqlRunner, withTransaction } from '#vna/persistence';
import { AllowedSenders } from './allowed-senders.js';
import { type AckCode, type AckError, ackControlId, buildAck } from './hl7-ack.js';
import { encodeHl7 } from './hl7-charset.js';
import { Hl7ErrorCode, Hl7HandlerRegistry, type Hl7HandlerResult, Hl7ProcessingError } from './hl7-handler.js';
import { Hl7MessageRepository } from './hl7-message.repository.js';
import { Hl7Metrics } from './hl7-metrics.js';
import { checkHeader, type Hl7HeaderFields, type ParsedHl7Message, parseHl7 } from './hl7-parser.js';

/** One MLLP frame as the listener received it. */
export interface InboundFrame {
  readonly payload: Buffer;
  readonly receivedAt: Date;
  /** The remote address:port (for the log). */
  readonly peer: string;
}

/** What to send back, and what happened (for the listener's log line and metrics). */
export interface InboundAnswer {
  /** The ACK, unframed, in the message's character set. */
  readonly ack: Buffer;
  readonly status: AckCode;
  /** Type^trigger for metrics: a handled type, 'other', or 'none' when no MSH could be read. */
  readonly metricType: string;
  readonly duplicate: boolean;
}

const MAX_LOGGED_PATIENT_IDS = 20;

/** PID-3.1 of every repetition: what the log is searchable by when a handler did not say. */
function pid3Ids(message: ParsedHl7Message): string[] {
  const pid = message.segment('PID');
  if (!pid) return [];
  const ids: string[] = [];
  for (let r = 0; r < pid.repetitions(3) && ids.length < MAX_LOGGED_PATIENT_IDS; r++) {
    const id = pid.get(3, 1, 1, r);
    if (id) ids.push(id);
  }
  return ids;
}

function asAckError(e: Hl7ProcessingError): AckError {
  return { code: e.code, text: e.message, location: e.location };
}

/**
 * The HL7 inbound flow for one message (HL7 2.5.1 2.9.2, original acknowledgement mode):
 * parse; in ONE transaction write the raw message (or find the outcome its sender and control id
 * already have), check the header, the sender and that a handler exists, run the handler under a
 * savepoint, write the outcome and the ACK; commit; only then is the ACK returned to be sent.
 * An Hl7ProcessingError from the handler undoes the handler's writes (ROLLBACK TO SAVEPOINT) and
 * is kept as AE/AR with its ERR; any other error undoes everything and answers AE 207, so that
 * the sender may send the message again.
 */
@Injectable()
export class Hl7InboundService {
  private readonly logger = new Logger('HL7');
  private readonly senders: AllowedSenders;
  /** Unknown senders already warned about (once per sender and process, not once per message). */
  private readonly warnedSenders = new Set<string>();

  constructor(
    @Inject(VNA_CONFIG) private readonly config: VnaConfig,
    @InjectDataSource() private readonly db: DataSource,
    private readonly registry: Hl7HandlerRegistry,
    private readonly messages: Hl7MessageRepository,
    private readonly metrics: Hl7Metrics,
  ) {
    this.senders = new AllowedSenders(config.hl7.allowedSenders);
  }

  async receive(frame: InboundFrame): Promise<InboundAnswer> {
    const parsed = parseHl7(frame.payload);
    if (!parsed.ok) {
      const controlId = parsed.header.fields[10];
      this.logger.warn(`HL7 frame of ${frame.payload.length} bytes from ${frame.peer} refused (AR ${parsed.error.code}): ${parsed.error.message}; control id ${controlId ?? 'unreadable'}`);
      return this.unstored(parsed.header, 'AR', asAckError(parsed.error), 'none');
    }
    const { message, header } = parsed;
    const type = `${message.messageType}^${message.triggerEvent}`;
    const handler = this.registry.get(message.messageType, message.triggerEvent);
    const metricType = handler ? type : 'other';
    const headerError = checkHeader(message);
    if (!message.controlId) {
      this.logger.warn(`HL7 ${type} from ${frame.peer} without a control id refused (AR ${headerError!.code})`);
      return this.unstored(header, 'AR', asAckError(headerError!), metricType);
    }
    const what = `HL7 ${type} ${message.controlId} from ${message.sendingApplication}@${message.sendingFacility}`;
    try {
      return await withTransaction(this.db, async (tx) => {
        const claim = await this.messages.claim(tx, {
          sendingApplication: message.sendingApplication,
          sendingFacility: message.sendingFacility,
          controlId: message.controlId,
          messageType: message.messageType,
          triggerEvent: message.triggerEvent,
          version: message.version,
          characterSet: message.characterSet,
          decodedAs: message.charset,
          raw: frame.payload,
          contentDigest: parsed.contentDigest,
          peer: frame.peer,
          receivedAt: frame.receivedAt,
        });
        if (claim.kind === 'final') {
          if (!claim.sameContent) {
            this.logger.warn(`${what}: the control id was used before for a different message; refused (AR ${Hl7ErrorCode.DuplicateKeyIdentifier}), nothing applied`);
            const text = `control id ${message.controlId} was already used by this sender for a different message (hl7_message ${claim.id}); send it with a new MSH-10`;
            return this.unstored(header, 'AR', { code: Hl7ErrorCode.DuplicateKeyIdentifier, text, location: 'MSH^1^10' }, metricType);
          }
          this.logger.log(`${what} received again: answered with its stored ACK (${claim.status}), nothing applied again`);
          this.metrics.duplicates.inc();
          return { ack: encodeHl7(claim.ack, claim.decodedAs), status: claim.status, metricType, duplicate: true };
        }
        const refusal = headerError ?? this.senderRefusal(message, what) ?? this.handlerRefusal(message);
        if (refusal) {
          this.logger.warn(`${what} refused (AR ${refusal.code}): ${refusal.message}`);
          return this.stored(tx, claim.id, header, { status: 'AR', final: false, error: refusal, patientIds: pid3Ids(message) }, metricType);
        }
        await tx.query('SAVEPOINT hl7_handler');
        let result: Hl7HandlerResult | void;
        try {
          result = await handler!(message, { tx, messageId: claim.id, actor: `${message.sendingApplication}@${message.sendingFacility}` });
        } catch (e) {
          if (!(e instanceof Hl7ProcessingError)) throw e;
          await tx.query('ROLLBACK TO SAVEPOINT hl7_handler');
          this.logger.log(`${what} not applied (${e.status} ${e.code}): ${e.message}`);
          return this.stored(tx, claim.id, header, { status: e.status, final: true, error: e, patientIds: pid3Ids(message) }, metricType);
        }
        await tx.query('RELEASE SAVEPOINT hl7_handler');
        this.logger.debug(`${what} applied`);
        const patientIds = result?.patientIds?.length ? [...result.patientIds].slice(0, MAX_LOGGED_PATIENT_IDS) : pid3Ids(message);
        return this.stored(tx, claim.id, header, { status: 'AA', final: true, note: result?.note, patientIds }, metricType);
      });
    } catch (e) {
      this.logger.error(`${what} failed, nothing kept (AE ${Hl7ErrorCode.ApplicationInternalError}): ${(e as Error).stack ?? String(e)}`);
      const text = 'the archive could not process the message (internal error); nothing was applied: send it again';
      return this.unstored(header, 'AE', { code: Hl7ErrorCode.ApplicationInternalError, text }, metricType);
    }
  }

  /** Production takes messages only from VNA_HL7_ALLOWED_SENDERS; other profiles warn and take them. */
  private senderRefusal(message: ParsedHl7Message, what: string): Hl7ProcessingError | undefined {
    if (this.senders.allows(message.sendingApplication, message.sendingFacility)) return undefined;
    const sender = `${message.sendingApplication}@${message.sendingFacility}`;
    if (this.config.profile !== 'production') {
      if (this.warnedSenders.size < 1000 && !this.warnedSenders.has(sender)) {
        this.warnedSenders.add(sender);
        this.logger.warn(`${what}: sender ${sender} is not in VNA_HL7_ALLOWED_SENDERS (accepted: ${this.config.profile} profile; production refuses it)`);
      }
      return undefined;
    }
    // Table 0357 has no code for an unauthorized sender; 207 with the reason in ERR-8.
    return new Hl7ProcessingError('AR', Hl7ErrorCode.ApplicationInternalError, `sender ${sender} (MSH-3@MSH-4) is not allowed to send to this archive`, 'MSH^1^3');
  }

  private handlerRefusal(message: ParsedHl7Message): Hl7ProcessingError | undefined {
    if (this.registry.get(message.messageType, message.triggerEvent)) return undefined;
    const known = this.registry.types();
    const typeKnown = known.some((t) => t.startsWith(`${message.messageType}^`));
    const accepted = known.length ? known.join(', ') : 'none yet';
    return typeKnown
      ? new Hl7ProcessingError('AR', Hl7ErrorCode.UnsupportedEventCode, `trigger event ${message.triggerEvent} of ${message.messageType} is not supported (accepted: ${accepted})`, 'MSH^1^9^1^2')
      : new Hl7ProcessingError('AR', Hl7ErrorCode.UnsupportedMessageType, `message type ${message.messageType} is not supported (accepted: ${accepted})`, 'MSH^1^9^1^1');
  }

  private async stored(
    tx: SqlRunner,
    id: string,
    header: Hl7HeaderFields,
    o: { status: AckCode; final: boolean; error?: Hl7ProcessingError; note?: string; patientIds: readonly string[] },
    metricType: string,
  ): Promise<InboundAnswer> {
    const controlId = ackControlId();
    const error = o.error ? asAckError(o.error) : undefined;
    const ack = buildAck({ header, code: o.status, error, controlId, now: new Date() });
    await this.messages.record(tx, id, { status: o.status, final: o.final, error, note: o.note, ack: ack.text, ackControlId: controlId, patientIds: o.patientIds });
    return { ack: ack.bytes, status: o.status, metricType, duplicate: false };
  }

  private unstored(header: Hl7HeaderFields, status: AckCode, error: AckError, metricType: string): InboundAnswer {
    const ack = buildAck({ header, code: status, error, controlId: ackControlId(), now: new Date() });
    return { ack: ack.bytes, status, metricType, duplicate: false };
  }
}
