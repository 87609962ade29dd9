import { Injectable } from '@nestjs/common';
import type { SqlRunner } from '#vna/persistence';
import type { PriorCriteria } from './prefetch-match.js';

export interface PrefetchTrigger {
  readonly kind: 'order' | 'pre-admit' | 'worklist';
  readonly ref: string;
  readonly patientId: string;
  readonly issuer: string;
  readonly modalities: string[];
  /** The requested procedures' body parts (OBR-15.4, upper case); empty for a pre-admit. */
  readonly bodyParts: string[];
}

export interface Prior {
  readonly id: string;
  readonly blobKey: string;
  readonly accessTier: 'Hot' | 'Cool' | 'Cold' | 'Archive';
}

/**
 * Prefetch triggers, read from what the HL7 flow wrote (orders, scheduled steps, the message log):
 * the lifecycle depends on those tables, libs/identity knows nothing of prefetching.
 */
@Injectable()
export class PrefetchRepository {
  /**
   * Claims new triggers in one statement (each once: its kind and reference are its key): orders
   * placed (ORM NW) since `since`, scheduled steps starting within the lead time, pre-admits
   * (ADT^A05) accepted since `since`. An order's trigger carries its steps' modalities and its
   * requested procedures' body parts, a step's its own modality and its procedure's body part.
   */
  async claim(sql: SqlRunner, since: Date, now: Date, leadUntil: Date): Promise<PrefetchTrigger[]> {
    return (await sql.query(
      `INSERT INTO prefetch_trigger (kind, ref, patient_id, issuer, modalities, body_parts)
       SELECT 'order', o.id::text, o.patient_id, o.patient_issuer,
              coalesce((SELECT array_agg(DISTINCT ss.modality) FROM requested_procedure rp JOIN scheduled_step ss ON ss.procedure_fk = rp.id
                         WHERE rp.order_fk = o.id AND ss.modality <> ''), '{}'),
              coalesce((SELECT array_agg(DISTINCT rp.body_part) FROM requested_procedure rp WHERE rp.order_fk = o.id AND rp.body_part <> ''), '{}')
         FROM imaging_order o WHERE o.created_at >= $1 AND o.status IN ('scheduled', 'in-progress')
       UNION ALL
       SELECT 'worklist', ss.id::text || '@' || ss.start_date, o.patient_id, o.patient_issuer,
              CASE WHEN ss.modality <> '' THEN ARRAY[ss.modality] ELSE '{}'::text[] END,
              CASE WHEN rp.body_part <> '' THEN ARRAY[rp.body_part] ELSE '{}'::text[] END
         FROM scheduled_step ss JOIN requested_procedure rp ON rp.id = ss.procedure_fk JOIN imaging_order o ON o.id = rp.order_fk
        WHERE ss.status = 'scheduled' AND ss.start_date <> ''
          AND ss.start_date BETWEEN to_char($2::timestamptz AT TIME ZONE 'UTC', 'YYYYMMDD') AND to_char($3::timestamptz AT TIME ZONE 'UTC', 'YYYYMMDD')
       UNION ALL
       SELECT 'pre-admit', m.id::text || '@' || pid, pid, '', '{}'::text[], '{}'::text[]
         FROM hl7_message m CROSS JOIN unnest(m.patient_ids) AS pid
        WHERE m.message_type = 'ADT' AND m.trigger_event = 'A05' AND m.status = 'AA' AND m.received_at >= $1
       ON CONFLICT DO NOTHING
       RETURNING kind, ref, patient_id AS "patientId", issuer, modalities, body_parts AS "bodyParts"`,
      [since, now, leadUntil],
    )) as PrefetchTrigger[];
  }

  /**
   * The patient's prior objects: every current stored object, not rehydrating, of the patient's
   * relevant prior studies (the studies of every index patient row that is this patient now) of the
   * last `years`. A study is relevant when any of its series has one of the criteria's modalities or
   * body parts (series.body_part, Body Part Examined as received, compared trimmed and upper-cased
   * with the upper-case criteria), and then all of it comes (a CT study's dose report, a series
   * without Body Part Examined: the reader compares whole studies); any study when both are empty.
   * An empty issuer matches any (an order without assigning authority).
   */
  async priors(sql: SqlRunner, t: PrefetchTrigger, criteria: PriorCriteria, years: number, now: Date): Promise<Prior[]> {
    return (await sql.query(
      `SELECT i.id::text, i.blob_key AS "blobKey", i.access_tier AS "accessTier"
         FROM patient p JOIN study st ON st.patient_fk = p.id JOIN series se ON se.study_fk = st.id JOIN instance i ON i.series_fk = se.id
        WHERE p.current_patient_id = $1 AND ($2 = '' OR p.current_issuer = $2)
          AND i.is_current AND i.storage_state = 'stored' AND i.blob_key IS NOT NULL AND i.archive_status IS NULL
          AND coalesce(dicom_date(st.study_date), st.created_at::date) >= ($4::timestamptz - make_interval(years => $5))::date
          AND ((cardinality($3::text[]) = 0 AND cardinality($6::text[]) = 0)
               OR EXISTS (SELECT 1 FROM series m WHERE m.study_fk = st.id
                             AND (m.modality = ANY($3::text[]) OR upper(btrim(m.body_part)) = ANY($6::text[]))))`,
      [t.patientId, t.issuer, criteria.modalities, now, years, criteria.bodyParts],
    )) as Prior[];
  }

  /** Priors stay Hot until `until` (tiering leaves them); those already Hot or moved to Hot now are marked. */
  async keepHot(sql: SqlRunner, ids: readonly string[], hotIds: readonly string[], until: Date, now: Date): Promise<void> {
    if (ids.length) await sql.query(`UPDATE instance SET hot_until = greatest(coalesce(hot_until, $2), $2) WHERE id = ANY($1::bigint[])`, [ids, until]);
    if (hotIds.length) await sql.query(`UPDATE instance SET access_tier = 'Hot', tier_changed_at = $2 WHERE id = ANY($1::bigint[])`, [hotIds, now]);
  }

  async recordCount(sql: SqlRunner, t: PrefetchTrigger, objects: number): Promise<void> {
    await sql.query(`UPDATE prefetch_trigger SET objects = $3 WHERE kind = $1 AND ref = $2`, [t.kind, t.ref, objects]);
  }
}
