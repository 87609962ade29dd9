import { Injectable } from '@nestjs/common';
import type { SqlRunner } from '#vna/persistence';
import type { CodedValue, IdentifierWithIssuer, OrderPatient, OrderStatus, OrderVisit, RequestedProcedureData, ScheduledStepData } from './order.model.js';

/** An order row, as the service decides on it. */
export interface OrderRow {
  readonly id: string;
  readonly accessionNumber: string;
  readonly accessionIssuer: string;
  readonly placerOrderNumber: string;
  readonly placerIssuer: string;
  readonly fillerOrderNumber: string;
  readonly fillerIssuer: string;
  readonly status: OrderStatus;
  readonly patientId: string;
  readonly patientIssuer: string;
  readonly patientName: { readonly alphabetic: string; readonly ideographic: string; readonly phonetic: string };
  readonly patientBirthDate: string | null;
  readonly patientSex: string | null;
  readonly sendingApplication: string;
  readonly sendingFacility: string;
}

export interface ProcedureRow {
  readonly id: string;
  readonly requestedProcedureId: string;
  readonly studyUid: string;
  readonly code: CodedValue | null;
  readonly description: string;
}

export interface StepRow {
  readonly id: string;
  readonly procedureId: string;
  readonly requestedProcedureId: string;
  readonly stepId: string;
  readonly status: OrderStatus;
  readonly modality: string;
}

/** What an order message says of the order itself ('' = not said: an update keeps the stored value). */
export interface OrderFields {
  readonly accessionNumber: string;
  readonly accessionIssuer: string;
  readonly placerOrder: IdentifierWithIssuer;
  readonly fillerOrder: IdentifierWithIssuer;
  readonly patient: OrderPatient;
  readonly visit: OrderVisit;
  readonly requestingPhysician: string;
  readonly sendingApplication: string;
  readonly sendingFacility: string;
}

const ORDER_COLUMNS = `id, accession_number, accession_issuer, placer_order_number, placer_issuer, filler_order_number, filler_issuer, status,
  patient_id, patient_issuer, patient_name_alphabetic, patient_name_ideographic, patient_name_phonetic, patient_birth_date, patient_sex,
  sending_application, sending_facility`;

interface RawOrder {
  id: string;
  accession_number: string;
  accession_issuer: string;
  placer_order_number: string;
  placer_issuer: string;
  filler_order_number: string;
  filler_issuer: string;
  status: OrderStatus;
  patient_id: string;
  patient_issuer: string;
  patient_name_alphabetic: string;
  patient_name_ideographic: string;
  patient_name_phonetic: string;
  patient_birth_date: string | null;
  patient_sex: string | null;
  sending_application: string;
  sending_facility: string;
}

function toOrder(r: RawOrder): OrderRow {
  return {
    id: String(r.id),
    accessionNumber: r.accession_number,
    accessionIssuer: r.accession_issuer,
    placerOrderNumber: r.placer_order_number,
    placerIssuer: r.placer_issuer,
    fillerOrderNumber: r.filler_order_number,
    fillerIssuer: r.filler_issuer,
    status: r.status,
    patientId: r.patient_id,
    patientIssuer: r.patient_issuer,
    patientName: { alphabetic: r.patient_name_alphabetic, ideographic: r.patient_name_ideographic, phonetic: r.patient_name_phonetic },
    patientBirthDate: r.patient_birth_date,
    patientSex: r.patient_sex,
    sendingApplication: r.sending_application,
    sendingFacility: r.sending_facility,
  };
}

/**
 * The order tables (imaging_order, requested_procedure, scheduled_step). Every method runs in the
 * caller's transaction: an HL7 message's effects commit with the message, a link with the object.
 */
