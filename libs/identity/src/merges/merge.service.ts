import { Inject, Injectable, type OnModuleInit } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { DataSource } from 'typeorm';
import { type SqlRunner, withTransaction } from '#vna/persistence';
import { IDENTITY_SETTINGS, type IdentitySettings } from '../identity-settings.js';
import { IdentityError } from '../identity.errors.js';
import { ReconciliationActions } from '../reconciliation/reconciliation-actions.js';
import { ReconciliationTaskRepository } from '../reconciliation/reconciliation-task.repository.js';
import { effectiveIssuer, sameRowState } from '../registry/index-projection.js';
import { IndexRowsRepository } from '../registry/index-rows.repository.js';
import { IndexSync, type RowChange } from '../registry/index-sync.js';
import {
  type ChangeAudit,
  EMPTY_NAME,
  identifierText,
  primaryIdentifier,
  type RegistryIdentifier,
  type RegistryPatientState,
  sameIdentity,
} from '../registry/registry.model.js';
import { type IdentifierMatch, RegistryRepository } from '../registry/registry.repository.js';
import type { MergeCommand, MergeKind, MergeUndo, PatientMerge, Suspicion, SuspicionCode } from './merge.model.js';
import { type MergeQuery, MergeRepository } from './merge.repository.js';

/** The task kind a held merge opens for HIM. */
export const MERGE_REVIEW = 'merge-review';

/** What became of an A40/A47 request. */
export type MergeRequestOutcome =
  | { readonly kind: 'applied'; readonly mergeId: string; readonly rows: number }
  | { readonly kind: 'held'; readonly mergeId: string; readonly taskId: string; readonly suspicion: Suspicion }
  /** Policy `reject`: nothing kept; the sender gets AE. */
  | { readonly kind: 'refused'; readonly suspicion: Suspicion };

/** What the registry knows of a request's identifiers, after locking them. */
interface Examination {
  readonly prior?: IdentifierMatch;
  readonly surviving: readonly IdentifierMatch[];
  readonly suspicion?: Suspicion;
}

/** Suspicions HIM may overrule by applying a held request; the others can never be applied as they are. */
const OVERRULABLE: Record<MergeKind, readonly SuspicionCode[]> = {
  // An unknown prior is created as merged (its objects follow the survivor); a merged survivor's
  // chain is followed to its active end.
  merge: ['prior-unknown', 'survivor-merged'],
  // The new identifier was this patient's before: it becomes active again.
  'change-identifier': ['inverse'],
};

type MutableRecord = { -readonly [K in keyof MergeUndo['records'][number]]: MergeUndo['records'][number][K] };

/** Collects row changes of one operation: the first `before` and the last `after` of each row. */
class RowChanges {
  private readonly byId = new Map<string, RowChange>();

  add(changes: readonly RowChange[]): void {
    for (const c of changes) {
      const seen = this.byId.get(c.id);
      this.byId.set(c.id, seen ? { id: c.id, before: seen.before, after: c.after } : c);
    }
  }

  all(): RowChange[] {
    return [...this.byId.values()].filter((c) => !sameRowState(c.before, c.after));
  }
}

/**
 * Merges (A40, HL7 2.5.1 3.3.40) and identifier changes (A47, 3.3.47), their review and their
 * undoing. A merge marks the prior registry record merged into the survivor (kept, pointing at
 * it) and gives every index row of the prior the survivor's identity: index patient rows only,
 * never instances or blobs. Each is recorded with the previous registry state and the previous
 * state of each index row it wrote, so that an unmerge restores them exactly. Suspicious requests
 * follow VNA_HL7_SUSPICIOUS_MERGE: rejected (AE) or held for HIM with a 'merge-review' task.
 */
