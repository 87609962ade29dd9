import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * When each scheduled lifecycle job last ran: every process of a cluster has the schedule, and the
 * first one due runs the job for all (the others find it ran and skip).
 */
export class LifecycleJobRuns1732600000300 implements MigrationInterface {
  name = 'LifecycleJobRuns1732600000300';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE TABLE lifecycle_job_run (job text PRIMARY KEY, last_run_at timestamptz NOT NULL, outcome jsonb NOT NULL DEFAULT '{}')`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE IF EXISTS lifecycle_job_run`);
  }
}
