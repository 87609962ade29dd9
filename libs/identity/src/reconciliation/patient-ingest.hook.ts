import { Inject, Injectable } from '@nestjs/common';
import type { NewSeriesEvent } from '#vna/archive';
import type { SqlRunner } from '#vna/persistence';
import { IDENTITY_SETTINGS, type IdentitySettings } from '../identity-settings.js';
import { effectiveIssuer, linkedRowState } from '../registry/index-projection.js';
import { IndexRowsRepository } from '../registry/index-rows.repository.js';
import { UNKNOWN_PATIENT, unknownPatientSubject } from '../registry/index-sync.js';
import { RegistryRepository } from '../registry/registry.repository.js';
import { ReconciliationTaskRepository } from './reconciliation-task.repository.js';

/**
 * Reconciliation at ingest, the patient part (an IngestHook: inside the ingest transaction, for a
 * series new to the process). The new series' index patient row is linked to the registry by the
 * identity its objects arrived with (Patient ID + IssuerOfPatientID, the default issuer for none):
 * when the registry knows it, the row takes the registry's current values (the received ones stay
 * in `patient.attributes`); when it does not, an 'unknown-patient' task is opened for HIM, unless
 * HIM already accepted or dismissed that case. Nothing is linked by name or guess. Objects without
 * a Patient ID are not reconciled: they share one index row, and a task about it could only be
 * answered by moving all of them.
 */
@Injectable()
export class PatientIngestReconciliation {
  constructor(
    private readonly registry: RegistryRepository,
    private readonly rows: IndexRowsRepository,
    private readonly tasks: ReconciliationTaskRepository,
    @Inject(IDENTITY_SETTINGS) private readonly settings: IdentitySettings,
  ) {}

  async reconcile(tx: SqlRunner, event: NewSeriesEvent): Promise<void> {
    const received = event.record.patient;
    if (!received.patientId) return;
    // Linked rows are kept current by the registry's changes (the common case: no lock needed).
    if (await this.isLinked(tx, event.patientRowId)) return;
    const identity = { patientId: received.patientId, issuer: effectiveIssuer(received.issuer, this.settings.defaultIssuer) };
    // The lock an ADT (or a HIM decision about this identity) takes before linking rows by it: one
    // of the two sees what the other did. The link is read again under it.
    await this.registry.lockIdentities(tx, [identity]);
    if (await this.isLinked(tx, event.patientRowId)) return;
    const [match] = await this.registry.findIdentifiers(tx, [identity]);
    if (!match) {
      await this.tasks.openUnlessSettled(
        tx,
        {
          kind: UNKNOWN_PATIENT,
          subject: unknownPatientSubject(identity.issuer, identity.patientId),
          patientRowId: event.patientRowId,
          studyRowId: event.studyRowId,
          details: {
            patientId: identity.patientId,
            issuer: identity.issuer,
            receivedIssuer: received.issuer,
            name: received.name.Alphabetic ?? '',
            birthDate: received.birthDate,
            sex: received.sex,
            studyUid: event.record.study.studyUid,
            seriesUid: event.record.series.seriesUid,
          },
          openedBy: 'ingest',
        },
        ['accepted', 'dismissed'],
      );
      return;
    }
    // The chain's end carries the identity; a share lock keeps a concurrent change to it (which
    // rewrites its linked rows) from missing this row.
    let end = await this.registry.chainEnd(tx, match.patientFk);
    await this.registry.lock(tx, [end], 'share');
    const again = await this.registry.chainEnd(tx, match.patientFk);
    if (again !== end) {
      end = again;
      await this.registry.lock(tx, [end], 'share');
    }
    const patient = await this.registry.load(tx, end);
    const [row] = await this.rows.byIds(tx, [event.patientRowId]);
    if (!patient || !row || row.state.registryFk !== null) return;
    const state = linkedRowState(row, patient, { registryFk: match.patientFk, registryLink: 'identity' }, this.settings.defaultIssuer);
    await this.rows.write(tx, [{ id: row.id, state }]);
  }

  /** Whether the row is linked to the registry (true for a row that no longer exists: nothing to do). */
  private async isLinked(tx: SqlRunner, rowId: string): Promise<boolean> {
    const [row] = await this.rows.byIds(tx, [rowId], false);
    return !row || row.state.registryFk !== null;
  }
}
