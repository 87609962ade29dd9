import { Injectable } from '@nestjs/common';
import type { SqlRunner } from '#vna/persistence';
import { studyHeldSql } from '../holds/legal-hold.sql.js';

export interface Approval {
  readonly by: string;
  readonly at: string;
  readonly reason: string;
}

export interface DeletionRequest {
  readonly id: string;
  readonly studyUid: string;
  readonly origin: 'retention' | 'admin' | 'iocm';
  /** Only these instances of the study (an IOCM 113039 rejection); null: the whole study. */
  readonly sopInstanceUids: string[] | null;
  readonly reason: string;
  readonly policyName: string | null;
  readonly expiresOn: string | null;
  readonly status: 'proposed' | 'approved' | 'deleted' | 'rejected' | 'blocked';
  readonly approvalsNeeded: number;
  readonly approvals: Approval[];
  readonly requestedBy: string;
  readonly requestedAt: Date;
  readonly closedBy: string | null;
  readonly closedAt: Date | null;
  readonly closeReason: string | null;
}

export interface TombstoneInstance {
  readonly sopInstanceUid: string;
  readonly seriesUid: string;
  readonly sopClassUid: string;
  readonly version: number;
  readonly sha256: string;
  readonly md5: string | null;
  readonly sizeBytes: number;
  readonly blobKey: string | null;
  readonly tier: string;
}

export interface Tombstone {
  readonly id: string;
  readonly requestId: string | null;
  readonly studyUid: string;
  readonly patientId: string;
  readonly issuer: string;
  readonly policyName: string | null;
  readonly reason: string;
  readonly approvers: string[];
  readonly instances: TombstoneInstance[];
  readonly deletedAt: Date;
}

const COLUMNS = `id::text, study_uid AS "studyUid", origin, sop_instance_uids AS "sopInstanceUids", reason, policy_name AS "policyName", to_char(expires_on, 'YYYY-MM-DD') AS "expiresOn",
  status, approvals_needed AS "approvalsNeeded", approvals, requested_by AS "requestedBy", requested_at AS "requestedAt",
  closed_by AS "closedBy", closed_at AS "closedAt", close_reason AS "closeReason"`;

/** Deletion requests, their approvals, and the deletion itself (index rows out, tombstone in). */
@Injectable()
export class DeletionRepository {
  /**
   * Proposes every study expired on `today` that no hold keeps, no open request names and HIM has
   * not already refused for this expiry, in one statement. Returns how many were proposed.
   */
  async proposeExpired(sql: SqlRunner, today: string, approvalsNeeded: number, now: Date): Promise<number> {
    const rows = await sql.query(
      `INSERT INTO deletion_request (study_uid, origin, reason, policy_name, expires_on, approvals_needed, requested_by, requested_at)
       SELECT st.study_uid, 'retention', 'retention period expired', sr.policy_name, sr.expires_on, $2, 'system:retention', $3
         FROM study_retention sr JOIN study st ON st.id = sr.study_fk
        WHERE sr.expires_on <= $1::date AND NOT ${studyHeldSql('st')}
          -- HIM said no to this expiry: not asked again (a new expiry, set by hand or by a policy, is).
          AND NOT EXISTS (SELECT 1 FROM deletion_request d WHERE d.study_uid = st.study_uid AND d.origin = 'retention' AND d.status = 'rejected' AND d.expires_on = sr.expires_on)
       ON CONFLICT DO NOTHING
       RETURNING id`,
      [today, approvalsNeeded, now],
    );
    return rows.length;
  }

