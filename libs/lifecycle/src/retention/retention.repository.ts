import { Injectable } from '@nestjs/common';
import type { SqlRunner } from '#vna/persistence';
import { studyHeldSql } from '../holds/legal-hold.sql.js';

export interface RetentionPolicy {
  readonly id: number;
  readonly name: string;
  /** Lower first: the first policy that matches a study gives its expiry. */
  readonly priority: number;
  /** Kept this many years after the study date. */
  readonly retainYears: number;
  /** A patient younger than this at the study: kept until this age plus retainYears, if that is later. */
  readonly minorAge: number | null;
  readonly modality: string | null;
  readonly sourceAet: string | null;
  /** Study Description, `*` and `?` wildcards, case-insensitive. */
  readonly descriptionPattern: string | null;
  readonly enabled: boolean;
  readonly createdBy: string;
}

export type RetentionPolicyInput = Omit<RetentionPolicy, 'id' | 'createdBy'>;

export interface StudyRetention {
  readonly studyUid: string;
  /** YYYY-MM-DD, or null: kept indefinitely (no policy matched). */
  readonly expiresOn: string | null;
  readonly policyName: string | null;
  readonly frozen: boolean;
  readonly overrideReason: string | null;
  readonly overriddenBy: string | null;
  readonly overriddenAt: Date | null;
  readonly computedAt: Date;
  readonly held: boolean;
}

const POLICY_COLUMNS = `id, name, priority, retain_years AS "retainYears", minor_age AS "minorAge", modality, source_aet AS "sourceAet",
  description_pattern AS "descriptionPattern", enabled, created_by AS "createdBy"`;

/** Retention policies, each study's expiry, and the set-based computation of expiries. */
@Injectable()
export class RetentionRepository {
  async listPolicies(sql: SqlRunner): Promise<RetentionPolicy[]> {
    return (await sql.query(`SELECT ${POLICY_COLUMNS} FROM retention_policy ORDER BY priority, id`)) as RetentionPolicy[];
  }

  async upsertPolicy(sql: SqlRunner, p: RetentionPolicyInput, by: string): Promise<RetentionPolicy> {
    const [row] = await sql.query(
      `INSERT INTO retention_policy (name, priority, retain_years, minor_age, modality, source_aet, description_pattern, enabled, created_by)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
       ON CONFLICT (name) DO UPDATE SET priority = excluded.priority, retain_years = excluded.retain_years, minor_age = excluded.minor_age,
         modality = excluded.modality, source_aet = excluded.source_aet, description_pattern = excluded.description_pattern,
         enabled = excluded.enabled, updated_at = now()
       RETURNING ${POLICY_COLUMNS}`,
      [p.name, p.priority, p.retainYears, p.minorAge, p.modality, p.sourceAet, p.descriptionPattern, p.enabled, by],
    );
    return row as RetentionPolicy;
  }

  async deletePolicy(sql: SqlRunner, name: string): Promise<boolean> {
    return (await sql.query(`DELETE FROM retention_policy WHERE name = $1 RETURNING id`, [name])).length > 0;
  }

  /**
   * Expiry of a batch of studies after `cursor` (by id), in one statement: the first matching
   * policy's years after the study date (the day received when it has none); for a patient younger
   * than the policy's minor age at the study, no earlier than that age plus the same years after
   * birth. Frozen expiries (set by HIM) are left alone. Returns where the batch ended.
   */
  async computeBatch(sql: SqlRunner, cursor: string, limit: number, now: Date, only = false): Promise<{ last: string | null; evaluated: number }> {
    // `only`: the study `cursor` itself (a new study at ingest), else the `limit` studies after it.
    const [row] = (await sql.query(
      `WITH batch AS (SELECT id FROM study WHERE ${only ? 'id = $1' : 'id > $1'} ORDER BY id LIMIT $2),
       computed AS (
         SELECT st.id AS study_fk, rp.name AS policy_name,
                CASE WHEN rp.id IS NULL THEN NULL ELSE greatest(
                  d.base + make_interval(years => rp.retain_years),
                  CASE WHEN rp.minor_age IS NOT NULL AND d.birth IS NOT NULL AND d.base < d.birth + make_interval(years => rp.minor_age)
                       THEN d.birth + make_interval(years => rp.minor_age + rp.retain_years) END)::date END AS expires_on
           FROM batch b JOIN study st ON st.id = b.id JOIN patient p ON p.id = st.patient_fk
           CROSS JOIN LATERAL (SELECT coalesce(dicom_date(st.study_date), st.created_at::date) AS base, dicom_date(p.birth_date) AS birth) d
           LEFT JOIN LATERAL (
             SELECT rp.* FROM retention_policy rp
              WHERE rp.enabled
                AND (rp.modality IS NULL OR EXISTS (SELECT 1 FROM series ms WHERE ms.study_fk = st.id AND ms.modality = rp.modality))
                AND (rp.source_aet IS NULL OR EXISTS (SELECT 1 FROM series ms JOIN instance mi ON mi.series_fk = ms.id WHERE ms.study_fk = st.id AND mi.source_aet = rp.source_aet))
                AND (rp.description_pattern IS NULL OR st.description ILIKE replace(replace(replace(replace(rp.description_pattern, '%', '\\%'), '_', '\\_'), '*', '%'), '?', '_'))
              ORDER BY rp.priority, rp.id LIMIT 1) rp ON true
       ), written AS (
         INSERT INTO study_retention (study_fk, expires_on, policy_name, computed_at)
         SELECT study_fk, expires_on, policy_name, $3 FROM computed
         ON CONFLICT (study_fk) DO UPDATE SET expires_on = excluded.expires_on, policy_name = excluded.policy_name, computed_at = excluded.computed_at
          WHERE NOT study_retention.frozen
         RETURNING 1
       )
       SELECT (SELECT max(id) FROM batch)::text AS last, (SELECT count(*) FROM batch)::int AS n`,
      [cursor, limit, now],
    )) as { last: string | null; n: number }[];
    return { last: row?.last ?? null, evaluated: row?.n ?? 0 };
  }

