import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import iconv from 'iconv-lite';
import type { DataSource } from 'typeorm';
import type { SqlRunner } from '#vna/persistence';
import type { AckCode } from './hl7-ack.js';

/** A received message as first written, before its outcome is known. */
export interface NewHl7Message {
  readonly sendingApplication: string;
  readonly sendingFacility: string;
  readonly controlId: string;
  readonly messageType: string;
  readonly triggerEvent: string;
  readonly version: string;
  readonly characterSet: string;
  readonly decodedAs: string;
  readonly raw: Buffer;
  readonly contentDigest: Buffer;
  readonly peer: string;
  readonly receivedAt: Date;
}

/** What claim() found: a new row, one to look at again, or a final outcome to answer with. */
export type Hl7Claim =
  | { readonly kind: 'new' | 'again'; readonly id: string }
  | { readonly kind: 'final'; readonly id: string; readonly status: AckCode; readonly ack: string; readonly decodedAs: string; readonly sameContent: boolean };

export interface Hl7Outcome {
  readonly status: AckCode;
  readonly final: boolean;
  readonly error?: { readonly code: string; readonly location?: string; readonly text: string };
  readonly note?: string;
  readonly ack: string;
  readonly ackControlId: string;
  readonly patientIds: readonly string[];
}

export interface Hl7MessageSearch {
  readonly controlId?: string;
  readonly messageType?: string;
  readonly triggerEvent?: string;
  readonly patientId?: string;
  readonly status?: AckCode;
  readonly since?: Date;
  readonly until?: Date;
  readonly sender?: { readonly application?: string; readonly facility?: string };
  readonly limit: number;
  readonly offset: number;
}

export interface Hl7MessageSummary {
  readonly id: string;
  readonly sendingApplication: string;
  readonly sendingFacility: string;
  readonly controlId: string;
  readonly messageType: string;
  readonly triggerEvent: string;
  readonly version: string;
  readonly characterSet: string;
  readonly status: AckCode;
  readonly errorCode: string | null;
  readonly errorLocation: string | null;
  readonly errorText: string | null;
  readonly note: string | null;
  readonly patientIds: string[];
  readonly attempts: number;
  readonly bytes: number;
  readonly ackControlId: string | null;
  readonly receivedAt: Date;
  readonly processedAt: Date | null;
}

export interface Hl7MessageDetail extends Hl7MessageSummary {
  /** The message as received, decoded in its character set (segments end with \r). */
  readonly raw: string;
  /** The ACK it got. */
  readonly ack: string;
  readonly peer: string | null;
}

const SUMMARY_COLUMNS = `id::text AS id, sending_application, sending_facility, control_id, message_type, trigger_event, version,
  character_set, status, error_code, error_location, error_text, note, patient_ids, attempts, octet_length(raw) AS bytes,
  ack_control_id, received_at, processed_at`;

interface SummaryRow {
  id: string;
  sending_application: string;
  sending_facility: string;
  control_id: string;
  message_type: string;
  trigger_event: string;
  version: string;
  character_set: string;
  status: AckCode;
  error_code: string | null;
  error_location: string | null;
  error_text: string | null;
  note: string | null;
  patient_ids: string[];
  attempts: number;
  bytes: number;
  ack_control_id: string | null;
  received_at: Date;
  processed_at: Date | null;
}

function summary(r: SummaryRow): Hl7MessageSummary {
  return {
    id: r.id,
    sendingApplication: r.sending_application,
    sendingFacility: r.sending_facility,
    controlId: r.control_id,
    messageType: r.message_type,
    triggerEvent: r.trigger_event,
    version: r.version,
    characterSet: r.character_set,
    status: r.status,
    errorCode: r.error_code,
    errorLocation: r.error_location,
    errorText: r.error_text,
    note: r.note,
    patientIds: r.patient_ids,
    attempts: r.attempts,
    bytes: Number(r.bytes),
    ackControlId: r.ack_control_id,
    receivedAt: r.received_at,
    processedAt: r.processed_at,
  };
}

