import { Inject, Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { DataSource } from 'typeorm';
import { SqlParams } from '#vna/archive';
import { VNA_CONFIG, type VnaConfig } from '#vna/config';
import type { DicomJson } from '#vna/dicom';
import type { CodedValue, IdentifierWithIssuer, OrderStatus } from './order.model.js';
import { worklistItem } from './worklist-item.js';
import { CURRENT, worklistConditions } from './worklist-matching.js';

export { WorklistQueryError } from './worklist-matching.js';

interface RawItem {
  accession_number: string;
  accession_issuer: string;
  placer_order_number: string;
  filler_order_number: string;
  patient_id: string;
  patient_issuer: string;
  patient_name_alphabetic: string;
  patient_name_ideographic: string;
  patient_name_phonetic: string;
  patient_birth_date: string | null;
  patient_sex: string | null;
  other_patient_ids: IdentifierWithIssuer[];
  admission_id: string;
  patient_location: string;
  referring_physician: string;
  requesting_physician: string;
  requested_procedure_id: string;
  study_uid: string;
  code_value: string;
  code_scheme: string;
  code_meaning: string;
  description: string;
  priority: string;
  reason: string;
  step_id: string;
  status: OrderStatus;
  modality: string;
  station_aet: string;
  station_name: string;
  location: string;
  start_date: string;
  start_time: string;
  step_description: string;
  protocol_codes: CodedValue[];
  performing_physician: string;
}

/**
 * The Modality Worklist (PS3.4 K.6, IHE SWF RAD-5): the open scheduled procedure steps that match
 * a query, each as a worklist item in the DICOM JSON model (text in Unicode; the DIMSE edge
 * encodes it in the character set it declares). The DIMSE SCP routes Modality Worklist C-FIND here.
 */
@Injectable()
export class WorklistService {
  constructor(
    @InjectDataSource() private readonly db: DataSource,
    @Inject(VNA_CONFIG) private readonly config: VnaConfig,
  ) {}

  /** Throws WorklistQueryError for a key value that is not valid (a malformed date range, say). */
  async find(query: DicomJson, limit = this.config.qido.maxResults): Promise<{ matches: DicomJson[]; truncated: boolean }> {
    const p = new SqlParams();
    const defaultIssuer = p.add(this.config.identity.defaultPatientIdIssuer);
    const where = worklistConditions(query, p);
    const max = Math.max(1, Math.min(limit, this.config.qido.maxResults));
    const rows: RawItem[] = await this.db.query(
      `SELECT o.accession_number, o.accession_issuer, o.placer_order_number, o.filler_order_number,
              ${CURRENT.patientId} AS patient_id, ${CURRENT.issuer} AS patient_issuer, ${CURRENT.nameAlphabetic} AS patient_name_alphabetic,
              ${CURRENT.nameIdeographic} AS patient_name_ideographic, ${CURRENT.namePhonetic} AS patient_name_phonetic,
              ${CURRENT.birthDate} AS patient_birth_date, ${CURRENT.sex} AS patient_sex,
              o.other_patient_ids, o.admission_id, o.patient_location, o.referring_physician, o.requesting_physician,
              rp.requested_procedure_id, rp.study_uid, rp.code_value, rp.code_scheme, rp.code_meaning, rp.description, rp.priority, rp.reason,
              ss.step_id, ss.status, ss.modality, ss.station_aet, ss.station_name, ss.location, ss.start_date, ss.start_time,
              ss.description AS step_description, ss.protocol_codes, ss.performing_physician
         FROM scheduled_step ss
         JOIN requested_procedure rp ON rp.id = ss.procedure_fk
         JOIN imaging_order o ON o.id = rp.order_fk
         -- The patient now: the registry record the order's identifier belongs to, followed to the
         -- survivor of any merge, with its active identifier (the order's issuer first, after an A47 the new one).
         LEFT JOIN LATERAL (
           SELECT si.patient_id, si.issuer, sp.name_alphabetic, sp.name_ideographic, sp.name_phonetic, sp.birth_date, sp.sex
             FROM registry_identifier ri
             JOIN registry_patient sp ON sp.id = registry_survivor(ri.registry_patient_fk)
             JOIN LATERAL (
               SELECT x.patient_id, x.issuer FROM registry_identifier x
                WHERE x.registry_patient_fk = sp.id AND x.status = 'active'
                ORDER BY (x.issuer = ri.issuer) DESC, x.position, x.id LIMIT 1
             ) si ON true
            WHERE ri.patient_id = o.patient_id AND ri.issuer = (CASE WHEN o.patient_issuer = '' THEN ${defaultIssuer} ELSE o.patient_issuer END)
         ) cur ON true
        WHERE ${where.join(' AND ')}
        ORDER BY ss.start_date, ss.start_time, ss.id
        LIMIT ${p.add(max + 1)}`,
      p.values,
    );
    const truncated = rows.length > max;
    return {
      truncated,
      matches: rows.slice(0, max).map((r) =>
        worklistItem({
          accessionNumber: r.accession_number,
          accessionIssuer: r.accession_issuer,
          placerOrderNumber: r.placer_order_number,
          fillerOrderNumber: r.filler_order_number,
          patientId: r.patient_id,
          patientIssuer: r.patient_issuer,
          patientName: { alphabetic: r.patient_name_alphabetic, ideographic: r.patient_name_ideographic, phonetic: r.patient_name_phonetic },
          patientBirthDate: r.patient_birth_date,
          patientSex: r.patient_sex,
          otherPatientIds: r.other_patient_ids,
          admissionId: r.admission_id,
          patientLocation: r.patient_location,
          referringPhysician: r.referring_physician,
          requestingPhysician: r.requesting_physician,
          requestedProcedureId: r.requested_procedure_id,
          studyUid: r.study_uid,
          procedureCode: r.code_value || r.code_meaning ? { value: r.code_value, scheme: r.code_scheme, meaning: r.code_meaning } : null,
          procedureDescription: r.description,
          priority: r.priority,
          reason: r.reason,
          stepId: r.step_id,
          stepStatus: r.status,
          modality: r.modality,
          stationAet: r.station_aet,
          stationName: r.station_name,
          location: r.location,
          startDate: r.start_date,
          startTime: r.start_time,
          stepDescription: r.step_description,
          protocolCodes: r.protocol_codes,
          performingPhysician: r.performing_physician,
        }),
      ),
    };
  }
}
