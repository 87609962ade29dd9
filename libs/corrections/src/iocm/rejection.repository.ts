import { Injectable } from '@nestjs/common';
import type { SqlRunner } from '#vna/persistence';
import type { RejectedReference } from './rejection-note.js';

export type RejectionState = 'active' | 'revoked' | 'restored';

/** One instance a rejection note rejected. */
export interface Rejection {
  readonly id: string;
  readonly noteSopInstanceUid: string;
  readonly reasonCode: string;
  readonly reasonMeaning: string;
  readonly studyUid: string;
  readonly seriesUid: string;
  readonly sopInstanceUid: string;
  readonly sopClassUid: string | null;
  /** The index row hidden (null: the archive did not have the instance when the note came). */
  readonly instanceFk: string | null;
  readonly state: RejectionState;
  readonly rejectedAt: string;
  readonly rejectedBy: string;
  readonly endedAt: string | null;
  readonly endedBy: string | null;
  readonly endReason: string | null;
}

const COLUMNS = `id::text, note_sop_instance_uid AS "noteSopInstanceUid", reason_code AS "reasonCode", reason_meaning AS "reasonMeaning",
  study_uid AS "studyUid", series_uid AS "seriesUid", sop_instance_uid AS "sopInstanceUid", sop_class_uid AS "sopClassUid",
  instance_fk::text AS "instanceFk", state, rejected_at AS "rejectedAt", rejected_by AS "rejectedBy", ended_at AS "endedAt",
  ended_by AS "endedBy", end_reason AS "endReason"`;

/**
 * The IOCM rejection state (`iocm_rejection`) and the instance rows it hides: a rejected instance's
 * row stops being current, which every query and retrieve path already honours.
 */
@Injectable()
export class RejectionRepository {
  /**
   * Serializes with ingest of the same SOP Instance UIDs (ingest holds this advisory lock per UID
   * while it stores), in a fixed order so that two notes cannot deadlock each other.
   */
  async lockUids(tx: SqlRunner, uids: readonly string[]): Promise<void> {
    if (uids.length === 0) return;
    await tx.query(`SELECT count(pg_advisory_xact_lock(7341, hashtext(u))) FROM (SELECT u FROM unnest($1::text[]) u ORDER BY u) s`, [[...uids]]);
  }

  /**
   * Records the rejections of `refs` not already rejected and hides their current rows; returns
   * how many instances it rejected and how many rows it hid.
   */
  async reject(tx: SqlRunner, noteUid: string, code: string, meaning: string, refs: readonly RejectedReference[], by: string): Promise<{ rejected: number; hidden: number }> {
    const rows: { rejected: string; hidden: string }[] = await tx.query(
      `WITH refs AS (
         SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[]) AS r(study_uid, series_uid, sop_instance_uid, sop_class_uid)
          WHERE NOT EXISTS (SELECT 1 FROM iocm_rejection x WHERE x.sop_instance_uid = r.sop_instance_uid AND x.state = 'active')),
       cur AS (SELECT i.id, i.sop_instance_uid FROM instance i JOIN refs ON refs.sop_instance_uid = i.sop_instance_uid WHERE i.is_current),
       ins AS (
         INSERT INTO iocm_rejection (note_sop_instance_uid, reason_code, reason_meaning, study_uid, series_uid, sop_instance_uid, sop_class_uid, instance_fk, rejected_by)
         SELECT $5, $6, $7, refs.study_uid, refs.series_uid, refs.sop_instance_uid, refs.sop_class_uid, cur.id, $8
           FROM refs LEFT JOIN cur ON cur.sop_instance_uid = refs.sop_instance_uid
         RETURNING id),
       hid AS (UPDATE instance SET is_current = false WHERE id IN (SELECT id FROM cur) RETURNING id)
       SELECT (SELECT count(*) FROM ins) AS rejected, (SELECT count(*) FROM hid) AS hidden`,
      [refs.map((r) => r.studyUid), refs.map((r) => r.seriesUid), refs.map((r) => r.sopInstanceUid), refs.map((r) => r.sopClassUid), noteUid, code, meaning, by],
    );
    return { rejected: Number(rows[0]?.rejected ?? 0), hidden: Number(rows[0]?.hidden ?? 0) };
  }

  async activeFor(tx: SqlRunner, sopInstanceUid: string): Promise<Rejection | undefined> {
    const rows: Rejection[] = await tx.query(`SELECT ${COLUMNS} FROM iocm_rejection WHERE sop_instance_uid = $1 AND state = 'active'`, [sopInstanceUid]);
    return rows[0];
  }

  async ofNote(tx: SqlRunner, noteUid: string, lock = false): Promise<Rejection[]> {
    return tx.query(`SELECT ${COLUMNS} FROM iocm_rejection WHERE note_sop_instance_uid = $1 ORDER BY id${lock ? ' FOR UPDATE' : ''}`, [noteUid]);
  }

  /**
   * Ends active rejections (`revoked` by an admin, `restored` by a re-send): their hidden rows are
   * current again unless the instance has a current row meanwhile. Returns how many rows came back.
   */
  async end(tx: SqlRunner, ids: readonly string[], state: Exclude<RejectionState, 'active'>, by: string, reason: string): Promise<number> {
    const rows: { shown: string }[] = await tx.query(
      `WITH ended AS (
         UPDATE iocm_rejection SET state = $2, ended_at = now(), ended_by = $3, end_reason = $4
          WHERE id = ANY($1::bigint[]) AND state = 'active' RETURNING instance_fk),
       shown AS (
         UPDATE instance i SET is_current = true
          WHERE i.id IN (SELECT instance_fk FROM ended WHERE instance_fk IS NOT NULL)
            AND NOT EXISTS (SELECT 1 FROM instance c WHERE c.sop_instance_uid = i.sop_instance_uid AND c.is_current)
         RETURNING i.id)
       SELECT count(*) AS shown FROM shown`,
      [ids, state, by, reason],
    );
    return Number(rows[0]?.shown ?? 0);
  }

  async list(tx: SqlRunner, q: { state?: RejectionState; reasonCode?: string; studyUid?: string; limit: number; offset: number }): Promise<Rejection[]> {
    return tx.query(
      `SELECT ${COLUMNS} FROM iocm_rejection
        WHERE ($1::text IS NULL OR state = $1) AND ($2::text IS NULL OR reason_code = $2) AND ($3::text IS NULL OR study_uid = $3)
        ORDER BY rejected_at DESC, id DESC LIMIT $4 OFFSET $5`,
      [q.state ?? null, q.reasonCode ?? null, q.studyUid ?? null, q.limit, q.offset],
    );
  }
}
