import { type DynamicModule, Module } from '@nestjs/common';
import { SpoolUploadModule } from '#vna/archive';
import { BlobModule } from '#vna/blob';
import { IocmIngestModule } from '#vna/corrections';
import { ConfigModule, type VnaConfig } from '#vna/config';
import { DimseModule } from '#vna/dimse';
import { IdentityIngestModule } from '#vna/identity';
import { NormalizationCoreModule } from '#vna/normalization';
import { JobsModule } from '#vna/jobs';
import { LifecycleModule } from '#vna/lifecycle';
import { HealthModule, ObservabilityModule } from '#vna/observability';
import { PersistenceModule } from '#vna/persistence';

/** The DIMSE SCP; uploads its own spool. HTTP serves only /health and /metrics. */
@Module({})
export class DicomGatewayModule {
  static for(config: VnaConfig): DynamicModule {
    return {
      module: DicomGatewayModule,
      imports: [
        ConfigModule.with(config),
        PersistenceModule,
        ObservabilityModule,
        BlobModule,
        JobsModule.forRoot({ relay: true, consumeNodeQueue: true, consumeSharedQueue: false }),
        SpoolUploadModule,
        DimseModule,
        LifecycleModule,
        IdentityIngestModule,
        NormalizationCoreModule,
        IocmIngestModule,
        HealthModule,
      ],
    };
  }
}
