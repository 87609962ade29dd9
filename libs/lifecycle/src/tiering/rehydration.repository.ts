import { Injectable } from '@nestjs/common';
import type { SqlRunner } from '#vna/persistence';

/** Rehydration state of objects in the index (instance.archive_status, rehydrate_requested_at, hot_until). */
@Injectable()
export class RehydrationRepository {
  /**
   * Claims objects for rehydration: these ones, and every other object of their studies in the
   * Archive tier (a viewer that opens one will want the study). Objects already rehydrating are
   * not claimed again, so concurrent retrieves start each rehydration once.
   */
  async claim(sql: SqlRunner, instanceIds: readonly string[], now: Date): Promise<{ id: string; blobKey: string }[]> {
    return (await sql.query(
      `WITH studies AS (
         SELECT DISTINCT se.study_fk FROM instance i JOIN series se ON se.id = i.series_fk WHERE i.id = ANY($1::bigint[])
       )
       UPDATE instance i SET archive_status = 'rehydrate-pending-to-hot', rehydrate_requested_at = $2
        WHERE i.archive_status IS NULL AND i.blob_key IS NOT NULL AND i.storage_state = 'stored'
          AND (i.id = ANY($1::bigint[])
               OR (i.access_tier = 'Archive' AND i.is_current AND i.series_fk IN (SELECT se.id FROM series se JOIN studies s ON s.study_fk = se.study_fk)))
       RETURNING i.id::text, i.blob_key AS "blobKey"`,
      [instanceIds, now],
    )) as { id: string; blobKey: string }[];
  }

  /** Objects claimed for a patient's prefetch (Archive tier, not rehydrating yet). */
  async claimIds(sql: SqlRunner, instanceIds: readonly string[], now: Date): Promise<{ id: string; blobKey: string }[]> {
    return (await sql.query(
      `UPDATE instance SET archive_status = 'rehydrate-pending-to-hot', rehydrate_requested_at = $2
        WHERE id = ANY($1::bigint[]) AND archive_status IS NULL AND blob_key IS NOT NULL
       RETURNING id::text, blob_key AS "blobKey"`,
      [instanceIds, now],
    )) as { id: string; blobKey: string }[];
  }

  /** Whether all these objects are readable by the index (no rehydration pending, not in Archive). */
  async readable(sql: SqlRunner, ids: readonly string[]): Promise<boolean> {
    const [row] = (await sql.query(`SELECT count(*)::int AS n FROM instance WHERE id = ANY($1::bigint[]) AND (archive_status IS NOT NULL OR access_tier = 'Archive')`, [ids])) as { n: number }[];
    return (row?.n ?? 0) === 0;
  }

  /** A rehydration could not be asked for: the object may be claimed again later. */
  async unclaim(sql: SqlRunner, ids: readonly string[]): Promise<void> {
    if (ids.length) await sql.query(`UPDATE instance SET archive_status = NULL, rehydrate_requested_at = NULL WHERE id = ANY($1::bigint[])`, [ids]);
  }

  async pending(sql: SqlRunner, limit: number, ids?: readonly string[]): Promise<{ id: string; blobKey: string }[]> {
    return (await sql.query(
      `SELECT id::text, blob_key AS "blobKey" FROM instance WHERE archive_status IS NOT NULL AND ($2::bigint[] IS NULL OR id = ANY($2::bigint[]))
        ORDER BY rehydrate_requested_at, id LIMIT $1`,
      [limit, ids ?? null],
    )) as { id: string; blobKey: string }[];
  }

  /** Still rehydrating: the store's current archive status. */
  async setStatus(sql: SqlRunner, updates: readonly { id: string; status: string }[]): Promise<void> {
    if (updates.length === 0) return;
    await sql.query(
      `UPDATE instance i SET archive_status = v.status FROM unnest($1::bigint[], $2::text[]) AS v(id, status) WHERE i.id = v.id`,
      [updates.map((u) => u.id), updates.map((u) => u.status)],
    );
  }

  /** Readable again in `tier`: kept there until `hotUntil`, then the tiering policies decide again. */
  async complete(sql: SqlRunner, done: readonly { id: string; tier: string }[], now: Date, hotUntil: Date): Promise<void> {
    if (done.length === 0) return;
    await sql.query(
      `UPDATE instance i SET access_tier = v.tier, archive_status = NULL, rehydrate_requested_at = NULL, tier_changed_at = $3, hot_until = $4
         FROM unnest($1::bigint[], $2::text[]) AS v(id, tier) WHERE i.id = v.id`,
      [done.map((d) => d.id), done.map((d) => d.tier), now, hotUntil],
    );
  }
}