@Injectable()
export class MergeService implements OnModuleInit {
  constructor(
    @InjectDataSource() private readonly db: DataSource,
    private readonly registry: RegistryRepository,
    private readonly rows: IndexRowsRepository,
    private readonly sync: IndexSync,
    private readonly merges: MergeRepository,
    private readonly tasks: ReconciliationTaskRepository,
    private readonly actions: ReconciliationActions,
    @Inject(IDENTITY_SETTINGS) private readonly settings: IdentitySettings,
  ) {}

  onModuleInit(): void {
    // A merge-review task is answered by applying (accept) or rejecting (dismiss) its merge.
    this.actions.register(MERGE_REVIEW, {
      accept: async ({ tx, task, user, reason }) => {
        const merge = await this.applyHeldIn(tx, mergeIdOf(task.subject), user, reason, false);
        return { mergeId: merge.id, mergeStatus: merge.status };
      },
      dismiss: async ({ tx, task, user, reason }) => {
        const merge = await this.rejectIn(tx, mergeIdOf(task.subject), user, reason, false);
        return { mergeId: merge.id, mergeStatus: merge.status };
      },
    });
  }

  /** One A40/A47 request (a PID/MRG pair), in the message's transaction. */
  async request(tx: SqlRunner, command: MergeCommand, audit: ChangeAudit): Promise<MergeRequestOutcome> {
    const ex = await this.examine(tx, command);
    if (ex.suspicion) {
      if (this.settings.suspiciousMerge === 'reject') return { kind: 'refused', suspicion: ex.suspicion };
      const mergeId = await this.merges.insert(tx, { command, status: 'held', suspicion: ex.suspicion, requestedBy: audit.actor, hl7MessageId: audit.hl7MessageId });
      await this.merges.setPatients(tx, mergeId, ex.prior?.patientFk ?? null, ex.surviving[0]?.patientFk ?? null);
      const taskId = await this.tasks.open(tx, {
        kind: MERGE_REVIEW,
        subject: `merge:${mergeId}`,
        details: {
          mergeId,
          kind: command.kind,
          prior: identifierText(command.prior),
          surviving: identifierText(command.surviving.identifiers[0]!),
          suspicion: ex.suspicion.code,
          text: ex.suspicion.text,
          hl7MessageId: audit.hl7MessageId ?? null,
        },
        openedBy: audit.actor,
      });
      await this.merges.setTask(tx, mergeId, taskId);
      return { kind: 'held', mergeId, taskId, suspicion: ex.suspicion };
    }
    const mergeId = await this.merges.insert(tx, { command, status: 'applied', requestedBy: audit.actor, hl7MessageId: audit.hl7MessageId });
    const applied = await this.apply(tx, command, ex, { ...audit, mergeId });
    await this.merges.markApplied(tx, mergeId, { ...applied, by: audit.actor, reason: audit.reason });
    return { kind: 'applied', mergeId, rows: applied.undo.rows.length };
  }

  list(q: MergeQuery): Promise<PatientMerge[]> {
    return withTransaction(this.db, (tx) => this.merges.list(tx, q));
  }

  async get(id: string): Promise<PatientMerge> {
    const merge = await withTransaction(this.db, (tx) => this.merges.get(tx, id));
    if (!merge) throw new IdentityError('not-found', `no merge ${id}`);
    return withoutUndo(merge);
  }

  /** HIM applies a held merge (`/api/v1/merges/{id}/apply`). */
  applyHeld(id: string, user: string, reason: string): Promise<PatientMerge> {
    return withTransaction(this.db, async (tx) => {
      await this.lockReviewTask(tx, id);
      return this.applyHeldIn(tx, id, user, reason, true);
    });
  }

  /** HIM rejects a held merge: nothing changes but its status. */
  reject(id: string, user: string, reason: string): Promise<PatientMerge> {
    return withTransaction(this.db, async (tx) => {
      await this.lockReviewTask(tx, id);
      return this.rejectIn(tx, id, user, reason, true);
    });
  }

