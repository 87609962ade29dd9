import { Inject, Injectable } from '@nestjs/common';
import type { SqlRunner } from '#vna/persistence';
import { IDENTITY_SETTINGS, type IdentitySettings } from '../identity-settings.js';
import { ReconciliationTaskRepository } from '../reconciliation/reconciliation-task.repository.js';
import { effectiveIssuer, linkedRowState, receivedRowState, type RowState, sameRowState } from './index-projection.js';
import { type IndexPatientRow, IndexRowsRepository } from './index-rows.repository.js';
import type { ChangeAudit, RegistryPatientState } from './registry.model.js';
import { RegistryRepository } from './registry.repository.js';

/** One index row's state before and after a change (what an undo restores). */
export interface RowChange {
  readonly id: string;
  readonly before: RowState;
  readonly after: RowState;
}

/** The task kind ingest opens for a patient the registry does not know. */
export const UNKNOWN_PATIENT = 'unknown-patient';

/** The subject of an 'unknown-patient' task: the identity the objects arrived with (default issuer applied). */
export function unknownPatientSubject(issuer: string, patientId: string): string {
  return `patient:${issuer}|${patientId}`;
}

/**
 * Keeps index patient rows in step with the registry (ARCHITECTURE.md invariant 3): a row linked
 * to a record carries the current identity and demographics of the END of that record's merge
 * chain. Writes only rows whose state changes; never studies, series or instances.
 */
@Injectable()
export class IndexSync {
  constructor(
    private readonly registry: RegistryRepository,
    private readonly rows: IndexRowsRepository,
    private readonly tasks: ReconciliationTaskRepository,
    @Inject(IDENTITY_SETTINGS) private readonly settings: IdentitySettings,
  ) {}

  /**
   * Every row linked to a record of the chain `id` belongs to takes the state of the chain's end.
   * `current`: the record's state, when the caller just read it (an active record is its own end).
   */
  async refresh(tx: SqlRunner, id: string, current?: RegistryPatientState): Promise<RowChange[]> {
    const known = current?.id === id && current.status === 'active' ? current : undefined;
    const endId = known ? id : await this.registry.chainEnd(tx, id);
    const rows = await this.rows.linkedToChain(tx, endId);
    if (rows.length === 0) return [];
    const end = known ?? (await this.registry.load(tx, endId));
    if (!end) throw new Error(`registry patient ${endId} does not exist`);
    const changes: RowChange[] = [];
    for (const row of rows) {
      const after = linkedRowState(row, end, { registryFk: row.state.registryFk!, registryLink: row.state.registryLink ?? 'identity' }, this.settings.defaultIssuer);
      if (!sameRowState(row.state, after)) changes.push({ id: row.id, before: row.state, after });
    }
    await this.rows.write(tx, changes.map((c) => ({ id: c.id, state: c.after })));
    return changes;
  }

  /**
   * Links the unlinked rows received with one of these identities to `recordId` (its identity
   * now), and resolves their 'unknown-patient' tasks. Callers hold the identities' advisory locks.
   * `current`: the record's state, when the caller just read it.
   */
  async linkByIdentity(
    tx: SqlRunner,
    recordId: string,
    identities: readonly { patientId: string; issuer: string }[],
    audit: ChangeAudit,
    current?: RegistryPatientState,
  ): Promise<RowChange[]> {
    const rows = await this.rows.unlinkedWithIdentities(tx, identities, this.settings.defaultIssuer);
    if (rows.length === 0) return [];
    const end = current?.id === recordId && current.status === 'active' ? current : await this.registry.load(tx, await this.registry.chainEnd(tx, recordId));
    if (!end) throw new Error(`registry patient ${recordId} does not exist`);
    return this.link(tx, recordId, end, rows, [], audit);
  }

