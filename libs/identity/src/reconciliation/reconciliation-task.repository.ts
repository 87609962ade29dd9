import { Injectable } from '@nestjs/common';
import type { SqlRunner } from '#vna/persistence';

export type ReconciliationTaskKind = 'unknown-patient' | 'order-patient-mismatch' | 'merge-review' | (string & {});

export type ReconciliationTaskStatus = 'open' | 'accepted' | 'reassigned' | 'dismissed' | 'resolved';

/** A task as HIM staff see it. */
export interface ReconciliationTask {
  readonly id: string;
  readonly kind: ReconciliationTaskKind;
  readonly status: ReconciliationTaskStatus;
  readonly subject: string;
  readonly studyRowId: string | null;
  readonly studyUid: string | null;
  readonly patientRowId: string | null;
  readonly details: Record<string, unknown>;
  readonly openedAt: string;
  readonly openedBy: string;
  readonly closedAt: string | null;
  readonly closedBy: string | null;
  readonly resolution: Record<string, unknown> | null;
}

export interface TaskQuery {
  readonly status?: ReconciliationTaskStatus;
  readonly kind?: string;
  readonly subject?: string;
  /** Tasks about this index patient row or about a study of it. */
  readonly patientRowId?: string;
  readonly studyUid?: string;
  readonly limit: number;
  readonly offset: number;
}

interface TaskRow {
  id: string;
  kind: string;
  status: ReconciliationTaskStatus;
  subject: string;
  study_fk: string | null;
  study_uid: string | null;
  patient_fk: string | null;
  details: Record<string, unknown>;
  opened_at: Date;
  opened_by: string;
  closed_at: Date | null;
  closed_by: string | null;
  resolution: Record<string, unknown> | null;
}

function taskOf(r: TaskRow): ReconciliationTask {
  return {
    id: String(r.id),
    kind: r.kind,
    status: r.status,
    subject: r.subject,
    studyRowId: r.study_fk === null ? null : String(r.study_fk),
    studyUid: r.study_uid,
    patientRowId: r.patient_fk === null ? null : String(r.patient_fk),
    details: r.details,
    openedAt: r.opened_at.toISOString(),
    openedBy: r.opened_by,
    closedAt: r.closed_at ? r.closed_at.toISOString() : null,
    closedBy: r.closed_by,
    resolution: r.resolution,
  };
}

const TASK_COLUMNS = `t.id, t.kind, t.status, t.subject, t.study_fk, st.study_uid, t.patient_fk, t.details, t.opened_at, t.opened_by, t.closed_at, t.closed_by, t.resolution`;

export interface OpenTask {
  readonly kind: ReconciliationTaskKind;
  /** What the task is about, unique among open tasks of its kind (e.g. `study:<uid>`). */
  readonly subject: string;
  readonly studyRowId?: string;
  readonly patientRowId?: string;
  /** The case: received values, registry values, order numbers... (shown to HIM staff). */
  readonly details: Record<string, unknown>;
  /** Who opened it: 'ingest', 'hl7:<app>@<facility>', a user. */
  readonly openedBy: string;
}

/**
 * Reconciliation tasks (table reconciliation_task). Opening is idempotent per (kind, subject) while
 * a task is open; every write runs in the caller's transaction, so a task exists exactly when the
 * change that raised it commits.
 */
@Injectable()
export class ReconciliationTaskRepository {
  async open(tx: SqlRunner, task: OpenTask): Promise<string> {
    const rows: { id: string }[] = await tx.query(
      `WITH ins AS (
         INSERT INTO reconciliation_task (kind, subject, study_fk, patient_fk, details, opened_by)
         VALUES ($1, $2, $3, $4, $5::jsonb, $6)
         ON CONFLICT (kind, subject) WHERE status = 'open' DO NOTHING RETURNING id)
       SELECT id FROM ins UNION ALL (SELECT id FROM reconciliation_task WHERE kind = $1 AND subject = $2 AND status = 'open') LIMIT 1`,
      [task.kind, task.subject, task.studyRowId ?? null, task.patientRowId ?? null, JSON.stringify(task.details), task.openedBy],
    );
    return String(rows[0]!.id);
  }