  /**
   * Locks a merge's review task before the merge, the order a decision through the task takes
   * (task, then merge), so that the two ways of deciding one held merge queue instead of deadlocking.
   */
  private async lockReviewTask(tx: SqlRunner, id: string): Promise<void> {
    const merge = await this.merges.get(tx, id);
    if (merge?.taskId) await this.tasks.get(tx, merge.taskId, true);
  }

  /** Reverses an applied merge or identifier change exactly: registry and index rows (`/api/v1/merges/{id}/unmerge`). */
  unmerge(id: string, user: string, reason: string): Promise<PatientMerge> {
    return withTransaction(this.db, async (tx) => {
      const merge = await this.merges.get(tx, id, true);
      if (!merge) throw new IdentityError('not-found', `no merge ${id}`);
      if (merge.status !== 'applied' || !merge.undo) throw new IdentityError('conflict', `merge ${id} is ${merge.status}: only an applied merge can be unmerged`);
      const undo = merge.undo;
      const audit: ChangeAudit = { actor: user, mergeId: id, reason };
      await this.registry.lockIdentities(tx, [
        merge.command.prior,
        ...merge.command.surviving.identifiers,
        ...undo.records.flatMap((r) => r.before?.identifiers ?? []),
      ]);
      await this.registry.lock(tx, undo.records.map((r) => r.id));
      if (merge.kind === 'merge') await this.undoMerge(tx, id, undo, audit);
      else await this.undoChange(tx, id, merge.command, undo, audit);
      await this.merges.close(tx, id, 'unmerged', user, reason);
      return withoutUndo((await this.merges.get(tx, id))!);
    });
  }

  async applyHeldIn(tx: SqlRunner, id: string, user: string, reason: string, closeTask: boolean): Promise<PatientMerge> {
    const merge = await this.merges.get(tx, id, true);
    if (!merge) throw new IdentityError('not-found', `no merge ${id}`);
    if (merge.status !== 'held') throw new IdentityError('conflict', `merge ${id} is ${merge.status}: only a held merge can be applied`);
    const ex = await this.examine(tx, merge.command);
    if (ex.suspicion && !OVERRULABLE[merge.kind].includes(ex.suspicion.code)) {
      throw new IdentityError('conflict', `merge ${id} cannot be applied: ${ex.suspicion.text}`);
    }
    const applied = await this.apply(tx, merge.command, ex, { actor: user, mergeId: id, reason });
    await this.merges.markApplied(tx, id, { ...applied, by: user, reason });
    if (closeTask && merge.taskId) await this.tasks.close(tx, merge.taskId, 'accepted', user, { reason, mergeId: id, mergeStatus: 'applied' });
    return withoutUndo((await this.merges.get(tx, id))!);
  }

  async rejectIn(tx: SqlRunner, id: string, user: string, reason: string, closeTask: boolean): Promise<PatientMerge> {
    const merge = await this.merges.get(tx, id, true);
    if (!merge) throw new IdentityError('not-found', `no merge ${id}`);
    if (merge.status !== 'held') throw new IdentityError('conflict', `merge ${id} is ${merge.status}: only a held merge can be rejected`);
    await this.merges.close(tx, id, 'rejected', user, reason);
    if (closeTask && merge.taskId) await this.tasks.close(tx, merge.taskId, 'dismissed', user, { reason, mergeId: id, mergeStatus: 'rejected' });
    return withoutUndo((await this.merges.get(tx, id))!);
  }

  // ---- examination -------------------------------------------------------------------------

