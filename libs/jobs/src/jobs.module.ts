import { type DynamicModule, Inject, Module, type OnApplicationBootstrap } from '@nestjs/common';
import { BullModule } from '@nestjs/bullmq';
import { VNA_CONFIG, type VnaConfig } from '#vna/config';
import { JobHandlerRegistry } from './job-handler.registry.js';
import { OutboxRelayService } from './outbox-relay.service.js';
import { OutboxRepository } from './outbox.repository.js';
import { QueueService } from './queue.service.js';
import { nodeQueue, SHARED_QUEUE } from './queues.js';

export interface JobsOptions {
  /** Relay the outbox to BullMQ from this process. */
  readonly relay: boolean;
  /** Consume this node's own queue (work on the local spool). */
  readonly consumeNodeQueue: boolean;
  /** Consume the shared queue. */
  readonly consumeSharedQueue: boolean;
}

const JOBS_OPTIONS = Symbol('JOBS_OPTIONS');

class JobsConsumers implements OnApplicationBootstrap {
  constructor(
    @Inject(JOBS_OPTIONS) private readonly options: JobsOptions,
    @Inject(VNA_CONFIG) private readonly config: VnaConfig,
    private readonly queues: QueueService,
  ) {}

  onApplicationBootstrap(): void {
    if (this.options.consumeNodeQueue) this.queues.consume(nodeQueue(this.config.nodeId), 4);
    if (this.options.consumeSharedQueue) this.queues.consume(SHARED_QUEUE, 4);
  }
}

@Module({})
export class JobsModule {
  static forRoot(options: JobsOptions): DynamicModule {
    return {
      module: JobsModule,
      global: true,
      imports: [
        BullModule.forRootAsync({
          inject: [VNA_CONFIG],
          useFactory: (config: VnaConfig) => ({ connection: { url: config.redis.url }, prefix: config.redis.prefix }),
        }),
      ],
      providers: [
        { provide: JOBS_OPTIONS, useValue: options },
        JobHandlerRegistry,
        OutboxRepository,
        QueueService,
        JobsConsumers,
        ...(options.relay ? [OutboxRelayService] : []),
      ],
      exports: [JobHandlerRegistry, OutboxRepository, QueueService],
    };
  }
}
