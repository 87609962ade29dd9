import { type DynamicModule, Module } from '@nestjs/common';
import { ArchiveModule, SpoolUploadModule } from '#vna/archive';
import { AuthModule } from '#vna/auth';
import { BlobModule } from '#vna/blob';
import { CorrectionsModule } from '#vna/corrections';
import { ConfigModule, type VnaConfig } from '#vna/config';
import { DicomwebModule } from '#vna/dicomweb';
import { DicomNodesModule, DimseModule } from '#vna/dimse';
import { Hl7ListenerModule, Hl7MessagesModule } from '#vna/hl7';
import { FhirApiModule, FhirPublishModule } from '#vna/fhir';
import { IdentityModule } from '#vna/identity';
import { NormalizationModule } from '#vna/normalization';
import { DeadLettersModule, JobsModule } from '#vna/jobs';
import { LifecycleApiModule, LifecycleSchedulerModule } from '#vna/lifecycle';
import { HealthModule, ObservabilityModule } from '#vna/observability';
import { PersistenceModule } from '#vna/persistence';

/** The whole archive in one process: what `npm start` runs on one machine. */
@Module({})
export class VnaModule {
  static for(config: VnaConfig): DynamicModule {
    return {
      module: VnaModule,
      imports: [
        ConfigModule.with(config),
        PersistenceModule,
        ObservabilityModule,
        BlobModule,
        JobsModule.forRoot({ relay: true, consumeNodeQueue: true, consumeSharedQueue: true }),
        AuthModule,
        ArchiveModule,
        SpoolUploadModule,
        DicomwebModule,
        DimseModule,
        DicomNodesModule,
        DeadLettersModule,
        Hl7ListenerModule,
        Hl7MessagesModule,
        IdentityModule,
        FhirApiModule,
        FhirPublishModule,
        LifecycleApiModule,
        LifecycleSchedulerModule,
        NormalizationModule,
        CorrectionsModule,
        HealthModule,
      ],
    };
  }
}
