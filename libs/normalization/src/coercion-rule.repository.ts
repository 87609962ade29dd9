import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { DataSource } from 'typeorm';
import type { CoercionRuleSpec } from '#vna/dicom';
import { type SqlRunner, withTransaction } from '#vna/persistence';

/** A rule as stored: its current version. */
export interface StoredCoercionRule {
  readonly id: string;
  readonly name: string;
  readonly version: number;
  readonly rule: CoercionRuleSpec;
  readonly createdAt: Date;
  readonly updatedAt: Date;
  readonly deletedAt: Date | null;
}

/** One version of a rule: what it said, who changed it, when and why. */
export interface CoercionRuleVersion {
  readonly version: number;
  readonly change: 'created' | 'updated' | 'deleted';
  readonly rule: CoercionRuleSpec;
  readonly actor: string;
  readonly reason: string | null;
  readonly at: Date;
}

/** What ingest coercion did to one instance. */
export interface InstanceCoercion {
  /** The rule versions that changed something, `id@version`. */
  readonly rules: string[];
  /** Changed attributes as laid over on the way out (null: removed). */
  readonly coerced: unknown;
  /** The changed attributes as received (null: absent). */
  readonly received: unknown;
  /** What ingest reported (invalid UIDs, IS/DS values, unreadable legacy dates), tag references only. */
  readonly warnings: string[];
}

const UNIQUE_VIOLATION = '23505';

const RULE_COLUMNS = `id::text AS id, name, version, spec AS rule, created_at AS "createdAt", updated_at AS "updatedAt", deleted_at AS "deletedAt"`;

/** Coercion rules and their versions (every change is a new version row, in one transaction with the rule). */
@Injectable()
export class CoercionRuleRepository {
  constructor(@InjectDataSource() private readonly db: DataSource) {}

  async list(includeDeleted = false): Promise<StoredCoercionRule[]> {
    return (await this.db.query(
      `SELECT ${RULE_COLUMNS} FROM coercion_rule WHERE $1 OR deleted_at IS NULL ORDER BY (spec->>'priority')::int, name, id`,
      [includeDeleted],
    )) as StoredCoercionRule[];
  }

  async get(id: string): Promise<StoredCoercionRule | undefined> {
    if (!/^\d{1,18}$/.test(id)) return undefined;
    const rows = (await this.db.query(`SELECT ${RULE_COLUMNS} FROM coercion_rule WHERE id = $1`, [id])) as StoredCoercionRule[];
    return rows[0];
  }

  async versions(id: string): Promise<CoercionRuleVersion[]> {
    return (await this.db.query(
      `SELECT version, change, spec AS rule, actor, reason, at FROM coercion_rule_version WHERE rule_fk = $1 ORDER BY version`,
      [id],
    )) as CoercionRuleVersion[];
  }

  /** Every current rule's id and version: changes elsewhere show as a different signature. */
  async signature(): Promise<string> {
    const [row] = (await this.db.query(
      `SELECT coalesce(string_agg(id::text || '@' || version::text, ',' ORDER BY id), '') AS s FROM coercion_rule WHERE deleted_at IS NULL`,
    )) as { s: string }[];
    return row?.s ?? '';
  }

  /** Creates a rule (version 1); undefined when a current rule has the name. */
  async create(rule: CoercionRuleSpec, actor: string, reason: string | null): Promise<StoredCoercionRule | undefined> {
    try {
      return await withTransaction(this.db, async (tx) => {
        const [created] = (await tx.query(`INSERT INTO coercion_rule (name, spec) VALUES ($1, $2::jsonb) RETURNING ${RULE_COLUMNS}`, [rule.name, JSON.stringify(rule)])) as StoredCoercionRule[];
        await this.addVersion(tx, created!.id, 1, rule, 'created', actor, reason);
        return created;
      });
    } catch (e) {
      if ((e as { code?: string }).code === UNIQUE_VIOLATION) return undefined;
      throw e;
    }
  }

  /**
   * A new version of a current rule. `expectedVersion` (optimistic concurrency): the change only
   * applies to that version. Returns 'missing', 'stale', 'name-taken' or the rule.
   */
  async update(
    id: string,
    rule: CoercionRuleSpec,
    actor: string,
    reason: string | null,
    expectedVersion: number | undefined,
    change: 'updated' | 'deleted' = 'updated',
  ): Promise<StoredCoercionRule | 'missing' | 'stale' | 'name-taken'> {
    try {
      return await withTransaction(this.db, async (tx) => {
        const [current] = (await tx.query(`SELECT version FROM coercion_rule WHERE id = $1 AND deleted_at IS NULL FOR UPDATE`, [id])) as { version: number }[];
        if (!current) return 'missing';
        if (expectedVersion !== undefined && current.version !== expectedVersion) return 'stale';
        const [updated] = (await tx.query(
          `UPDATE coercion_rule SET name = $2, spec = $3::jsonb, version = version + 1, updated_at = now(),
             deleted_at = CASE WHEN $4 THEN now() ELSE NULL END
           WHERE id = $1 RETURNING ${RULE_COLUMNS}`,
          [id, rule.name, JSON.stringify(rule), change === 'deleted'],
        )) as StoredCoercionRule[];
        await this.addVersion(tx, id, updated!.version, rule, change, actor, reason);
        return updated!;
      });
    } catch (e) {
      if ((e as { code?: string }).code === UNIQUE_VIOLATION) return 'name-taken';
      throw e;
    }
  }

  private async addVersion(tx: SqlRunner, id: string, version: number, rule: CoercionRuleSpec, change: string, actor: string, reason: string | null): Promise<void> {
    await tx.query(`INSERT INTO coercion_rule_version (rule_fk, version, spec, change, actor, reason) VALUES ($1, $2, $3::jsonb, $4, $5, $6)`, [
      id,
      version,
      JSON.stringify(rule),
      change,
      actor,
      reason,
    ]);
  }

  /** What ingest coercion did to one instance (current version by SOP Instance UID). */
  async instanceCoercion(sopInstanceUid: string): Promise<InstanceCoercion | undefined> {
    const rows = (await this.db.query(
      `SELECT coalesce(coercion_rules, '{}') AS rules, coalesce(coerced, '{}') AS coerced, coalesce(received, '{}') AS received,
              coalesce(ingest_warnings, '{}') AS warnings
         FROM instance WHERE sop_instance_uid = $1 AND is_current`,
      [sopInstanceUid],
    )) as InstanceCoercion[];
    return rows[0];
  }

  /** An instance's index metadata (DICOM JSON text), for egress rules' conditions. */
  async metadata(instanceId: string): Promise<string | undefined> {
    const rows = (await this.db.query(`SELECT metadata FROM instance WHERE id = $1`, [instanceId])) as { metadata: string }[];
    return rows[0]?.metadata;
  }
}
