import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The FHIR hub (libs/fhir): destinations that receive ImagingStudy, what each was last sent, and
 * the studies changed since (the publisher's work list).
 *
 * Changes are noticed by triggers on the index tables, so that every feature that changes a study
 * (ingest, merges, corrections, IOCM rejections, deletion by retention) is followed without calling
 * the FHIR code. Ingest cost is kept to one insert that usually finds its row already there
 * (ON CONFLICT DO NOTHING takes no row lock): the instance trigger does not move `marked_at`; the
 * publisher reads the study's latest `instance.received_at` to decide when it is stable.
 */
/** A row changed in more than its bookkeeping timestamps (updated_at, last access). */
function changedBeyond(old: string, now: string): string {
  const strip = (row: string): string => `to_jsonb(${row}) - 'updated_at' - 'last_accessed_at'`;
  return `${strip(old)} IS DISTINCT FROM ${strip(now)}`;
}

export class Fhir1732500000000 implements MigrationInterface {
  name = 'Fhir1732500000000';

  async up(q: QueryRunner): Promise<void> {
    // No foreign key to study: a deleted study's row stays (with its UID) until published.
    await q.query(`
      CREATE TABLE fhir_study_change (
        study_fk bigint PRIMARY KEY,
        study_uid text,
        marked_at timestamptz NOT NULL DEFAULT now()
      )`);
    await q.query(`CREATE INDEX fhir_study_change_marked ON fhir_study_change (marked_at)`);

    await q.query(`
      CREATE TABLE fhir_destination (
        id bigserial PRIMARY KEY,
        name text NOT NULL,
        base_url text NOT NULL,
        auth jsonb NOT NULL DEFAULT '{"kind":"none"}',
        patient_identifier_systems jsonb NOT NULL DEFAULT '{}',
        create_patients boolean NOT NULL DEFAULT false,
        enabled boolean NOT NULL DEFAULT true,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT fhir_destination_name UNIQUE (name)
      )`);

    // `destination`: 'env' for VNA_FHIR_PUBLISH_URL, else a fhir_destination id. The resource sent
    // is kept so that an unchanged study is not sent again and a deleted one can still be updated.
    await q.query(`
      CREATE TABLE fhir_publication (
        study_uid text NOT NULL,
        destination text NOT NULL,
        remote_id text,
        content_hash text NOT NULL,
        resource jsonb NOT NULL,
        published_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (study_uid, destination)
      )`);

    // Row triggers. Study-level changes are rare and move marked_at (the stability window restarts).
    await q.query(`
      CREATE FUNCTION fhir_mark_study(study bigint, uid text) RETURNS void LANGUAGE sql AS $$
        INSERT INTO fhir_study_change (study_fk, study_uid, marked_at) VALUES (study, uid, now())
        ON CONFLICT (study_fk) DO UPDATE SET marked_at = now(), study_uid = coalesce(excluded.study_uid, fhir_study_change.study_uid)
      $$`);
    // New instances: the hot path of ingest, one insert that usually conflicts and does nothing.
    await q.query(`
      CREATE FUNCTION fhir_instance_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        INSERT INTO fhir_study_change (study_fk) SELECT study_fk FROM series WHERE id = NEW.series_fk
        ON CONFLICT (study_fk) DO NOTHING;
        RETURN NULL;
      END $$`);
    await q.query(`
      CREATE FUNCTION fhir_instance_changed() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF TG_OP <> 'INSERT' THEN
          PERFORM fhir_mark_study(s.study_fk, NULL) FROM series s WHERE s.id = OLD.series_fk;
        END IF;
        IF TG_OP = 'UPDATE' AND NEW.series_fk IS DISTINCT FROM OLD.series_fk THEN
          PERFORM fhir_mark_study(s.study_fk, NULL) FROM series s WHERE s.id = NEW.series_fk;
        END IF;
        RETURN NULL;
      END $$`);
    await q.query(`
      CREATE FUNCTION fhir_series_changed() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF TG_OP IN ('UPDATE', 'DELETE') THEN PERFORM fhir_mark_study(OLD.study_fk, NULL); END IF;
        IF TG_OP IN ('UPDATE', 'INSERT') AND (TG_OP = 'INSERT' OR NEW.study_fk IS DISTINCT FROM OLD.study_fk) THEN
          PERFORM fhir_mark_study(NEW.study_fk, NULL);
        END IF;
        RETURN NULL;
      END $$`);
    await q.query(`
      CREATE FUNCTION fhir_study_changed() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF TG_OP = 'DELETE' THEN PERFORM fhir_mark_study(OLD.id, OLD.study_uid); ELSE PERFORM fhir_mark_study(NEW.id, NEW.study_uid); END IF;
        RETURN NULL;
      END $$`);
    await q.query(`
      CREATE FUNCTION fhir_patient_changed() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        PERFORM fhir_mark_study(s.id, s.study_uid) FROM study s WHERE s.patient_fk = NEW.id;
        RETURN NULL;
      END $$`);

    await q.query(`CREATE TRIGGER fhir_instance_inserted AFTER INSERT ON instance FOR EACH ROW EXECUTE FUNCTION fhir_instance_inserted()`);
    // What an ImagingStudy shows of an instance: a new version or an IOCM rejection (is_current),
    // a move, a changed class or number. Not the upload's or the tiering's bookkeeping.
    await q.query(`
      CREATE TRIGGER fhir_instance_updated AFTER UPDATE ON instance FOR EACH ROW
      WHEN ((OLD.is_current, OLD.series_fk, OLD.sop_class_uid, OLD.instance_number, OLD.sop_instance_uid)
            IS DISTINCT FROM (NEW.is_current, NEW.series_fk, NEW.sop_class_uid, NEW.instance_number, NEW.sop_instance_uid))
      EXECUTE FUNCTION fhir_instance_changed()`);
    await q.query(`CREATE TRIGGER fhir_instance_deleted AFTER DELETE ON instance FOR EACH ROW EXECUTE FUNCTION fhir_instance_changed()`);
    await q.query(`CREATE TRIGGER fhir_series_changed AFTER INSERT OR DELETE ON series FOR EACH ROW EXECUTE FUNCTION fhir_series_changed()`);
    // Any column but bookkeeping timestamps, including columns later features add (corrections' overlay).
    await q.query(`CREATE TRIGGER fhir_series_updated AFTER UPDATE ON series FOR EACH ROW WHEN (${changedBeyond('OLD', 'NEW')}) EXECUTE FUNCTION fhir_series_changed()`);
    await q.query(`CREATE TRIGGER fhir_study_changed AFTER INSERT OR DELETE ON study FOR EACH ROW EXECUTE FUNCTION fhir_study_changed()`);
    await q.query(`CREATE TRIGGER fhir_study_updated AFTER UPDATE ON study FOR EACH ROW WHEN (${changedBeyond('OLD', 'NEW')}) EXECUTE FUNCTION fhir_study_changed()`);
    // Merges, identifier changes and ADT updates rewrite the index's current identity.
    await q.query(`
      CREATE TRIGGER fhir_patient_updated AFTER UPDATE ON patient FOR EACH ROW
      WHEN ((OLD.current_patient_id, OLD.current_issuer, OLD.name_alphabetic, OLD.name_ideographic, OLD.birth_date, OLD.sex, OLD.registry_fk)
            IS DISTINCT FROM (NEW.current_patient_id, NEW.current_issuer, NEW.name_alphabetic, NEW.name_ideographic, NEW.birth_date, NEW.sex, NEW.registry_fk))
      EXECUTE FUNCTION fhir_patient_changed()`);
  }

  async down(q: QueryRunner): Promise<void> {
    for (const [trigger, table] of [
      ['fhir_instance_inserted', 'instance'],
      ['fhir_instance_updated', 'instance'],
      ['fhir_instance_deleted', 'instance'],
      ['fhir_series_changed', 'series'],
      ['fhir_series_updated', 'series'],
      ['fhir_study_changed', 'study'],
      ['fhir_study_updated', 'study'],
      ['fhir_patient_updated', 'patient'],
    ]) {
      await q.query(`DROP TRIGGER IF EXISTS ${trigger} ON ${table}`);
    }
    for (const fn of ['fhir_patient_changed()', 'fhir_study_changed()', 'fhir_series_changed()', 'fhir_instance_changed()', 'fhir_instance_inserted()', 'fhir_mark_study(bigint, text)']) {
      await q.query(`DROP FUNCTION IF EXISTS ${fn}`);
    }
    for (const table of ['fhir_publication', 'fhir_destination', 'fhir_study_change']) await q.query(`DROP TABLE IF EXISTS ${table}`);
  }
}
