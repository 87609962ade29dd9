import { type DynamicModule, Inject, Injectable, Module, type OnModuleInit } from '@nestjs/common';
import { Test, type TestingModule } from '@nestjs/testing';
import { getDataSourceToken } from '@nestjs/typeorm';
import type { DataSource } from 'typeorm';
import { ConfigModule } from '#vna/config';
import { type Hl7Handler, Hl7HandlerRegistry, Hl7InboundService, Hl7ListenerModule, Hl7MessageLogService, Hl7MessagesModule, MllpServer } from '#vna/hl7';
import { MetricsService, ObservabilityModule } from '#vna/observability';
import { PersistenceModule } from '#vna/persistence';
import type { MediumEnv } from './medium.js';

/** The HL7 listener as the apps wire it, with the handlers a test brings (fakes: the real ones live in their features). */
export interface Hl7Harness {
  readonly module: TestingModule;
  readonly db: DataSource;
  readonly inbound: Hl7InboundService;
  readonly server: MllpServer;
  readonly registry: Hl7HandlerRegistry;
  readonly log: Hl7MessageLogService;
  readonly metrics: MetricsService;
  readonly close: () => Promise<void>;
}

const HANDLERS = Symbol('HANDLERS');

/** Registers the test's handlers the way feature modules do (onModuleInit). */
@Injectable()
class TestHandlers implements OnModuleInit {
  constructor(
    private readonly registry: Hl7HandlerRegistry,
    @Inject(HANDLERS) private readonly handlers: Record<string, Hl7Handler>,
  ) {}

  onModuleInit(): void {
    for (const [type, handler] of Object.entries(this.handlers)) this.registry.register([type], handler);
  }
}

@Module({})
class TestHandlersModule {
  static with(handlers: Record<string, Hl7Handler>): DynamicModule {
    return { module: TestHandlersModule, providers: [{ provide: HANDLERS, useValue: handlers }, TestHandlers] };
  }
}

/** Starts the listener (on VNA_HL7_PORT of `env`, 0 for any free port) with `handlers` registered by type^trigger. */
export async function startHl7(env: MediumEnv, handlers: Record<string, Hl7Handler>): Promise<Hl7Harness> {
  const module = await Test.createTestingModule({
    imports: [ConfigModule.with(env.config), PersistenceModule, ObservabilityModule, Hl7ListenerModule, Hl7MessagesModule, TestHandlersModule.with(handlers)],
  }).compile();
  module.useLogger(false);
  await module.init();
  return {
    module,
    db: module.get<DataSource>(getDataSourceToken()),
    inbound: module.get(Hl7InboundService),
    server: module.get(MllpServer),
    registry: module.get(Hl7HandlerRegistry),
    log: module.get(Hl7MessageLogService),
    metrics: module.get(MetricsService),
    close: () => module.close(),
  };
}