  /**
   * Proposes the deletion of the instances IHE IOCM rejection notes rejected with 113039 (Data
   * Retention Policy Expired; libs/corrections hides them and leaves their deletion to this
   * workflow): one request per study, unless a hold keeps the study or a request is open for it.
   */
  async proposeRejected(sql: SqlRunner, approvalsNeeded: number, now: Date): Promise<number> {
    const rows = await sql.query(
      `INSERT INTO deletion_request (study_uid, origin, reason, sop_instance_uids, approvals_needed, requested_by, requested_at)
       SELECT r.study_uid, 'iocm', 'IOCM rejection note (113039 Data Retention Policy Expired): ' || string_agg(DISTINCT r.note_sop_instance_uid, ', '),
              array_agg(DISTINCT r.sop_instance_uid ORDER BY r.sop_instance_uid), $1, 'system:iocm', $2
         FROM iocm_rejection r JOIN study st ON st.study_uid = r.study_uid
        WHERE r.reason_code = '113039' AND r.state = 'active' AND r.instance_fk IS NOT NULL AND NOT ${studyHeldSql('st')}
          AND NOT EXISTS (SELECT 1 FROM deletion_request d WHERE d.study_uid = r.study_uid AND d.origin = 'iocm' AND d.status = 'rejected' AND r.sop_instance_uid = ANY(d.sop_instance_uids))
        GROUP BY r.study_uid
       ON CONFLICT DO NOTHING
       RETURNING id`,
      [approvalsNeeded, now],
    );
    return rows.length;
  }

  async insert(sql: SqlRunner, r: Pick<DeletionRequest, 'studyUid' | 'origin' | 'reason' | 'policyName' | 'approvalsNeeded' | 'requestedBy'>, now: Date): Promise<DeletionRequest | undefined> {
    const rows = await sql.query(
      `INSERT INTO deletion_request (study_uid, origin, reason, policy_name, approvals_needed, requested_by, requested_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING RETURNING ${COLUMNS}`,
      [r.studyUid, r.origin, r.reason, r.policyName, r.approvalsNeeded, r.requestedBy, now],
    );
    return rows[0] as DeletionRequest | undefined;
  }

  async get(sql: SqlRunner, id: string, lock = false): Promise<DeletionRequest | undefined> {
    const rows = await sql.query(`SELECT ${COLUMNS} FROM deletion_request WHERE id = $1${lock ? ' FOR UPDATE' : ''}`, [id]);
    return rows[0] as DeletionRequest | undefined;
  }

  async list(sql: SqlRunner, status: string | undefined, limit: number, offset: number): Promise<DeletionRequest[]> {
    return (await sql.query(`SELECT ${COLUMNS} FROM deletion_request WHERE ($1::text IS NULL OR status = $1) ORDER BY id DESC LIMIT $2 OFFSET $3`, [status ?? null, limit, offset])) as DeletionRequest[];
  }

  async setApprovals(sql: SqlRunner, id: string, approvals: readonly Approval[], status: DeletionRequest['status']): Promise<void> {
    await sql.query(`UPDATE deletion_request SET approvals = $2::jsonb, status = $3 WHERE id = $1`, [id, JSON.stringify(approvals), status]);
  }

  async close(sql: SqlRunner, id: string, status: DeletionRequest['status'], by: string, reason: string, at: Date): Promise<void> {
    await sql.query(`UPDATE deletion_request SET status = $2, closed_by = $3, close_reason = $4, closed_at = $5 WHERE id = $1`, [id, status, by, reason, at]);
  }

  /** The study's row (locked) and its patient's current identity. */
  async lockStudy(sql: SqlRunner, studyUid: string): Promise<{ id: string; patientId: string; issuer: string } | undefined> {
    const rows = await sql.query(
      `SELECT st.id::text, p.current_patient_id AS "patientId", p.current_issuer AS issuer
         FROM study st JOIN patient p ON p.id = st.patient_fk WHERE st.study_uid = $1 FOR UPDATE OF st`,
      [studyUid],
    );
    return rows[0] as { id: string; patientId: string; issuer: string } | undefined;
  }

