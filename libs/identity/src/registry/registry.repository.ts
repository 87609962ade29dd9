import { Injectable } from '@nestjs/common';
import type { SqlRunner } from '#vna/persistence';
import {
  type ChangeAudit,
  identityKey,
  type PatientIdentifier,
  type PersonNameGroups,
  type RegistryIdentifier,
  type RegistryPatientState,
  type RegistryStatus,
  sameIdentity,
} from './registry.model.js';

interface PatientRow {
  id: string;
  status: RegistryStatus;
  merged_into: string | null;
  name_alphabetic: string;
  name_ideographic: string;
  name_phonetic: string;
  birth_date: string | null;
  sex: string | null;
  version: number;
}

interface IdentifierRow {
  registry_patient_fk: string;
  patient_id: string;
  issuer: string;
  type_code: string;
  position: number;
  status: 'active' | 'replaced';
}

/** An identifier found in the registry, with the state of the record that holds it. */
export interface IdentifierMatch {
  readonly identifier: RegistryIdentifier;
  readonly patientFk: string;
  readonly patientStatus: RegistryStatus;
  /** The record's version when read: every change of the record or its identifiers raises it. */
  readonly patientVersion: number;
}

export interface NewPatient {
  readonly status?: 'active' | 'merged';
  readonly mergedInto?: string | null;
  readonly name: PersonNameGroups;
  readonly birthDate: string | null;
  readonly sex: string | null;
  readonly identifiers: readonly PatientIdentifier[];
}

/** One version of a record: the state after a change, and who, when, why. */
export interface RegistryVersion {
  readonly version: number;
  readonly change: string;
  readonly state: RegistryPatientState;
  readonly actor: string;
  readonly at: string;
  readonly hl7MessageId: string | null;
  readonly mergeId: string | null;
  readonly reason: string | null;
}

/** registry_version's values after its registry_patient_fk: version, change, state, actor, hl7_message_id, merge_fk, reason. */
function versionParams(state: RegistryPatientState, change: string, audit: ChangeAudit): unknown[] {
  return [state.version, change, JSON.stringify(state), audit.actor, audit.hl7MessageId ?? null, audit.mergeId ?? null, audit.reason ?? null];
}

/** The registry's identifiers among ($1 issuers, $2 patient ids), with their records' status and version. */
const FIND_IDENTIFIERS = `SELECT i.registry_patient_fk, i.patient_id, i.issuer, i.type_code, i.position, i.status, p.status AS patient_status, p.version AS patient_version
    FROM registry_identifier i JOIN registry_patient p ON p.id = i.registry_patient_fk
   WHERE (i.issuer, i.patient_id) IN (SELECT * FROM unnest($1::text[], $2::text[]))`;

/** A record's identifiers (in PID-3 order) as a JSON array of IdentifierRow, for a query over registry_patient p. */
const IDENTIFIERS_JSON = `COALESCE((
    SELECT json_agg(json_build_object('registry_patient_fk', i.registry_patient_fk::text, 'patient_id', i.patient_id, 'issuer', i.issuer,
                                      'type_code', i.type_code, 'position', i.position, 'status', i.status) ORDER BY i.position, i.id)
      FROM registry_identifier i WHERE i.registry_patient_fk = p.id), '[]')`;

type LockedRow = PatientRow & { identifiers: IdentifierRow[]; snapshot_version: number };

type MatchRow = IdentifierRow & { patient_status: RegistryStatus; patient_version: number };

function matchOf(r: MatchRow): IdentifierMatch {
  return { identifier: identifierOf(r), patientFk: String(r.registry_patient_fk), patientStatus: r.patient_status, patientVersion: r.patient_version };
}

/** Longest merge chain followed; a longer one means a cycle, which the writes never make. */
export const MAX_CHAIN = 64;

/**
 * The registry tables (registry_patient, registry_identifier, registry_version). Every method runs
 * in the caller's transaction. Lock order, everywhere: identity advisory locks, then registry rows
 * (ascending id), then index patient rows; the ingest hook follows the same order. A HIM decision
 * on an 'unknown-patient' task takes the task's identity lock before the task row (ADT closes such
 * tasks after its own locks).
 */
