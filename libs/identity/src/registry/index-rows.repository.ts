import { Injectable } from '@nestjs/common';
import type { DicomJson } from '#vna/dicom';
import type { SqlRunner } from '#vna/persistence';
import type { ReceivedPatient, RegistryLink, RowState } from './index-projection.js';
import { MAX_CHAIN } from './registry.repository.js';

/** An index `patient` row: its received identity and its current state. */
export interface IndexPatientRow extends ReceivedPatient {
  readonly id: string;
  readonly state: RowState;
}

interface Row {
  id: string;
  patient_id: string;
  issuer: string;
  attributes: DicomJson;
  registry_fk: string | null;
  registry_link: RegistryLink | null;
  current_patient_id: string;
  current_issuer: string;
  name_alphabetic: string;
  name_ideographic: string;
  name_phonetic: string;
  birth_date: string | null;
  sex: string | null;
  overlay: DicomJson;
}

const COLUMNS = `id, patient_id, issuer, attributes, registry_fk, registry_link, current_patient_id, current_issuer,
  name_alphabetic, name_ideographic, name_phonetic, birth_date, sex, overlay`;

function rowOf(r: Row): IndexPatientRow {
  return {
    id: String(r.id),
    patientId: r.patient_id,
    issuer: r.issuer,
    attributes: r.attributes,
    state: {
      registryFk: r.registry_fk === null ? null : String(r.registry_fk),
      registryLink: r.registry_link,
      currentPatientId: r.current_patient_id,
      currentIssuer: r.current_issuer,
      nameAlphabetic: r.name_alphabetic,
      nameIdeographic: r.name_ideographic,
      namePhonetic: r.name_phonetic,
      birthDate: r.birth_date,
      sex: r.sex,
      overlay: r.overlay,
    },
  };
}

/**
 * The index's patient rows as the registry maintains them: the link to a registry record and the
 * current identity, demographics and overlay. Only `patient` rows: never studies, series or
 * instances (a merge of a patient with 10,000 instances writes a handful of rows).
 */
@Injectable()
export class IndexRowsRepository {
  /** Rows linked to any of these records, locked for the change. */
  async linkedTo(tx: SqlRunner, registryIds: readonly string[]): Promise<IndexPatientRow[]> {
    if (registryIds.length === 0) return [];
    const rows: Row[] = await tx.query(`SELECT ${COLUMNS} FROM patient WHERE registry_fk = ANY($1::bigint[]) ORDER BY id FOR UPDATE`, [registryIds]);
    return rows.map(rowOf);
  }

  /** Rows linked to any record whose merge chain ends at `endId` (`endId` included), locked: one round trip. */
  async linkedToChain(tx: SqlRunner, endId: string): Promise<IndexPatientRow[]> {
    const rows: Row[] = await tx.query(
      `WITH RECURSIVE members(id, depth) AS (
         SELECT id, 0 FROM registry_patient WHERE id = $1
         UNION ALL
         SELECT p.id, m.depth + 1 FROM registry_patient p JOIN members m ON p.merged_into = m.id WHERE m.depth < ${MAX_CHAIN})
       SELECT ${COLUMNS} FROM patient WHERE registry_fk IN (SELECT id FROM members) ORDER BY id FOR UPDATE`,
      [endId],
    );
    return rows.map(rowOf);
  }

