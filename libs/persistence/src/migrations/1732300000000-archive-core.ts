import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The archive index: patients, studies, series, instances (with versions), the transactional
 * outbox, known DICOM peers and archive events. Text columns hold UTF-8 (decoded at ingest).
 * Dates and times stay in their DICOM forms (DA "YYYYMMDD", TM "HHMMSS.FFFFFF") so that matching
 * (PS3.4 C.2.2.2) works on them directly and partial values are never invented.
 */
export class ArchiveCore1732300000000 implements MigrationInterface {
  name = 'ArchiveCore1732300000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE EXTENSION IF NOT EXISTS pg_trgm`);

    await q.query(`
      CREATE TABLE patient (
        id bigserial PRIMARY KEY,
        patient_id text NOT NULL,
        issuer text NOT NULL DEFAULT '',
        name_alphabetic text NOT NULL DEFAULT '',
        name_ideographic text NOT NULL DEFAULT '',
        name_phonetic text NOT NULL DEFAULT '',
        birth_date text,
        sex text,
        attributes jsonb NOT NULL DEFAULT '{}',
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT patient_identity UNIQUE (issuer, patient_id)
      )`);
    await q.query(`CREATE INDEX patient_patient_id ON patient (patient_id)`);
    // Name matching is case-insensitive (PS3.4 C.2.2.2.1 allows it for PN): prefix searches use
    // the pattern index, other wildcards the trigram index.
    await q.query(`CREATE INDEX patient_name_alpha_prefix ON patient (upper(name_alphabetic) text_pattern_ops)`);
    await q.query(`CREATE INDEX patient_name_alpha_trgm ON patient USING gin (upper(name_alphabetic) gin_trgm_ops)`);
    await q.query(`CREATE INDEX patient_name_ideo_prefix ON patient (name_ideographic text_pattern_ops) WHERE name_ideographic <> ''`);
    await q.query(`CREATE INDEX patient_name_phon_prefix ON patient (name_phonetic text_pattern_ops) WHERE name_phonetic <> ''`);
    await q.query(`CREATE INDEX patient_birth_date ON patient (birth_date)`);

    await q.query(`
      CREATE TABLE study (
        id bigserial PRIMARY KEY,
        study_uid text NOT NULL,
        patient_fk bigint NOT NULL REFERENCES patient (id),
        study_date text,
        study_time text,
        accession_number text,
        study_id text,
        description text,
        referring_physician text NOT NULL DEFAULT '',
        attributes jsonb NOT NULL DEFAULT '{}',
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT study_uid_unique UNIQUE (study_uid)
      )`);
    await q.query(`CREATE INDEX study_patient ON study (patient_fk)`);
    await q.query(`CREATE INDEX study_date_time ON study (study_date, study_time)`);
    await q.query(`CREATE INDEX study_accession ON study (accession_number)`);
    await q.query(`CREATE INDEX study_referring_prefix ON study (upper(referring_physician) text_pattern_ops)`);
    await q.query(`CREATE INDEX study_created ON study (created_at)`);

    await q.query(`
      CREATE TABLE series (
        id bigserial PRIMARY KEY,
        series_uid text NOT NULL,
        study_fk bigint NOT NULL REFERENCES study (id),
        modality text,
        series_number integer,
        description text,
        body_part text,
        performed_start_date text,
        performed_start_time text,
        attributes jsonb NOT NULL DEFAULT '{}',
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT series_uid_unique UNIQUE (series_uid)
      )`);
    await q.query(`CREATE INDEX series_study ON series (study_fk)`);
    await q.query(`CREATE INDEX series_modality ON series (modality)`);

