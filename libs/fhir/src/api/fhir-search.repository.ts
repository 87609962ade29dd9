import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { DataSource } from 'typeorm';
import { SqlParams } from '#vna/archive';
import { preparedAutocommit, type SqlRunner } from '#vna/persistence';

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
   * Study UIDs matching `where` (over `study s JOIN patient p`), newest first, and their total, in
   * one statement. One row more than the page is read: when it is not there the page is the last
   * and the total follows from it, so the matches are counted (a second pass over them all) only
   * when there are more than a page (the ORDER BY is index `study_newest_first`, so a page of a
   * large result stops early instead of sorting every match).
   */
  async studies(where: readonly string[], p: SqlParams, count: number, offset: number): Promise<Page<string>> {
    const from = `FROM study s JOIN patient p ON p.id = s.patient_fk ${where.length ? `WHERE ${where.join(' AND ')}` : ''}`;
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
