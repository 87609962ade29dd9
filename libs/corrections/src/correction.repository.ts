import { Injectable } from '@nestjs/common';
import type { SqlRunner } from '#vna/persistence';
import type { Correction, CorrectionKind, PatientRow, RowStates, SeriesState, StudyState } from './correction.model.js';

const STUDY_COLUMNS = `id::text, study_uid AS "studyUid", patient_fk::text AS "patientFk", study_date AS "studyDate", study_time AS "studyTime",
  accession_number AS "accessionNumber", study_id AS "studyId", description, referring_physician AS "referringPhysician", attributes, overlay`;
const SERIES_COLUMNS = `id::text, series_uid AS "seriesUid", study_fk::text AS "studyFk", overlay`;
const CORRECTION_COLUMNS = `id::text, kind, at, actor, api_key AS "apiKey", reason, request, study_uids AS "studyUids",
  undone_at AS "undoneAt", undone_by AS "undoneBy", undo_reason AS "undoReason"`;

/**
 * The index rows corrections change (study and series rows only: never instances, never blobs)
 * and the correction records. Rows are locked FOR NO KEY UPDATE: ingest keeps adding instances to
 * the series meanwhile (its foreign key checks take KEY SHARE, which this does not block).
 */
@Injectable()
export class CorrectionRepository {
  async studiesByUid(tx: SqlRunner, uids: readonly string[]): Promise<StudyState[]> {
    if (uids.length === 0) return [];
    return tx.query(`SELECT ${STUDY_COLUMNS} FROM study WHERE study_uid = ANY($1::text[]) ORDER BY id FOR NO KEY UPDATE`, [uids]);
  }

  async studiesById(tx: SqlRunner, ids: readonly string[]): Promise<StudyState[]> {
    if (ids.length === 0) return [];
    return tx.query(`SELECT ${STUDY_COLUMNS} FROM study WHERE id = ANY($1::bigint[]) ORDER BY id FOR NO KEY UPDATE`, [ids]);
  }

  async seriesByUid(tx: SqlRunner, uids: readonly string[]): Promise<SeriesState[]> {
    if (uids.length === 0) return [];
    return tx.query(`SELECT ${SERIES_COLUMNS} FROM series WHERE series_uid = ANY($1::text[]) ORDER BY id FOR NO KEY UPDATE`, [uids]);
  }

  async seriesById(tx: SqlRunner, ids: readonly string[]): Promise<SeriesState[]> {
    if (ids.length === 0) return [];
    return tx.query(`SELECT ${SERIES_COLUMNS} FROM series WHERE id = ANY($1::bigint[]) ORDER BY id FOR NO KEY UPDATE`, [ids]);
  }

  async seriesOfStudies(tx: SqlRunner, studyIds: readonly string[]): Promise<SeriesState[]> {
    if (studyIds.length === 0) return [];
    return tx.query(`SELECT ${SERIES_COLUMNS} FROM series WHERE study_fk = ANY($1::bigint[]) ORDER BY id FOR NO KEY UPDATE`, [studyIds]);
  }

  async patients(tx: SqlRunner, ids: readonly string[]): Promise<PatientRow[]> {
    if (ids.length === 0) return [];
    return tx.query(
      `SELECT id::text, patient_id AS "patientId", issuer, current_patient_id AS "currentPatientId", current_issuer AS "currentIssuer", attributes
         FROM patient WHERE id = ANY($1::bigint[]) ORDER BY id`,
      [ids],
    );
  }

  /**
   * The index patient rows for a patient as the index knows them now (current identity), the one
   * received under it first leading; without an issuer, under any issuer (the caller refuses more than one).
   */
  async patientsByIdentity(tx: SqlRunner, patientId: string, issuer: string | undefined): Promise<PatientRow[]> {
    return tx.query(
      `SELECT DISTINCT ON (current_issuer) id::text, patient_id AS "patientId", issuer, current_patient_id AS "currentPatientId", current_issuer AS "currentIssuer", attributes
         FROM patient WHERE current_patient_id = $1 AND ($2::text IS NULL OR current_issuer = $2)
        ORDER BY current_issuer, (patient_id = $1 AND issuer = current_issuer) DESC, id`,
      [patientId, issuer ?? null],
    );
  }

  /** A new study row (a split's); its id. */
  async insertStudy(tx: SqlRunner, s: Omit<StudyState, 'id'>): Promise<string> {
    const rows: { id: string }[] = await tx.query(
      `INSERT INTO study (study_uid, patient_fk, study_date, study_time, accession_number, study_id, description, referring_physician, attributes, overlay)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9::jsonb, $10::jsonb) RETURNING id::text`,
      [s.studyUid, s.patientFk, s.studyDate, s.studyTime, s.accessionNumber, s.studyId, s.description, s.referringPhysician, JSON.stringify(s.attributes), JSON.stringify(s.overlay)],
    );
    return rows[0]!.id;
  }

