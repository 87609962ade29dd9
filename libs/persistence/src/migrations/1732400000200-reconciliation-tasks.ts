import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Questions about identity that HIM staff answer (IHE PIR): a study whose patient the registry does
 * not know, a study whose order belongs to another patient, a merge held for review. Each task is
 * audited: who opened, closed and how, with the details of the case.
 */
export class ReconciliationTasks1732400000200 implements MigrationInterface {
  name = 'ReconciliationTasks1732400000200';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE reconciliation_task (
        id bigserial PRIMARY KEY,
        kind text NOT NULL,
        status text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'accepted', 'reassigned', 'dismissed', 'resolved')),
        study_fk bigint REFERENCES study (id) ON DELETE CASCADE,
        patient_fk bigint REFERENCES patient (id) ON DELETE CASCADE,
        subject text NOT NULL DEFAULT '',
        details jsonb NOT NULL DEFAULT '{}',
        opened_at timestamptz NOT NULL DEFAULT now(),
        opened_by text NOT NULL,
        closed_at timestamptz,
        closed_by text,
        resolution jsonb
      )`);
    // One open task per kind and subject (a study, say): re-opening is idempotent.
    await q.query(`CREATE UNIQUE INDEX reconciliation_task_open ON reconciliation_task (kind, subject) WHERE status = 'open'`);
    await q.query(`CREATE INDEX reconciliation_task_status ON reconciliation_task (status, opened_at)`);
    await q.query(`CREATE INDEX reconciliation_task_study ON reconciliation_task (study_fk)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE reconciliation_task`);
  }
}
