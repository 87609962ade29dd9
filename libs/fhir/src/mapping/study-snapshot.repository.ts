import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { DataSource } from 'typeorm';
import type { SqlRunner } from '#vna/persistence';
import type { SeriesSnapshot, StudySnapshot } from './study-snapshot.js';

type DicomJson = Record<string, { Value?: unknown[] } | undefined>;

interface StudyRow {
  id: string;
  study: Record<string, unknown> & { study_uid: string; overlay?: DicomJson; attributes?: DicomJson };
  patient_row: string;
  registry_id: string | null;
  patient_id: string;
  issuer: string;
  name: string;
  birth_date: string | null;
  sex: string | null;
  order_accession: string | null;
  order_accession_issuer: string | null;
  placer_order_number: string | null;
  placer_issuer: string | null;
  code_value: string | null;
  code_scheme: string | null;
  code_meaning: string | null;
  procedure_description: string | null;
}

interface InstanceRow {
  study_fk: string;
  series_uid: string;
  series_number: number | null;
  modality: string | null;
  description: string | null;
  body_part: string | null;
  performed_start_date: string | null;
  performed_start_time: string | null;
  sop_instance_uid: string;
  sop_class_uid: string;
  instance_number: number | null;
}

/** The first value of a DICOM JSON attribute (a string, or a PN's alphabetic group). */
function first(json: DicomJson | undefined, tag: string): string | undefined {
  const entry = json?.[tag];
  if (!entry) return undefined;
  const value = entry.Value?.[0];
  if (value === undefined || value === null) return '';
  if (typeof value === 'object') return ((value as { Alphabetic?: string }).Alphabetic ?? '').trim();
  return String(value).trim();
}

/** IssuerOfAccessionNumberSequence (0008,0051): Local Namespace Entity ID, else Universal Entity ID. */
function accessionIssuer(json: DicomJson | undefined): string | null {
  const item = json?.['00080051']?.Value?.[0] as DicomJson | undefined;
  return first(item, '00400031') || first(item, '00400032') || null;
}

/** The overlay's value where corrections set one (the egress overlay's study-level values), else the row's. */
function corrected(row: StudyRow['study'], tag: string, column: string): string | null {
  const over = first(row.overlay, tag);
  if (over !== undefined) return over || null;
  const v = row[column];
  return typeof v === 'string' && v.trim() ? v : null;
}

/**
 * Reads studies as the FHIR mappers see them: the current identity (registry, merges), corrected
 * study values, the instances query and retrieve show (current, minus IOCM rejection notes).
 */
@Injectable()
export class StudySnapshotRepository {
  private iocm: { exists: boolean; checkedAt: number } = { exists: false, checkedAt: 0 };

  constructor(@InjectDataSource() private readonly db: DataSource) {}

  /** Rejection notes are a later feature's table: used when the schema has it. */
  private async hasIocm(run: SqlRunner): Promise<boolean> {
    if (this.iocm.exists || Date.now() - this.iocm.checkedAt < 60_000) return this.iocm.exists;
    const [row] = (await run.query(`SELECT to_regclass('iocm_rejection') IS NOT NULL AS exists`)) as { exists: boolean }[];
    this.iocm = { exists: !!row?.exists, checkedAt: Date.now() };
    return this.iocm.exists;
  }