@Injectable()
export class OrderRepository {
  /**
   * The order an accession number names, locked for the rest of the transaction. An issuer-less
   * number (ORM's OBR-18) finds the order of that number when exactly one issuer has it.
   */
  async findForUpdate(tx: SqlRunner, accessionNumber: string, accessionIssuer: string): Promise<OrderRow | undefined> {
    const rows: RawOrder[] = await tx.query(
      `SELECT ${ORDER_COLUMNS} FROM imaging_order
        WHERE accession_number = $1 AND (accession_issuer = $2 OR $2 = '' OR accession_issuer = '')
        ORDER BY (accession_issuer = $2) DESC, id LIMIT 2 FOR UPDATE`,
      [accessionNumber, accessionIssuer],
    );
    const exact = rows.find((r) => r.accession_issuer === accessionIssuer);
    if (exact) return toOrder(exact);
    return rows.length === 1 ? toOrder(rows[0]!) : undefined;
  }

  async get(tx: SqlRunner, id: string): Promise<OrderRow> {
    const rows: RawOrder[] = await tx.query(`SELECT ${ORDER_COLUMNS} FROM imaging_order WHERE id = $1`, [id]);
    if (!rows[0]) throw new Error(`order ${id} vanished`);
    return toOrder(rows[0]);
  }

  /**
   * Orders a study may belong to: the one whose procedure has its Study Instance UID (`byStudyUid`),
   * and those of its accession number.
   */
  async candidatesForStudy(tx: SqlRunner, studyUid: string, accessionNumber: string | null): Promise<{ order: OrderRow; byStudyUid: boolean }[]> {
    const rows: (RawOrder & { by_study_uid: boolean })[] = await tx.query(
      `SELECT ${ORDER_COLUMNS}, true AS by_study_uid FROM imaging_order o
        WHERE EXISTS (SELECT 1 FROM requested_procedure rp WHERE rp.order_fk = o.id AND rp.study_uid = $1)
       UNION ALL
       SELECT ${ORDER_COLUMNS}, false AS by_study_uid FROM imaging_order o WHERE $2::text IS NOT NULL AND o.accession_number = $2
       ORDER BY by_study_uid DESC, id LIMIT 10`,
      [studyUid, accessionNumber],
    );
    return rows.map((r) => ({ order: toOrder(r), byStudyUid: r.by_study_uid }));
  }

  async insert(tx: SqlRunner, f: OrderFields, actor: string, messageId: string): Promise<string> {
    const rows: { id: string }[] = await tx.query(
      `INSERT INTO imaging_order (accession_number, accession_issuer, placer_order_number, placer_issuer, filler_order_number, filler_issuer,
         patient_id, patient_issuer, patient_name_alphabetic, patient_name_ideographic, patient_name_phonetic, patient_birth_date, patient_sex,
         other_patient_ids, admission_id, patient_location, referring_physician, requesting_physician, sending_application, sending_facility,
         created_by, updated_by, last_message_id)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14::jsonb, $15, $16, $17, $18, $19, $20, $21, $21, $22)
       RETURNING id`,
      [...this.values(f), actor, messageId],
    );
    return String(rows[0]!.id);
  }

  /** Applies what an XO (or a repeated NW) says: given values replace, values not given stay. */
  async update(tx: SqlRunner, id: string, f: OrderFields, actor: string, messageId: string): Promise<void> {
    await tx.query(
      `UPDATE imaging_order SET
         accession_issuer = CASE WHEN accession_issuer = '' THEN $2 ELSE accession_issuer END,
         placer_order_number = COALESCE(NULLIF($3, ''), placer_order_number),
         placer_issuer = CASE WHEN $3 <> '' THEN $4 ELSE placer_issuer END,
         filler_order_number = COALESCE(NULLIF($5, ''), filler_order_number),
         filler_issuer = CASE WHEN $5 <> '' THEN $6 ELSE filler_issuer END,
         patient_id = $7, patient_issuer = $8,
         patient_name_alphabetic = COALESCE(NULLIF($9, ''), patient_name_alphabetic),
         patient_name_ideographic = CASE WHEN $9 <> '' THEN $10 ELSE patient_name_ideographic END,
         patient_name_phonetic = CASE WHEN $9 <> '' THEN $11 ELSE patient_name_phonetic END,
         patient_birth_date = COALESCE($12, patient_birth_date),
         patient_sex = COALESCE($13, patient_sex),
         other_patient_ids = $14::jsonb,
         admission_id = COALESCE(NULLIF($15, ''), admission_id),
         patient_location = COALESCE(NULLIF($16, ''), patient_location),
         referring_physician = COALESCE(NULLIF($17, ''), referring_physician),
         requesting_physician = COALESCE(NULLIF($18, ''), requesting_physician),
         sending_application = $19, sending_facility = $20,
         updated_at = now(), updated_by = $21, last_message_id = $22
       WHERE id = $23 AND accession_number = $1`,
      [...this.values(f), actor, messageId, id],
    );
  }

