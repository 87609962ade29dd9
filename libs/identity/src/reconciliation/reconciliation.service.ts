import { Inject, Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { DataSource } from 'typeorm';
import { type SqlRunner, withTransaction } from '#vna/persistence';
import { IDENTITY_SETTINGS, type IdentitySettings } from '../identity-settings.js';
import { IdentityError } from '../identity.errors.js';
import { effectiveIssuer, linkedRowState, type RowState, sameRowState } from '../registry/index-projection.js';
import { IndexRowsRepository } from '../registry/index-rows.repository.js';
import { IndexSync, type RowChange, UNKNOWN_PATIENT } from '../registry/index-sync.js';
import { identifierText, type PatientIdentifier } from '../registry/registry.model.js';
import { RegistryRepository } from '../registry/registry.repository.js';
import { ReconciliationActions, type TaskActionContext } from './reconciliation-actions.js';
import { type ReconciliationTask, ReconciliationTaskRepository, type TaskQuery } from './reconciliation-task.repository.js';

/** A HIM decision: who (the API key's name) and why (required: the audit trail keeps it). */
export interface TaskDecision {
  readonly user: string;
  readonly reason: string;
}

/**
 * Reconciliation tasks for HIM staff (`/api/v1/reconciliation-tasks`): list, accept, reassign to
 * another patient, dismiss, and undo a reassignment. Every decision closes the task with who,
 * when, why and what it changed (with the previous state). What a decision means for a kind of
 * task comes from ReconciliationActions; by default, reassigning links the task's index patient
 * row to the named registry patient (a manual link, never by name or guess).
 */
@Injectable()
export class ReconciliationService {
  constructor(
    @InjectDataSource() private readonly db: DataSource,
    private readonly tasks: ReconciliationTaskRepository,
    private readonly actions: ReconciliationActions,
    private readonly registry: RegistryRepository,
    private readonly rows: IndexRowsRepository,
    private readonly sync: IndexSync,
    @Inject(IDENTITY_SETTINGS) private readonly settings: IdentitySettings,
  ) {}

  list(q: TaskQuery): Promise<ReconciliationTask[]> {
    return withTransaction(this.db, (tx) => this.tasks.list(tx, q));
  }

  async get(id: string): Promise<ReconciliationTask> {
    const task = await withTransaction(this.db, (tx) => this.tasks.get(tx, checkId(id)));
    if (!task) throw new IdentityError('not-found', `no reconciliation task ${id}`);
    return task;
  }

  /** The case is fine as it is (e.g. the objects' identity as received stands). */
  accept(id: string, decision: TaskDecision): Promise<ReconciliationTask> {
    return this.decide(id, decision, 'accepted', (ctx) => this.actions.get(ctx.task.kind)?.accept?.(ctx) ?? Promise.resolve({}));
  }

  /** Not a case: closed without a change. */
  dismiss(id: string, decision: TaskDecision): Promise<ReconciliationTask> {
    return this.decide(id, decision, 'dismissed', (ctx) => this.actions.get(ctx.task.kind)?.dismiss?.(ctx) ?? Promise.resolve({}));
  }

  /** The objects belong to another patient, named by an identifier (the issuer defaults like PID-3's). */
  reassign(id: string, decision: TaskDecision, to: { patientId: string; issuer?: string }): Promise<ReconciliationTask> {
    const target: PatientIdentifier = { patientId: to.patientId, issuer: effectiveIssuer(to.issuer ?? '', this.settings.defaultIssuer), typeCode: '' };
    return this.decide(id, decision, 'reassigned', (ctx) => {
      const own = this.actions.get(ctx.task.kind)?.reassign;
      return own ? own({ ...ctx, target }) : this.linkManually(ctx, target);
    });
  }

  /**
   * Undoes a reassignment: the rows it linked are linked as they were before (to the registry's
   * current values) or unlinked, and the question is open again as a new task.
   */
  undoReassign(id: string, decision: TaskDecision): Promise<ReconciliationTask> {
    return withTransaction(this.db, async (tx) => {
      const task = await this.lockTask(tx, checkId(id));
      if (!task) throw new IdentityError('not-found', `no reconciliation task ${id}`);
      const recorded = (task.resolution?.['rows'] ?? undefined) as RowChange[] | undefined;
      if (task.status !== 'reassigned' || !recorded || task.resolution?.['undone']) {
        throw new IdentityError('conflict', `task ${id} is ${task.status}${task.resolution?.['undone'] ? ' (already undone)' : ''}: only a reassignment can be undone`);
      }
      const rows = await this.rows.byIds(tx, recorded.map((r) => r.id));
      const restored: RowChange[] = [];
      for (const row of rows) {
        const was = recorded.find((r) => r.id === row.id)!;
        // Exactly the previous state when nothing changed since; else the previous link with today's registry values.
        const state: RowState = sameRowState(row.state, was.after) ? was.before : await this.sync.stateFor(tx, row, was.before);
        restored.push({ id: row.id, before: row.state, after: state });
      }
      await this.rows.write(tx, restored.map((r) => ({ id: r.id, state: r.after })));
      const reopened = await this.tasks.open(tx, {
        kind: task.kind,
        subject: task.subject,
        studyRowId: task.studyRowId ?? undefined,
        patientRowId: task.patientRowId ?? undefined,
        details: { ...task.details, reopenedFrom: task.id },
        openedBy: decision.user,
      });
      await this.tasks.annotate(tx, task.id, { undone: { by: decision.user, at: new Date().toISOString(), reason: decision.reason, rows: restored, reopenedTask: reopened } });
      return (await this.tasks.get(tx, task.id))!;
    });
  }

  private decide(
    id: string,
    decision: TaskDecision,
    status: 'accepted' | 'dismissed' | 'reassigned',
    act: (ctx: TaskActionContext) => Promise<Record<string, unknown>>,
  ): Promise<ReconciliationTask> {
    return withTransaction(this.db, async (tx) => {
      const task = await this.lockTask(tx, checkId(id));
      if (!task) throw new IdentityError('not-found', `no reconciliation task ${id}`);
      if (task.status !== 'open') throw new IdentityError('conflict', `task ${id} is already ${task.status}`);
      const outcome = await act({ tx, task, user: decision.user, reason: decision.reason });
      await this.tasks.close(tx, task.id, status, decision.user, { reason: decision.reason, ...outcome });
      return (await this.tasks.get(tx, task.id))!;
    });
  }

  /**
   * Locks a task for a decision. An 'unknown-patient' task is also answered by ADT, which takes its
   * identity's lock before anything else and closes the task last: the decision takes the same
   * identity lock before the task's, so that the two queue instead of deadlocking.
   */
  private async lockTask(tx: SqlRunner, id: string): Promise<ReconciliationTask | undefined> {
    const task = await this.tasks.get(tx, id);
    const { patientId, issuer } = task?.details ?? {};
    if (task?.kind === UNKNOWN_PATIENT && typeof patientId === 'string' && typeof issuer === 'string') {
      await this.registry.lockIdentities(tx, [{ patientId, issuer }]);
    }
    return this.tasks.get(tx, id, true);
  }

  /**
   * The default reassignment: the task's index patient row (or its study's) is linked by hand to
   * the registry patient holding `target`, and carries that patient's identity. Every study of the
   * row moves with it (the row is the identity the objects arrived with); they are listed.
   */
  private async linkManually(ctx: TaskActionContext, target: PatientIdentifier): Promise<Record<string, unknown>> {
    const { tx, task } = ctx;
    const rowId = task.patientRowId ?? (await this.patientRowOfStudy(tx, task.studyRowId));
    if (!rowId) throw new IdentityError('invalid', `task ${task.id} names no patient or study to reassign`);
    const [match] = await this.registry.findIdentifiers(tx, [target]);
    if (!match) throw new IdentityError('not-found', `the registry knows no patient with identifier ${identifierText(target)}`);
    let end = await this.registry.chainEnd(tx, match.patientFk);
    await this.registry.lock(tx, [end], 'share');
    const again = await this.registry.chainEnd(tx, match.patientFk);
    if (again !== end) {
      end = again;
      await this.registry.lock(tx, [end], 'share');
    }
    const patient = (await this.registry.load(tx, end))!;
    const [row] = await this.rows.byIds(tx, [rowId]);
    if (!row) throw new IdentityError('not-found', `the index patient row of task ${task.id} no longer exists`);
    if (!row.patientId) {
      throw new IdentityError('conflict', 'objects without a Patient ID share one index patient row: reassigning it would move all of them');
    }
    const after = linkedRowState(row, patient, { registryFk: match.patientFk, registryLink: 'manual' }, this.settings.defaultIssuer);
    await this.rows.write(tx, [{ id: row.id, state: after }]);
    return {
      patient: { registryPatientId: match.patientFk, patientId: target.patientId, issuer: target.issuer },
      rows: [{ id: row.id, before: row.state, after }],
      studies: await this.rows.studyUids(tx, [row.id]),
    };
  }

  private async patientRowOfStudy(tx: SqlRunner, studyRowId: string | null): Promise<string | undefined> {
    if (!studyRowId) return undefined;
    const rows: { patient_fk: string }[] = await tx.query(`SELECT patient_fk FROM study WHERE id = $1`, [studyRowId]);
    return rows[0] ? String(rows[0].patient_fk) : undefined;
  }
}

function checkId(id: string): string {
  if (!/^\d{1,18}$/.test(id)) throw new IdentityError('not-found', `no reconciliation task ${id}`);
  return id;
}
