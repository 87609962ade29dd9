import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The index's patients as the hospital knows them now. A `patient` row is the identity an object
 * arrived with (issuer + Patient ID from its header, kept as received); the registry (ADT) and
 * merges give it a *current* identity and demographics, which queries match and retrieved objects
 * carry (the egress overlay): `current_*`, the name/birth date/sex columns, and `overlay` (DICOM
 * JSON attributes laid over the received ones). Originals are never rewritten.
 */
export class CurrentIdentity1732400000100 implements MigrationInterface {
  name = 'CurrentIdentity1732400000100';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE patient ADD COLUMN current_patient_id text`);
    await q.query(`ALTER TABLE patient ADD COLUMN current_issuer text`);
    await q.query(`UPDATE patient SET current_patient_id = patient_id, current_issuer = issuer`);
    await q.query(`ALTER TABLE patient ALTER COLUMN current_patient_id SET NOT NULL`);
    await q.query(`ALTER TABLE patient ALTER COLUMN current_issuer SET NOT NULL`);
    await q.query(`ALTER TABLE patient ADD COLUMN overlay jsonb NOT NULL DEFAULT '{}'`);
    await q.query(`ALTER TABLE patient ADD COLUMN registry_fk bigint`);
    await q.query(`CREATE INDEX patient_current_id ON patient (current_patient_id, current_issuer)`);
    await q.query(`CREATE INDEX patient_registry ON patient (registry_fk) WHERE registry_fk IS NOT NULL`);
  }

  async down(q: QueryRunner): Promise<void> {
    for (const column of ['registry_fk', 'overlay', 'current_issuer', 'current_patient_id']) await q.query(`ALTER TABLE patient DROP COLUMN ${column}`);
  }
}