@Injectable()
export class RegistryRepository {
  /**
   * Serializes everything that links index rows by an identity (ADT adding an identifier, the
   * ingest hook linking a new row), so neither misses the other's uncommitted row.
   */
  async lockIdentities(tx: SqlRunner, ids: readonly { patientId: string; issuer: string }[]): Promise<void> {
    const keys = [...new Set(ids.map(identityKey))].sort();
    for (const key of keys) await tx.query(`SELECT pg_advisory_xact_lock(7342, hashtext($1))`, [key]);
  }

  /**
   * `lockIdentities`, `findIdentifiers` and `lockStates` of the records found, in one statement
   * (an ADT update's common case: one round trip instead of three). The statement's snapshot may
   * predate the locks (taken while it runs), so its matches are as of then: each match carries its
   * record's version as of that snapshot, each state the version once locked (the latest
   * committed); callers compare the two (every change of a record or its identifiers raises its
   * version) and look again, now under the locks, for identifiers it did not find.
   */
  async lockFindAndLockStates(
    tx: SqlRunner,
    ids: readonly { patientId: string; issuer: string }[],
  ): Promise<{ matches: IdentifierMatch[]; states: Map<string, RegistryPatientState> }> {
    if (ids.length === 0) return { matches: [], states: new Map() };
    const keys = [...new Set(ids.map(identityKey))].sort();
    // `locked` is the outer side of the final LEFT JOIN: its advisory locks come first (the lock
    // order) and are taken even when nothing is found; the records' row locks follow in id order.
    const rows: (LockedRow | { id: null })[] = await tx.query(
      `WITH locked AS MATERIALIZED (SELECT count(pg_advisory_xact_lock(7342, hashtext(k))) AS locks FROM (SELECT k FROM unnest($3::text[]) k ORDER BY k) keys),
       found AS MATERIALIZED (SELECT f.registry_patient_fk, f.patient_version FROM locked LEFT JOIN (${FIND_IDENTIFIERS}) f ON true),
       states AS MATERIALIZED (
         SELECT p.*, f.snapshot_version, ${IDENTIFIERS_JSON} AS identifiers
           FROM registry_patient p JOIN (SELECT registry_patient_fk, min(patient_version) AS snapshot_version FROM found GROUP BY 1) f ON f.registry_patient_fk = p.id
          ORDER BY p.id FOR UPDATE OF p)
       SELECT locked.locks, states.* FROM locked LEFT JOIN states ON true`,
      [ids.map((i) => i.issuer), ids.map((i) => i.patientId), keys],
    );
    const matches: IdentifierMatch[] = [];
    const states = new Map<string, RegistryPatientState>();
    for (const row of rows) {
      if (row.id === null) continue;
      const { identifiers, snapshot_version, ...p } = row;
      const state = stateOf(p, identifiers);
      states.set(state.id, state);
      // The identifiers are as of the snapshot, like the matches of findIdentifiers.
      for (const identifier of state.identifiers) {
        if (ids.some((c) => sameIdentity(c, identifier))) {
          matches.push({ identifier, patientFk: state.id, patientStatus: p.status, patientVersion: snapshot_version });
        }
      }
    }
    return { matches, states };
  }

  async findIdentifiers(tx: SqlRunner, ids: readonly { patientId: string; issuer: string }[]): Promise<IdentifierMatch[]> {
    if (ids.length === 0) return [];
    const rows: MatchRow[] = await tx.query(FIND_IDENTIFIERS, [ids.map((i) => i.issuer), ids.map((i) => i.patientId)]);
    return rows.map(matchOf);
  }

  /**
   * Row locks on records (ascending id, the lock order) and each record's state once locked (the
   * latest committed version; its identifiers as of this statement's snapshot, so a caller that
   * sees a version other than the one it read before must load the record again).
   */
  async lockStates(tx: SqlRunner, ids: readonly string[]): Promise<Map<string, RegistryPatientState>> {
    const sorted = [...new Set(ids)].sort((a, b) => Number(a) - Number(b));
    if (sorted.length === 0) return new Map();
    const states = await this.loadMany(tx, sorted, true);
    return new Map(states.map((s) => [s.id, s]));
  }

