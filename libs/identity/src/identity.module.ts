import { Injectable, Module, type OnModuleInit } from '@nestjs/common';
import { ArchiveModule, IngestHookRegistry } from '#vna/archive';
import { Hl7RegistryModule } from '#vna/hl7';
import { AdtHandlers } from './adt/adt.handlers.js';
import { MergesController } from './http/merges.controller.js';
import { PatientsController } from './http/patients.controller.js';
import { ReconciliationTasksController } from './http/reconciliation-tasks.controller.js';
import { identitySettingsProvider, IDENTITY_SETTINGS } from './identity-settings.js';
import { MergeRepository } from './merges/merge.repository.js';
import { MergeService } from './merges/merge.service.js';
import { OrdersModule } from './orders/orders.module.js';
import { PatientsService } from './patients/patients.service.js';
import { PatientIngestReconciliation } from './reconciliation/patient-ingest.hook.js';
import { ReconciliationActions } from './reconciliation/reconciliation-actions.js';
import { ReconciliationTaskRepository } from './reconciliation/reconciliation-task.repository.js';
import { ReconciliationService } from './reconciliation/reconciliation.service.js';
import { IndexRowsRepository } from './registry/index-rows.repository.js';
import { IndexSync } from './registry/index-sync.js';
import { RegistryRepository } from './registry/registry.repository.js';
import { RegistryService } from './registry/registry.service.js';

/** The registry's repositories and the index synchronization, shared by the modules below. */
@Module({
  providers: [identitySettingsProvider, RegistryRepository, IndexRowsRepository, ReconciliationTaskRepository, IndexSync],
  exports: [IDENTITY_SETTINGS, RegistryRepository, IndexRowsRepository, ReconciliationTaskRepository, IndexSync],
})
export class IdentityCoreModule {}

@Injectable()
class PatientIngestHookRegistration implements OnModuleInit {
  constructor(
    private readonly hooks: IngestHookRegistry,
    private readonly reconciliation: PatientIngestReconciliation,
  ) {}

  onModuleInit(): void {
    this.hooks.register((tx, event) => this.reconciliation.reconcile(tx, event));
  }
}

/**
 * Reconciliation at ingest (the patient part): for every app that ingests objects. IdentityModule
 * includes it; an app without the rest of identity (the DICOM gateway) imports it alone.
 */
@Module({
  imports: [IdentityCoreModule, ArchiveModule],
  providers: [PatientIngestReconciliation, PatientIngestHookRegistration],
})
export class IdentityIngestModule {}

/**
 * Patient identity (ARCHITECTURE.md invariant 3): the ADT-fed registry, merges and identifier
 * changes, reconciliation tasks, and their administration API; with IdentityIngestModule.
 * Feature providers about identity (orders) are added to this module's providers.
 * Needs the global Persistence and Config modules.
 */
@Module({
  imports: [IdentityCoreModule, IdentityIngestModule, ArchiveModule, Hl7RegistryModule, OrdersModule],
  controllers: [PatientsController, MergesController, ReconciliationTasksController],
  providers: [RegistryService, MergeRepository, MergeService, ReconciliationActions, ReconciliationService, PatientsService, AdtHandlers],
  exports: [IdentityCoreModule, RegistryService, MergeService, ReconciliationActions, ReconciliationService, OrdersModule],
})
export class IdentityModule {}
