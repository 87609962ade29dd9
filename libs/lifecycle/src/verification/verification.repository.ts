import { Injectable } from '@nestjs/common';
import type { SqlRunner } from '#vna/persistence';

export type VerificationStatus = 'ok' | 'missing' | 'corrupt' | 'unreadable';

export interface VerificationTarget {
  readonly id: string;
  readonly blobKey: string;
  readonly sizeBytes: number;
  readonly sha256: Buffer;
  readonly md5: Buffer | null;
  readonly accessTier: string;
  readonly rehydrating: boolean;
}

export interface VerificationFinding {
  readonly sopInstanceUid: string;
  readonly seriesUid: string;
  readonly studyUid: string;
  readonly blobKey: string;
  readonly status: VerificationStatus;
  readonly method: string;
  readonly detail: string | null;
  readonly checkedAt: Date;
}

/** Storage verification results, one per stored object version. */
@Injectable()
export class VerificationRepository {
  /** The stored objects (every version) after `cursor`, by id: a round walks them all, a batch at a time. */
  async batch(sql: SqlRunner, cursor: string, limit: number): Promise<VerificationTarget[]> {
    return (await sql.query(
      `SELECT i.id::text, i.blob_key AS "blobKey", i.size_bytes::float8 AS "sizeBytes", i.sha256, i.md5, i.access_tier AS "accessTier",
              (i.archive_status IS NOT NULL) AS rehydrating
         FROM instance i
        WHERE i.id > $1 AND i.storage_state = 'stored' AND i.blob_key IS NOT NULL
        ORDER BY i.id LIMIT $2`,
      [cursor, limit],
    )) as VerificationTarget[];
  }

  async record(sql: SqlRunner, results: readonly { id: string; status: VerificationStatus; method: string; detail: string | null }[], at: Date): Promise<void> {
    if (results.length === 0) return;
    await sql.query(
      `INSERT INTO storage_verification (instance_fk, status, method, detail, checked_at)
       SELECT * , $5::timestamptz FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[])
       ON CONFLICT (instance_fk) DO UPDATE SET status = excluded.status, method = excluded.method, detail = excluded.detail, checked_at = excluded.checked_at`,
      [results.map((r) => r.id), results.map((r) => r.status), results.map((r) => r.method), results.map((r) => r.detail), at],
    );
  }

  async failures(sql: SqlRunner, status: VerificationStatus | undefined, limit: number, offset: number): Promise<VerificationFinding[]> {
    return (await sql.query(
      `SELECT i.sop_instance_uid AS "sopInstanceUid", se.series_uid AS "seriesUid", st.study_uid AS "studyUid", i.blob_key AS "blobKey",
              v.status, v.method, v.detail, v.checked_at AS "checkedAt"
         FROM storage_verification v JOIN instance i ON i.id = v.instance_fk JOIN series se ON se.id = i.series_fk JOIN study st ON st.id = se.study_fk
        WHERE v.status <> 'ok' AND ($1::text IS NULL OR v.status = $1)
        ORDER BY v.checked_at DESC, i.id LIMIT $2 OFFSET $3`,
      [status ?? null, limit, offset],
    )) as VerificationFinding[];
  }

  async counts(sql: SqlRunner): Promise<Record<VerificationStatus, number>> {
    const rows = (await sql.query(`SELECT status, count(*)::int AS n FROM storage_verification GROUP BY status`)) as { status: VerificationStatus; n: number }[];
    const out: Record<VerificationStatus, number> = { ok: 0, missing: 0, corrupt: 0, unreadable: 0 };
    for (const r of rows) out[r.status] = r.n;
    return out;
  }
}
