import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Storage lifecycle (libs/lifecycle): each stored object's access tier and rehydration state,
 * tiering and retention policies, each study's expiry, legal holds, the deletion workflow and its
 * tombstones, storage verification results and prefetch triggers.
 */
export class StorageLifecycle1732600000000 implements MigrationInterface {
  name = 'StorageLifecycle1732600000000';

  async up(q: QueryRunner): Promise<void> {
    const tier = `CHECK (%s IN ('Hot', 'Cool', 'Cold', 'Archive'))`;
    // The tier the index believes the blob is in; `archive_status` while a rehydration runs (as the
    // store reports it: rehydrate-pending-to-hot, ...); `hot_until` keeps a rehydrated or prefetched
    // object Hot until then, after which the tiering policies take it back.
    await q.query(`ALTER TABLE instance ADD COLUMN access_tier text NOT NULL DEFAULT 'Hot' ${tier.replace('%s', 'access_tier')}`);
    await q.query(`ALTER TABLE instance ADD COLUMN tier_changed_at timestamptz`);
    await q.query(`ALTER TABLE instance ADD COLUMN archive_status text`);
    await q.query(`ALTER TABLE instance ADD COLUMN rehydrate_requested_at timestamptz`);
    await q.query(`ALTER TABLE instance ADD COLUMN hot_until timestamptz`);
    await q.query(`CREATE INDEX instance_rehydrating ON instance (rehydrate_requested_at) WHERE archive_status IS NOT NULL`);
    await q.query(`CREATE INDEX instance_archive_tier ON instance (series_fk) WHERE access_tier = 'Archive' AND is_current`);
    await q.query(`ALTER TABLE study ADD COLUMN last_accessed_at timestamptz`);

    // A DICOM DA (YYYYMMDD) as a date; NULL when absent or not a valid date (never an error mid-batch).
    await q.query(`
      CREATE FUNCTION dicom_date(value text) RETURNS date LANGUAGE plpgsql IMMUTABLE AS $$
      BEGIN
        IF value IS NULL OR value !~ '^[0-9]{8}$' THEN RETURN NULL; END IF;
        RETURN to_date(value, 'YYYYMMDD');
      EXCEPTION WHEN others THEN RETURN NULL;
      END $$`);

    // First matching policy (lowest priority number) chooses the tier; NULL criteria match anything.
    await q.query(`
      CREATE TABLE tier_policy (
        id serial PRIMARY KEY,
        name text NOT NULL UNIQUE,
        priority integer NOT NULL DEFAULT 100,
        tier text NOT NULL ${tier.replace('%s', 'tier')},
        min_age_days integer CHECK (min_age_days >= 0),
        min_idle_days integer CHECK (min_idle_days >= 0),
        modality text,
        min_size_bytes bigint CHECK (min_size_bytes >= 0),
        source_aet text,
        enabled boolean NOT NULL DEFAULT true,
        created_by text NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now()
      )`);

    await q.query(`
      CREATE TABLE retention_policy (
        id serial PRIMARY KEY,
        name text NOT NULL UNIQUE,
        priority integer NOT NULL DEFAULT 100,
        retain_years integer NOT NULL CHECK (retain_years BETWEEN 0 AND 200),
        minor_age integer CHECK (minor_age BETWEEN 1 AND 30),
        modality text,
        source_aet text,
        description_pattern text,
        enabled boolean NOT NULL DEFAULT true,
        created_by text NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now()
      )`);

    // Each study's expiry (NULL: kept indefinitely, no policy matched). `frozen`: HIM set it by hand
    // (with a reason); policy changes leave it alone.
    await q.query(`
      CREATE TABLE study_retention (
        study_fk bigint PRIMARY KEY REFERENCES study (id) ON DELETE CASCADE,
        expires_on date,
        policy_name text,
        frozen boolean NOT NULL DEFAULT false,
        override_reason text,
        overridden_by text,
        overridden_at timestamptz,
        computed_at timestamptz NOT NULL DEFAULT now()
      )`);
    await q.query(`CREATE INDEX study_retention_expiry ON study_retention (expires_on) WHERE expires_on IS NOT NULL`);

    await q.query(`
      CREATE TABLE legal_hold (
        id bigserial PRIMARY KEY,
        scope text NOT NULL CHECK (scope IN ('patient', 'study')),
        patient_id text,
        issuer text,
        study_uid text,
        reason text NOT NULL,
        case_reference text NOT NULL,
        placed_by text NOT NULL,
        placed_at timestamptz NOT NULL DEFAULT now(),
        released_by text,
        released_at timestamptz,
        release_reason text,
        mirror_state text NOT NULL DEFAULT 'pending' CHECK (mirror_state IN ('pending', 'tagged', 'immutable', 'released')),
        CHECK ((scope = 'patient' AND patient_id IS NOT NULL AND issuer IS NOT NULL) OR (scope = 'study' AND study_uid IS NOT NULL))
      )`);
    await q.query(`CREATE INDEX legal_hold_active_study ON legal_hold (study_uid) WHERE released_at IS NULL`);
    await q.query(`CREATE INDEX legal_hold_active_patient ON legal_hold (patient_id, issuer) WHERE released_at IS NULL`);

    await q.query(`
      CREATE TABLE deletion_request (
        id bigserial PRIMARY KEY,
        study_uid text NOT NULL,
        origin text NOT NULL CHECK (origin IN ('retention', 'admin')),
        reason text NOT NULL,
        policy_name text,
        expires_on date,
        status text NOT NULL DEFAULT 'proposed' CHECK (status IN ('proposed', 'approved', 'deleted', 'rejected', 'blocked')),
        approvals_needed integer NOT NULL,
        approvals jsonb NOT NULL DEFAULT '[]',
        requested_by text NOT NULL,
        requested_at timestamptz NOT NULL DEFAULT now(),
        closed_by text,
        closed_at timestamptz,
        close_reason text
      )`);
    await q.query(`CREATE UNIQUE INDEX deletion_request_open ON deletion_request (study_uid) WHERE status IN ('proposed', 'approved')`);

    // What was deleted, for ever: UIDs and hashes (no patient name), why, and who approved.
    await q.query(`
      CREATE TABLE deletion_tombstone (
        id bigserial PRIMARY KEY,
        request_fk bigint REFERENCES deletion_request (id),
        study_uid text NOT NULL,
        patient_id text NOT NULL,
        issuer text NOT NULL,
        policy_name text,
        reason text NOT NULL,
        approvers text[] NOT NULL,
        instances jsonb NOT NULL,
        deleted_at timestamptz NOT NULL DEFAULT now()
      )`);
    await q.query(`CREATE INDEX deletion_tombstone_study ON deletion_tombstone (study_uid)`);

    await q.query(`
      CREATE TABLE storage_verification (
        instance_fk bigint PRIMARY KEY REFERENCES instance (id) ON DELETE CASCADE,
        status text NOT NULL CHECK (status IN ('ok', 'missing', 'corrupt', 'unreadable')),
        method text NOT NULL,
        detail text,
        checked_at timestamptz NOT NULL DEFAULT now()
      )`);
    await q.query(`CREATE INDEX storage_verification_failed ON storage_verification (status) WHERE status <> 'ok'`);

    await q.query(`
      CREATE TABLE prefetch_trigger (
        kind text NOT NULL CHECK (kind IN ('order', 'pre-admit', 'worklist')),
        ref text NOT NULL,
        patient_id text NOT NULL,
        issuer text NOT NULL DEFAULT '',
        modalities text[] NOT NULL DEFAULT '{}',
        objects integer,
        created_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (kind, ref)
      )`);
  }

  async down(q: QueryRunner): Promise<void> {
    for (const table of ['prefetch_trigger', 'storage_verification', 'deletion_tombstone', 'deletion_request', 'legal_hold', 'study_retention', 'retention_policy', 'tier_policy']) {
      await q.query(`DROP TABLE IF EXISTS ${table}`);
    }
    await q.query(`DROP FUNCTION IF EXISTS dicom_date(text)`);
    await q.query(`ALTER TABLE study DROP COLUMN last_accessed_at`);
    for (const column of ['hot_until', 'rehydrate_requested_at', 'archive_status', 'tier_changed_at', 'access_tier']) await q.query(`ALTER TABLE instance DROP COLUMN ${column}`);
  }
}