  /**
   * Locks what the request is about (identity advisory locks, then the registry records and the
   * ends of their chains) and reads it afresh, then says whether the request is suspicious.
   */
  private async examine(tx: SqlRunner, command: MergeCommand): Promise<Examination> {
    const ids = [command.prior, ...command.surviving.identifiers];
    await this.registry.lockIdentities(tx, ids);
    const found = await this.registry.findIdentifiers(tx, ids);
    const locked = new Set<string>();
    for (const m of found) {
      locked.add(m.patientFk);
      locked.add(await this.registry.chainEnd(tx, m.patientFk));
    }
    await this.registry.lock(tx, [...locked]);
    // Read again under the locks; a chain that moved meanwhile gets its new end locked too.
    const matches = await this.registry.findIdentifiers(tx, ids);
    for (const m of matches) {
      const end = await this.registry.chainEnd(tx, m.patientFk);
      if (!locked.has(end)) {
        await this.registry.lock(tx, [end]);
        locked.add(end);
      }
    }
    const prior = matches.find((m) => sameIdentity(m.identifier, command.prior));
    const surviving = command.surviving.identifiers
      .map((s) => matches.find((m) => sameIdentity(m.identifier, s)))
      .filter((m): m is IdentifierMatch => m !== undefined);
    const suspicion = command.kind === 'merge' ? await this.mergeSuspicion(tx, command, prior, surviving) : await this.changeSuspicion(command, prior, surviving);
    return { prior, surviving, suspicion };
  }

  private async mergeSuspicion(tx: SqlRunner, command: MergeCommand, prior: IdentifierMatch | undefined, surviving: readonly IdentifierMatch[]): Promise<Suspicion | undefined> {
    const p = identifierText(command.prior);
    const s = identifierText(command.surviving.identifiers[0]!);
    if (command.surviving.identifiers.some((i) => sameIdentity(i, command.prior))) {
      return { code: 'self-merge', text: `MRG-1 ${p} is also in PID-3: a patient cannot be merged into itself` };
    }
    const survivors = [...new Set(surviving.map((m) => m.patientFk))];
    if (survivors.length > 1) {
      return { code: 'ambiguous-survivor', text: `PID-3's identifiers belong to ${survivors.length} registry patients (${surviving.map((m) => identifierText(m.identifier)).join(', ')})` };
    }
    if (!prior) return { code: 'prior-unknown', text: `the registry does not know the prior patient ${p} (MRG-1)` };
    const priorState = (await this.registry.load(tx, prior.patientFk))!;
    const survivorFk = survivors[0];
    if (survivorFk) {
      if (survivorFk === prior.patientFk) return { code: 'self-merge', text: `MRG-1 ${p} and PID-3 ${s} are identifiers of the same registry patient` };
      const priorEnd = await this.registry.chainEnd(tx, prior.patientFk);
      const survivorEnd = await this.registry.chainEnd(tx, survivorFk);
      if (priorEnd === survivorEnd) {
        if (priorState.status === 'merged') {
          const earlier = await this.merges.appliedMergeOf(tx, prior.patientFk);
          return { code: 'duplicate', text: `${p} was already merged into ${s}${earlier ? ` (merge ${earlier})` : ''}` };
        }
        const earlier = await this.merges.appliedMergeOf(tx, survivorFk);
        return { code: 'inverse', text: `${s} was merged into ${p}${earlier ? ` (merge ${earlier})` : ''}: this would reverse that merge; unmerge it instead` };
      }
    }
    if (priorState.status === 'merged') {
      const end = await this.registry.load(tx, await this.registry.chainEnd(tx, prior.patientFk));
      const earlier = await this.merges.appliedMergeOf(tx, prior.patientFk);
      return { code: 'prior-merged', text: `${p} was already merged into ${describe(end)}${earlier ? ` (merge ${earlier})` : ''}` };
    }
    if (survivorFk) {
      const survivor = (await this.registry.load(tx, survivorFk))!;
      if (survivor.status === 'merged') {
        const end = await this.registry.load(tx, await this.registry.chainEnd(tx, survivorFk));
        return { code: 'survivor-merged', text: `the surviving patient ${s} was itself merged into ${describe(end)}` };
      }
    }
    return undefined;
  }

