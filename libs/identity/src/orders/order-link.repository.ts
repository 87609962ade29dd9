import { Injectable } from '@nestjs/common';
import type { SqlRunner } from '#vna/persistence';

/** A stored study as order linkage sees it: its accession and the patient it arrived with (and has now). */
export interface StudyIdentity {
  readonly studyRowId: string;
  readonly studyUid: string;
  readonly accessionNumber: string | null;
  readonly accessionIssuer: string;
  /** The identity in the objects' headers (patient.patient_id / issuer). */
  readonly receivedPatientId: string;
  readonly receivedIssuer: string;
  /** The identity the index gives the patient now (ADT updates, merges). */
  readonly currentPatientId: string;
  readonly currentIssuer: string;
}

export interface LinkedStudy extends StudyIdentity {
  readonly patientMatches: boolean;
  readonly notified: boolean;
}

/** Issuer of Accession Number Sequence (0008,0051) > Local Namespace Entity ID (0040,0031), else Universal Entity ID (0040,0032). */
const STUDY_ACCESSION_ISSUER = `COALESCE(NULLIF(st.attributes #>> '{00080051,Value,0,00400031,Value,0}', ''), st.attributes #>> '{00080051,Value,0,00400032,Value,0}', '')`;

const STUDY_COLUMNS = `st.id AS study_row_id, st.study_uid, st.accession_number, ${STUDY_ACCESSION_ISSUER} AS accession_issuer,
  p.patient_id, p.issuer, p.current_patient_id, p.current_issuer`;

interface RawStudy {
  study_row_id: string;
  study_uid: string;
  accession_number: string | null;
  accession_issuer: string;
  patient_id: string;
  issuer: string;
  current_patient_id: string;
  current_issuer: string;
}

function toStudy(r: RawStudy): StudyIdentity {
  return {
    studyRowId: String(r.study_row_id),
    studyUid: r.study_uid,
    accessionNumber: r.accession_number,
    accessionIssuer: r.accession_issuer,
    receivedPatientId: r.patient_id,
    receivedIssuer: r.issuer,
    currentPatientId: r.current_patient_id,
    currentIssuer: r.current_issuer,
  };
}

/** order_study_link: which order a stored study belongs to, and whether its patient agreed. */
@Injectable()
export class OrderLinkRepository {
  async isLinked(tx: SqlRunner, studyRowId: string): Promise<boolean> {
    return (await tx.query(`SELECT 1 FROM order_study_link WHERE study_fk = $1`, [studyRowId])).length > 0;
  }

  /** Records the link; false when the study was linked already (by a concurrent series, say). */
  async insert(tx: SqlRunner, orderId: string, study: StudyIdentity, patientMatches: boolean, actor: string): Promise<boolean> {
    const rows = await tx.query(
      `INSERT INTO order_study_link (study_fk, order_fk, study_uid, patient_matches, received_patient_id, received_issuer, linked_by)
       VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (study_fk) DO NOTHING RETURNING 1`,
      [study.studyRowId, orderId, study.studyUid, patientMatches, study.receivedPatientId, study.receivedIssuer, actor],
    );
    return rows.length > 0;
  }

  async setPatientMatches(tx: SqlRunner, studyRowId: string, matches: boolean): Promise<void> {
    await tx.query(`UPDATE order_study_link SET patient_matches = $2 WHERE study_fk = $1`, [studyRowId, matches]);
  }

  /** Marks the RIS notification as sent (its outbox message written); false when it already was. */
  async markNotified(tx: SqlRunner, studyRowId: string): Promise<boolean> {
    const rows = await tx.query(`UPDATE order_study_link SET notified_at = now() WHERE study_fk = $1 AND notified_at IS NULL RETURNING 1`, [studyRowId]);
    return rows.length > 0;
  }

  async study(tx: SqlRunner, studyRowId: string): Promise<StudyIdentity | undefined> {
    const rows: RawStudy[] = await tx.query(`SELECT ${STUDY_COLUMNS} FROM study st JOIN patient p ON p.id = st.patient_fk WHERE st.id = $1`, [studyRowId]);
    return rows[0] ? toStudy(rows[0]) : undefined;
  }

  /** The studies linked to an order, each with its patient as stored now. */
  async linkedTo(tx: SqlRunner, orderId: string): Promise<LinkedStudy[]> {
    const rows: (RawStudy & { patient_matches: boolean; notified_at: Date | null })[] = await tx.query(
      `SELECT ${STUDY_COLUMNS}, l.patient_matches, l.notified_at
         FROM order_study_link l JOIN study st ON st.id = l.study_fk JOIN patient p ON p.id = st.patient_fk
        WHERE l.order_fk = $1 ORDER BY l.study_fk`,
      [orderId],
    );
    return rows.map((r) => ({ ...toStudy(r), patientMatches: r.patient_matches, notified: r.notified_at !== null }));
  }

  /** Stored studies not linked to any order that carry this accession number or one of these Study Instance UIDs. */
  async unlinked(tx: SqlRunner, accessionNumber: string, studyUids: readonly string[]): Promise<StudyIdentity[]> {
    const rows: RawStudy[] = await tx.query(
      `SELECT ${STUDY_COLUMNS} FROM study st JOIN patient p ON p.id = st.patient_fk
        WHERE (st.accession_number = $1 OR st.study_uid = ANY($2::text[]))
          AND NOT EXISTS (SELECT 1 FROM order_study_link l WHERE l.study_fk = st.id)
        ORDER BY st.id LIMIT 100`,
      [accessionNumber, studyUids],
    );
    return rows.map(toStudy);
  }
}
