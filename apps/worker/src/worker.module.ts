import { type DynamicModule, Module } from '@nestjs/common';
import { BlobModule } from '#vna/blob';
import { ConfigModule, type VnaConfig } from '#vna/config';
import { FhirPublishModule } from '#vna/fhir';
import { JobsModule } from '#vna/jobs';
import { Hl7OutboundModule } from '#vna/identity';
import { LifecycleSchedulerModule } from '#vna/lifecycle';
import { HealthModule, ObservabilityModule } from '#vna/observability';
import { PersistenceModule } from '#vna/persistence';

/** Relays the outbox, runs the shared queue's jobs and the scheduled lifecycle jobs. HTTP serves only /health and /metrics. */
@Module({})
export class WorkerModule {
  static for(config: VnaConfig): DynamicModule {
    return {
      module: WorkerModule,
      imports: [
        ConfigModule.with(config),
        PersistenceModule,
        ObservabilityModule,
        BlobModule,
        JobsModule.forRoot({ relay: true, consumeNodeQueue: false, consumeSharedQueue: true }),
        Hl7OutboundModule,
        FhirPublishModule,
        LifecycleSchedulerModule,
        HealthModule,
      ],
    };
  }
}