  private values(f: OrderFields): unknown[] {
    const p = f.patient;
    return [
      f.accessionNumber,
      f.accessionIssuer,
      f.placerOrder.id,
      f.placerOrder.issuer,
      f.fillerOrder.id,
      f.fillerOrder.issuer,
      p.id,
      p.issuer,
      p.name.alphabetic,
      p.name.ideographic,
      p.name.phonetic,
      p.birthDate,
      p.sex,
      JSON.stringify(p.otherIds),
      f.visit.admissionId,
      f.visit.location,
      f.visit.referringPhysician,
      f.requestingPhysician,
      f.sendingApplication,
      f.sendingFacility,
    ];
  }

  async setOrderStatus(tx: SqlRunner, id: string, status: OrderStatus, actor: string, messageId: string | null): Promise<void> {
    await tx.query(
      `UPDATE imaging_order SET status = $2, updated_at = now(), updated_by = $3, last_message_id = COALESCE($4, last_message_id) WHERE id = $1 AND status <> $2`,
      [id, status, actor, messageId],
    );
  }

  async procedures(tx: SqlRunner, orderId: string): Promise<ProcedureRow[]> {
    const rows: { id: string; requested_procedure_id: string; study_uid: string; code_value: string; code_scheme: string; code_meaning: string; description: string }[] =
      await tx.query(`SELECT id, requested_procedure_id, study_uid, code_value, code_scheme, code_meaning, description FROM requested_procedure WHERE order_fk = $1 ORDER BY id`, [orderId]);
    return rows.map((r) => ({
      id: String(r.id),
      requestedProcedureId: r.requested_procedure_id,
      studyUid: r.study_uid,
      code: r.code_value || r.code_meaning ? { value: r.code_value, scheme: r.code_scheme, meaning: r.code_meaning } : null,
      description: r.description,
    }));
  }

  /** The order a Study Instance UID is already scheduled under, if any. */
  async orderOfStudyUid(tx: SqlRunner, studyUid: string): Promise<string | undefined> {
    const rows: { order_fk: string }[] = await tx.query(`SELECT order_fk FROM requested_procedure WHERE study_uid = $1`, [studyUid]);
    return rows[0] ? String(rows[0].order_fk) : undefined;
  }

  /** Inserts or updates a requested procedure; `studyUid` '' keeps the stored one, as do an empty description, priority, reason or body part. */
  async upsertProcedure(tx: SqlRunner, orderId: string, p: Omit<RequestedProcedureData, 'steps'>, studyUid: string): Promise<ProcedureRow> {
    const rows: { id: string; study_uid: string }[] = await tx.query(
      `INSERT INTO requested_procedure AS rp (order_fk, requested_procedure_id, study_uid, code_value, code_scheme, code_meaning, description, priority, reason, body_part)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
       ON CONFLICT (order_fk, requested_procedure_id) DO UPDATE SET
         study_uid = COALESCE(NULLIF(EXCLUDED.study_uid, ''), rp.study_uid),
         code_value = CASE WHEN EXCLUDED.code_value <> '' OR EXCLUDED.code_meaning <> '' THEN EXCLUDED.code_value ELSE rp.code_value END,
         code_scheme = CASE WHEN EXCLUDED.code_value <> '' OR EXCLUDED.code_meaning <> '' THEN EXCLUDED.code_scheme ELSE rp.code_scheme END,
         code_meaning = CASE WHEN EXCLUDED.code_value <> '' OR EXCLUDED.code_meaning <> '' THEN EXCLUDED.code_meaning ELSE rp.code_meaning END,
         description = COALESCE(NULLIF(EXCLUDED.description, ''), rp.description),
         priority = COALESCE(NULLIF(EXCLUDED.priority, ''), rp.priority),
         reason = COALESCE(NULLIF(EXCLUDED.reason, ''), rp.reason),
         body_part = COALESCE(NULLIF(EXCLUDED.body_part, ''), rp.body_part)
       RETURNING id, study_uid`,
      [orderId, p.requestedProcedureId, studyUid, p.code?.value ?? '', p.code?.scheme ?? '', p.code?.meaning ?? '', p.description, p.priority, p.reason, p.bodyPart],
    );
    return { id: String(rows[0]!.id), requestedProcedureId: p.requestedProcedureId, studyUid: rows[0]!.study_uid, code: p.code, description: p.description };
  }

