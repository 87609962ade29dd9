import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The character set a DICOM node accepts (Specific Character Set values, backslash-separated):
 * every header sent to it is written in that set (UTF-8 when the text cannot be). Null: the
 * archive's default (VNA_EGRESS_CHARSET), the object's own set where it holds the text.
 */
export class DicomNodeCharset1732700000200 implements MigrationInterface {
  name = 'DicomNodeCharset1732700000200';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE dicom_node ADD COLUMN charset text`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE dicom_node DROP COLUMN IF EXISTS charset`);
  }
}
