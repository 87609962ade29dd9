import { Inject, Injectable, type OnModuleInit } from '@nestjs/common';
import { VNA_CONFIG, type VnaConfig } from '#vna/config';
import { type Hl7HandlerContext, Hl7HandlerRegistry, type Hl7HandlerResult, type Hl7Message } from '#vna/hl7';
import { Hl7OutboundService } from './hl7-outbound.service.js';
import { parseOrderMessage } from './order-message.parser.js';
import { OrderService } from './order.service.js';

/** The order messages the archive takes (IHE RAD-4 Procedure Scheduled, RAD-13 Procedure Updated). */
export const ORDER_MESSAGE_TYPES = ['ORM^O01', 'OMI^O23'] as const;

/**
 * The HL7 edge of orders: reads an ORM^O01 / OMI^O23, applies it in the message's transaction,
 * and queues its forwarding (VNA_HL7_FORWARD). Registered with the listener's handler registry.
 */
@Injectable()
export class OrderMessageHandler implements OnModuleInit {
  constructor(
    @Inject(VNA_CONFIG) private readonly config: VnaConfig,
    private readonly registry: Hl7HandlerRegistry,
    private readonly orders: OrderService,
    private readonly outbound: Hl7OutboundService,
  ) {}

  onModuleInit(): void {
    this.registry.register(ORDER_MESSAGE_TYPES, (message, context) => this.handle(message, context));
  }

  async handle(message: Hl7Message, context: Hl7HandlerContext): Promise<Hl7HandlerResult> {
    const parsed = parseOrderMessage(message, { generateStudyUid: this.config.orders.generateStudyUid });
    const outcomes = await this.orders.apply(parsed, {
      tx: context.tx,
      messageId: context.messageId,
      actor: `hl7:${context.actor}`,
      sendingApplication: message.sendingApplication,
      sendingFacility: message.sendingFacility,
    });
    const forwarded = await this.outbound.enqueueForward(context.tx, message, context.messageId);
    const applied = outcomes.map((o) => `${o.control} ${o.accessionNumber} (${o.status})`).join(', ');
    return { patientIds: [parsed.patient.id], note: `orders: ${applied}${forwarded ? `; forwarded to ${forwarded}` : ''}` };
  }
}
