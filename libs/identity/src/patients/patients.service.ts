import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { DataSource } from 'typeorm';
import { withTransaction } from '#vna/persistence';
import { IdentityError } from '../identity.errors.js';
import type { PatientMerge } from '../merges/merge.model.js';
import { MergeRepository } from '../merges/merge.repository.js';
import type { ReconciliationTask } from '../reconciliation/reconciliation-task.repository.js';
import { ReconciliationTaskRepository } from '../reconciliation/reconciliation-task.repository.js';
import type { RegistryPatientState, RegistryStatus } from '../registry/registry.model.js';
import { RegistryRepository, type RegistryVersion } from '../registry/registry.repository.js';

export interface PatientSearch {
  readonly patientId?: string;
  readonly issuer?: string;
  readonly name?: string;
  readonly status?: RegistryStatus;
  readonly limit: number;
  readonly offset: number;
}

/** An index patient row linked to a registry patient: the identity its objects arrived with. */
export interface LinkedIndexPatient {
  readonly id: string;
  readonly receivedPatientId: string;
  readonly receivedIssuer: string;
  readonly link: 'identity' | 'manual';
  readonly registryPatientId: string;
  readonly studies: number;
}

export interface PatientDetail extends RegistryPatientState {
  /** The active end of the merge chain (itself unless merged). */
  readonly survivor: string;
  readonly versions: readonly RegistryVersion[];
  readonly merges: readonly PatientMerge[];
  /** Index patient rows whose objects carry this patient's identity (its own and those merged into it). */
  readonly indexPatients: readonly LinkedIndexPatient[];
  readonly openTasks: readonly ReconciliationTask[];
}

/** The registry as HIM staff read it (`/api/v1/patients`). */
@Injectable()
export class PatientsService {
  constructor(
    @InjectDataSource() private readonly db: DataSource,
    private readonly registry: RegistryRepository,
    private readonly merges: MergeRepository,
    private readonly tasks: ReconciliationTaskRepository,
  ) {}

  search(q: PatientSearch): Promise<RegistryPatientState[]> {
    return withTransaction(this.db, (tx) => this.registry.search(tx, q));
  }

  async detail(id: string): Promise<PatientDetail> {
    if (!/^\d{1,18}$/.test(id)) throw new IdentityError('not-found', `no registry patient ${id}`);
    return withTransaction(this.db, async (tx) => {
      const state = await this.registry.load(tx, id);
      if (!state) throw new IdentityError('not-found', `no registry patient ${id}`);
      const survivor = await this.registry.chainEnd(tx, id);
      const members = await this.registry.members(tx, id);
      const rows: { id: string; patient_id: string; issuer: string; registry_link: 'identity' | 'manual'; registry_fk: string; studies: string }[] = await tx.query(
        `SELECT p.id, p.patient_id, p.issuer, p.registry_link, p.registry_fk, (SELECT count(*) FROM study s WHERE s.patient_fk = p.id) AS studies
           FROM patient p WHERE p.registry_fk = ANY($1::bigint[]) ORDER BY p.id`,
        [members],
      );
      const openTasks: ReconciliationTask[] = [];
      for (const row of rows) openTasks.push(...(await this.tasks.list(tx, { status: 'open', patientRowId: String(row.id), limit: 100, offset: 0 })));
      return {
        ...state,
        survivor,
        versions: await this.registry.versions(tx, id),
        merges: await this.merges.list(tx, { registryPatientId: id, limit: 100, offset: 0 }),
        indexPatients: rows.map((r) => ({
          id: String(r.id),
          receivedPatientId: r.patient_id,
          receivedIssuer: r.issuer,
          link: r.registry_link,
          registryPatientId: String(r.registry_fk),
          studies: Number(r.studies),
        })),
        openTasks,
      };
    });
  }
}
