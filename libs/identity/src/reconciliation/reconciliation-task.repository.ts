import { Injectable } from '@nestjs/common';
import type { SqlRunner } from '#vna/persistence';

export type ReconciliationTaskKind = 'unknown-patient' | 'order-patient-mismatch' | 'merge-review' | (string & {});

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
}