  /** Row locks on records, in ascending id order (the lock order). */
  async lock(tx: SqlRunner, ids: readonly string[], mode: 'update' | 'share' = 'update'): Promise<void> {
    const sorted = [...new Set(ids)].sort((a, b) => Number(a) - Number(b));
    if (sorted.length === 0) return;
    await tx.query(`SELECT id FROM registry_patient WHERE id = ANY($1::bigint[]) ORDER BY id FOR ${mode === 'update' ? 'UPDATE' : 'SHARE'}`, [sorted]);
  }

  async load(tx: SqlRunner, id: string): Promise<RegistryPatientState | undefined> {
    return (await this.loadMany(tx, [id]))[0];
  }

  async loadMany(tx: SqlRunner, ids: readonly string[], lock = false): Promise<RegistryPatientState[]> {
    if (ids.length === 0) return [];
    // One round trip: each record with its identifiers (in PID-3 order).
    const patients: (PatientRow & { identifiers: IdentifierRow[] })[] = await tx.query(
      `SELECT p.*, ${IDENTIFIERS_JSON} AS identifiers
         FROM registry_patient p WHERE p.id = ANY($1::bigint[]) ORDER BY p.id${lock ? ' FOR UPDATE OF p' : ''}`,
      [ids],
    );
    return patients.map(({ identifiers, ...p }) => stateOf(p, identifiers));
  }

  /** The active end of a record's merge chain (the record itself when it is not merged). */
  async chainEnd(tx: SqlRunner, id: string): Promise<string> {
    const rows: { id: string; merged_into: string | null; depth: number }[] = await tx.query(
      `WITH RECURSIVE chain(id, merged_into, depth) AS (
         SELECT id, merged_into, 0 FROM registry_patient WHERE id = $1
         UNION ALL
         SELECT p.id, p.merged_into, c.depth + 1 FROM registry_patient p JOIN chain c ON p.id = c.merged_into WHERE c.depth < ${MAX_CHAIN})
       SELECT id, merged_into, depth FROM chain ORDER BY depth DESC LIMIT 1`,
      [id],
    );
    const end = rows[0];
    if (!end) throw new Error(`registry patient ${id} does not exist`);
    if (end.merged_into !== null) throw new Error(`registry patient ${id}: merge chain longer than ${MAX_CHAIN} (a cycle?)`);
    return String(end.id);
  }

  /** Every record whose merge chain ends at `endId`, `endId` included. */
  async members(tx: SqlRunner, endId: string): Promise<string[]> {
    const rows: { id: string }[] = await tx.query(
      `WITH RECURSIVE members(id, depth) AS (
         SELECT id, 0 FROM registry_patient WHERE id = $1
         UNION ALL
         SELECT p.id, m.depth + 1 FROM registry_patient p JOIN members m ON p.merged_into = m.id WHERE m.depth < ${MAX_CHAIN})
       SELECT id FROM members`,
      [endId],
    );
    return rows.map((r) => String(r.id));
  }

  /** Records merged into this one directly. */
  async mergedInto(tx: SqlRunner, id: string): Promise<string[]> {
    const rows: { id: string }[] = await tx.query(`SELECT id FROM registry_patient WHERE merged_into = $1 ORDER BY id`, [id]);
    return rows.map((r) => String(r.id));
  }

  async create(tx: SqlRunner, patient: NewPatient, change: string, audit: ChangeAudit): Promise<string> {
    const rows: { id: string }[] = await tx.query(
      `INSERT INTO registry_patient (status, merged_into, name_alphabetic, name_ideographic, name_phonetic, birth_date, sex)
       VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id`,
      [patient.status ?? 'active', patient.mergedInto ?? null, patient.name.alphabetic, patient.name.ideographic, patient.name.phonetic, patient.birthDate, patient.sex],
    );
    const id = String(rows[0]!.id);
    await this.addIdentifiers(tx, id, patient.identifiers, 0);
    await this.writeVersion(tx, id, change, audit);
    return id;
  }