  /**
   * After a change of the record `current` (just written, so read by the caller): `linkByIdentity`
   * and `refresh` together, reading the rows of both in one statement.
   */
  async linkAndRefresh(tx: SqlRunner, current: RegistryPatientState, identities: readonly { patientId: string; issuer: string }[], audit: ChangeAudit): Promise<RowChange[]> {
    if (current.status !== 'active') {
      const linked = await this.linkByIdentity(tx, current.id, identities, audit);
      const refreshed = await this.refresh(tx, current.id);
      return [...linked, ...refreshed.filter((r) => !linked.some((l) => l.id === r.id))];
    }
    const rows = await this.rows.linkedToChainOrUnlinkedWith(tx, current.id, identities, this.settings.defaultIssuer);
    const unlinked = rows.filter((r) => r.state.registryFk === null);
    const refreshed: RowChange[] = [];
    for (const row of rows) {
      if (row.state.registryFk === null) continue;
      const after = linkedRowState(row, current, { registryFk: row.state.registryFk, registryLink: row.state.registryLink ?? 'identity' }, this.settings.defaultIssuer);
      if (!sameRowState(row.state, after)) refreshed.push({ id: row.id, before: row.state, after });
    }
    return this.link(tx, current.id, current, unlinked, refreshed, audit);
  }

  /** Links `rows` to `recordId` (whose chain ends at `end`), writes them and `alsoWrite` in one statement, resolves their tasks. */
  private async link(tx: SqlRunner, recordId: string, end: RegistryPatientState, rows: readonly IndexPatientRow[], alsoWrite: readonly RowChange[], audit: ChangeAudit): Promise<RowChange[]> {
    const linked = rows.map((row) => ({ id: row.id, before: row.state, after: linkedRowState(row, end, { registryFk: recordId, registryLink: 'identity' }, this.settings.defaultIssuer) }));
    const changes = [...linked, ...alsoWrite];
    await this.rows.write(tx, changes.map((c) => ({ id: c.id, state: c.after })));
    for (const row of rows) {
      await this.tasks.resolve(tx, UNKNOWN_PATIENT, this.subjectOf(row), audit.actor, {
        registryPatientId: recordId,
        reason: audit.reason ?? null,
        hl7MessageId: audit.hl7MessageId ?? null,
        mergeId: audit.mergeId ?? null,
      });
    }
    return changes;
  }

  /** Rows back to their received values, unlinked; their question is open again ('unknown-patient'). */
  async unlink(tx: SqlRunner, rows: readonly IndexPatientRow[], openedBy: string, details: Record<string, unknown>): Promise<RowChange[]> {
    const changes = rows.map((row) => ({ id: row.id, before: row.state, after: receivedRowState(row) }));
    await this.rows.write(tx, changes.map((c) => ({ id: c.id, state: c.after })));
    for (const row of rows) await this.openUnknownPatient(tx, row, openedBy, details);
    return changes;
  }

  /** The state a row should have now: linked to what `link` says (through its chain), or as received. */
  async stateFor(tx: SqlRunner, row: IndexPatientRow, link: { registryFk: string | null; registryLink: RowState['registryLink'] }): Promise<RowState> {
    if (!link.registryFk) return receivedRowState(row);
    const end = await this.registry.load(tx, await this.registry.chainEnd(tx, link.registryFk));
    if (!end || end.status !== 'active') return receivedRowState(row);
    return linkedRowState(row, end, { registryFk: link.registryFk, registryLink: link.registryLink ?? 'identity' }, this.settings.defaultIssuer);
  }

  subjectOf(row: { readonly patientId: string; readonly issuer: string }): string {
    return unknownPatientSubject(effectiveIssuer(row.issuer, this.settings.defaultIssuer), row.patientId);
  }

  /** Opens the 'unknown-patient' task of a row (not for rows without a Patient ID). */
  async openUnknownPatient(tx: SqlRunner, row: IndexPatientRow, openedBy: string, details: Record<string, unknown>): Promise<void> {
    if (!row.patientId) return;
    await this.tasks.open(tx, {
      kind: UNKNOWN_PATIENT,
      subject: this.subjectOf(row),
      patientRowId: row.id,
      details: { patientId: row.patientId, issuer: effectiveIssuer(row.issuer, this.settings.defaultIssuer), receivedIssuer: row.issuer, ...details },
      openedBy,
    });
  }
}