  async studyRetention(sql: SqlRunner, studyUid: string): Promise<StudyRetention | undefined> {
    const rows = await sql.query(
      `SELECT st.study_uid AS "studyUid", to_char(sr.expires_on, 'YYYY-MM-DD') AS "expiresOn", sr.policy_name AS "policyName",
              coalesce(sr.frozen, false) AS frozen, sr.override_reason AS "overrideReason", sr.overridden_by AS "overriddenBy",
              sr.overridden_at AS "overriddenAt", sr.computed_at AS "computedAt", ${studyHeldSql('st')} AS held
         FROM study st LEFT JOIN study_retention sr ON sr.study_fk = st.id WHERE st.study_uid = $1`,
      [studyUid],
    );
    return rows[0] as StudyRetention | undefined;
  }

  async override(sql: SqlRunner, studyUid: string, expiresOn: string | null, reason: string, by: string, at: Date): Promise<boolean> {
    const rows = await sql.query(
      `INSERT INTO study_retention (study_fk, expires_on, policy_name, frozen, override_reason, overridden_by, overridden_at, computed_at)
       SELECT st.id, $2::date, 'override', true, $3, $4, $5, $5 FROM study st WHERE st.study_uid = $1
       ON CONFLICT (study_fk) DO UPDATE SET expires_on = excluded.expires_on, policy_name = excluded.policy_name, frozen = true,
         override_reason = excluded.override_reason, overridden_by = excluded.overridden_by, overridden_at = excluded.overridden_at
       RETURNING study_fk`,
      [studyUid, expiresOn, reason, by, at],
    );
    return rows.length > 0;
  }

  async unfreeze(sql: SqlRunner, studyUid: string): Promise<string | undefined> {
    const rows = (await sql.query(
      `UPDATE study_retention sr SET frozen = false FROM study st WHERE st.id = sr.study_fk AND st.study_uid = $1 RETURNING st.id::text AS id`,
      [studyUid],
    )) as { id: string }[];
    return rows[0]?.id;
  }

  /**
   * What has expired on `asOf` and why, with whether a hold keeps it (the dry-run report; also
   * what the retention job proposes, holds excluded).
   */
  async expired(sql: SqlRunner, asOf: string, limit: number, offset: number): Promise<ExpiredStudy[]> {
    return (await sql.query(
      `SELECT st.study_uid AS "studyUid", to_char(sr.expires_on, 'YYYY-MM-DD') AS "expiresOn", sr.policy_name AS "policyName", sr.frozen,
              st.study_date AS "studyDate",
              (SELECT array_agg(DISTINCT ms.modality) FROM series ms WHERE ms.study_fk = st.id AND ms.modality IS NOT NULL) AS modalities,
              (SELECT count(*) FROM series ms JOIN instance mi ON mi.series_fk = ms.id WHERE ms.study_fk = st.id)::int AS objects,
              (SELECT coalesce(sum(mi.size_bytes), 0) FROM series ms JOIN instance mi ON mi.series_fk = ms.id WHERE ms.study_fk = st.id)::float8 AS bytes,
              ${studyHeldSql('st')} AS held
         FROM study_retention sr JOIN study st ON st.id = sr.study_fk
        WHERE sr.expires_on <= $1::date
        ORDER BY sr.expires_on, st.id LIMIT $2 OFFSET $3`,
      [asOf, limit, offset],
    )) as ExpiredStudy[];
  }
}

export interface ExpiredStudy {
  readonly studyUid: string;
  readonly expiresOn: string;
  readonly policyName: string | null;
  readonly frozen: boolean;
  readonly studyDate: string | null;
  readonly modalities: string[] | null;
  readonly objects: number;
  readonly bytes: number;
  /** A legal hold keeps it: it will not be proposed for deletion. */
  readonly held: boolean;
}