  async writeStudies(tx: SqlRunner, states: readonly StudyState[]): Promise<void> {
    if (states.length === 0) return;
    await tx.query(
      `UPDATE study t SET study_uid = s."studyUid", patient_fk = s."patientFk", study_date = s."studyDate", study_time = s."studyTime",
              accession_number = s."accessionNumber", study_id = s."studyId", description = s.description,
              referring_physician = s."referringPhysician", attributes = s.attributes, overlay = s.overlay, updated_at = now()
         FROM jsonb_to_recordset($1::jsonb) AS s(id bigint, "studyUid" text, "patientFk" bigint, "studyDate" text, "studyTime" text,
              "accessionNumber" text, "studyId" text, description text, "referringPhysician" text, attributes jsonb, overlay jsonb)
        WHERE t.id = s.id`,
      [JSON.stringify(states)],
    );
  }

  async writeSeries(tx: SqlRunner, states: readonly SeriesState[]): Promise<void> {
    if (states.length === 0) return;
    await tx.query(
      `UPDATE series t SET study_fk = s."studyFk", overlay = s.overlay, updated_at = now()
         FROM jsonb_to_recordset($1::jsonb) AS s(id bigint, "studyFk" bigint, overlay jsonb)
        WHERE t.id = s.id`,
      [JSON.stringify(states)],
    );
  }

  /** Deletes study rows a correction created, if they hold no series and nothing refers to them (false otherwise). */
  async deleteEmptyStudies(tx: SqlRunner, ids: readonly string[]): Promise<boolean> {
    if (ids.length === 0) return true;
    const used: unknown[] = await tx.query(`SELECT 1 FROM series WHERE study_fk = ANY($1::bigint[]) LIMIT 1`, [ids]);
    if (used.length > 0) return false;
    try {
      await tx.query(`DELETE FROM study WHERE id = ANY($1::bigint[])`, [ids]);
    } catch (e) {
      // Something else came to refer to the study meanwhile (an order link, say): it stays, the undo is refused.
      if ((e as { code?: string }).code === '23503') return false;
      throw e;
    }
    return true;
  }

  async insert(
    tx: SqlRunner,
    c: { kind: CorrectionKind; actor: string; apiKey: string; reason: string; request: Record<string, unknown>; studyUids: readonly string[]; before: RowStates; after: RowStates },
  ): Promise<Correction> {
    const rows: Correction[] = await tx.query(
      `INSERT INTO correction (kind, actor, api_key, reason, request, study_uids, before, after)
       VALUES ($1, $2, $3, $4, $5::jsonb, $6::text[], $7::jsonb, $8::jsonb) RETURNING ${CORRECTION_COLUMNS}`,
      [c.kind, c.actor, c.apiKey, c.reason, JSON.stringify(c.request), c.studyUids, JSON.stringify(c.before), JSON.stringify(c.after)],
    );
    return rows[0]!;
  }

  async lockWithStates(tx: SqlRunner, id: string): Promise<(Correction & { before: RowStates; after: RowStates }) | undefined> {
    if (!/^\d{1,18}$/.test(id)) return undefined;
    const rows: (Correction & { before: RowStates; after: RowStates })[] = await tx.query(
      `SELECT ${CORRECTION_COLUMNS}, before, after FROM correction WHERE id = $1 FOR UPDATE`,
      [id],
    );
    return rows[0];
  }

  async markUndone(tx: SqlRunner, id: string, by: string, reason: string): Promise<Correction> {
    const rows: Correction[] = await tx.query(
      `UPDATE correction SET undone_at = now(), undone_by = $2, undo_reason = $3 WHERE id = $1 RETURNING ${CORRECTION_COLUMNS}`,
      [id, by, reason],
    );
    return rows[0]!;
  }

  async get(tx: SqlRunner, id: string): Promise<Correction | undefined> {
    if (!/^\d{1,18}$/.test(id)) return undefined;
    const rows: Correction[] = await tx.query(`SELECT ${CORRECTION_COLUMNS} FROM correction WHERE id = $1`, [id]);
    return rows[0];
  }

  async list(tx: SqlRunner, q: { studyUid?: string; kind?: CorrectionKind; limit: number; offset: number }): Promise<Correction[]> {
    return tx.query(
      `SELECT ${CORRECTION_COLUMNS} FROM correction
        WHERE ($1::text IS NULL OR study_uids @> ARRAY[$1::text]) AND ($2::text IS NULL OR kind = $2)
        ORDER BY at DESC, id DESC LIMIT $3 OFFSET $4`,
      [q.studyUid ?? null, q.kind ?? null, q.limit, q.offset],
    );
  }
}

