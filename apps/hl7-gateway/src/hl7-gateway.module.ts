import { type DynamicModule, Module } from '@nestjs/common';
import { BlobModule } from '#vna/blob';
import { ConfigModule, type VnaConfig } from '#vna/config';
import { Hl7ListenerModule } from '#vna/hl7';
import { IdentityModule } from '#vna/identity';
import { JobsModule } from '#vna/jobs';
import { HealthModule, ObservabilityModule } from '#vna/observability';
import { PersistenceModule } from '#vna/persistence';

/**
 * The MLLP listener; HTTP serves only /health and /metrics. IdentityModule brings the handlers
 * that take messages (ADT, orders). JobsModule gives handlers the outbox (relayed from here too).
 */
@Module({})
export class Hl7GatewayModule {
  static for(config: VnaConfig): DynamicModule {
    return {
      module: Hl7GatewayModule,
      imports: [
        ConfigModule.with(config),
        PersistenceModule,
        ObservabilityModule,
        BlobModule,
        JobsModule.forRoot({ relay: true, consumeNodeQueue: false, consumeSharedQueue: false }),
        Hl7ListenerModule,
        IdentityModule,
        HealthModule,
      ],
    };
  }
}
