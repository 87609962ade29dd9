import { type DynamicModule, Module } from '@nestjs/common';
import { SpoolUploadModule } from '#vna/archive';
import { AuthModule } from '#vna/auth';
import { BlobModule } from '#vna/blob';
import { CorrectionsModule } from '#vna/corrections';
import { ConfigModule, type VnaConfig } from '#vna/config';
import { DicomwebModule } from '#vna/dicomweb';
import { DicomNodesModule } from '#vna/dimse';
import { FhirApiModule } from '#vna/fhir';
import { IdentityModule } from '#vna/identity';
import { NormalizationModule } from '#vna/normalization';
import { DeadLettersModule, JobsModule } from '#vna/jobs';
import { LifecycleApiModule } from '#vna/lifecycle';
import { HealthModule, ObservabilityModule } from '#vna/observability';
import { PersistenceModule } from '#vna/persistence';

/** HTTP: DICOMweb and the administration API. Uploads its own STOW spool. */
@Module({})
export class ApiModule {
  static for(config: VnaConfig): DynamicModule {
    return {
      module: ApiModule,
      imports: [
        ConfigModule.with(config),
        PersistenceModule,
        ObservabilityModule,
        BlobModule,
        JobsModule.forRoot({ relay: true, consumeNodeQueue: true, consumeSharedQueue: false }),
        AuthModule,
        SpoolUploadModule,
        DicomwebModule,
        DicomNodesModule,
        DeadLettersModule,
        IdentityModule,
        FhirApiModule,
        LifecycleApiModule,
        NormalizationModule,
        CorrectionsModule,
        HealthModule,
      ],
    };
  }
}