  async addIdentifiers(tx: SqlRunner, patientFk: string, ids: readonly (PatientIdentifier & { position?: number })[], firstPosition: number): Promise<void> {
    if (ids.length === 0) return;
    await tx.query(
      `INSERT INTO registry_identifier (registry_patient_fk, patient_id, issuer, type_code, position)
       SELECT $1, * FROM unnest($2::text[], $3::text[], $4::text[], $5::int[])`,
      [patientFk, ids.map((i) => i.patientId), ids.map((i) => i.issuer), ids.map((i) => i.typeCode), ids.map((i, n) => i.position ?? firstPosition + n)],
    );
  }

  async setIdentifier(tx: SqlRunner, id: { patientId: string; issuer: string }, values: { status?: 'active' | 'replaced'; typeCode?: string; position?: number }): Promise<void> {
    await tx.query(
      `UPDATE registry_identifier SET status = COALESCE($3, status), type_code = COALESCE($4, type_code), position = COALESCE($5, position)
        WHERE issuer = $1 AND patient_id = $2`,
      [id.issuer, id.patientId, values.status ?? null, values.typeCode ?? null, values.position ?? null],
    );
  }

  async deleteIdentifier(tx: SqlRunner, id: { patientId: string; issuer: string }): Promise<void> {
    await tx.query(`DELETE FROM registry_identifier WHERE issuer = $1 AND patient_id = $2`, [id.issuer, id.patientId]);
  }

  async deleteIdentifiersOf(tx: SqlRunner, patientFk: string): Promise<void> {
    await tx.query(`DELETE FROM registry_identifier WHERE registry_patient_fk = $1`, [patientFk]);
  }

  /**
   * Changes a record's own columns (not its identifiers) and bumps its version. With `version`
   * (the record's state after this change), that state is kept as its version in the same statement.
   */
  async update(
    tx: SqlRunner,
    id: string,
    values: { status?: RegistryStatus; mergedInto?: string | null; name?: PersonNameGroups; birthDate?: string | null; sex?: string | null },
    version?: { readonly change: string; readonly audit: ChangeAudit; readonly state: RegistryPatientState },
  ): Promise<void> {
    const sets: string[] = ['version = version + 1', 'updated_at = now()'];
    const params: unknown[] = [id];
    const set = (column: string, value: unknown): void => {
      params.push(value);
      sets.push(`${column} = $${params.length}`);
    };
    if (values.status !== undefined) set('status', values.status);
    if (values.mergedInto !== undefined) set('merged_into', values.mergedInto);
    if (values.name !== undefined) {
      set('name_alphabetic', values.name.alphabetic);
      set('name_ideographic', values.name.ideographic);
      set('name_phonetic', values.name.phonetic);
    }
    if (values.birthDate !== undefined) set('birth_date', values.birthDate);
    if (values.sex !== undefined) set('sex', values.sex);
    const update = `UPDATE registry_patient SET ${sets.join(', ')} WHERE id = $1`;
    if (!version) {
      await tx.query(update, params);
      return;
    }
    const n = params.length;
    params.push(...versionParams(version.state, version.change, version.audit));
    await tx.query(
      `WITH changed AS (${update} RETURNING id)
       INSERT INTO registry_version (registry_patient_fk, version, change, state, actor, hl7_message_id, merge_fk, reason)
       SELECT id, $${n + 1}, $${n + 2}, $${n + 3}::jsonb, $${n + 4}, $${n + 5}, $${n + 6}, $${n + 7} FROM changed`,
      params,
    );
  }

  /** Bumps the version without another change (identifiers changed). */
  async touch(tx: SqlRunner, id: string): Promise<void> {
    await tx.query(`UPDATE registry_patient SET version = version + 1, updated_at = now() WHERE id = $1`, [id]);
  }

