import { Injectable } from '@nestjs/common';
import type { AccessTier } from '#vna/blob';
import type { SqlRunner } from '#vna/persistence';

export interface TierPolicy {
  readonly id: number;
  readonly name: string;
  /** Lower first: the first policy that matches an object chooses its tier. */
  readonly priority: number;
  readonly tier: AccessTier;
  /** Days since the study date (the day received when it has none). */
  readonly minAgeDays: number | null;
  /** Days since the study was last retrieved (received, when never). */
  readonly minIdleDays: number | null;
  readonly modality: string | null;
  readonly minSizeBytes: number | null;
  /** The calling AE (DIMSE) or source the object came from. */
  readonly sourceAet: string | null;
  readonly enabled: boolean;
  readonly createdBy: string;
}

export type TierPolicyInput = Omit<TierPolicy, 'id' | 'createdBy'>;

const COLUMNS = `id, name, priority, tier, min_age_days AS "minAgeDays", min_idle_days AS "minIdleDays", modality,
  min_size_bytes::float8 AS "minSizeBytes", source_aet AS "sourceAet", enabled, created_by AS "createdBy"`;

/** A tier change the evaluation decided. */
export interface TierChange {
  readonly id: string;
  readonly blobKey: string;
  readonly from: AccessTier;
  readonly to: AccessTier;
}

export interface StoredObjectState {
  readonly seriesUid: string;
  readonly sopInstanceUid: string;
  readonly version: number;
  readonly current: boolean;
  readonly sizeBytes: number;
  readonly storageState: 'spooled' | 'stored';
  readonly tier: AccessTier;
  readonly availability: 'ONLINE' | 'NEARLINE';
  readonly archiveStatus: string | null;
  readonly tierChangedAt: Date | null;
  readonly hotUntil: Date | null;
  readonly verification: string | null;
  readonly verifiedAt: Date | null;
}

/** Tiering policies, and the set-based evaluation of a batch of objects against them. */
@Injectable()
export class TierPolicyRepository {
  async list(sql: SqlRunner): Promise<TierPolicy[]> {
    return (await sql.query(`SELECT ${COLUMNS} FROM tier_policy ORDER BY priority, id`)) as TierPolicy[];
  }

  async upsert(sql: SqlRunner, p: TierPolicyInput, by: string): Promise<TierPolicy> {
    const [row] = await sql.query(
      `INSERT INTO tier_policy (name, priority, tier, min_age_days, min_idle_days, modality, min_size_bytes, source_aet, enabled, created_by)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
       ON CONFLICT (name) DO UPDATE SET priority = excluded.priority, tier = excluded.tier, min_age_days = excluded.min_age_days,
         min_idle_days = excluded.min_idle_days, modality = excluded.modality, min_size_bytes = excluded.min_size_bytes,
         source_aet = excluded.source_aet, enabled = excluded.enabled, updated_at = now()
       RETURNING ${COLUMNS}`,
      [p.name, p.priority, p.tier, p.minAgeDays, p.minIdleDays, p.modality, p.minSizeBytes, p.sourceAet, p.enabled, by],
    );
    return row as TierPolicy;
  }

  async delete(sql: SqlRunner, name: string): Promise<boolean> {
    return (await sql.query(`DELETE FROM tier_policy WHERE name = $1 RETURNING id`, [name])).length > 0;
  }

