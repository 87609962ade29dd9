import { type DynamicModule, Inject, Injectable, Module, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { MetricsService } from '#vna/observability';
import { BullModule } from '@nestjs/bullmq';
import { VNA_CONFIG, type VnaConfig } from '#vna/config';
import { DeadLettersController } from './dead-letters.controller.js';
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

@Injectable()
class JobsConsumers implements OnApplicationBootstrap, OnApplicationShutdown {
  private timer?: NodeJS.Timeout;

  constructor(
    @Inject(JOBS_OPTIONS) private readonly options: JobsOptions,
    @Inject(VNA_CONFIG) private readonly config: VnaConfig,
    private readonly queues: QueueService,
    private readonly outbox: OutboxRepository,
    private readonly metrics: MetricsService,
  ) {}

  onApplicationBootstrap(): void {
    if (this.options.consumeNodeQueue) this.queues.consume(nodeQueue(this.config.nodeId), 4);
    if (this.options.consumeSharedQueue) this.queues.consume(SHARED_QUEUE, 4);
    this.timer = setInterval(() => void this.gauges(), 5000);
  }

  /** Outbox and queue depths for /metrics. */
  private async gauges(): Promise<void> {
    try {
      const { open, dead } = await this.outbox.counts();
      this.metrics.outboxDepth.set(open);
      this.metrics.outboxDead.set(dead);
      for (const [queue, n] of Object.entries(await this.queues.counts())) this.metrics.queueDepth.set({ queue }, n);
    } catch {
      // The next round tries again; readiness reports the outage.
    }
  }

  onApplicationShutdown(): void {
    if (this.timer) clearInterval(this.timer);
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

/** /api/v1/dead-letters, for the app that serves the administration API (needs JobsModule). */
@Module({ controllers: [DeadLettersController] })
export class DeadLettersModule {}
