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
 * current attributes and over the stored headers (which still say where the series was received):
 * the new Study Instance UID, and when the move crossed patients the target patient's received
 * attributes. Attributes the old place had and the new one lacks are emptied, so no value of the
 * old study or patient shows through. The target study's own attributes are laid on at egress
 * from its row (STUDY_OVERLAY_SQL), so later corrections of it reach the moved series too.
 */
export function movedSeriesOverlay(current: DicomJson, from: { study: StudyState; patient: PatientRow }, to: { study: StudyState; patient: PatientRow }): DicomJson {
  const crossesPatients = from.patient.id !== to.patient.id || PATIENT_ID in current;
  const out: DicomJson = { ...emptied(current), ...emptied(from.study.attributes) };
  if (crossesPatients) {
    Object.assign(out, emptied(from.patient.attributes), to.patient.attributes);
    out[PATIENT_ID] = { vr: 'LO', Value: [to.patient.patientId] };
  }
  Object.assign(out, to.study.attributes);
  out[STUDY_UID] = { vr: 'UI', Value: [to.study.studyUid] };
  return out;
}

/** JSON text with object keys sorted at every level: equal rows give equal text (jsonb reorders keys). */
export function canonical(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v && typeof v === 'object' && !Array.isArray(v) ? Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) : v,
  );
}
