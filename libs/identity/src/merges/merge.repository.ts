import { Injectable } from '@nestjs/common';
import type { SqlRunner } from '#vna/persistence';
import type { MergeCommand, MergeKind, MergeStatus, MergeUndo, PatientMerge, Suspicion, SuspicionCode } from './merge.model.js';

interface MergeRow {
  id: string;
  kind: MergeKind;
  status: MergeStatus;
  prior_patient_id: string;
  prior_issuer: string;
  surviving_patient_id: string;
  surviving_issuer: string;
  prior_fk: string | null;
  surviving_fk: string | null;
  suspicion: string | null;
  suspicion_code: SuspicionCode | null;
  command: MergeCommand;
  undo: MergeUndo | null;
  requested_by: string;
  requested_at: Date;
  hl7_message_id: string | null;
  task_fk: string | null;
  applied_by: string | null;
  applied_at: Date | null;
  apply_reason: string | null;
  closed_by: string | null;
  closed_at: Date | null;
  close_reason: string | null;
}

export interface MergeQuery {
  readonly status?: MergeStatus;
  readonly kind?: MergeKind;
  /** Merges whose prior or surviving identifier is this one (issuer optional), or that touched this registry patient. */
  readonly patientId?: string;
  readonly issuer?: string;
  readonly registryPatientId?: string;
  readonly limit: number;
  readonly offset: number;
}

const str = (v: string | null): string | null => (v === null ? null : String(v));

function mergeOf(r: MergeRow, withUndo = false): PatientMerge & { undo?: MergeUndo | null } {
  return {
    id: String(r.id),
    kind: r.kind,
    status: r.status,
    prior: { patientId: r.prior_patient_id, issuer: r.prior_issuer },
    surviving: { patientId: r.surviving_patient_id, issuer: r.surviving_issuer },
    priorPatient: str(r.prior_fk),
    survivingPatient: str(r.surviving_fk),
    suspicion: r.suspicion_code ? { code: r.suspicion_code, text: r.suspicion ?? '' } : null,
    requestedBy: r.requested_by,
    requestedAt: r.requested_at.toISOString(),
    hl7MessageId: str(r.hl7_message_id),
    taskId: str(r.task_fk),
    appliedBy: r.applied_by,
    appliedAt: r.applied_at ? r.applied_at.toISOString() : null,
    applyReason: r.apply_reason,
    closedBy: r.closed_by,
    closedAt: r.closed_at ? r.closed_at.toISOString() : null,
    closeReason: r.close_reason,
    command: r.command,
    ...(r.undo ? { indexRowsTouched: r.undo.rows.length } : {}),
    ...(withUndo ? { undo: r.undo } : {}),
  };
}

/** The patient_merge table: merges and identifier changes, held, applied, rejected, unmerged. */
@Injectable()
export class MergeRepository {
  async insert(
    tx: SqlRunner,
    m: {
      command: MergeCommand;
      status: 'held' | 'applied';
      suspicion?: Suspicion;
      requestedBy: string;
      hl7MessageId?: string;
    },
  ): Promise<string> {
    const surviving = m.command.surviving.identifiers[0]!;
    const rows: { id: string }[] = await tx.query(
      `INSERT INTO patient_merge (kind, status, prior_patient_id, prior_issuer, surviving_patient_id, surviving_issuer, suspicion, suspicion_code, command, requested_by, hl7_message_id)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9::jsonb, $10, $11) RETURNING id`,
      [
        m.command.kind,
        m.status,
        m.command.prior.patientId,
        m.command.prior.issuer,
        surviving.patientId,
        surviving.issuer,
        m.suspicion?.text ?? null,
        m.suspicion?.code ?? null,
        JSON.stringify(m.command),
        m.requestedBy,
        m.hl7MessageId ?? null,
      ],
    );
    return String(rows[0]!.id);
  }

  async get(tx: SqlRunner, id: string, lock = false): Promise<(PatientMerge & { undo?: MergeUndo | null }) | undefined> {
    if (!/^\d{1,18}$/.test(id)) return undefined;
    const rows: MergeRow[] = await tx.query(`SELECT * FROM patient_merge WHERE id = $1${lock ? ' FOR UPDATE' : ''}`, [id]);
    return rows[0] ? mergeOf(rows[0], true) : undefined;
  }

  async setTask(tx: SqlRunner, id: string, taskId: string): Promise<void> {
    await tx.query(`UPDATE patient_merge SET task_fk = $2 WHERE id = $1`, [id, taskId]);
  }

  async markApplied(tx: SqlRunner, id: string, a: { priorFk: string; survivingFk: string; undo: MergeUndo; by: string; reason?: string }): Promise<void> {
    await tx.query(
      `UPDATE patient_merge SET status = 'applied', prior_fk = $2, surviving_fk = $3, undo = $4::jsonb, applied_by = $5, applied_at = now(), apply_reason = $6 WHERE id = $1`,
      [id, a.priorFk, a.survivingFk, JSON.stringify(a.undo), a.by, a.reason ?? null],
    );
  }

  /** Records the registry patients a held merge is about (once known), for listing by patient. */
  async setPatients(tx: SqlRunner, id: string, priorFk: string | null, survivingFk: string | null): Promise<void> {
    await tx.query(`UPDATE patient_merge SET prior_fk = $2, surviving_fk = $3 WHERE id = $1`, [id, priorFk, survivingFk]);
  }

  async close(tx: SqlRunner, id: string, status: 'rejected' | 'unmerged', by: string, reason: string): Promise<void> {
    await tx.query(`UPDATE patient_merge SET status = $2, closed_by = $3, closed_at = now(), close_reason = $4 WHERE id = $1`, [id, status, by, reason]);
  }

  /** The applied merge that merged this record into another (the latest). */
  async appliedMergeOf(tx: SqlRunner, priorFk: string): Promise<string | undefined> {
    const rows: { id: string }[] = await tx.query(
      `SELECT id FROM patient_merge WHERE prior_fk = $1 AND kind = 'merge' AND status = 'applied' ORDER BY id DESC LIMIT 1`,
      [priorFk],
    );
    return rows[0] ? String(rows[0].id) : undefined;
  }

  async list(tx: SqlRunner, q: MergeQuery): Promise<PatientMerge[]> {
    const where: string[] = [];
    const params: unknown[] = [];
    const add = (v: unknown): string => {
      params.push(v);
      return `$${params.length}`;
    };
    if (q.status) where.push(`status = ${add(q.status)}`);
    if (q.kind) where.push(`kind = ${add(q.kind)}`);
    if (q.patientId !== undefined) {
      const id = add(q.patientId);
      if (q.issuer !== undefined) {
        const issuer = add(q.issuer);
        where.push(`((prior_patient_id = ${id} AND prior_issuer = ${issuer}) OR (surviving_patient_id = ${id} AND surviving_issuer = ${issuer}))`);
      } else {
        where.push(`(prior_patient_id = ${id} OR surviving_patient_id = ${id})`);
      }
    }
    if (q.registryPatientId !== undefined) {
      const p = add(q.registryPatientId);
      where.push(`(prior_fk = ${p} OR surviving_fk = ${p})`);
    }
    const rows: MergeRow[] = await tx.query(
      `SELECT * FROM patient_merge ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY id DESC LIMIT ${add(q.limit)} OFFSET ${add(q.offset)}`,
      params,
    );
    return rows.map((r) => mergeOf(r));
  }
}
