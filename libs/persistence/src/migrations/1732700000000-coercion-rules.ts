import type { MigrationInterface, QueryRunner } from 'typeorm';

/** The rules the archive ships with (libs/normalization README): visible, versioned and switchable like any other. */
export const BUILTIN_RULES = [
  {
    name: 'builtin: manufacturer spellings',
    description: 'Folds the spellings of one vendor to one name for search; objects leave with the Manufacturer they were sent with.',
    phase: 'ingest',
    enabled: true,
    priority: 10,
    indexOnly: true,
    conditions: [{ attribute: 'Manufacturer', present: true }],
    actions: [
      { op: 'replace', attribute: 'Manufacturer', pattern: '^\\s*(G\\.?\\s*E\\.?|GE)\\s*(MEDICAL\\s+SYSTEMS?|HEALTH\\s*CARE|MEDICAL)?(\\s*,?\\s*(INC|LLC|LTD)\\.?)?\\s*$', flags: 'i', replacement: 'GE Healthcare' },
      { op: 'replace', attribute: 'Manufacturer', pattern: '^\\s*SIEMENS(\\s+(AG|HEALTHCARE(\\s+GMBH)?|HEALTHINEERS|MEDICAL(\\s+SOLUTIONS)?))?\\s*$', flags: 'i', replacement: 'Siemens Healthineers' },
      { op: 'replace', attribute: 'Manufacturer', pattern: '^\\s*PHILIPS(\\s+(MEDICAL\\s+SYSTEMS|HEALTHCARE))?\\s*$', flags: 'i', replacement: 'Philips' },
      { op: 'replace', attribute: 'Manufacturer', pattern: '^\\s*(TOSHIBA|CANON)(\\s+(MEDICAL\\s+SYSTEMS|MEC))?\\s*$', flags: 'i', replacement: 'Canon Medical Systems' },
    ],
  },
  {
    name: 'builtin: legacy dates and times',
    description: 'Dates written 1993.04.30, 1993-04-30 or 1993/04/30 become DA (19930430); times written 14:05:09 become TM (PS3.5 6.2).',
    phase: 'ingest',
    enabled: true,
    priority: 20,
    conditions: [],
    actions: [
      ...['StudyDate', 'SeriesDate', 'AcquisitionDate', 'ContentDate', 'PatientBirthDate'].map((attribute) => ({ op: 'date', attribute })),
      ...['StudyTime', 'SeriesTime', 'AcquisitionTime', 'ContentTime'].map((attribute) => ({ op: 'time', attribute })),
    ],
  },
  {
    name: 'builtin: person names',
    description: 'Stray spaces around and inside name components and trailing carets removed (PS3.5 6.2.1).',
    phase: 'ingest',
    enabled: true,
    priority: 30,
    conditions: [],
    actions: ['PatientName', 'ReferringPhysicianName', 'PerformingPhysicianName', 'OperatorsName'].map((attribute) => ({ op: 'person-name', attribute })),
  },
  {
    name: 'builtin: issuer of patient id',
    description: "A missing IssuerOfPatientID takes the source's default (VNA_COERCION_SOURCE_ISSUERS); sources without one are left alone.",
    phase: 'ingest',
    enabled: true,
    priority: 40,
    conditions: [{ attribute: 'IssuerOfPatientID', present: false }],
    actions: [{ op: 'issuer' }],
  },
];

/**
 * Attribute coercion (libs/normalization): rules with every version kept (who, when, why), and
 * per instance what ingest coercion did: `coerced` (the changed attributes laid over the original
 * on the way out; null where one was removed), `received` (their values as received) and the rule
 * versions that touched it. The stored bytes are never changed (ARCHITECTURE.md invariant 2).
 * OtherPatientIDsSequence gets an index so that a query by an other patient ID finds the patient.
 */
export class CoercionRules1732700000000 implements MigrationInterface {
  name = 'CoercionRules1732700000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE coercion_rule (
        id bigserial PRIMARY KEY,
        name text NOT NULL,
        version integer NOT NULL DEFAULT 1,
        spec jsonb NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now(),
        deleted_at timestamptz
      )`);
    await q.query(`CREATE UNIQUE INDEX coercion_rule_name ON coercion_rule (lower(name)) WHERE deleted_at IS NULL`);
    await q.query(`
      CREATE TABLE coercion_rule_version (
        rule_fk bigint NOT NULL REFERENCES coercion_rule (id),
        version integer NOT NULL,
        spec jsonb NOT NULL,
        change text NOT NULL CHECK (change IN ('created', 'updated', 'deleted')),
        actor text NOT NULL,
        reason text,
        at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (rule_fk, version)
      )`);
    for (const rule of BUILTIN_RULES) {
      await q.query(
        `WITH r AS (INSERT INTO coercion_rule (name, spec) VALUES ($1, $2::jsonb) RETURNING id)
         INSERT INTO coercion_rule_version (rule_fk, version, spec, change, actor, reason) SELECT id, 1, $2::jsonb, 'created', 'system', 'shipped with the archive' FROM r`,
        [rule.name, JSON.stringify(rule)],
      );
    }
    await q.query(`ALTER TABLE instance ADD COLUMN coerced jsonb`);
    await q.query(`ALTER TABLE instance ADD COLUMN received jsonb`);
    await q.query(`ALTER TABLE instance ADD COLUMN coercion_rules text[]`);
    await q.query(`CREATE INDEX patient_other_ids ON patient USING gin ((attributes -> '00101002' -> 'Value') jsonb_path_ops)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP INDEX IF EXISTS patient_other_ids`);
    for (const column of ['coercion_rules', 'received', 'coerced']) await q.query(`ALTER TABLE instance DROP COLUMN IF EXISTS ${column}`);
    await q.query(`DROP TABLE IF EXISTS coercion_rule_version`);
    await q.query(`DROP TABLE IF EXISTS coercion_rule`);
  }
}
