/**
 * The one definition of "this study is under legal hold" (ARCHITECTURE.md invariant 6: a legal
 * hold wins), as an SQL predicate over a `study` row aliased `alias`: an active hold on the study,
 * or on its patient as the index knows them now (after merges and identifier changes). Every
 * path that deletes, expires or moves data away uses it, directly or through LegalHoldService.
 */
export function studyHeldSql(alias: string): string {
  return `EXISTS (SELECT 1 FROM legal_hold lh WHERE lh.released_at IS NULL AND (
    (lh.scope = 'study' AND lh.study_uid = ${alias}.study_uid)
    OR (lh.scope = 'patient' AND EXISTS (SELECT 1 FROM patient hp WHERE hp.id = ${alias}.patient_fk AND hp.current_patient_id = lh.patient_id AND hp.current_issuer = lh.issuer))))`;
}