  private async changeSuspicion(command: MergeCommand, prior: IdentifierMatch | undefined, surviving: readonly IdentifierMatch[]): Promise<Suspicion | undefined> {
    const oldId = command.prior;
    const newId = command.surviving.identifiers[0]!;
    const o = identifierText(oldId);
    const n = identifierText(newId);
    if (sameIdentity(oldId, newId)) return { code: 'self-merge', text: `MRG-1 and PID-3 are the same identifier ${o}` };
    if (!prior) return { code: 'prior-unknown', text: `the registry does not know the identifier ${o} (MRG-1)` };
    if (prior.patientStatus === 'merged') return { code: 'prior-merged', text: `the patient with ${o} was merged into another patient: change the surviving patient's identifier` };
    const taken = surviving.find((m) => sameIdentity(m.identifier, newId));
    if (taken && taken.patientFk !== prior.patientFk) return { code: 'identifier-taken', text: `${n} already belongs to another registry patient: merge them (A40) instead` };
    if (prior.identifier.status === 'replaced') {
      if (taken && taken.identifier.status === 'active') return { code: 'duplicate', text: `${o} was already changed to ${n}` };
      return { code: 'prior-replaced', text: `${o} was already replaced by another identifier` };
    }
    if (taken && taken.identifier.status === 'replaced') return { code: 'inverse', text: `${n} was replaced by ${o} earlier: this would reverse that change` };
    return undefined;
  }

  // ---- applying ----------------------------------------------------------------------------

  private apply(tx: SqlRunner, command: MergeCommand, ex: Examination, audit: ChangeAudit): Promise<{ priorFk: string; survivingFk: string; undo: MergeUndo }> {
    return command.kind === 'merge' ? this.applyMerge(tx, command, ex, audit) : this.applyChange(tx, command, ex, audit);
  }

  private async applyMerge(tx: SqlRunner, command: MergeCommand, ex: Examination, audit: ChangeAudit): Promise<{ priorFk: string; survivingFk: string; undo: MergeUndo }> {
    const records: MutableRecord[] = [];
    const changes = new RowChanges();
    const { demographics } = command.surviving;

    let survivorId: string;
    const found = ex.surviving[0];
    if (found) {
      // A survivor merged elsewhere (HIM overruled 'survivor-merged'): the end of its chain survives.
      survivorId = await this.registry.chainEnd(tx, found.patientFk);
      records.push({ id: survivorId, role: 'survivor', created: false, before: (await this.registry.load(tx, survivorId))!, versionAfter: 0 });
    } else {
      // An unknown survivor is created from the message's PID (HL7 2.5.1 3.3.40: PID carries it).
      survivorId = await this.registry.create(
        tx,
        { name: demographics.name ?? EMPTY_NAME, birthDate: demographics.birthDate ?? null, sex: demographics.sex ?? null, identifiers: command.surviving.identifiers },
        'create',
        audit,
      );
      records.push({ id: survivorId, role: 'survivor', created: true, before: null, versionAfter: 0 });
      changes.add(await this.sync.linkByIdentity(tx, survivorId, command.surviving.identifiers, audit));
    }

    let priorId: string;
    if (ex.prior) {
      priorId = ex.prior.patientFk;
      records.push({ id: priorId, role: 'prior', created: false, before: (await this.registry.load(tx, priorId))!, versionAfter: 0 });
      await this.registry.update(tx, priorId, { status: 'merged', mergedInto: survivorId });
      await this.registry.writeVersion(tx, priorId, 'merged', audit);
    } else {
      // An unknown prior (HIM overruled 'prior-unknown'): recorded as merged, so that its objects
      // (received with MRG-1) carry the survivor's identity.
      priorId = await this.registry.create(
        tx,
        { status: 'merged', mergedInto: survivorId, name: command.priorName ?? EMPTY_NAME, birthDate: null, sex: null, identifiers: [command.prior] },
        'create-merged',
        audit,
      );
      records.push({ id: priorId, role: 'prior', created: true, before: null, versionAfter: 0 });
      changes.add(await this.sync.linkByIdentity(tx, priorId, [command.prior], audit));
    }
    if (found) {
      await this.registry.touch(tx, survivorId);
      await this.registry.writeVersion(tx, survivorId, 'absorbed', audit);
    }
    changes.add(await this.sync.refresh(tx, survivorId));

    const after = await this.registry.loadMany(tx, records.map((r) => r.id));
    for (const r of records) r.versionAfter = after.find((a) => a.id === r.id)!.version;
    return { priorFk: priorId, survivingFk: survivorId, undo: { records, rows: changes.all() } };
  }

