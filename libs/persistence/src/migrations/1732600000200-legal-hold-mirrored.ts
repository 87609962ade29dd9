import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * When a legal hold was last mirrored to the blob store: objects of a held patient or study stored
 * after that get the hold tag (and the store's legal hold) at the next lifecycle cycle.
 */
export class LegalHoldMirrored1732600000200 implements MigrationInterface {
  name = 'LegalHoldMirrored1732600000200';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE legal_hold ADD COLUMN mirrored_at timestamptz`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE legal_hold DROP COLUMN mirrored_at`);
  }
}