  async load(studyUids: readonly string[], run: SqlRunner = this.db): Promise<Map<string, StudySnapshot>> {
    const out = new Map<string, StudySnapshot>();
    if (studyUids.length === 0) return out;
    const studies: StudyRow[] = await run.query(
      `SELECT s.id, to_jsonb(s) - 'attributes' || jsonb_build_object('attributes', jsonb_strip_nulls(jsonb_build_object('00080051', s.attributes -> '00080051'))) AS study,
              p.id AS patient_row, ri.registry_patient_fk AS registry_id, p.current_patient_id AS patient_id, p.current_issuer AS issuer,
              p.name_alphabetic AS name, p.birth_date, p.sex,
              o.accession_number AS order_accession, o.accession_issuer AS order_accession_issuer, o.placer_order_number, o.placer_issuer,
              rp.code_value, rp.code_scheme, rp.code_meaning, rp.description AS procedure_description
         FROM study s
         JOIN patient p ON p.id = s.patient_fk
         LEFT JOIN registry_identifier ri ON ri.issuer = p.current_issuer AND ri.patient_id = p.current_patient_id
         LEFT JOIN order_study_link l ON l.study_fk = s.id
         LEFT JOIN imaging_order o ON o.id = l.order_fk
         LEFT JOIN requested_procedure rp ON rp.study_uid = s.study_uid
        WHERE s.study_uid = ANY($1::text[])`,
      [studyUids],
    );
    if (studies.length === 0) return out;
    const notes = (await this.hasIocm(run)) ? `AND NOT EXISTS (SELECT 1 FROM iocm_rejection r WHERE r.note_sop_instance_uid = i.sop_instance_uid)` : '';
    const instances: InstanceRow[] = await run.query(
      `SELECT se.study_fk, se.series_uid, se.series_number, se.modality, se.description, se.body_part, se.performed_start_date, se.performed_start_time,
              i.sop_instance_uid, i.sop_class_uid, i.instance_number
         FROM series se JOIN instance i ON i.series_fk = se.id AND i.is_current ${notes}
        WHERE se.study_fk = ANY($1::bigint[])
        ORDER BY se.study_fk, se.series_number NULLS LAST, se.id, i.instance_number NULLS LAST, i.id`,
      [studies.map((s) => s.id)],
    );
    const seriesByStudy = new Map<string, Map<string, SeriesSnapshot & { instances: SeriesSnapshot['instances'][number][] }>>();
    for (const r of instances) {
      const key = String(r.study_fk);
      const bySeries = seriesByStudy.get(key) ?? new Map();
      seriesByStudy.set(key, bySeries);
      let series = bySeries.get(r.series_uid);
      if (!series) {
        series = {
          seriesUid: r.series_uid,
          number: r.series_number,
          modality: r.modality,
          description: r.description,
          bodyPart: r.body_part,
          startDate: r.performed_start_date,
          startTime: r.performed_start_time,
          instances: [],
        };
        bySeries.set(r.series_uid, series);
      }
      series.instances.push({ sopInstanceUid: r.sop_instance_uid, sopClassUid: r.sop_class_uid, number: r.instance_number });
    }
    for (const s of studies) {
      const row = s.study;
      out.set(row.study_uid, {
        studyUid: row.study_uid,
        studyDate: corrected(row, '00080020', 'study_date'),
        studyTime: corrected(row, '00080030', 'study_time'),
        accessionNumber: corrected(row, '00080050', 'accession_number'),
        accessionIssuer: accessionIssuer(row.overlay?.['00080051'] ? row.overlay : row.attributes) ?? (s.order_accession_issuer || null),
        description: corrected(row, '00081030', 'description'),
        referringPhysician: corrected(row, '00080090', 'referring_physician'),
        patient: { rowId: String(s.patient_row), registryId: s.registry_id === null ? null : String(s.registry_id), patientId: s.patient_id, issuer: s.issuer, name: s.name, birthDate: s.birth_date, sex: s.sex },
        order:
          s.order_accession === null
            ? null
            : {
                accessionNumber: s.order_accession,
                accessionIssuer: s.order_accession_issuer ?? '',
                placerOrderNumber: s.placer_order_number ?? '',
                placerIssuer: s.placer_issuer ?? '',
                procedureCode: s.code_value ? { code: s.code_value, scheme: s.code_scheme ?? '', meaning: s.code_meaning ?? '' } : null,
                procedureDescription: s.procedure_description ?? '',
              },
        series: [...(seriesByStudy.get(String(s.id))?.values() ?? [])],
      });
    }
    return out;
  }
}