    // Each received version of an object is a row; exactly one per SOP Instance UID is current.
    await q.query(`
      CREATE TABLE instance (
        id bigserial PRIMARY KEY,
        sop_instance_uid text NOT NULL,
        series_fk bigint NOT NULL REFERENCES series (id),
        sop_class_uid text NOT NULL,
        instance_number integer,
        transfer_syntax_uid text NOT NULL,
        version integer NOT NULL DEFAULT 1,
        is_current boolean NOT NULL DEFAULT true,
        size_bytes bigint NOT NULL,
        sha256 bytea NOT NULL,
        md5 bytea,
        dataset_offset integer NOT NULL,
        pixel_offset bigint,
        pixel_length bigint,
        fragments jsonb,
        bulk_elements jsonb,
        rows integer,
        columns integer,
        bits_allocated integer,
        samples_per_pixel integer,
        number_of_frames integer,
        storage_state text NOT NULL DEFAULT 'spooled' CHECK (storage_state IN ('spooled', 'stored')),
        spool_node text,
        spool_path text,
        blob_key text,
        source_aet text,
        source_kind text NOT NULL,
        received_at timestamptz NOT NULL DEFAULT now(),
        stored_at timestamptz,
        metadata text NOT NULL
      )`);
    // Per-instance metadata (DICOM JSON, ~10-20 KB for an image) is compressed with lz4 where the
    // server has it (PostgreSQL 14+ built with lz4): several times cheaper to write than pglz.
    await q.query(`
      DO $$ BEGIN
        IF EXISTS (SELECT 1 FROM pg_settings WHERE name = 'default_toast_compression' AND enumvals::text LIKE '%lz4%') THEN
          ALTER TABLE instance ALTER COLUMN metadata SET COMPRESSION lz4;
        END IF;
      END $$`);
    await q.query(`CREATE UNIQUE INDEX instance_current_uid ON instance (sop_instance_uid) WHERE is_current`);
    await q.query(`CREATE INDEX instance_uid ON instance (sop_instance_uid)`);
    await q.query(`CREATE INDEX instance_series ON instance (series_fk, instance_number) WHERE is_current`);
    await q.query(`CREATE INDEX instance_sha256 ON instance (sha256)`);
    await q.query(`CREATE INDEX instance_spooled ON instance (spool_node) WHERE storage_state = 'spooled'`);
    await q.query(`CREATE INDEX instance_spool_path ON instance (spool_path) WHERE spool_path IS NOT NULL`);

    // Per-series WADO-RS metadata, rebuilt after the series changes (the instance rows are the truth).
    await q.query(`
      CREATE TABLE series_metadata (
        series_fk bigint PRIMARY KEY REFERENCES series (id) ON DELETE CASCADE,
        document text NOT NULL,
        signature text NOT NULL,
        built_at timestamptz NOT NULL DEFAULT now()
      )`);

    await q.query(`
      CREATE TABLE archive_event (
        id bigserial PRIMARY KEY,
        at timestamptz NOT NULL DEFAULT now(),
        kind text NOT NULL,
        actor text,
        study_uid text,
        sop_instance_uid text,
        detail jsonb NOT NULL DEFAULT '{}'
      )`);
    await q.query(`CREATE INDEX archive_event_kind_at ON archive_event (kind, at)`);
    await q.query(`CREATE INDEX archive_event_instance ON archive_event (sop_instance_uid)`);

    // The transactional outbox (ARCHITECTURE.md invariant 4): written with the change it follows,
    // relayed to BullMQ, finished only when its handler succeeds.
    await q.query(`
      CREATE TABLE outbox (
        id bigserial PRIMARY KEY,
        topic text NOT NULL,
        queue text NOT NULL,
        payload jsonb NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        available_at timestamptz NOT NULL DEFAULT now(),
        relayed_at timestamptz,
        attempts integer NOT NULL DEFAULT 0,
        last_error text,
        done_at timestamptz,
        dead_at timestamptz
      )`);
    await q.query(`CREATE INDEX outbox_open ON outbox (available_at, id) WHERE done_at IS NULL AND dead_at IS NULL`);
    await q.query(`CREATE INDEX outbox_dead ON outbox (dead_at) WHERE dead_at IS NOT NULL`);

    await q.query(`
      CREATE TABLE dicom_node (
        id serial PRIMARY KEY,
        aet text NOT NULL,
        host text NOT NULL,
        port integer NOT NULL CHECK (port BETWEEN 1 AND 65535),
        description text NOT NULL DEFAULT '',
        source text NOT NULL DEFAULT 'api' CHECK (source IN ('config', 'api')),
        created_at timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT dicom_node_aet UNIQUE (aet)
      )`);
  }

  async down(q: QueryRunner): Promise<void> {
    for (const table of ['dicom_node', 'outbox', 'archive_event', 'series_metadata', 'instance', 'series', 'study', 'patient']) {
      await q.query(`DROP TABLE IF EXISTS ${table}`);
    }
  }
}
