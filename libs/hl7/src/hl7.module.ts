import { Global, Module } from '@nestjs/common';
import { Hl7HandlerRegistry } from './hl7-handler.js';
import { Hl7InboundService } from './hl7-inbound.service.js';
import { Hl7MessageLogService } from './hl7-message-log.service.js';
import { Hl7MessageRepository } from './hl7-message.repository.js';
import { Hl7MessagesController } from './hl7-messages.controller.js';
import { Hl7Metrics } from './hl7-metrics.js';
import { MllpServer } from './mllp.server.js';

/**
 * The handler registry, one per process. Global so that feature modules (identity, orders) can
 * inject Hl7HandlerRegistry and register their handlers in onModuleInit; importing it works too.
 */
@Global()
@Module({ providers: [Hl7HandlerRegistry], exports: [Hl7HandlerRegistry] })
export class Hl7RegistryModule {}

/** The inbound flow without a socket (the listener uses it; tests drive it directly). */
@Module({
  imports: [Hl7RegistryModule],
  providers: [Hl7MessageRepository, Hl7InboundService, Hl7Metrics],
  exports: [Hl7InboundService, Hl7Metrics],
})
export class Hl7InboundModule {}

/** The MLLP listener on VNA_BIND:VNA_HL7_PORT. */
@Module({ imports: [Hl7InboundModule], providers: [MllpServer], exports: [MllpServer] })
export class Hl7ListenerModule {}

/** /api/v1/hl7/messages, for whichever app serves the administration API. */
@Module({ controllers: [Hl7MessagesController], providers: [Hl7MessageRepository, Hl7MessageLogService] })
export class Hl7MessagesModule {}
