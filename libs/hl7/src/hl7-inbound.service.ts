import { Inject, Injectable, Logger } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { DataSource } from 'typeorm';
import { VNA_CONFIG, type VnaConfig } from '#vna/config';
import { type SqlRunner, withTransaction } from '#vna/persistence';
import { AllowedSenders } from './allowed-senders.js';
import { type AckCode, type AckError, ackControlId, buildAck } from './hl7-ack.js';
import { encodeHl7 } from './hl7-charset.js';
import { type Hl7Handler, Hl7ErrorCode, Hl7HandlerRegistry, type Hl7HandlerResult, Hl7ProcessingError } from './hl7-handler.js';
import { Hl7MessageRepository, type NewHl7Message } from './hl7-message.repository.js';
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
const RECENT_KEYS = 10_000;

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

/** One message on its way through `receive`. */
interface Flow {
  readonly frame: InboundFrame;
  readonly message: ParsedHl7Message;
  readonly header: Hl7HeaderFields;
  readonly contentDigest: Buffer;
  readonly headerError: Hl7ProcessingError | undefined;
  readonly handler: Hl7Handler | undefined;
  readonly metricType: string;
  /** "HL7 ADT^A08 <control id> from APP@FACILITY", for log lines. */
  readonly what: string;
}

/** Carries a handler's refusal out of its transaction, so that the transaction rolls back. */
class HandlerRefusal extends Error {
  constructor(readonly error: Hl7ProcessingError) {
    super(error.message);
  }
}

/** Its sender and control id have a row already: the transaction is undone and the message claimed instead. */
class AlreadyReceived extends Error {}

/**
 * How `apply` writes the message: `end`, under a reserved id together with its outcome once known
 * (one statement; the common case); `claim`, first, looking at the row a copy already has.
 */
type WriteMode = 'end' | 'claim';

function newMessage(f: Flow): NewHl7Message {
  const { message } = f;
  return {
    sendingApplication: message.sendingApplication,
    sendingFacility: message.sendingFacility,
    controlId: message.controlId,
    messageType: message.messageType,
    triggerEvent: message.triggerEvent,
    version: message.version,
    characterSet: message.characterSet,
    decodedAs: message.charset,
    raw: f.frame.payload,
    contentDigest: f.contentDigest,
    peer: f.frame.peer,
    receivedAt: f.frame.receivedAt,
  };
}

function asAckError(e: Hl7ProcessingError): AckError {
  return { code: e.code, text: e.message, location: e.location };
}

/**
 * The HL7 inbound flow for one message (HL7 2.5.1 2.9.2, original acknowledgement mode):
 * parse; in ONE transaction check the header, the sender and that a handler exists, run the
 * handler, write the raw message with its outcome and ACK (or, when its sender and control id
 * already have a row, undo that and answer from the row: see `applyOnce`); commit; only then is
 * the ACK returned to be sent. An
 * Hl7ProcessingError from the handler rolls the transaction back (its writes with it; no savepoint
 * round trips on the common path) and a second transaction keeps the message as AE/AR with its
 * ERR; any other error undoes everything and answers AE 207, so that the sender may send the
 * message again.
 */
