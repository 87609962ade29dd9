import { Injectable } from '@nestjs/common';
import type { SqlRunner } from '#vna/persistence';
import { studyHeldSql } from './legal-hold.sql.js';

export interface LegalHold {
  readonly id: string;
  readonly scope: 'patient' | 'study';
  readonly patientId: string | null;
  readonly issuer: string | null;
  readonly studyUid: string | null;
  readonly reason: string;
  readonly caseReference: string;
  readonly placedBy: string;
  readonly placedAt: Date;
  readonly releasedBy: string | null;
  readonly releasedAt: Date | null;
  readonly releaseReason: string | null;
  /** How far the blob store mirrors it: index tags only ('tagged'), or also the store's own legal hold ('immutable'). */
  readonly mirrorState: 'pending' | 'tagged' | 'immutable' | 'released';
  readonly mirroredAt: Date | null;
}

const COLUMNS = `id::text, scope, patient_id AS "patientId", issuer, study_uid AS "studyUid", reason, case_reference AS "caseReference",
  placed_by AS "placedBy", placed_at AS "placedAt", released_by AS "releasedBy", released_at AS "releasedAt",
  release_reason AS "releaseReason", mirror_state AS "mirrorState", mirrored_at AS "mirroredAt"`;

/** Legal holds and the blobs they cover. */
@Injectable()
export class LegalHoldRepository {
  async insert(sql: SqlRunner, hold: Pick<LegalHold, 'scope' | 'patientId' | 'issuer' | 'studyUid' | 'reason' | 'caseReference' | 'placedBy'>, at: Date): Promise<LegalHold> {
    const [row] = await sql.query(
      `INSERT INTO legal_hold (scope, patient_id, issuer, study_uid, reason, case_reference, placed_by, placed_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING ${COLUMNS}`,
      [hold.scope, hold.patientId, hold.issuer, hold.studyUid, hold.reason, hold.caseReference, hold.placedBy, at],
    );
    return row as LegalHold;
  }

  async get(sql: SqlRunner, id: string, lock = false): Promise<LegalHold | undefined> {
    const rows = await sql.query(`SELECT ${COLUMNS} FROM legal_hold WHERE id = $1${lock ? ' FOR UPDATE' : ''}`, [id]);
    return rows[0] as LegalHold | undefined;
  }

  async list(sql: SqlRunner, filter: { active?: boolean; studyUid?: string; patientId?: string; limit: number; offset: number }): Promise<LegalHold[]> {
    return (await sql.query(
      `SELECT ${COLUMNS} FROM legal_hold
        WHERE ($1::boolean IS NULL OR (released_at IS NULL) = $1) AND ($2::text IS NULL OR study_uid = $2) AND ($3::text IS NULL OR patient_id = $3)
        ORDER BY id DESC LIMIT $4 OFFSET $5`,
      [filter.active ?? null, filter.studyUid ?? null, filter.patientId ?? null, filter.limit, filter.offset],
    )) as LegalHold[];
  }

  async release(sql: SqlRunner, id: string, by: string, reason: string, at: Date): Promise<LegalHold> {
    const [row] = await sql.query(
      `UPDATE legal_hold SET released_by = $2, release_reason = $3, released_at = $4 WHERE id = $1 RETURNING ${COLUMNS}`,
      [id, by, reason, at],
    );
    return row as LegalHold;
  }

  /** Mirrored as of `at` (objects stored before then carry the hold); the state says how far. */
  async setMirrored(sql: SqlRunner, id: string, state: LegalHold['mirrorState'], at: Date): Promise<void> {
    await sql.query(`UPDATE legal_hold SET mirror_state = $2, mirrored_at = $3 WHERE id = $1`, [id, state, at]);
  }

  /** Active holds covering objects stored since they were last mirrored (or never mirrored). */
  async needingMirror(sql: SqlRunner): Promise<{ id: string; since: Date | null }[]> {
    return (await sql.query(
      `SELECT lh.id::text, lh.mirrored_at AS since FROM legal_hold lh
        WHERE lh.released_at IS NULL AND EXISTS (
          SELECT 1 FROM study st JOIN patient p ON p.id = st.patient_fk JOIN series se ON se.study_fk = st.id JOIN instance i ON i.series_fk = se.id
           WHERE ((lh.scope = 'study' AND st.study_uid = lh.study_uid) OR (lh.scope = 'patient' AND p.current_patient_id = lh.patient_id AND p.current_issuer = lh.issuer))
             AND i.blob_key IS NOT NULL AND i.stored_at > coalesce(lh.mirrored_at, '-infinity'))`,
    )) as { id: string; since: Date | null }[];
  }

  /** Of these studies, the ones under an active hold, with the holds that cover each. */
  async heldStudies(sql: SqlRunner, studyUids: readonly string[]): Promise<Map<string, string[]>> {
    const rows = (await sql.query(
      `SELECT st.study_uid AS "studyUid", array_agg(lh.id::text || ' (' || lh.case_reference || ')' ORDER BY lh.id) AS holds
         FROM study st JOIN patient p ON p.id = st.patient_fk
         JOIN legal_hold lh ON lh.released_at IS NULL AND ((lh.scope = 'study' AND lh.study_uid = st.study_uid)
              OR (lh.scope = 'patient' AND lh.patient_id = p.current_patient_id AND lh.issuer = p.current_issuer))
        WHERE st.study_uid = ANY($1::text[])
        GROUP BY st.study_uid`,
      [studyUids],
    )) as { studyUid: string; holds: string[] }[];
    // A study hold names a UID that may not be indexed (yet): it still holds that UID.
    const direct = (await sql.query(
      `SELECT study_uid AS "studyUid", array_agg(id::text || ' (' || case_reference || ')' ORDER BY id) AS holds FROM legal_hold
        WHERE released_at IS NULL AND scope = 'study' AND study_uid = ANY($1::text[]) GROUP BY study_uid`,
      [studyUids],
    )) as { studyUid: string; holds: string[] }[];
    const out = new Map<string, string[]>();
    for (const r of [...rows, ...direct]) out.set(r.studyUid, [...new Set([...(out.get(r.studyUid) ?? []), ...r.holds])]);
    return out;
  }

  /** Stored blobs of the studies a hold covers, each with whether any active hold covers it now. */
  async blobsOf(sql: SqlRunner, hold: LegalHold, storedSince: Date | null = null): Promise<{ blobKey: string; held: boolean }[]> {
    const scope = hold.scope === 'study' ? `st.study_uid = $1` : `p.current_patient_id = $1 AND p.current_issuer = $2`;
    const params = hold.scope === 'study' ? [hold.studyUid, storedSince] : [hold.patientId, hold.issuer, storedSince];
    const since = `$${params.length}::timestamptz`;
    return (await sql.query(
      `SELECT DISTINCT i.blob_key AS "blobKey", ${studyHeldSql('st')} AS held
         FROM instance i JOIN series se ON se.id = i.series_fk JOIN study st ON st.id = se.study_fk JOIN patient p ON p.id = st.patient_fk
        WHERE ${scope} AND i.blob_key IS NOT NULL AND (${since} IS NULL OR i.stored_at > ${since})`,
      params,
    )) as { blobKey: string; held: boolean }[];
  }

  async studyExists(sql: SqlRunner, studyUid: string): Promise<boolean> {
    return (await sql.query(`SELECT 1 FROM study WHERE study_uid = $1`, [studyUid])).length > 0;
  }
}
