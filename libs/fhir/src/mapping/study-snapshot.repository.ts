import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { DataSource } from 'typeorm';
import { preparedAutocommit, type SqlRunner } from '#vna/persistence';
import type { SeriesSnapshot, StudySnapshot } from './study-snapshot.js';

type DicomJson = Record<string, { Value?: unknown[] } | undefined>;

interface StudyRow {
  id: string;
  study_uid: string;
  study_date: string | null;
  study_time: string | null;
  accession_number: string | null;
  description: string | null;
  referring_physician: string | null;
  overlay: DicomJson | null;
  /** The study's IssuerOfAccessionNumberSequence (0008,0051) only, not its whole header. */
  accession_issuer_item: DicomJson[string] | null;
  patient_row: string;
  registry_id: string | null;
  patient_id: string;
  issuer: string;
  name: string;
  birth_date: string | null;
  sex: string | null;
  order_id: string | null;
  order_accession: string | null;
  order_accession_issuer: string | null;
  placer_order_number: string | null;
  placer_issuer: string | null;
  code_value: string | null;
  code_scheme: string | null;
  code_meaning: string | null;
  procedure_description: string | null;
  /** The study's visible instances in series and instance order: [series_uid, series_number, modality, description, body_part, performed_start_date, performed_start_time, sop_instance_uid, sop_class_uid, instance_number]. */
  instances: InstanceTuple[];
}

type InstanceTuple = [string, number | null, string | null, string | null, string | null, string | null, string | null, string, string, number | null];

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
function corrected(overlay: DicomJson | null, tag: string, v: string | null): string | null {
  const over = first(overlay ?? undefined, tag);
  if (over !== undefined) return over || null;
  return typeof v === 'string' && v.trim() ? v : null;
}

/**
 * Reads studies as the FHIR mappers see them: the current identity (registry, merges), corrected
 * study values, the instances query and retrieve show (current, minus IOCM rejection notes).
 */
@Injectable()
export class StudySnapshotRepository {
  /** Prepared statements on the pool: the API loads every search's page with the same statement. */
  private readonly db: SqlRunner;

  constructor(@InjectDataSource() db: DataSource) {
    this.db = preparedAutocommit(db);
  }

  /**
   * One statement: the study rows with their instances aggregated beside them (one round trip;
   * the study's header is not read beyond (0008,0051), so its TOASTed JSON stays on disk).
   */
  async load(studyUids: readonly string[], run: SqlRunner = this.db): Promise<Map<string, StudySnapshot>> {
    const out = new Map<string, StudySnapshot>();
    if (studyUids.length === 0) return out;
    const studies: StudyRow[] = await run.query(
      `SELECT s.id, s.study_uid, s.study_date, s.study_time, s.accession_number, s.description, s.referring_physician, s.overlay,
              s.attributes -> '00080051' AS accession_issuer_item,
              p.id AS patient_row, ri.registry_patient_fk AS registry_id, p.current_patient_id AS patient_id, p.current_issuer AS issuer,
              p.name_alphabetic AS name, p.birth_date, p.sex,
              o.id AS order_id, o.accession_number AS order_accession, o.accession_issuer AS order_accession_issuer, o.placer_order_number, o.placer_issuer,
              rp.code_value, rp.code_scheme, rp.code_meaning, rp.description AS procedure_description,
              coalesce((SELECT json_agg(json_build_array(se.series_uid, se.series_number, se.modality, se.description, se.body_part, se.performed_start_date, se.performed_start_time,
                                                         i.sop_instance_uid, i.sop_class_uid, i.instance_number)
                                        ORDER BY se.series_number NULLS LAST, se.id, i.instance_number NULLS LAST, i.id)
                          FROM series se JOIN instance i ON i.series_fk = se.id AND i.is_current
                               -- IOCM rejection notes stay retrievable, but are not part of the study an EHR sees
                               AND NOT EXISTS (SELECT 1 FROM iocm_rejection r WHERE r.note_sop_instance_uid = i.sop_instance_uid)
                         WHERE se.study_fk = s.id), '[]') AS instances
         FROM study s
         JOIN patient p ON p.id = s.patient_fk
         LEFT JOIN registry_identifier ri ON ri.issuer = p.current_issuer AND ri.patient_id = p.current_patient_id
         LEFT JOIN order_study_link l ON l.study_fk = s.id
         LEFT JOIN imaging_order o ON o.id = l.order_fk
         LEFT JOIN requested_procedure rp ON rp.study_uid = s.study_uid
        WHERE s.study_uid = ANY($1::text[])`,
      [studyUids],
    );
    for (const s of studies) {
      const bySeries = new Map<string, SeriesSnapshot & { instances: SeriesSnapshot['instances'][number][] }>();
      for (const [seriesUid, number, modality, description, bodyPart, startDate, startTime, sopInstanceUid, sopClassUid, instanceNumber] of s.instances) {
        let series = bySeries.get(seriesUid);
        if (!series) {
          series = { seriesUid, number, modality, description, bodyPart, startDate, startTime, instances: [] };
          bySeries.set(seriesUid, series);
        }
        series.instances.push({ sopInstanceUid, sopClassUid, number: instanceNumber });
      }
      const overlay = s.overlay;
      const studyIssuer: DicomJson | undefined = s.accession_issuer_item ? { '00080051': s.accession_issuer_item } : undefined;
      out.set(s.study_uid, {
        studyUid: s.study_uid,
        studyDate: corrected(overlay, '00080020', s.study_date),
        studyTime: corrected(overlay, '00080030', s.study_time),
        accessionNumber: corrected(overlay, '00080050', s.accession_number),
        accessionIssuer: accessionIssuer(overlay?.['00080051'] ? overlay : studyIssuer) ?? (s.order_accession_issuer || null),
        description: corrected(overlay, '00081030', s.description),
        referringPhysician: corrected(overlay, '00080090', s.referring_physician),
        patient: { rowId: String(s.patient_row), registryId: s.registry_id === null ? null : String(s.registry_id), patientId: s.patient_id, issuer: s.issuer, name: s.name, birthDate: s.birth_date, sex: s.sex },
        order:
          s.order_accession === null
            ? null
            : {
                id: String(s.order_id),
                accessionNumber: s.order_accession,
                accessionIssuer: s.order_accession_issuer ?? '',
                placerOrderNumber: s.placer_order_number ?? '',
                placerIssuer: s.placer_issuer ?? '',
                procedureCode: s.code_value ? { code: s.code_value, scheme: s.code_scheme ?? '', meaning: s.code_meaning ?? '' } : null,
                procedureDescription: s.procedure_description ?? '',
              },
        series: [...bySeries.values()],
      });
    }
    return out;
  }
}