  async procedureExists(tx: SqlRunner, orderId: string, requestedProcedureId: string): Promise<boolean> {
    const rows = await tx.query(`SELECT 1 FROM requested_procedure WHERE order_fk = $1 AND requested_procedure_id = $2`, [orderId, requestedProcedureId]);
    return rows.length > 0;
  }

  /** Inserts a step as scheduled, or updates the details of an existing one (its state is left alone). */
  async upsertStep(tx: SqlRunner, procedureId: string, s: ScheduledStepData): Promise<void> {
    await tx.query(
      `INSERT INTO scheduled_step AS ss (procedure_fk, step_id, modality, station_aet, station_name, location, start_date, start_time, description, protocol_codes, performing_physician)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10::jsonb, $11)
       ON CONFLICT (procedure_fk, step_id) DO UPDATE SET
         modality = COALESCE(NULLIF(EXCLUDED.modality, ''), ss.modality),
         station_aet = COALESCE(NULLIF(EXCLUDED.station_aet, ''), ss.station_aet),
         station_name = COALESCE(NULLIF(EXCLUDED.station_name, ''), ss.station_name),
         location = COALESCE(NULLIF(EXCLUDED.location, ''), ss.location),
         start_date = COALESCE(NULLIF(EXCLUDED.start_date, ''), ss.start_date),
         start_time = CASE WHEN EXCLUDED.start_date <> '' THEN EXCLUDED.start_time ELSE ss.start_time END,
         description = COALESCE(NULLIF(EXCLUDED.description, ''), ss.description),
         protocol_codes = CASE WHEN jsonb_array_length(EXCLUDED.protocol_codes) > 0 THEN EXCLUDED.protocol_codes ELSE ss.protocol_codes END,
         performing_physician = COALESCE(NULLIF(EXCLUDED.performing_physician, ''), ss.performing_physician),
         updated_at = now()`,
      [procedureId, s.stepId, s.modality, s.stationAet, s.stationName, s.location, s.startDate, s.startTime, s.description, JSON.stringify(s.protocolCodes), s.performingPhysician],
    );
  }

  async steps(tx: SqlRunner, orderId: string): Promise<StepRow[]> {
    const rows: { id: string; procedure_fk: string; requested_procedure_id: string; step_id: string; status: OrderStatus; modality: string }[] = await tx.query(
      `SELECT ss.id, ss.procedure_fk, rp.requested_procedure_id, ss.step_id, ss.status, ss.modality
         FROM scheduled_step ss JOIN requested_procedure rp ON rp.id = ss.procedure_fk
        WHERE rp.order_fk = $1 ORDER BY ss.id`,
      [orderId],
    );
    return rows.map((r) => ({
      id: String(r.id),
      procedureId: String(r.procedure_fk),
      requestedProcedureId: r.requested_procedure_id,
      stepId: r.step_id,
      status: r.status,
      modality: r.modality,
    }));
  }

  async setStepStatus(tx: SqlRunner, stepIds: readonly string[], status: OrderStatus): Promise<void> {
    if (stepIds.length === 0) return;
    await tx.query(`UPDATE scheduled_step SET status = $2, updated_at = now() WHERE id = ANY($1::bigint[])`, [stepIds, status]);
  }
}
