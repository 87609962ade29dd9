import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { DataSource } from 'typeorm';
import { SqlParams } from '#vna/archive';
import { preparedAutocommit, type SqlRunner } from '#vna/persistence';
import type { OrderStatus } from '#vna/identity';
import type { OrderRecord } from '../mapping/service-request.mapper.js';

export interface Page<T> {
  readonly total: number;
  readonly items: readonly T[];
}

/** A registry patient (`r<id>`) or an index patient the registry does not know (`p<id>`). */
export interface PatientRecord {
  readonly fid: string;
  readonly name: string;
  readonly birthDate: string | null;
  readonly sex: string | null;
  readonly status: 'active' | 'merged';
  readonly survivor: string | null;
  readonly replaces: readonly string[];
  readonly identifiers: readonly { readonly patientId: string; readonly issuer: string }[];
  /** For an index patient: the registry patient that now holds its identity, if any. */
  readonly seeAlso: string | null;
}

/**
 * The FHIR API's patients: registry patients (ADT, merges) and index patients whose identity the
 * registry does not know (one per identity). Subjects of studies use the same ids.
 */
const PATIENTS_CTE = `fp AS (
  SELECT 'r' || rp.id AS fid, 0 AS src, rp.id AS row_id, rp.name_alphabetic AS name, rp.birth_date, rp.sex
    FROM registry_patient rp WHERE rp.status <> 'void'
  UNION ALL
  SELECT 'p' || p.id, 1, p.id, p.name_alphabetic, p.birth_date, p.sex
    FROM patient p
   WHERE NOT EXISTS (SELECT 1 FROM registry_identifier ri WHERE ri.issuer = p.current_issuer AND ri.patient_id = p.current_patient_id)
     AND p.id = (SELECT min(q.id) FROM patient q WHERE q.current_patient_id = p.current_patient_id AND q.current_issuer = p.current_issuer))`;

/** SQL of the archive's FHIR searches (the conditions come from the API service, already parsed). */
@Injectable()
export class FhirSearchRepository {
  /**
   * Prepared statements on the pool: a search's text depends only on which parameters it has (the
   * values are parameters), so an EHR's few kinds of search are each parsed once per connection.
   */
  private readonly db: SqlRunner;

  constructor(@InjectDataSource() db: DataSource) {
    this.db = preparedAutocommit(db);
  }

  /**
   * Study UIDs matching `where` (over `study s JOIN patient p`, joined only when a condition names
   * `p`), newest first, and their total, in one statement. One row more than the page is read: when
   * it is not there the page is the last and the total follows from it, so the matches are counted
   * (a second pass over them all) only when there are more than a page (the ORDER BY is index
   * `study_newest_first`, so a page of a large result stops early instead of sorting every match).
   */
  async studies(where: readonly string[], p: SqlParams, count: number, offset: number): Promise<Page<string>> {
    // Every study has its patient (a NOT NULL foreign key): the join only serves conditions on `p`,
    // and without them page and count read the study rows alone.
    const patient = where.some((w) => /\bp\./.test(w)) ? 'JOIN patient p ON p.id = s.patient_fk' : '';
    const from = `FROM study s ${patient} ${where.length ? `WHERE ${where.join(' AND ')}` : ''}`;
    const n = p.add(count);
    const o = p.add(offset);
    const [row] = (await this.db.query(
      `WITH page AS MATERIALIZED (SELECT ARRAY(SELECT s.study_uid ${from}
                                   ORDER BY s.study_date DESC NULLS LAST, s.study_time DESC NULLS LAST, s.id DESC
                                   LIMIT ${n}::int + 1 OFFSET ${o}) AS uids)
       SELECT uids[1:${n}] AS uids,
              CASE WHEN cardinality(uids) <= ${n} AND (cardinality(uids) > 0 OR ${o} = 0) THEN ${o} + cardinality(uids)
                   ELSE (SELECT count(*) ${from}) END AS total
         FROM page`,
      p.values,
    )) as { uids: string[]; total: string }[];
    return { total: Number(row?.total ?? 0), items: row?.uids ?? [] };
  }

