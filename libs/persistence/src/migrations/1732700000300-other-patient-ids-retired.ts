import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The retired Other Patient IDs (0010,1000) indexed like OtherPatientIDsSequence (0010,1002): a
 * Patient ID query matches either, and one branch of an OR without an index makes PostgreSQL scan
 * every patient row for every query by Patient ID.
 */
export class OtherPatientIdsRetired1732700000300 implements MigrationInterface {
  name = 'OtherPatientIdsRetired1732700000300';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE INDEX patient_other_ids_retired ON patient USING gin ((attributes -> '00101000' -> 'Value') jsonb_path_ops)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP INDEX IF EXISTS patient_other_ids_retired`);
  }
}