/** Message ids reserved per sequence call (`reserveId`). */
const ID_BLOCK = 64;

/** The hl7_message table: the message log, and the idempotency record of every message. */
@Injectable()
export class Hl7MessageRepository {
  private readonly reservedIds: string[] = [];

  constructor(@InjectDataSource() private readonly db: DataSource) {}

  /**
   * Writes a received message in `tx`, or finds the row its sender and control id already have
   * (locked until `tx` ends: a copy arriving on another connection waits for this outcome).
   * A row without a final outcome is taken over (the new copy's bytes, attempts + 1).
   */
  async claim(tx: SqlRunner, m: NewHl7Message): Promise<Hl7Claim> {
    const inserted = await tx.query(
      `INSERT INTO hl7_message (sending_application, sending_facility, control_id, message_type, trigger_event, version,
         character_set, decoded_as, raw, content_sha256, peer, received_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
       ON CONFLICT ON CONSTRAINT hl7_message_sender_control_id DO NOTHING RETURNING id::text AS id`,
      [m.sendingApplication, m.sendingFacility, m.controlId, m.messageType, m.triggerEvent, m.version, m.characterSet, m.decodedAs, m.raw, m.contentDigest, m.peer, m.receivedAt],
    );
    if (inserted[0]) return { kind: 'new', id: inserted[0].id as string };
    const [found] = (await tx.query(
      `SELECT id::text AS id, status, final, ack, decoded_as, content_sha256 = $4 AS same_content FROM hl7_message
       WHERE sending_facility = $1 AND sending_application = $2 AND control_id = $3 FOR UPDATE`,
      [m.sendingFacility, m.sendingApplication, m.controlId, m.contentDigest],
    )) as { id: string; status: AckCode; final: boolean; ack: string; decoded_as: string; same_content: boolean }[];
    if (!found) throw new Error(`hl7_message row for control id ${m.controlId} vanished between insert and select`);
    if (found.final) return { kind: 'final', id: found.id, status: found.status, ack: found.ack, decodedAs: found.decoded_as, sameContent: found.same_content };
    await tx.query(
      `UPDATE hl7_message SET message_type = $2, trigger_event = $3, version = $4, character_set = $5, decoded_as = $6, raw = $7,
         content_sha256 = $8, peer = $9, received_at = $10, attempts = attempts + 1, status = NULL, error_code = NULL,
         error_location = NULL, error_text = NULL, note = NULL, ack = NULL, ack_control_id = NULL, processed_at = NULL
       WHERE id = $1`,
      [found.id, m.messageType, m.triggerEvent, m.version, m.characterSet, m.decodedAs, m.raw, m.contentDigest, m.peer, m.receivedAt],
    );
    return { kind: 'again', id: found.id };
  }

  /**
   * An id for a message not written yet, so that its handler can name it (audit rows) and the
   * message be written once, with its outcome, at the end (`insertProcessed`): taken from the
   * table's sequence in blocks, which costs one statement per block instead of one per message.
   */
  async reserveId(tx: SqlRunner): Promise<string> {
    if (this.reservedIds.length === 0) {
      const rows = (await tx.query(`SELECT nextval(pg_get_serial_sequence('hl7_message', 'id'))::text AS id FROM generate_series(1, $1)`, [ID_BLOCK])) as { id: string }[];
      this.reservedIds.push(...rows.map((r) => r.id));
    }
    return this.reservedIds.shift()!;
  }

