import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The HL7 message log: every message received over MLLP with the ACK it got, stored in the same
 * transaction as its effects (libs/hl7). The unique key (sending facility, sending application,
 * MSH-10) makes a re-sent message find its first outcome instead of being applied again.
 */
export class Hl7Messages1732400000000 implements MigrationInterface {
  name = 'Hl7Messages1732400000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE hl7_message (
        id bigserial PRIMARY KEY,
        sending_application text NOT NULL,
        sending_facility text NOT NULL,
        control_id text NOT NULL,
        message_type text NOT NULL,
        trigger_event text NOT NULL,
        version text NOT NULL DEFAULT '',
        -- MSH-18 as received ('' = the default, ASCII) and the decoding used (iconv-lite label).
        character_set text NOT NULL DEFAULT '',
        decoded_as text NOT NULL,
        -- The bytes between VT and FS, exactly as received.
        raw bytea NOT NULL,
        -- MSH-9 and everything after the MSH segment: a re-sent copy has the same; a different
        -- message under a reused control id does not (and is refused, never answered AA).
        content_sha256 bytea NOT NULL,
        patient_ids text[] NOT NULL DEFAULT '{}',
        -- NULL only inside the receiving transaction (never seen outside it).
        status text CHECK (status IN ('AA', 'AE', 'AR')),
        -- true once a handler has run: its outcome is final and a re-sent copy gets the same ACK.
        -- false for a rejection before any handler (unknown sender, unsupported type, bad header):
        -- a re-sent copy is looked at again (after the configuration or the software changed).
        final boolean NOT NULL DEFAULT false,
        error_code text,
        error_location text,
        error_text text,
        note text,
        ack text,
        ack_control_id text,
        attempts integer NOT NULL DEFAULT 1,
        peer text,
        received_at timestamptz NOT NULL,
        processed_at timestamptz,
        CONSTRAINT hl7_message_sender_control_id UNIQUE (sending_facility, sending_application, control_id)
      )`);
    await q.query(`CREATE INDEX hl7_message_control_id ON hl7_message (control_id)`);
    await q.query(`CREATE INDEX hl7_message_received ON hl7_message (received_at)`);
    await q.query(`CREATE INDEX hl7_message_type ON hl7_message (message_type, trigger_event, received_at)`);
    await q.query(`CREATE INDEX hl7_message_status ON hl7_message (status, received_at) WHERE status <> 'AA'`);
    await q.query(`CREATE INDEX hl7_message_patient_ids ON hl7_message USING gin (patient_ids)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE hl7_message`);
  }
}
