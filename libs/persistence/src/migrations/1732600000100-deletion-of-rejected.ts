import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Deletion requests for some instances of a study, not the whole study: what an IHE IOCM rejection
 * note with reason 113039 (Data Retention Policy Expired) asks for. They go through the same
 * workflow (approvals, legal hold check, tombstone); `sop_instance_uids` NULL is the whole study.
 */
export class DeletionOfRejected1732600000100 implements MigrationInterface {
  name = 'DeletionOfRejected1732600000100';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE deletion_request ADD COLUMN sop_instance_uids text[]`);
    await q.query(`ALTER TABLE deletion_request DROP CONSTRAINT deletion_request_origin_check`);
    await q.query(`ALTER TABLE deletion_request ADD CONSTRAINT deletion_request_origin_check CHECK (origin IN ('retention', 'admin', 'iocm'))`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DELETE FROM deletion_request WHERE origin = 'iocm'`);
    await q.query(`ALTER TABLE deletion_request DROP CONSTRAINT deletion_request_origin_check`);
    await q.query(`ALTER TABLE deletion_request ADD CONSTRAINT deletion_request_origin_check CHECK (origin IN ('retention', 'admin'))`);
    await q.query(`ALTER TABLE deletion_request DROP COLUMN sop_instance_uids`);
  }
}