  private async applyChange(tx: SqlRunner, command: MergeCommand, ex: Examination, audit: ChangeAudit): Promise<{ priorFk: string; survivingFk: string; undo: MergeUndo }> {
    const patientId = ex.prior!.patientFk;
    const before = (await this.registry.load(tx, patientId))!;
    const oldId = before.identifiers.find((i) => sameIdentity(i, command.prior))!;
    const newId = command.surviving.identifiers[0]!;
    const newBefore = before.identifiers.find((i) => sameIdentity(i, newId)) ?? null;
    const changes = new RowChanges();

    await this.registry.setIdentifier(tx, oldId, { status: 'replaced' });
    if (newBefore) await this.registry.setIdentifier(tx, newId, { status: 'active', position: oldId.position, typeCode: newId.typeCode || undefined });
    else await this.registry.addIdentifiers(tx, patientId, [{ ...newId, typeCode: newId.typeCode || oldId.typeCode, position: oldId.position }], 0);
    await this.registry.touch(tx, patientId);
    const after = await this.registry.writeVersion(tx, patientId, 'change-identifier', audit);
    changes.add(await this.sync.linkByIdentity(tx, patientId, [newId], audit));
    changes.add(await this.sync.refresh(tx, patientId));
    return {
      priorFk: patientId,
      survivingFk: patientId,
      undo: {
        records: [{ id: patientId, role: 'patient', created: false, before, versionAfter: after.version }],
        identifiers: { old: oldId, new: newBefore },
        rows: changes.all(),
      },
    };
  }

  // ---- undoing -----------------------------------------------------------------------------

  /** The recorded rows that are still exactly as the change left them: those get their previous state back. */
  private async untouchedRows(tx: SqlRunner, undo: MergeUndo): Promise<RowChange[]> {
    const current = await this.rows.byIds(tx, undo.rows.map((r) => r.id));
    return undo.rows.filter((r) => {
      const now = current.find((c) => c.id === r.id);
      return now !== undefined && sameRowState(now.state, r.after);
    });
  }