  /**
   * `linkedToChain(endId)` and `unlinkedWithIdentities(ids)` in one statement, locked. The
   * conditions stay on the rows themselves so that a row changed meanwhile is checked again once
   * locked; the chain's members are an array so that both halves use their index.
   */
  async linkedToChainOrUnlinkedWith(tx: SqlRunner, endId: string, ids: readonly { patientId: string; issuer: string }[], defaultIssuer: string): Promise<IndexPatientRow[]> {
    const rows: Row[] = await tx.query(
      `WITH RECURSIVE members(id, depth) AS (
         SELECT id, 0 FROM registry_patient WHERE id = $1
         UNION ALL
         SELECT p.id, m.depth + 1 FROM registry_patient p JOIN members m ON p.merged_into = m.id WHERE m.depth < ${MAX_CHAIN})
       SELECT ${COLUMNS} FROM patient
        WHERE registry_fk = ANY(ARRAY(SELECT id FROM members))
           OR (registry_fk IS NULL AND patient_id = ANY($3::text[])
               AND (CASE WHEN issuer = '' THEN $2 ELSE issuer END, patient_id) IN (SELECT * FROM unnest($4::text[], $3::text[])))
        ORDER BY id FOR UPDATE`,
      [endId, defaultIssuer, ids.map((i) => i.patientId), ids.map((i) => i.issuer)],
    );
    return rows.map(rowOf);
  }

  async byIds(tx: SqlRunner, ids: readonly string[], lock = true): Promise<IndexPatientRow[]> {
    if (ids.length === 0) return [];
    const rows: Row[] = await tx.query(`SELECT ${COLUMNS} FROM patient WHERE id = ANY($1::bigint[]) ORDER BY id${lock ? ' FOR UPDATE' : ''}`, [ids]);
    return rows.map(rowOf);
  }

  /**
   * Unlinked rows received with one of these identities (an empty received issuer counting as the
   * default issuer), locked. Callers hold the identities' advisory locks.
   */
  async unlinkedWithIdentities(tx: SqlRunner, ids: readonly { patientId: string; issuer: string }[], defaultIssuer: string): Promise<IndexPatientRow[]> {
    if (ids.length === 0) return [];
    const rows: Row[] = await tx.query(
      `SELECT ${COLUMNS} FROM patient
        WHERE registry_fk IS NULL AND patient_id = ANY($2::text[])
          AND (CASE WHEN issuer = '' THEN $1 ELSE issuer END, patient_id) IN (SELECT * FROM unnest($3::text[], $2::text[]))
        ORDER BY id FOR UPDATE`,
      [defaultIssuer, ids.map((i) => i.patientId), ids.map((i) => i.issuer)],
    );
    return rows.map(rowOf);
  }

  /** Writes rows' states (one statement). */
  async write(tx: SqlRunner, rows: readonly { id: string; state: RowState }[]): Promise<void> {
    if (rows.length === 0) return;
    const records = rows.map(({ id, state: s }) => ({
      id,
      registry_fk: s.registryFk,
      registry_link: s.registryLink,
      current_patient_id: s.currentPatientId,
      current_issuer: s.currentIssuer,
      name_alphabetic: s.nameAlphabetic,
      name_ideographic: s.nameIdeographic,
      name_phonetic: s.namePhonetic,
      birth_date: s.birthDate,
      sex: s.sex,
      overlay: s.overlay,
    }));
    await tx.query(
      `UPDATE patient p SET registry_fk = s.registry_fk, registry_link = s.registry_link, current_patient_id = s.current_patient_id,
              current_issuer = s.current_issuer, name_alphabetic = s.name_alphabetic, name_ideographic = s.name_ideographic,
              name_phonetic = s.name_phonetic, birth_date = s.birth_date, sex = s.sex, overlay = s.overlay, updated_at = now()
         FROM jsonb_to_recordset($1::jsonb) AS s(id bigint, registry_fk bigint, registry_link text, current_patient_id text, current_issuer text,
              name_alphabetic text, name_ideographic text, name_phonetic text, birth_date text, sex text, overlay jsonb)
        WHERE p.id = s.id`,
      [JSON.stringify(records)],
    );
  }

  /** The studies of rows (Study Instance UIDs), for what HIM sees a change touched. */
  async studyUids(tx: SqlRunner, rowIds: readonly string[]): Promise<string[]> {
    if (rowIds.length === 0) return [];
    const rows: { study_uid: string }[] = await tx.query(`SELECT study_uid FROM study WHERE patient_fk = ANY($1::bigint[]) ORDER BY id`, [rowIds]);
    return rows.map((r) => r.study_uid);
  }
}
