import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Corrections (libs/corrections) and IHE IOCM rejection notes.
 *
 * - `study.overlay` / `series.overlay`: DICOM JSON laid over stored objects on their way out (the
 *   egress overlay, ARCHITECTURE.md invariant 2). A study's holds its corrected study-level values;
 *   a series' holds what a series moved into another study must carry (the Study Instance UID and
 *   the study's and, across patients, the patient's attributes). Empty: nothing laid over.
 * - `correction`: every correction with who, when, why, and the exact row states before and after
 *   (undo writes `before` back when the rows are still as `after` left them).
 * - `iocm_rejection`: one row per instance a Key Object Selection rejection note rejected, with the
 *   reason code (113001, 113037, 113038, 113039); a rejected instance's index row is no longer
 *   current (hidden from query and retrieve) and `instance_fk` names it so a revocation shows it
 *   again. The lifecycle acts on 113039 (retention expired) from here.
 */
export class CorrectionsIocm1732800000000 implements MigrationInterface {
  name = 'CorrectionsIocm1732800000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE study ADD COLUMN overlay jsonb NOT NULL DEFAULT '{}'`);
    await q.query(`ALTER TABLE series ADD COLUMN overlay jsonb NOT NULL DEFAULT '{}'`);
    await q.query(`
      CREATE TABLE correction (
        id bigserial PRIMARY KEY,
        kind text NOT NULL CHECK (kind IN ('study-attributes', 'move-series', 'split-study', 'join-studies')),
        at timestamptz NOT NULL DEFAULT now(),
        actor text NOT NULL,
        api_key text NOT NULL,
        reason text NOT NULL,
        request jsonb NOT NULL,
        study_uids text[] NOT NULL,
        before jsonb NOT NULL,
        after jsonb NOT NULL,
        undone_at timestamptz,
        undone_by text,
        undo_reason text
      )`);
    await q.query(`CREATE INDEX correction_at ON correction (at DESC, id DESC)`);
    await q.query(`CREATE INDEX correction_study_uids ON correction USING gin (study_uids)`);
    await q.query(`
      CREATE TABLE iocm_rejection (
        id bigserial PRIMARY KEY,
        note_sop_instance_uid text NOT NULL,
        reason_code text NOT NULL CHECK (reason_code IN ('113001', '113037', '113038', '113039')),
        reason_meaning text NOT NULL,
        study_uid text NOT NULL,
        series_uid text NOT NULL,
        sop_instance_uid text NOT NULL,
        sop_class_uid text,
        instance_fk bigint REFERENCES instance (id) ON DELETE SET NULL,
        state text NOT NULL DEFAULT 'active' CHECK (state IN ('active', 'revoked', 'restored')),
        rejected_at timestamptz NOT NULL DEFAULT now(),
        rejected_by text NOT NULL,
        ended_at timestamptz,
        ended_by text,
        end_reason text
      )`);
    await q.query(`CREATE UNIQUE INDEX iocm_rejection_active_uid ON iocm_rejection (sop_instance_uid) WHERE state = 'active'`);
    await q.query(`CREATE INDEX iocm_rejection_note ON iocm_rejection (note_sop_instance_uid)`);
    await q.query(`CREATE INDEX iocm_rejection_reason ON iocm_rejection (reason_code, rejected_at) WHERE state = 'active'`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE IF EXISTS iocm_rejection`);
    await q.query(`DROP TABLE IF EXISTS correction`);
    await q.query(`ALTER TABLE series DROP COLUMN overlay`);
    await q.query(`ALTER TABLE study DROP COLUMN overlay`);
  }
}
