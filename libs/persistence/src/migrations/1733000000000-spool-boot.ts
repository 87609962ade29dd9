import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The machine boot during which an instance's spool file was written (Linux boot_id). A new
 * instance in a known series is committed while its file's fsync is still running, and
 * acknowledged when both are done: a row whose boot is not the current one may have lost its
 * file with a machine crash, so it is checked against its SHA-256 when the archive starts.
 */
export class SpoolBoot1733000000000 implements MigrationInterface {
  name = 'SpoolBoot1733000000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE instance ADD COLUMN spool_boot text`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE instance DROP COLUMN IF EXISTS spool_boot`);
  }
}
