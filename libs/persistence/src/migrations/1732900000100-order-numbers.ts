import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Orders found by their placer and filler order numbers (FHIR ServiceRequest?identifier=, which
 * also matches the accession number, indexed by imaging_order_accession): without these the OR
 * of the three numbers read every order.
 */
export class OrderNumbers1732900000100 implements MigrationInterface {
  name = 'OrderNumbers1732900000100';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE INDEX imaging_order_placer ON imaging_order (placer_order_number)`);
    await q.query(`CREATE INDEX imaging_order_filler ON imaging_order (filler_order_number)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP INDEX IF EXISTS imaging_order_filler`);
    await q.query(`DROP INDEX IF EXISTS imaging_order_placer`);
  }
}
