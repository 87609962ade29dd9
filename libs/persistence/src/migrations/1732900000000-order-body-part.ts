import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * `requested_procedure.body_part`: the body part examined an order names (OBR-15.4, the body site
 * of the specimen source), trimmed and upper-cased like DICOM's Body Part Examined (CHEST, KNEE);
 * '' when the order says none. Prefetch of priors matches it against `series.body_part`.
 */
export class OrderBodyPart1732900000000 implements MigrationInterface {
  name = 'OrderBodyPart1732900000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE requested_procedure ADD COLUMN body_part text NOT NULL DEFAULT ''`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE requested_procedure DROP COLUMN body_part`);
  }
}
