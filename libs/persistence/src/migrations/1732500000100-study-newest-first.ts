import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Studies in the order FHIR ImagingStudy searches page them (newest first, undated last): a page
 * of a large result reads its rows from the index and stops, instead of sorting every match. The
 * ascending (study_date, study_time) index cannot give DESC NULLS LAST.
 */
export class StudyNewestFirst1732500000100 implements MigrationInterface {
  name = 'StudyNewestFirst1732500000100';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE INDEX study_newest_first ON study (study_date DESC NULLS LAST, study_time DESC NULLS LAST, id DESC)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP INDEX IF EXISTS study_newest_first`);
  }
}
