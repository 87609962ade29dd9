import { Module } from '@nestjs/common';
import { ArchiveModule } from '#vna/archive';
import { DicomNodeRegistryModule } from '#vna/dimse';
import { AsReceivedService } from './as-received.service.js';
import { CoercionRuleRepository } from './coercion-rule.repository.js';
import { CoercionRulesService } from './coercion-rules.service.js';
import { DryRunService } from './dry-run.service.js';
import { EgressCoercion } from './egress-coercion.js';
import { CoercionRulesController, InstanceCoercionController } from './http/coercion-rules.controller.js';
import { NormalizationRegistration } from './normalization.registration.js';

/**
 * Coercion at ingest and egress for every app that ingests or retrieves (gateway, worker): the
 * rules held in memory, the ingest normalizer and the egress contributor registered with the archive.
 */
@Module({
  imports: [ArchiveModule, DicomNodeRegistryModule],
  providers: [CoercionRuleRepository, CoercionRulesService, EgressCoercion, NormalizationRegistration],
  exports: [CoercionRulesService],
})
export class NormalizationCoreModule {}

/** Everything, with the /api/v1 routes (coercion rules, dry run, instance coercion, as-received retrieve): for api and vna. */
@Module({
  imports: [NormalizationCoreModule, ArchiveModule],
  controllers: [CoercionRulesController, InstanceCoercionController],
  providers: [DryRunService, AsReceivedService],
})
export class NormalizationModule {}
