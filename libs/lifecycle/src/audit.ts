import type { SqlRunner } from '#vna/persistence';

/** An audit record in the archive's event log (who, when, what, why): every lifecycle decision writes one. */
export async function auditEvent(sql: SqlRunner, kind: string, actor: string, studyUid: string | null, detail: Record<string, unknown>, at: Date): Promise<void> {
  await sql.query(`INSERT INTO archive_event (at, kind, actor, study_uid, detail) VALUES ($1, $2, $3, $4, $5::jsonb)`, [at, kind, actor, studyUid, JSON.stringify(detail)]);
}