  private async undoMerge(tx: SqlRunner, mergeId: string, undo: MergeUndo, audit: ChangeAudit): Promise<void> {
    const prior = undo.records.find((r) => r.role === 'prior')!;
    const survivor = undo.records.find((r) => r.role === 'survivor')!;
    const priorNow = (await this.registry.load(tx, prior.id))!;
    if (priorNow.status !== 'merged' || priorNow.mergedInto !== survivor.id) {
      throw new IdentityError('conflict', `registry patient ${prior.id} is no longer merged into ${survivor.id}: merge ${mergeId} cannot be undone`);
    }
    if (survivor.created) {
      // The survivor exists only because of this merge: unmerging removes it, which is exact only
      // when nothing else has used it since.
      const now = (await this.registry.load(tx, survivor.id))!;
      const others = (await this.registry.mergedInto(tx, survivor.id)).filter((id) => id !== prior.id);
      if (now.status !== 'active' || now.version !== survivor.versionAfter || others.length > 0) {
        throw new IdentityError(
          'conflict',
          `the surviving patient ${describe(now)} was created by merge ${mergeId} and has changed since (version ${survivor.versionAfter} -> ${now.version}${others.length ? `, patients merged into it: ${others.join(', ')}` : ''}): undo those changes first`,
        );
      }
    }
    const untouched = await this.untouchedRows(tx, undo);

    for (const record of [prior, survivor]) {
      if (record.created) {
        await this.registry.deleteIdentifiersOf(tx, record.id);
        await this.registry.update(tx, record.id, { status: 'void', mergedInto: null });
        await this.registry.writeVersion(tx, record.id, 'void', audit);
      } else if (record.role === 'prior') {
        await this.registry.update(tx, record.id, { status: record.before!.status, mergedInto: record.before!.mergedInto });
        await this.registry.writeVersion(tx, record.id, 'unmerged', audit);
      } else {
        await this.registry.touch(tx, record.id);
        await this.registry.writeVersion(tx, record.id, 'unmerged', audit);
      }
    }
    // The index follows the registry again; rows nothing has changed since get their exact previous state.
    for (const record of [prior, survivor]) {
      if (record.created) await this.sync.unlink(tx, await this.rows.linkedTo(tx, [record.id]), `unmerge:${mergeId}`, { mergeId });
      else await this.sync.refresh(tx, record.id);
    }
    await this.rows.write(tx, untouched.map((r) => ({ id: r.id, state: r.before })));
  }

  private async undoChange(tx: SqlRunner, mergeId: string, command: MergeCommand, undo: MergeUndo, audit: ChangeAudit): Promise<void> {
    const record = undo.records[0]!;
    const ids = undo.identifiers!;
    const newId = command.surviving.identifiers[0]!;
    const now = (await this.registry.load(tx, record.id))!;
    const oldNow = now.identifiers.find((i) => sameIdentity(i, ids.old));
    const newNow = now.identifiers.find((i) => sameIdentity(i, newId));
    if (now.status !== 'active' || oldNow?.status !== 'replaced' || newNow?.status !== 'active') {
      throw new IdentityError('conflict', `the identifiers of ${describe(now)} changed after change ${mergeId}: it cannot be undone`);
    }
    const untouched = await this.untouchedRows(tx, undo);

    await this.registry.setIdentifier(tx, ids.old, { status: ids.old.status, position: ids.old.position, typeCode: ids.old.typeCode });
    if (ids.new) await this.registry.setIdentifier(tx, ids.new, { status: ids.new.status, position: ids.new.position, typeCode: ids.new.typeCode });
    else await this.registry.deleteIdentifier(tx, newId);
    await this.registry.touch(tx, record.id);
    await this.registry.writeVersion(tx, record.id, 'change-identifier-undone', audit);
    if (!ids.new) {
      // Rows linked because they arrived with the new identifier: the registry no longer knows it.
      const linked = await this.rows.linkedTo(tx, [record.id]);
      const strays = linked.filter((r) => r.state.registryLink === 'identity' && sameIdentity({ patientId: r.patientId, issuer: effectiveIssuer(r.issuer, this.settings.defaultIssuer) }, newId));
      await this.sync.unlink(tx, strays, `unmerge:${mergeId}`, { mergeId });
    }
    await this.sync.refresh(tx, record.id);
    await this.rows.write(tx, untouched.map((r) => ({ id: r.id, state: r.before })));
  }
}

function describe(state: RegistryPatientState | undefined): string {
  const primary: RegistryIdentifier | undefined = state ? primaryIdentifier(state) : undefined;
  return primary ? identifierText(primary) : `registry patient ${state?.id ?? '?'}`;
}

function mergeIdOf(subject: string): string {
  const m = /^merge:(\d+)$/.exec(subject);
  if (!m) throw new IdentityError('invalid', `task subject "${subject}" does not name a merge`);
  return m[1]!;
}

function withoutUndo(merge: PatientMerge & { undo?: unknown }): PatientMerge {
  const { undo: _undo, ...rest } = merge;
  return rest;
}