  /**
   * Writes a message under a reserved id together with its outcome: the transaction's last
   * statement, sent with its COMMIT where the runner can (one round trip). False, and nothing
   * written or committed, when its sender and control id already have a row (a copy received
   * earlier or committed meanwhile on another connection): the unique constraint fails the
   * statement, which rolls the transaction back, and the caller claims the row in a new one.
   */
  async insertProcessed(tx: SqlRunner, id: string, m: NewHl7Message, o: Hl7Outcome): Promise<boolean> {
    try {
      const last = tx.queryAndCommit ?? ((text: string, params?: readonly unknown[]) => tx.query(text, params));
      await last(
      `INSERT INTO hl7_message (id, sending_application, sending_facility, control_id, message_type, trigger_event, version,
         character_set, decoded_as, raw, content_sha256, peer, received_at,
         status, final, error_code, error_location, error_text, note, ack, ack_control_id, patient_ids, processed_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, clock_timestamp())`,
        [
          id, m.sendingApplication, m.sendingFacility, m.controlId, m.messageType, m.triggerEvent, m.version, m.characterSet, m.decodedAs, m.raw, m.contentDigest,
          m.peer, m.receivedAt, o.status, o.final, o.error?.code ?? null, o.error?.location ?? null, o.error?.text ?? null, o.note ?? null, o.ack, o.ackControlId,
          o.patientIds,
        ],
      );
      return true;
    } catch (e) {
      const pg = e as { code?: string; constraint?: string };
      if (pg.code === '23505' && pg.constraint === 'hl7_message_sender_control_id') return false;
      throw e;
    }
  }

  async record(tx: SqlRunner, id: string, o: Hl7Outcome): Promise<void> {
    await tx.query(
      `UPDATE hl7_message SET status = $2, final = $3, error_code = $4, error_location = $5, error_text = $6, note = $7,
         ack = $8, ack_control_id = $9, patient_ids = $10, processed_at = clock_timestamp()
       WHERE id = $1`,
      [id, o.status, o.final, o.error?.code ?? null, o.error?.location ?? null, o.error?.text ?? null, o.note ?? null, o.ack, o.ackControlId, o.patientIds],
    );
  }

  async search(q: Hl7MessageSearch): Promise<Hl7MessageSummary[]> {
    const where: string[] = ['status IS NOT NULL'];
    const params: unknown[] = [];
    const add = (sql: (p: string) => string, value: unknown): void => {
      params.push(value);
      where.push(sql(`$${params.length}`));
    };
    if (q.controlId !== undefined) add((p) => `control_id = ${p}`, q.controlId);
    if (q.messageType !== undefined) add((p) => `message_type = ${p}`, q.messageType);
    if (q.triggerEvent !== undefined) add((p) => `trigger_event = ${p}`, q.triggerEvent);
    if (q.patientId !== undefined) add((p) => `patient_ids @> ARRAY[${p}::text]`, q.patientId);
    if (q.status !== undefined) add((p) => `status = ${p}`, q.status);
    if (q.since !== undefined) add((p) => `received_at >= ${p}`, q.since);
    if (q.until !== undefined) add((p) => `received_at < ${p}`, q.until);
    if (q.sender?.application !== undefined) add((p) => `sending_application = ${p}`, q.sender.application);
    if (q.sender?.facility !== undefined) add((p) => `sending_facility = ${p}`, q.sender.facility);
    params.push(q.limit, q.offset);
    const rows = (await this.db.query(
      `SELECT ${SUMMARY_COLUMNS} FROM hl7_message WHERE ${where.join(' AND ')}
       ORDER BY received_at DESC, id DESC LIMIT $${params.length - 1} OFFSET $${params.length}`,
      params,
    )) as SummaryRow[];
    return rows.map(summary);
  }

  async get(id: string): Promise<Hl7MessageDetail | undefined> {
    const [row] = (await this.db.query(`SELECT ${SUMMARY_COLUMNS}, raw, decoded_as, ack, peer FROM hl7_message WHERE id = $1 AND status IS NOT NULL`, [id])) as (SummaryRow & {
      raw: Buffer;
      decoded_as: string;
      ack: string;
      peer: string | null;
    })[];
    if (!row) return undefined;
    const raw = row.decoded_as === 'utf-8' ? row.raw.toString('utf8') : iconv.decode(row.raw, row.decoded_as);
    return { ...summary(row), raw, ack: row.ack, peer: row.peer };
  }
}
