import { Injectable, Module, type OnModuleInit } from '@nestjs/common';
import { ArchiveModule, IngestHookRegistry } from '#vna/archive';
import { CorrectionRepository } from './correction.repository.js';
import { CorrectionService } from './correction.service.js';
import { CorrectionsController } from './http/corrections.controller.js';
import { RejectionsController } from './http/rejections.controller.js';
import { RejectionRepository } from './iocm/rejection.repository.js';
import { RejectionService } from './iocm/rejection.service.js';

@Injectable()
class RejectionGuardRegistration implements OnModuleInit {
  constructor(
    private readonly hooks: IngestHookRegistry,
    private readonly rejections: RejectionService,
  ) {}

  onModuleInit(): void {
    this.hooks.registerGuard(this.rejections.guard);
  }
}

/**
 * IOCM at ingest: rejection notes hide what they reject, rejected instances sent again follow
 * VNA_IOCM_RESEND. For every app that ingests objects (CorrectionsModule includes it; the DICOM
 * gateway imports it alone).
 */
@Module({
  imports: [ArchiveModule],
  providers: [RejectionRepository, RejectionService, RejectionGuardRegistration],
  exports: [RejectionService],
})
export class IocmIngestModule {}

/**
 * Corrections through /api/v1 (study attributes, series moves, splits, joins; recorded and
 * reversible) and IOCM rejections (listed, revoked). Needs the global Persistence and Config modules.
 */
@Module({
  imports: [ArchiveModule, IocmIngestModule],
  controllers: [CorrectionsController, RejectionsController],
  providers: [CorrectionRepository, CorrectionService],
  exports: [CorrectionService, IocmIngestModule],
})
export class CorrectionsModule {}
