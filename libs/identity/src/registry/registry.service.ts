import { Injectable } from '@nestjs/common';
import type { SqlRunner } from '#vna/persistence';
import { IdentityError } from '../identity.errors.js';
import { type RowChange, IndexSync } from './index-sync.js';
import {
  type ChangeAudit,
  EMPTY_NAME,
  identifierText,
  type PatientCommand,
  type PersonNameGroups,
  type RegistryPatientState,
  sameIdentity,
} from './registry.model.js';
import { RegistryRepository } from './registry.repository.js';

/** What an ADT message did to the registry and the index. */
export interface RegistryOutcome {
  readonly registryPatientId: string;
  readonly created: boolean;
  /** A new version was written. */
  readonly changed: boolean;
  /** Index rows that changed (newly linked or updated). */
  readonly rows: readonly RowChange[];
}

function sameName(a: PersonNameGroups, b: PersonNameGroups): boolean {
  return a.alphabetic === b.alphabetic && a.ideographic === b.ideographic && a.phonetic === b.phonetic;
}

/**
 * The patient registry fed by ADT (A01, A04, A05, A08, A28, A31: create or update). Each change
 * is a new version (who, when, which message) and reaches the index at once: rows received with
 * the patient's identifiers are linked, linked rows take the new values, and the 'unknown-patient'
 * tasks the patient answers are resolved. Runs in the caller's transaction (the HL7 message's).
 */
@Injectable()
export class RegistryService {
  constructor(
    private readonly registry: RegistryRepository,
    private readonly sync: IndexSync,
  ) {}

  async createOrUpdate(tx: SqlRunner, command: PatientCommand, audit: ChangeAudit): Promise<RegistryOutcome> {
    // The identities' locks, what the registry knows of them and the records found, locked, in one
    // statement: an identifier not found is looked for again under the locks (it may have been
    // added while they were awaited), and the records then found are locked.
    const first = await this.registry.lockFindAndLockStates(tx, command.identifiers);
    const allFound = command.identifiers.every((c) => first.matches.some((m) => sameIdentity(m.identifier, c)));
    const found = allFound ? first.matches : await this.registry.findIdentifiers(tx, command.identifiers);
    const locked = allFound ? first.states : await this.registry.lockStates(tx, found.map((m) => m.patientFk));
    // None of the records can change until this commits. One that changed before it was locked (a
    // merge or identifier change under another of its identifiers: its version moved) is read again.
    const unchanged = found.every((m) => locked.get(m.patientFk)?.version === m.patientVersion);
    const matches = unchanged ? found : await this.registry.findIdentifiers(tx, command.identifiers);
    for (const m of matches) {
      if (m.patientStatus === 'merged') {
        const end = await this.registry.chainEnd(tx, m.patientFk);
        const survivor = await this.registry.load(tx, end);
        const surviving = survivor?.identifiers.find((i) => i.status === 'active');
        throw new IdentityError(
          'conflict',
          `patient ${identifierText(m.identifier)} was merged into ${surviving ? identifierText(surviving) : `registry patient ${end}`}: send updates for the surviving patient`,
          'identifier-merged',
        );
      }
      if (m.identifier.status === 'replaced') {
        throw new IdentityError('conflict', `identifier ${identifierText(m.identifier)} was replaced by an identifier change (A47): send the patient's current identifier`, 'identifier-replaced');
      }
    }
    const records = [...new Set(matches.map((m) => m.patientFk))];
    if (records.length > 1) {
      const owners = records.map((r) => matches.filter((m) => m.patientFk === r).map((m) => identifierText(m.identifier)).join(', ')).join(' / ');
      throw new IdentityError('conflict', `the PID-3 identifiers belong to ${records.length} different registry patients (${owners}): merge them (A40) first`, 'identifiers-ambiguous');
    }
    const { demographics } = command;
    if (records.length === 0) {
      const id = await this.registry.create(
        tx,
        { name: demographics.name ?? EMPTY_NAME, birthDate: demographics.birthDate ?? null, sex: demographics.sex ?? null, identifiers: command.identifiers },
        'create',
        audit,
      );
      const rows = await this.sync.linkByIdentity(tx, id, command.identifiers, audit);
      return { registryPatientId: id, created: true, changed: true, rows };
    }

    const id = records[0]!;
    // The state locked above is current unless the record changed since it was found (read again then).
    const state = (unchanged ? locked.get(id) : undefined) ?? (await this.registry.load(tx, id))!;
    const after = await this.applyChanges(tx, state, command, audit);
    if (!after) return { registryPatientId: id, created: false, changed: false, rows: await this.sync.linkByIdentity(tx, id, command.identifiers, audit, state) };
    return { registryPatientId: id, created: false, changed: true, rows: await this.sync.linkAndRefresh(tx, after, command.identifiers, audit) };
  }

  /**
   * Demographics (sent fields only), new identifiers, type codes and PID-3 order, kept as a new
   * version. Returns the record's new state, or undefined when nothing changed.
   */
  private async applyChanges(tx: SqlRunner, state: RegistryPatientState, command: PatientCommand, audit: ChangeAudit): Promise<RegistryPatientState | undefined> {
    const { demographics } = command;
    const values: { name?: PersonNameGroups; birthDate?: string | null; sex?: string | null } = {};
    if (demographics.name !== undefined) {
      const name = demographics.name ?? EMPTY_NAME;
      if (!sameName(name, state.name)) values.name = name;
    }
    if (demographics.birthDate !== undefined && demographics.birthDate !== state.birthDate) values.birthDate = demographics.birthDate;
    if (demographics.sex !== undefined && demographics.sex !== state.sex) values.sex = demographics.sex;

    // PID-3 order: the message's identifiers first (its first is the primary), the others after in their order.
    const known = [...state.identifiers].sort((a, b) => a.position - b.position);
    const order = [...command.identifiers, ...known.filter((k) => !command.identifiers.some((c) => sameIdentity(c, k)))];
    let identifiersChanged = false;
    const added = [];
    for (const [position, id] of order.entries()) {
      const existing = known.find((k) => sameIdentity(k, id));
      if (!existing) {
        added.push({ ...id, position });
        continue;
      }
      const fromMessage = command.identifiers.find((c) => sameIdentity(c, id));
      const typeCode = fromMessage && fromMessage.typeCode && fromMessage.typeCode !== existing.typeCode ? fromMessage.typeCode : undefined;
      if (existing.position !== position || typeCode !== undefined) {
        await this.registry.setIdentifier(tx, existing, { position, typeCode });
        identifiersChanged = true;
      }
    }
    if (added.length) {
      await this.registry.addIdentifiers(tx, state.id, added, 0);
      identifiersChanged = true;
    }
    const demographicsChanged = Object.keys(values).length > 0;
    if (!identifiersChanged) {
      if (!demographicsChanged) return undefined;
      // Only the record's own columns: the new state is known, and kept as its version in the same statement.
      const after = { ...state, ...values, version: state.version + 1 };
      await this.registry.update(tx, state.id, values, { change: 'update', audit, state: after });
      return after;
    }
    if (demographicsChanged) await this.registry.update(tx, state.id, values);
    else await this.registry.touch(tx, state.id);
    return this.registry.writeVersion(tx, state.id, 'update', audit);
  }
}