  /** Keeps the record's state as its current version, with who, when and why (`known`: that state, when the caller has it). */
  async writeVersion(tx: SqlRunner, id: string, change: string, audit: ChangeAudit, known?: RegistryPatientState): Promise<RegistryPatientState> {
    const state = known ?? (await this.load(tx, id));
    if (!state) throw new Error(`registry patient ${id} does not exist`);
    await tx.query(
      `INSERT INTO registry_version (registry_patient_fk, version, change, state, actor, hl7_message_id, merge_fk, reason)
       VALUES ($1, $2, $3, $4::jsonb, $5, $6, $7, $8)`,
      [id, ...versionParams(state, change, audit)],
    );
    return state;
  }

  async versions(tx: SqlRunner, id: string): Promise<RegistryVersion[]> {
    const rows: { version: number; change: string; state: RegistryPatientState; actor: string; at: Date; hl7_message_id: string | null; merge_fk: string | null; reason: string | null }[] =
      await tx.query(`SELECT version, change, state, actor, at, hl7_message_id, merge_fk, reason FROM registry_version WHERE registry_patient_fk = $1 ORDER BY version DESC`, [id]);
    return rows.map((r) => ({
      version: r.version,
      change: r.change,
      state: r.state,
      actor: r.actor,
      at: r.at.toISOString(),
      hl7MessageId: r.hl7_message_id === null ? null : String(r.hl7_message_id),
      mergeId: r.merge_fk === null ? null : String(r.merge_fk),
      reason: r.reason,
    }));
  }

  /** Registry search: by identifier (with or without issuer) and/or name (DICOM wildcards * and ?, case-insensitive). */
  async search(
    tx: SqlRunner,
    q: { patientId?: string; issuer?: string; name?: string; status?: RegistryStatus; limit: number; offset: number },
  ): Promise<RegistryPatientState[]> {
    const where: string[] = [];
    const params: unknown[] = [];
    const add = (v: unknown): string => {
      params.push(v);
      return `$${params.length}`;
    };
    if (q.patientId !== undefined) {
      const issuer = q.issuer !== undefined ? ` AND i.issuer = ${add(q.issuer)}` : '';
      where.push(`p.id IN (SELECT i.registry_patient_fk FROM registry_identifier i WHERE i.patient_id = ${add(q.patientId)}${issuer})`);
    } else if (q.issuer !== undefined) {
      where.push(`p.id IN (SELECT i.registry_patient_fk FROM registry_identifier i WHERE i.issuer = ${add(q.issuer)})`);
    }
    if (q.name) where.push(`upper(p.name_alphabetic) LIKE ${add(namePattern(q.name))}`);
    if (q.status) where.push(`p.status = ${add(q.status)}`);
    const rows: { id: string }[] = await tx.query(
      `SELECT p.id FROM registry_patient p ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY p.id LIMIT ${add(q.limit)} OFFSET ${add(q.offset)}`,
      params,
    );
    return this.loadMany(tx, rows.map((r) => String(r.id)));
  }
}

/** A name search as a LIKE pattern: * and ? are wildcards; without one it is a prefix. */
function namePattern(name: string): string {
  const escaped = name.toUpperCase().replace(/[\\%_]/g, (c) => `\\${c}`);
  const hasWildcard = /[*?]/.test(name);
  const pattern = escaped.replace(/\*/g, '%').replace(/\?/g, '_');
  return hasWildcard ? pattern : `${pattern}%`;
}

function identifierOf(r: IdentifierRow): RegistryIdentifier {
  return { patientId: r.patient_id, issuer: r.issuer, typeCode: r.type_code, position: r.position, status: r.status };
}

function stateOf(p: PatientRow, identifiers: IdentifierRow[]): RegistryPatientState {
  return {
    id: String(p.id),
    status: p.status,
    mergedInto: p.merged_into === null ? null : String(p.merged_into),
    name: { alphabetic: p.name_alphabetic, ideographic: p.name_ideographic, phonetic: p.name_phonetic },
    birthDate: p.birth_date,
    sex: p.sex,
    version: p.version,
    identifiers: identifiers.map(identifierOf),
  };
}
