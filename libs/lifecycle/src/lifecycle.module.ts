import { Module, type OnModuleInit } from '@nestjs/common';
import { ArchiveModule, IngestHookRegistry, RetrieveHookRegistry } from '#vna/archive';
import { JobHandlerRegistry } from '#vna/jobs';
import { HealthDetails } from '#vna/observability';
import { DeletionRepository } from './deletion/deletion.repository.js';
import { DELETE_BLOBS_TOPIC, DeletionService } from './deletion/deletion.service.js';
import { LegalHoldRepository } from './holds/legal-hold.repository.js';
import { LegalHoldService, MIRROR_HOLD_TOPIC } from './holds/legal-hold.service.js';
import { RetentionController } from './http/retention.controller.js';
import { LegalHoldsController } from './http/legal-holds.controller.js';
import { LifecycleController } from './http/lifecycle.controller.js';
import { LifecycleClock } from './lifecycle-clock.js';
import { LifecycleMetrics } from './lifecycle-metrics.js';
import { LifecycleJobs, LifecycleScheduler } from './lifecycle.scheduler.js';
import { PrefetchRepository } from './prefetch/prefetch.repository.js';
import { PrefetchService } from './prefetch/prefetch.service.js';
import { RetentionRepository } from './retention/retention.repository.js';
import { RetentionService } from './retention/retention.service.js';
import { RehydrationRepository } from './tiering/rehydration.repository.js';
import { RehydrationService } from './tiering/rehydration.service.js';
import { StudyAccessTracker } from './tiering/study-access.tracker.js';
import { TierPolicyRepository } from './tiering/tier-policy.repository.js';
import { TieringService } from './tiering/tiering.service.js';
import { VerificationRepository } from './verification/verification.repository.js';
import { VerificationService } from './verification/verification.service.js';

const SERVICES = [LegalHoldService, DeletionService, RetentionService, TieringService, RehydrationService, VerificationService, PrefetchService, LifecycleJobs];

/**
 * Storage lifecycle: tiers and rehydration, retention, legal holds, the deletion workflow,
 * storage verification, prefetch of priors. Registers the retrieve hooks (Archive-tier reads
 * start rehydration; retrieves note last access), an ingest hook (a new study's expiry), its outbox job handlers and a health detail.
 * Every process that retrieves imports it (api, dicom-gateway, worker, vna). Needs PersistenceModule, BlobModule,
 * JobsModule and ObservabilityModule in the application (they are global).
 */
@Module({
  imports: [ArchiveModule],
  providers: [
    ...SERVICES,
    LifecycleClock,
    LifecycleMetrics,
    StudyAccessTracker,
    LegalHoldRepository,
    DeletionRepository,
    RetentionRepository,
    TierPolicyRepository,
    RehydrationRepository,
    VerificationRepository,
    PrefetchRepository,
  ],
  exports: [...SERVICES, LifecycleClock],
})
export class LifecycleModule implements OnModuleInit {
  constructor(
    private readonly retrieveHooks: RetrieveHookRegistry,
    private readonly ingestHooks: IngestHookRegistry,
    private readonly retention: RetentionService,
    private readonly jobs: JobHandlerRegistry,
    private readonly health: HealthDetails,
    private readonly rehydration: RehydrationService,
    private readonly access: StudyAccessTracker,
    private readonly holds: LegalHoldService,
    private readonly deletion: DeletionService,
  ) {}

  onModuleInit(): void {
    this.retrieveHooks.onArchived((instances) => this.rehydration.onArchived(instances));
    this.retrieveHooks.onAccess((studyUids) => this.access.note(studyUids));
    // A new study gets its expiry in its ingest transaction; a series added later (another modality) at the next retention run.
    this.ingestHooks.register(async (tx, event) => {
      if (event.created.study) await this.retention.atIngest(tx, event.studyRowId);
    });
    this.jobs.register(MIRROR_HOLD_TOPIC, (payload) => this.holds.mirror(String(payload['holdId'])));
    this.jobs.register(DELETE_BLOBS_TOPIC, (payload) => this.deletion.deleteBlobs(payload['keys'] as string[]));
    this.health.register('legal-hold-mirror', () => this.holds.degradation());
  }
}

/** /api/v1/lifecycle, /api/v1/retention, /api/v1/legal-holds: for the app that serves the administration API. */
@Module({ imports: [LifecycleModule], controllers: [LifecycleController, RetentionController, LegalHoldsController] })
export class LifecycleApiModule {}

/** The scheduled lifecycle jobs: for the worker and the all-in-one app (VNA_LIFECYCLE_JOBS turns them off). */
@Module({ imports: [LifecycleModule], providers: [LifecycleScheduler] })
export class LifecycleSchedulerModule {}