  /** Order ids matching `where` (over `imaging_order o`), newest first, and their total (paged as `studies`). */
  async orders(where: readonly string[], p: SqlParams, count: number, offset: number): Promise<Page<string>> {
    const from = `FROM imaging_order o ${where.length ? `WHERE ${where.join(' AND ')}` : ''}`;
    const n = p.add(count);
    const o = p.add(offset);
    const [row] = (await this.db.query(
      `WITH page AS MATERIALIZED (SELECT ARRAY(SELECT o.id::text ${from} ORDER BY o.id DESC LIMIT ${n}::int + 1 OFFSET ${o}) AS ids)
       SELECT ids[1:${n}] AS ids,
              CASE WHEN cardinality(ids) <= ${n} AND (cardinality(ids) > 0 OR ${o} = 0) THEN ${o} + cardinality(ids)
                   ELSE (SELECT count(*) ${from}) END AS total
         FROM page`,
      p.values,
    )) as { ids: string[]; total: string }[];
    return { total: Number(row?.total ?? 0), items: row?.ids ?? [] };
  }

  /**
   * Orders by id, in that order (unknown ids left out). The patient as ImagingStudy.subject names
   * it: the registry patient holding the order's identifier (an order without issuer has the
   * default one), followed to the survivor of any merge, else the first index patient of that
   * identity. The first requested procedure with a code or description; the earliest dated step.
   */
  async orderRecords(ids: readonly string[], defaultIssuer: string): Promise<OrderRecord[]> {
    const numeric = ids.filter((id) => /^\d{1,18}$/.test(id));
    if (numeric.length === 0) return [];
    const rows: {
      id: string;
      status: OrderStatus;
      accession_number: string;
      accession_issuer: string;
      placer_order_number: string;
      placer_issuer: string;
      filler_order_number: string;
      filler_issuer: string;
      patient_id: string;
      patient_issuer: string;
      registry_id: string | null;
      patient_row: string | null;
      code_value: string | null;
      code_scheme: string | null;
      code_meaning: string | null;
      description: string | null;
      start_date: string | null;
      start_time: string | null;
    }[] = await this.db.query(
      `SELECT o.id::text, o.status, o.accession_number, o.accession_issuer, o.placer_order_number, o.placer_issuer, o.filler_order_number, o.filler_issuer,
              o.patient_id, x.issuer AS patient_issuer,
              (SELECT registry_survivor(ri.registry_patient_fk) FROM registry_identifier ri WHERE ri.patient_id = o.patient_id AND ri.issuer = x.issuer
                ORDER BY ri.id LIMIT 1)::text AS registry_id,
              (SELECT min(q.id) FROM patient q WHERE q.current_patient_id = o.patient_id AND q.current_issuer = x.issuer)::text AS patient_row,
              rp.code_value, rp.code_scheme, rp.code_meaning, rp.description,
              st.start_date, st.start_time
         FROM imaging_order o
         CROSS JOIN LATERAL (SELECT CASE WHEN o.patient_issuer = '' THEN $2 ELSE o.patient_issuer END AS issuer) x
         LEFT JOIN LATERAL (SELECT r.code_value, r.code_scheme, r.code_meaning, r.description FROM requested_procedure r WHERE r.order_fk = o.id
                             ORDER BY (r.code_value <> '' OR r.code_meaning <> '' OR r.description <> '') DESC, r.id LIMIT 1) rp ON true
         LEFT JOIN LATERAL (SELECT ss.start_date, ss.start_time FROM requested_procedure r JOIN scheduled_step ss ON ss.procedure_fk = r.id
                             WHERE r.order_fk = o.id AND ss.start_date <> '' ORDER BY ss.start_date, ss.start_time, ss.id LIMIT 1) st ON true
        WHERE o.id = ANY($1::bigint[])`,
      [numeric, defaultIssuer],
    );
    const byId = new Map(
      rows.map((r) => [
        r.id,
        {
          id: r.id,
          status: r.status,
          accessionNumber: r.accession_number,
          accessionIssuer: r.accession_issuer,
          placerOrderNumber: r.placer_order_number,
          placerIssuer: r.placer_issuer,
          fillerOrderNumber: r.filler_order_number,
          fillerIssuer: r.filler_issuer,
          patientFid: r.registry_id !== null ? `r${r.registry_id}` : r.patient_row !== null ? `p${r.patient_row}` : null,
          patientId: r.patient_id,
          patientIssuer: r.patient_issuer,
          procedureCode: r.code_value || r.code_meaning ? { code: r.code_value ?? '', scheme: r.code_scheme ?? '', meaning: r.code_meaning ?? '' } : null,
          procedureDescription: r.description ?? '',
          startDate: r.start_date || null,
          startTime: r.start_time || null,
        } satisfies OrderRecord,
      ]),
    );
    return ids.map((id) => byId.get(id)).filter((r): r is OrderRecord => r !== undefined);
  }

