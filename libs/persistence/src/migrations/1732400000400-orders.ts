import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Orders as the RIS sends them (ORM^O01, OMI^O23; IHE SWF.b): an imaging service request per
 * accession number, its requested procedures (one Study Instance UID each) and their scheduled
 * procedure steps, which the Modality Worklist serves. The order keeps the patient identity it
 * was placed for (as received), so that it stands without the registry and a study arriving with
 * another patient is noticed. Links from studies to orders are rows of their own.
 * Text is UTF-8; dates and times are in their DICOM forms (DA, TM) for worklist matching.
 */
export class Orders1732400000400 implements MigrationInterface {
  name = 'Orders1732400000400';

  async up(q: QueryRunner): Promise<void> {
    const status = `text NOT NULL DEFAULT 'scheduled' CHECK (status IN ('scheduled', 'in-progress', 'completed', 'cancelled', 'discontinued'))`;
    await q.query(`
      CREATE TABLE imaging_order (
        id bigserial PRIMARY KEY,
        accession_number text NOT NULL,
        accession_issuer text NOT NULL DEFAULT '',
        placer_order_number text NOT NULL DEFAULT '',
        placer_issuer text NOT NULL DEFAULT '',
        filler_order_number text NOT NULL DEFAULT '',
        filler_issuer text NOT NULL DEFAULT '',
        status ${status},
        patient_id text NOT NULL,
        patient_issuer text NOT NULL DEFAULT '',
        patient_name_alphabetic text NOT NULL DEFAULT '',
        patient_name_ideographic text NOT NULL DEFAULT '',
        patient_name_phonetic text NOT NULL DEFAULT '',
        patient_birth_date text,
        patient_sex text,
        other_patient_ids jsonb NOT NULL DEFAULT '[]',
        admission_id text NOT NULL DEFAULT '',
        patient_location text NOT NULL DEFAULT '',
        referring_physician text NOT NULL DEFAULT '',
        requesting_physician text NOT NULL DEFAULT '',
        sending_application text NOT NULL DEFAULT '',
        sending_facility text NOT NULL DEFAULT '',
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now(),
        created_by text NOT NULL,
        updated_by text NOT NULL,
        last_message_id text,
        CONSTRAINT imaging_order_accession UNIQUE (accession_number, accession_issuer)
      )`);
    await q.query(`CREATE INDEX imaging_order_patient ON imaging_order (patient_id, patient_issuer)`);

    await q.query(`
      CREATE TABLE requested_procedure (
        id bigserial PRIMARY KEY,
        order_fk bigint NOT NULL REFERENCES imaging_order (id) ON DELETE CASCADE,
        requested_procedure_id text NOT NULL,
        study_uid text NOT NULL,
        code_value text NOT NULL DEFAULT '',
        code_scheme text NOT NULL DEFAULT '',
        code_meaning text NOT NULL DEFAULT '',
        description text NOT NULL DEFAULT '',
        priority text NOT NULL DEFAULT '',
        reason text NOT NULL DEFAULT '',
        CONSTRAINT requested_procedure_in_order UNIQUE (order_fk, requested_procedure_id),
        CONSTRAINT requested_procedure_study UNIQUE (study_uid)
      )`);

    await q.query(`
      CREATE TABLE scheduled_step (
        id bigserial PRIMARY KEY,
        procedure_fk bigint NOT NULL REFERENCES requested_procedure (id) ON DELETE CASCADE,
        step_id text NOT NULL,
        status ${status},
        modality text NOT NULL DEFAULT '',
        station_aet text NOT NULL DEFAULT '',
        station_name text NOT NULL DEFAULT '',
        location text NOT NULL DEFAULT '',
        start_date text NOT NULL DEFAULT '',
        start_time text NOT NULL DEFAULT '',
        description text NOT NULL DEFAULT '',
        protocol_codes jsonb NOT NULL DEFAULT '[]',
        performing_physician text NOT NULL DEFAULT '',
        updated_at timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT scheduled_step_in_procedure UNIQUE (procedure_fk, step_id)
      )`);
    // The worklist serves open steps only: its usual questions (today, this station) use these.
    await q.query(`CREATE INDEX scheduled_step_open_start ON scheduled_step (start_date, start_time) WHERE status IN ('scheduled', 'in-progress')`);
    await q.query(`CREATE INDEX scheduled_step_open_station ON scheduled_step (station_aet) WHERE status IN ('scheduled', 'in-progress')`);

    // A study linked to its order at ingest (or when its order arrived after it). `patient_matches`
    // false: the order names another patient, whose identity is not applied (a task is open).
    await q.query(`
      CREATE TABLE order_study_link (
        study_fk bigint PRIMARY KEY REFERENCES study (id) ON DELETE CASCADE,
        order_fk bigint NOT NULL REFERENCES imaging_order (id) ON DELETE CASCADE,
        study_uid text NOT NULL,
        patient_matches boolean NOT NULL,
        received_patient_id text NOT NULL,
        received_issuer text NOT NULL,
        linked_at timestamptz NOT NULL DEFAULT now(),
        linked_by text NOT NULL,
        notified_at timestamptz
      )`);
    await q.query(`CREATE INDEX order_study_link_order ON order_study_link (order_fk)`);

    // The active end of a registry patient's merge chain (itself unless merged): the worklist shows
    // an order's patient as the registry knows them now (after updates, merges and identifier changes).
    await q.query(`
      CREATE FUNCTION registry_survivor(start bigint) RETURNS bigint LANGUAGE sql STABLE AS $$
        WITH RECURSIVE chain (id, merged_into, depth) AS (
          SELECT id, merged_into, 0 FROM registry_patient WHERE id = start
          UNION ALL
          SELECT p.id, p.merged_into, c.depth + 1 FROM chain c JOIN registry_patient p ON p.id = c.merged_into WHERE c.depth < 64
        )
        SELECT id FROM chain WHERE merged_into IS NULL LIMIT 1
      $$`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP FUNCTION IF EXISTS registry_survivor(bigint)`);
    for (const table of ['order_study_link', 'scheduled_step', 'requested_procedure', 'imaging_order']) await q.query(`DROP TABLE IF EXISTS ${table}`);
  }
}