@Injectable()
export class Hl7InboundService {
  private readonly logger = new Logger('HL7');
  private readonly senders: AllowedSenders;
  /** Sender and control id of the last RECENT_KEYS messages, oldest first (`applyOnce`). */
  private readonly recentKeys = new Set<string>();
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
    const flow: Flow = { frame, message, header, contentDigest: parsed.contentDigest, headerError, handler, metricType, what };
    try {
      try {
        return await this.applyOnce(flow);
      } catch (e) {
        if (!(e instanceof HandlerRefusal)) throw e;
        // The handler found the content wrong: its writes went with the transaction; the outcome is kept in a new one.
        this.logger.log(`${what} not applied (${e.error.status} ${e.error.code}): ${e.error.message}`);
        return await this.applyOnce(flow, e.error);
      }
    } catch (e) {
      this.logger.error(`${what} failed, nothing kept (AE ${Hl7ErrorCode.ApplicationInternalError}): ${(e as Error).stack ?? String(e)}`);
      const text = 'the archive could not process the message (internal error); nothing was applied: send it again';
      return this.unstored(header, 'AE', { code: Hl7ErrorCode.ApplicationInternalError, text }, metricType);
    }
  }

  /**
   * The message in one transaction, written at its end; when its sender and control id turn out
   * to have a row already (a re-sent copy, or a copy committed meanwhile on another connection),
   * that transaction is undone and a second one claims the row first and looks at it.
   */
  private async applyOnce(f: Flow, refused?: Hl7ProcessingError): Promise<InboundAnswer> {
    // A control id this process has seen lately (a re-send after a lost ACK, most often on the same
    // link) is claimed first, so that its handler does not run only to be undone.
    const key = `${f.message.sendingFacility}\u0000${f.message.sendingApplication}\u0000${f.message.controlId}`;
    const mode: WriteMode = this.recentKeys.has(key) ? 'claim' : 'end';
    this.recentKeys.delete(key);
    this.recentKeys.add(key);
    if (this.recentKeys.size > RECENT_KEYS) this.recentKeys.delete(this.recentKeys.values().next().value!);
    if (mode === 'claim') return withTransaction(this.db, (tx) => this.apply(tx, f, 'claim', refused));
    try {
      return await withTransaction(this.db, (tx) => this.apply(tx, f, 'end', refused));
    } catch (e) {
      if (!(e instanceof AlreadyReceived)) throw e;
      return withTransaction(this.db, (tx) => this.apply(tx, f, 'claim', refused));
    }
  }

  /**
   * One transaction: the checks, the handler's effects, the raw message with the outcome and ACK
   * (`mode` says whether the message is claimed first, its earlier outcome found, or written at
   * the end). With `refused`, the handler already refused the message in a transaction that was
   * rolled back: only the message and that outcome are kept.
   */
  private async apply(tx: SqlRunner, f: Flow, mode: WriteMode, refused?: Hl7ProcessingError): Promise<InboundAnswer> {
    const { message, header, metricType, what } = f;
    const claim = mode === 'claim' ? await this.messages.claim(tx, newMessage(f)) : { kind: 'new' as const, id: await this.messages.reserveId(tx) };
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
    const refusal = f.headerError ?? this.senderRefusal(message, what) ?? this.handlerRefusal(message);
    if (refusal) {
      this.logger.warn(`${what} refused (AR ${refusal.code}): ${refusal.message}`);
      return this.stored(tx, f, mode, claim.id, { status: 'AR', final: false, error: refusal, patientIds: pid3Ids(message) });
    }
    if (refused) return this.stored(tx, f, mode, claim.id, { status: refused.status, final: true, error: refused, patientIds: pid3Ids(message) });
    let result: Hl7HandlerResult | void;
    try {
      result = await f.handler!(message, { tx, messageId: claim.id, actor: `${message.sendingApplication}@${message.sendingFacility}` });
    } catch (e) {
      if (e instanceof Hl7ProcessingError) throw new HandlerRefusal(e);
      throw e;
    }
    this.logger.debug(`${what} applied`);
    const patientIds = result?.patientIds?.length ? [...result.patientIds].slice(0, MAX_LOGGED_PATIENT_IDS) : pid3Ids(message);
    return this.stored(tx, f, mode, claim.id, { status: 'AA', final: true, note: result?.note, patientIds });
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
    f: Flow,
    mode: WriteMode,
    id: string,
    o: { status: AckCode; final: boolean; error?: Hl7ProcessingError; note?: string; patientIds: readonly string[] },
  ): Promise<InboundAnswer> {
    const controlId = ackControlId();
    const error = o.error ? asAckError(o.error) : undefined;
    const ack = buildAck({ header: f.header, code: o.status, error, controlId, now: new Date() });
    const outcome = { status: o.status, final: o.final, error, note: o.note, ack: ack.text, ackControlId: controlId, patientIds: o.patientIds };
    if (mode === 'claim') await this.messages.record(tx, id, outcome);
    else if (!(await this.messages.insertProcessed(tx, id, newMessage(f), outcome))) throw new AlreadyReceived();
    return { ack: ack.bytes, status: o.status, metricType: f.metricType, duplicate: false };
  }

  private unstored(header: Hl7HeaderFields, status: AckCode, error: AckError, metricType: string): InboundAnswer {
    const ack = buildAck({ header, code: status, error, controlId: ackControlId(), now: new Date() });
    return { ack: ack.bytes, status, metricType, duplicate: false };
  }
}