  /** Every stored version of every object of the study (or of these of its objects): what the tombstone records. */
  async instancesOf(sql: SqlRunner, studyId: string, sopInstanceUids: readonly string[] | null = null): Promise<TombstoneInstance[]> {
    return (await sql.query(
      `SELECT i.sop_instance_uid AS "sopInstanceUid", se.series_uid AS "seriesUid", i.sop_class_uid AS "sopClassUid", i.version,
              encode(i.sha256, 'hex') AS sha256, encode(i.md5, 'hex') AS md5, i.size_bytes::float8 AS "sizeBytes", i.blob_key AS "blobKey", i.access_tier AS tier
         FROM instance i JOIN series se ON se.id = i.series_fk
        WHERE se.study_fk = $1 AND ($2::text[] IS NULL OR i.sop_instance_uid = ANY($2::text[])) ORDER BY se.id, i.id`,
      [studyId, sopInstanceUids],
    )) as TombstoneInstance[];
  }

  /** The study's index rows, all of them (rows referring to them cascade). */
  async deleteStudyRows(sql: SqlRunner, studyId: string): Promise<void> {
    await sql.query(`DELETE FROM instance WHERE series_fk IN (SELECT id FROM series WHERE study_fk = $1)`, [studyId]);
    await sql.query(`DELETE FROM series WHERE study_fk = $1`, [studyId]);
    await sql.query(`DELETE FROM study WHERE id = $1`, [studyId]);
  }

  /**
   * Some of the study's instances (every version), then the series and the study they leave empty;
   * the metadata documents of the series that stay are rebuilt on their next request.
   */
  async deleteInstanceRows(sql: SqlRunner, studyId: string, sopInstanceUids: readonly string[]): Promise<void> {
    await sql.query(`DELETE FROM instance WHERE series_fk IN (SELECT id FROM series WHERE study_fk = $1) AND sop_instance_uid = ANY($2::text[])`, [studyId, sopInstanceUids]);
    await sql.query(`DELETE FROM series_metadata WHERE series_fk IN (SELECT id FROM series WHERE study_fk = $1)`, [studyId]);
    await sql.query(`DELETE FROM series se WHERE se.study_fk = $1 AND NOT EXISTS (SELECT 1 FROM instance i WHERE i.series_fk = se.id)`, [studyId]);
    await sql.query(`DELETE FROM study st WHERE st.id = $1 AND NOT EXISTS (SELECT 1 FROM series se WHERE se.study_fk = st.id)`, [studyId]);
  }

  async insertTombstone(sql: SqlRunner, t: Omit<Tombstone, 'id' | 'deletedAt'>, at: Date): Promise<void> {
    await sql.query(
      `INSERT INTO deletion_tombstone (request_fk, study_uid, patient_id, issuer, policy_name, reason, approvers, instances, deleted_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7::text[], $8::jsonb, $9)`,
      [t.requestId, t.studyUid, t.patientId, t.issuer, t.policyName, t.reason, t.approvers, JSON.stringify(t.instances), at],
    );
  }

  async tombstones(sql: SqlRunner, studyUid: string | undefined, limit: number, offset: number): Promise<Tombstone[]> {
    return (await sql.query(
      `SELECT id::text, request_fk::text AS "requestId", study_uid AS "studyUid", patient_id AS "patientId", issuer, policy_name AS "policyName",
              reason, approvers, instances, deleted_at AS "deletedAt"
         FROM deletion_tombstone WHERE ($1::text IS NULL OR study_uid = $1) ORDER BY id DESC LIMIT $2 OFFSET $3`,
      [studyUid ?? null, limit, offset],
    )) as Tombstone[];
  }

  /** Of these blob keys, those no index row refers to any more (content-addressed: another object may share one). */
  async unreferenced(sql: SqlRunner, keys: readonly string[]): Promise<string[]> {
    const rows = (await sql.query(
      // Keys end in the content's SHA-256 (blobKeyForSha256): the sha256 index finds the rows.
      `SELECT k FROM unnest($1::text[]) AS k WHERE NOT EXISTS (SELECT 1 FROM instance i WHERE i.sha256 = decode(right(k, 64), 'hex') AND i.blob_key = k)`,
      [keys],
    )) as { k: string }[];
    return rows.map((r) => r.k);
  }
}
