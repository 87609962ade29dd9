import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * `prefetch_trigger.body_parts`: the body parts of the order (or of the worklist step's requested
 * procedure) a trigger came from, for VNA_LIFECYCLE_PREFETCH_MATCH body-part and
 * modality-or-body-part; empty for a pre-admit and for orders that name none.
 */
export class PrefetchBodyParts1732900000010 implements MigrationInterface {
  name = 'PrefetchBodyParts1732900000010';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE prefetch_trigger ADD COLUMN body_parts text[] NOT NULL DEFAULT '{}'`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE prefetch_trigger DROP COLUMN body_parts`);
  }
}