  /** Patients matching `where` (over the `fp` rows: fid, src, row_id, name, birth_date, sex). */
  async patients(where: readonly string[], p: SqlParams, count: number, offset: number): Promise<Page<PatientRecord>> {
    const rows: { fid: string; total: string }[] = await this.db.query(
      `WITH ${PATIENTS_CTE}
       SELECT fid, count(*) OVER () AS total FROM fp ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
        ORDER BY src, row_id LIMIT ${p.add(count)} OFFSET ${p.add(offset)}`,
      p.values,
    );
    return { total: rows[0] ? Number(rows[0].total) : 0, items: await this.patientRecords(rows.map((r) => r.fid)) };
  }

  async patientRecords(fids: readonly string[]): Promise<PatientRecord[]> {
    const registry = fids.filter((f) => /^r\d{1,18}$/.test(f)).map((f) => f.slice(1));
    const index = fids.filter((f) => /^p\d{1,18}$/.test(f)).map((f) => f.slice(1));
    const out = new Map<string, PatientRecord>();
    if (registry.length) {
      const rows: { id: string; name_alphabetic: string; birth_date: string | null; sex: string | null; status: string; survivor: string | null; replaces: string[]; identifiers: { patientId: string; issuer: string }[] }[] =
        await this.db.query(
          `SELECT rp.id, rp.name_alphabetic, rp.birth_date, rp.sex, rp.status,
                  CASE WHEN rp.status = 'merged' THEN registry_survivor(rp.id) END AS survivor,
                  ARRAY(SELECT m.id::text FROM registry_patient m WHERE m.merged_into = rp.id ORDER BY m.id) AS replaces,
                  coalesce((SELECT jsonb_agg(jsonb_build_object('patientId', ri.patient_id, 'issuer', ri.issuer) ORDER BY ri.position, ri.id)
                              FROM registry_identifier ri WHERE ri.registry_patient_fk = rp.id AND ri.status = 'active'), '[]') AS identifiers
             FROM registry_patient rp WHERE rp.id = ANY($1::bigint[]) AND rp.status <> 'void'`,
          [registry],
        );
      for (const r of rows) {
        out.set(`r${r.id}`, {
          fid: `r${r.id}`,
          name: r.name_alphabetic,
          birthDate: r.birth_date,
          sex: r.sex,
          status: r.status === 'merged' ? 'merged' : 'active',
          survivor: r.survivor === null ? null : `r${r.survivor}`,
          replaces: r.replaces.map((id) => `r${id}`),
          identifiers: r.identifiers,
          seeAlso: null,
        });
      }
    }
    if (index.length) {
      const rows: { id: string; name_alphabetic: string; birth_date: string | null; sex: string | null; current_patient_id: string; current_issuer: string; registry_id: string | null }[] =
        await this.db.query(
          `SELECT p.id, p.name_alphabetic, p.birth_date, p.sex, p.current_patient_id, p.current_issuer, ri.registry_patient_fk AS registry_id
             FROM patient p LEFT JOIN registry_identifier ri ON ri.issuer = p.current_issuer AND ri.patient_id = p.current_patient_id
            WHERE p.id = ANY($1::bigint[])`,
          [index],
        );
      for (const r of rows) {
        out.set(`p${r.id}`, {
          fid: `p${r.id}`,
          name: r.name_alphabetic,
          birthDate: r.birth_date,
          sex: r.sex,
          status: 'active',
          survivor: null,
          replaces: [],
          identifiers: [{ patientId: r.current_patient_id, issuer: r.current_issuer }],
          seeAlso: r.registry_id === null ? null : `r${r.registry_id}`,
        });
      }
    }
    return fids.map((f) => out.get(f)).filter((r): r is PatientRecord => !!r);
  }
}
