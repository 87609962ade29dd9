import { Inject, Injectable, Logger, type OnModuleInit } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { DataSource } from 'typeorm';
import { type Hl7ForwardRule, VNA_CONFIG, type VnaConfig } from '#vna/config';
import { JobHandlerRegistry, OutboxRepository, SHARED_QUEUE } from '#vna/jobs';
import type { SqlRunner } from '#vna/persistence';
import { deliverHl7, Hl7DeliveryError } from './hl7-delivery.js';

/** Outbox topics of outbound HL7: a received message forwarded, and the RIS told of an arrived study. */
export const HL7_FORWARD_TOPIC = 'hl7.forward';
export const RIS_NOTIFY_TOPIC = 'hl7.ris-notify';

/** The forwarding rules a message type matches ('ADT^A08' matches 'ADT^A08', 'ADT^*' and '*'). */
export function forwardTargets(rules: readonly Hl7ForwardRule[], messageType: string, triggerEvent: string): Hl7ForwardRule[] {
  const type = `${messageType}^${triggerEvent}`.toUpperCase();
  const family = `${messageType.toUpperCase()}^*`;
  return rules.filter((r) => r.patterns.some((p) => p === '*' || p === type || p === family));
}

interface ForwardPayload {
  readonly messageId: string;
  readonly host: string;
  readonly port: number;
  readonly type: string;
  readonly controlId: string;
}

interface NotifyPayload {
  readonly host: string;
  readonly port: number;
  readonly text: string;
  readonly controlId: string;
  readonly studyUid: string;
}

/**
 * Outbound HL7 through the outbox (ARCHITECTURE.md invariant 4): the messages are written in the
 * transaction of the change they follow and sent afterwards by a job, retried with BullMQ's
 * backoff, dead letters visible and replayable at /api/v1/dead-letters. Sending uses
 * node-hl7-client over MLLP and waits for the ACK (hl7-delivery.ts).
 */
@Injectable()
export class Hl7OutboundService implements OnModuleInit {
  private readonly logger = new Logger('Hl7Outbound');

  constructor(
    @Inject(VNA_CONFIG) private readonly config: VnaConfig,
    @InjectDataSource() private readonly db: DataSource,
    private readonly jobs: JobHandlerRegistry,
    private readonly outbox: OutboxRepository,
  ) {}

  onModuleInit(): void {
    this.jobs.register(HL7_FORWARD_TOPIC, (payload) => this.forward(payload as unknown as ForwardPayload));
    this.jobs.register(RIS_NOTIFY_TOPIC, (payload) => this.notify(payload as unknown as NotifyPayload));
  }

  /**
   * Forwards a received message (hl7_message `messageId`, stored by the listener in this same
   * transaction) to every downstream system whose rule matches its type (VNA_HL7_FORWARD).
   * Returns how many deliveries were queued.
   */
  async enqueueForward(tx: SqlRunner, message: { readonly messageType: string; readonly triggerEvent: string; readonly controlId: string }, messageId: string): Promise<number> {
    const targets = forwardTargets(this.config.orders.forward, message.messageType, message.triggerEvent);
    await this.outbox.add(
      tx,
      targets.map((t) => ({
        topic: HL7_FORWARD_TOPIC,
        queue: SHARED_QUEUE,
        payload: { messageId, host: t.host, port: t.port, type: `${message.messageType}^${message.triggerEvent}`, controlId: message.controlId } satisfies ForwardPayload,
      })),
    );
    return targets.length;
  }

  /** Queues a message for the RIS (VNA_RIS_NOTIFY); false when no RIS is configured. */
  async enqueueRisNotification(tx: SqlRunner, text: string, controlId: string, studyUid: string): Promise<boolean> {
    const target = this.config.orders.risNotify;
    if (!target) return false;
    await this.outbox.add(tx, [
      { topic: RIS_NOTIFY_TOPIC, queue: SHARED_QUEUE, payload: { host: target.host, port: target.port, text, controlId, studyUid } satisfies NotifyPayload },
    ]);
    return true;
  }

  get risNotificationConfigured(): boolean {
    return this.config.orders.risNotify !== undefined;
  }

  private async forward(p: ForwardPayload): Promise<void> {
    // The bytes exactly as received (hl7_message.raw, libs/hl7): read as latin1 and written as
    // latin1, every byte goes out unchanged whatever the message's character set.
    const rows: { raw: Buffer }[] = await this.db.query(`SELECT raw FROM hl7_message WHERE id = $1`, [p.messageId]);
    const raw = rows[0]?.raw;
    if (!raw) throw new Hl7DeliveryError(`hl7_message ${p.messageId} is not stored (any more)`);
    const ack = await deliverHl7({ host: p.host, port: p.port, text: raw.toString('latin1'), encoding: 'latin1', timeoutMs: this.config.orders.ackTimeoutMs });
    this.logger.log(`forwarded ${p.type} ${p.controlId} to ${p.host}:${p.port} (${ack})`);
  }

  private async notify(p: NotifyPayload): Promise<void> {
    const ack = await deliverHl7({ host: p.host, port: p.port, text: p.text, encoding: 'utf8', timeoutMs: this.config.orders.ackTimeoutMs });
    this.logger.log(`told the RIS at ${p.host}:${p.port} that study ${p.studyUid} arrived (ORM^O01 ${p.controlId}, ${ack})`);
  }
}