  /**
   * One batch of stored current objects after `cursor` (by id), evaluated in one statement: each
   * object's target tier is that of the first matching policy. Returns the changes (objects whose
   * target differs from their tier; none while rehydrating or held Hot after a rehydration or
   * prefetch) and where the batch ended. No policy matching: the object stays where it is.
   */
  async evaluate(sql: SqlRunner, cursor: string, limit: number, now: Date): Promise<{ changes: TierChange[]; last: string | null; evaluated: number }> {
    const rows = (await sql.query(
      `WITH batch AS (
         SELECT i.id, i.blob_key, i.access_tier, i.size_bytes, i.source_aet, i.archive_status, i.hot_until, se.modality,
                coalesce(dicom_date(st.study_date), st.created_at::date) AS study_day,
                coalesce(st.last_accessed_at, st.created_at) AS last_access
           FROM instance i JOIN series se ON se.id = i.series_fk JOIN study st ON st.id = se.study_fk
          WHERE i.id > $1 AND i.is_current AND i.storage_state = 'stored' AND i.blob_key IS NOT NULL
          ORDER BY i.id LIMIT $2
       ), decided AS (
         SELECT b.id, b.blob_key, b.access_tier, b.archive_status, b.hot_until,
                (SELECT tp.tier FROM tier_policy tp
                  WHERE tp.enabled
                    AND (tp.modality IS NULL OR tp.modality = b.modality)
                    AND (tp.source_aet IS NULL OR tp.source_aet = b.source_aet)
                    AND (tp.min_size_bytes IS NULL OR b.size_bytes >= tp.min_size_bytes)
                    AND (tp.min_age_days IS NULL OR b.study_day <= ($3::timestamptz)::date - tp.min_age_days)
                    AND (tp.min_idle_days IS NULL OR b.last_access <= $3::timestamptz - make_interval(days => tp.min_idle_days))
                  ORDER BY tp.priority, tp.id LIMIT 1) AS target
           FROM batch b
       ), marked AS (
         SELECT d.*, max(d.id) OVER () AS last, count(*) OVER () AS n,
                (d.target IS NOT NULL AND d.target <> d.access_tier AND d.archive_status IS NULL
                  AND (d.hot_until IS NULL OR d.hot_until <= $3::timestamptz)) AS change
           FROM decided d
       )
       SELECT id::text, blob_key AS "blobKey", access_tier AS "from", target AS "to", last::text, n::int, change FROM marked WHERE change OR id = last`,
      [cursor, limit, now],
    )) as { id: string; blobKey: string; from: TierChange['from']; to: TierChange['to']; last: string; n: number; change: boolean }[];
    if (rows.length === 0) return { changes: [], last: null, evaluated: 0 };
    return { changes: rows.filter((r) => r.change).map(({ id, blobKey, from, to }) => ({ id, blobKey, from, to })), last: rows[0]!.last, evaluated: rows[0]!.n };
  }

  /** The index follows the store: these objects are now in these tiers. */
  async setTiers(sql: SqlRunner, moved: readonly { id: string; tier: string }[], now: Date): Promise<void> {
    if (moved.length === 0) return;
    await sql.query(
      `UPDATE instance i SET access_tier = v.tier, tier_changed_at = $3, hot_until = NULL
         FROM unnest($1::bigint[], $2::text[]) AS v(id, tier) WHERE i.id = v.id`,
      [moved.map((m) => m.id), moved.map((m) => m.tier), now],
    );
  }

  /** What the index knows of a study's objects' storage: tier, availability, rehydration, last verification. */
  async studyObjects(sql: SqlRunner, studyUid: string): Promise<StoredObjectState[]> {
    return (await sql.query(
      `SELECT se.series_uid AS "seriesUid", i.sop_instance_uid AS "sopInstanceUid", i.version, i.is_current AS current, i.size_bytes::float8 AS "sizeBytes",
              i.storage_state AS "storageState", i.access_tier AS tier,
              CASE WHEN i.access_tier = 'Archive' THEN 'NEARLINE' ELSE 'ONLINE' END AS availability,
              i.archive_status AS "archiveStatus", i.tier_changed_at AS "tierChangedAt", i.hot_until AS "hotUntil",
              v.status AS "verification", v.checked_at AS "verifiedAt"
         FROM study st JOIN series se ON se.study_fk = st.id JOIN instance i ON i.series_fk = se.id
         LEFT JOIN storage_verification v ON v.instance_fk = i.id
        WHERE st.study_uid = $1 ORDER BY se.id, i.instance_number NULLS LAST, i.id`,
      [studyUid],
    )) as StoredObjectState[];
  }

  /** Objects and bytes per tier (all stored versions), objects rehydrating. */
  async census(sql: SqlRunner): Promise<{ tiers: { tier: string; objects: number; bytes: number }[]; rehydrating: number }> {
    const tiers = (await sql.query(
      `SELECT access_tier AS tier, count(*)::float8 AS objects, coalesce(sum(size_bytes), 0)::float8 AS bytes FROM instance WHERE storage_state = 'stored' GROUP BY access_tier`,
    )) as { tier: string; objects: number; bytes: number }[];
    const [r] = (await sql.query(`SELECT count(*)::int AS n FROM instance WHERE archive_status IS NOT NULL`)) as { n: number }[];
    return { tiers, rehydrating: r?.n ?? 0 };
  }
}
