import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The patient registry (IHE PIR, fed by ADT): patients with their identifiers (PID-3: value,
 * assigning authority = DICOM IssuerOfPatientID, type code), current demographics, every version
 * kept (who, when, which message); merges and identifier changes with what is needed to reverse
 * them exactly. Index `patient` rows link to the registry (`registry_fk`, set by identity or by
 * HIM) and carry the registry's current identity; `registry_link` says how the link was made.
 */
export class PatientRegistry1732400000300 implements MigrationInterface {
  name = 'PatientRegistry1732400000300';

  async up(q: QueryRunner): Promise<void> {
    // 'merged': kept, pointing at the survivor (chains resolve to their active end); 'void': a
    // record a merge created and its unmerge removed (its history stays).
    await q.query(`
      CREATE TABLE registry_patient (
        id bigserial PRIMARY KEY,
        status text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'merged', 'void')),
        merged_into bigint REFERENCES registry_patient (id),
        name_alphabetic text NOT NULL DEFAULT '',
        name_ideographic text NOT NULL DEFAULT '',
        name_phonetic text NOT NULL DEFAULT '',
        birth_date text,
        sex text,
        version integer NOT NULL DEFAULT 1,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT registry_patient_merged CHECK ((status = 'merged') = (merged_into IS NOT NULL)),
        CONSTRAINT registry_patient_not_self CHECK (merged_into IS NULL OR merged_into <> id)
      )`);
    await q.query(`CREATE INDEX registry_patient_merged_into ON registry_patient (merged_into) WHERE merged_into IS NOT NULL`);
    await q.query(`CREATE INDEX registry_patient_name_trgm ON registry_patient USING gin (upper(name_alphabetic) gin_trgm_ops)`);
    await q.query(`CREATE INDEX registry_patient_name_prefix ON registry_patient (upper(name_alphabetic) text_pattern_ops)`);

    // One row per identifier ever given to a patient; 'replaced' ones (A47) still identify objects
    // that arrive with them later. An identifier belongs to one patient (merged ones keep theirs).
    await q.query(`
      CREATE TABLE registry_identifier (
        id bigserial PRIMARY KEY,
        registry_patient_fk bigint NOT NULL REFERENCES registry_patient (id),
        patient_id text NOT NULL,
        issuer text NOT NULL,
        type_code text NOT NULL DEFAULT '',
        position integer NOT NULL DEFAULT 0,
        status text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'replaced')),
        created_at timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT registry_identifier_unique UNIQUE (issuer, patient_id)
      )`);
    await q.query(`CREATE INDEX registry_identifier_patient ON registry_identifier (registry_patient_fk)`);
    await q.query(`CREATE INDEX registry_identifier_id ON registry_identifier (patient_id)`);

    // Every version of every record: the state after the change, and who, when, why.
    await q.query(`
      CREATE TABLE registry_version (
        id bigserial PRIMARY KEY,
        registry_patient_fk bigint NOT NULL REFERENCES registry_patient (id),
        version integer NOT NULL,
        change text NOT NULL,
        state jsonb NOT NULL,
        actor text NOT NULL,
        at timestamptz NOT NULL DEFAULT now(),
        hl7_message_id bigint,
        merge_fk bigint,
        reason text,
        CONSTRAINT registry_version_unique UNIQUE (registry_patient_fk, version)
      )`);

    // Merges (A40) and identifier changes (A47): requested, held for review, applied, rejected or
    // unmerged; `undo` holds the previous registry state and the previous state of every index
    // row the change touched, so that an unmerge restores them exactly.
    await q.query(`
      CREATE TABLE patient_merge (
        id bigserial PRIMARY KEY,
        kind text NOT NULL CHECK (kind IN ('merge', 'change-identifier')),
        status text NOT NULL CHECK (status IN ('held', 'applied', 'rejected', 'unmerged')),
        prior_patient_id text NOT NULL,
        prior_issuer text NOT NULL,
        surviving_patient_id text NOT NULL,
        surviving_issuer text NOT NULL,
        prior_fk bigint REFERENCES registry_patient (id),
        surviving_fk bigint REFERENCES registry_patient (id),
        suspicion text,
        suspicion_code text,
        command jsonb NOT NULL,
        undo jsonb,
        requested_by text NOT NULL,
        requested_at timestamptz NOT NULL DEFAULT now(),
        hl7_message_id bigint,
        task_fk bigint REFERENCES reconciliation_task (id),
        applied_by text,
        applied_at timestamptz,
        apply_reason text,
        closed_by text,
        closed_at timestamptz,
        close_reason text
      )`);
    await q.query(`CREATE INDEX patient_merge_status ON patient_merge (status, requested_at)`);
    await q.query(`CREATE INDEX patient_merge_prior ON patient_merge (prior_fk)`);
    await q.query(`CREATE INDEX patient_merge_surviving ON patient_merge (surviving_fk)`);
    await q.query(`CREATE INDEX patient_merge_prior_id ON patient_merge (prior_patient_id, prior_issuer)`);
    await q.query(`CREATE INDEX patient_merge_surviving_id ON patient_merge (surviving_patient_id, surviving_issuer)`);

    // The ingest hook asks whether HIM already settled a case (an accepted or dismissed task).
    await q.query(`CREATE INDEX reconciliation_task_subject ON reconciliation_task (kind, subject)`);

    await q.query(`ALTER TABLE patient ADD COLUMN registry_link text CHECK (registry_link IN ('identity', 'manual'))`);
    await q.query(`ALTER TABLE patient ADD CONSTRAINT patient_registry_fk FOREIGN KEY (registry_fk) REFERENCES registry_patient (id)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE patient DROP CONSTRAINT patient_registry_fk`);
    await q.query(`ALTER TABLE patient DROP COLUMN registry_link`);
    await q.query(`DROP INDEX reconciliation_task_subject`);
    for (const table of ['patient_merge', 'registry_version', 'registry_identifier', 'registry_patient']) await q.query(`DROP TABLE ${table}`);
  }
}
