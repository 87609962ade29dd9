import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * What ingest reported about an object it accepted (an invalid UID, an IS/DS value that does not
 * parse, a legacy date a rule could not read): kept with the instance, as tag references without
 * values (no PHI), for `/api/v1/instances/{uid}/coercion`. DIMSE has no place for them in C-STORE's
 * success, STOW-RS answers them with warning B006.
 */
export class IngestWarnings1732700000100 implements MigrationInterface {
  name = 'IngestWarnings1732700000100';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE instance ADD COLUMN ingest_warnings text[]`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE instance DROP COLUMN IF EXISTS ingest_warnings`);
  }
}