  /** Closes the open tasks of a kind and subject that a later message answered (status 'resolved'). */
  async resolve(tx: SqlRunner, kind: ReconciliationTaskKind, subject: string, by: string, resolution: Record<string, unknown>): Promise<number> {
    const rows: { id: string }[] = await tx.query(
      `UPDATE reconciliation_task SET status = 'resolved', closed_at = now(), closed_by = $3, resolution = $4::jsonb
        WHERE kind = $1 AND subject = $2 AND status = 'open' RETURNING id`,
      [kind, subject, by, JSON.stringify(resolution)],
    );
    return rows.length;
  }

  /**
   * Opens a task unless one of its kind and subject was already closed as one of `settled` (HIM
   * accepted or dismissed the case: a new object of the same case does not ask again). Returns the
   * open task's id, or undefined when it was settled.
   */
  async openUnlessSettled(tx: SqlRunner, task: OpenTask, settled: readonly ReconciliationTaskStatus[]): Promise<string | undefined> {
    const rows: { id: string }[] = await tx.query(
      `WITH settled AS (SELECT 1 FROM reconciliation_task WHERE kind = $1 AND subject = $2 AND status = ANY($7::text[]) LIMIT 1),
       ins AS (
         INSERT INTO reconciliation_task (kind, subject, study_fk, patient_fk, details, opened_by)
         SELECT $1, $2, $3, $4, $5::jsonb, $6 WHERE NOT EXISTS (SELECT 1 FROM settled)
         ON CONFLICT (kind, subject) WHERE status = 'open' DO NOTHING RETURNING id)
       SELECT id FROM ins UNION ALL (SELECT id FROM reconciliation_task WHERE kind = $1 AND subject = $2 AND status = 'open') LIMIT 1`,
      [task.kind, task.subject, task.studyRowId ?? null, task.patientRowId ?? null, JSON.stringify(task.details), task.openedBy, settled],
    );
    return rows[0] ? String(rows[0].id) : undefined;
  }

  async get(tx: SqlRunner, id: string, lock = false): Promise<ReconciliationTask | undefined> {
    const rows: TaskRow[] = await tx.query(
      `SELECT ${TASK_COLUMNS} FROM reconciliation_task t LEFT JOIN study st ON st.id = t.study_fk WHERE t.id = $1${lock ? ' FOR UPDATE OF t' : ''}`,
      [id],
    );
    return rows[0] ? taskOf(rows[0]) : undefined;
  }

  async list(tx: SqlRunner, q: TaskQuery): Promise<ReconciliationTask[]> {
    const where: string[] = [];
    const params: unknown[] = [];
    const add = (v: unknown): string => {
      params.push(v);
      return `$${params.length}`;
    };
    if (q.status) where.push(`t.status = ${add(q.status)}`);
    if (q.kind) where.push(`t.kind = ${add(q.kind)}`);
    if (q.subject) where.push(`t.subject = ${add(q.subject)}`);
    if (q.patientRowId) {
      const p = add(q.patientRowId);
      where.push(`(t.patient_fk = ${p} OR st.patient_fk = ${p})`);
    }
    if (q.studyUid) where.push(`st.study_uid = ${add(q.studyUid)}`);
    const rows: TaskRow[] = await tx.query(
      `SELECT ${TASK_COLUMNS} FROM reconciliation_task t LEFT JOIN study st ON st.id = t.study_fk
        ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY t.opened_at DESC, t.id DESC LIMIT ${add(q.limit)} OFFSET ${add(q.offset)}`,
      params,
    );
    return rows.map(taskOf);
  }

  /** Closes an open task as HIM decided (accepted, reassigned, dismissed), with who and why; false when it was not open. */
  async close(tx: SqlRunner, id: string, status: Exclude<ReconciliationTaskStatus, 'open'>, by: string, resolution: Record<string, unknown>): Promise<boolean> {
    const rows: { id: string }[] = await tx.query(
      `UPDATE reconciliation_task SET status = $2, closed_at = now(), closed_by = $3, resolution = $4::jsonb WHERE id = $1 AND status = 'open' RETURNING id`,
      [id, status, by, JSON.stringify(resolution)],
    );
    return rows.length === 1;
  }

  /** Adds to a closed task's resolution (e.g. that its decision was undone, by whom and why). */
  async annotate(tx: SqlRunner, id: string, extra: Record<string, unknown>): Promise<void> {
    await tx.query(`UPDATE reconciliation_task SET resolution = COALESCE(resolution, '{}'::jsonb) || $2::jsonb WHERE id = $1`, [id, JSON.stringify(extra)]);
  }
}
