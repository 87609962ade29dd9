import { type DicomJson, Tag, tagToHex } from '#vna/dicom';
import type { PatientRow, StudyState } from './correction.model.js';

const STUDY_UID = tagToHex(Tag.StudyInstanceUID);
const PATIENT_ID = tagToHex(Tag.PatientID);

/** An attribute known to be empty: laid over a value the stored header has, it removes it from view. */
function emptied(json: DicomJson): DicomJson {
  return Object.fromEntries(Object.entries(json).map(([k, a]) => [k, { vr: a.vr }]));
}

/**
 * What a series moved into `to` carries on its way out (series.overlay), laid under the patient's
 * and the study's layers and over the stored headers (which still say where the series was
 * received): the new Study Instance UID, and every attribute of the old study (and, across
 * patients, of the old patient) emptied, so that no value of the old place shows through where the
 * new one has none. The new study's and patient's own attributes are laid on at egress from their
 * rows (STUDY_OVERLAY_SQL, PATIENT_OVERLAY_SQL), so later changes to them reach the moved series.
 * A series that once crossed patients keeps the Patient ID key, which marks it as having crossed.
 */
export function movedSeriesOverlay(current: DicomJson, from: { study: StudyState; patient: PatientRow }, to: { study: StudyState; patient: PatientRow }): DicomJson {
  const crossesPatients = from.patient.id !== to.patient.id || PATIENT_ID in current;
  const out: DicomJson = { ...emptied(current), ...emptied(from.study.attributes) };
  if (crossesPatients) Object.assign(out, emptied(from.patient.attributes), { [PATIENT_ID]: { vr: 'LO' } });
  out[STUDY_UID] = { vr: 'UI', Value: [to.study.studyUid] };
  return out;
}

/** JSON text with object keys sorted at every level: equal rows give equal text (jsonb reorders keys). */
export function canonical(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v && typeof v === 'object' && !Array.isArray(v) ? Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) : v,
  );
}
