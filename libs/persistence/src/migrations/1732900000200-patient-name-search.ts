import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * FHIR Patient search by name, family and given (R4 string search: the value matches the start of
 * a name part after both are normalized for case and accents). `search_fold` is that normalization
 * (unaccent, then upper case), immutable so that indexes can hold it; the name parts are indexed
 * folded and C-collated, for registry and index patients alike: the whole PN (whose start is the
 * family name), the given name and the middle name (DICOM PN components 2 and 3). The API matches
 * a prefix as a range over them (`>= value AND < value || U+10FFFF`), which stays an index range
 * scan in a generic plan of a prepared statement, where LIKE with a parameter pattern cannot.
 * The function has a SQL-standard body: unaccent and its dictionary are bound when it is created,
 * whatever the search_path of a later session (or of a restore).
 */
export class PatientNameSearch1732900000200 implements MigrationInterface {
  name = 'PatientNameSearch1732900000200';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE EXTENSION IF NOT EXISTS unaccent`);
    await q.query(`CREATE FUNCTION search_fold(t text) RETURNS text LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
                     RETURN upper(unaccent('unaccent'::regdictionary, t))`);
    for (const table of ['patient', 'registry_patient']) {
      await q.query(`CREATE INDEX ${table}_name_fold ON ${table} ((search_fold(name_alphabetic) COLLATE "C"))`);
      await q.query(`CREATE INDEX ${table}_given_fold ON ${table} ((search_fold(split_part(name_alphabetic, '^', 2)) COLLATE "C"))`);
      await q.query(`CREATE INDEX ${table}_middle_fold ON ${table} ((search_fold(split_part(name_alphabetic, '^', 3)) COLLATE "C"))`);
    }
  }

  async down(q: QueryRunner): Promise<void> {
    for (const table of ['registry_patient', 'patient']) {
      for (const part of ['middle', 'given', 'name']) await q.query(`DROP INDEX IF EXISTS ${table}_${part}_fold`);
    }
    await q.query(`DROP FUNCTION IF EXISTS search_fold(text)`);
    // The unaccent extension stays: other objects may have come to use it.
  }
}
