import { Module, type OnModuleInit } from '@nestjs/common';
import { ArchiveModule, IngestHookRegistry } from '#vna/archive';
import { Hl7RegistryModule } from '#vna/hl7';
import { ReconciliationTaskRepository } from '../reconciliation/reconciliation-task.repository.js';
import { Hl7OutboundService } from './hl7-outbound.service.js';
import { OrderLinkRepository } from './order-link.repository.js';
import { OrderLinkService } from './order-link.service.js';
import { OrderMessageHandler } from './order-message.handler.js';
import { OrderRepository } from './order.repository.js';
import { OrderService } from './order.service.js';
import { WorklistService } from './worklist.service.js';

/**
 * Outbound HL7 deliveries (forwarding, RIS notifications): the job handlers of their outbox
 * topics. Any process that consumes the shared queue imports it (the worker, the all-in-one app).
 */
@Module({ providers: [Hl7OutboundService], exports: [Hl7OutboundService] })
export class Hl7OutboundModule {}

/**
 * Orders and the Modality Worklist (IHE SWF.b): ORM^O01 / OMI^O23 handlers (registered with the
 * HL7 handler registry), order linkage at ingest (an IngestHook), the worklist the DIMSE SCP
 * serves, RIS notification and forwarding through the outbox. Needs PersistenceModule, JobsModule
 * and ConfigModule in the application (they are global).
 */
@Module({
  imports: [ArchiveModule, Hl7RegistryModule, Hl7OutboundModule],
  providers: [OrderRepository, OrderLinkRepository, OrderLinkService, OrderService, OrderMessageHandler, WorklistService, ReconciliationTaskRepository],
  exports: [WorklistService, OrderService, OrderLinkService, Hl7OutboundModule],
})
export class OrdersModule implements OnModuleInit {
  constructor(
    private readonly hooks: IngestHookRegistry,
    private readonly links: OrderLinkService,
  ) {}

  onModuleInit(): void {
    this.hooks.register((tx, event) => this.links.atIngest(tx, event));
  }
}
