import { Inject, Injectable, Logger } from '@nestjs/common';
import { VNA_CONFIG, type VnaConfig } from '#vna/config';
import { generateUid } from '#vna/dicom';
import { Hl7ErrorCode, Hl7ProcessingError } from '#vna/hl7';
import type { SqlRunner } from '#vna/persistence';
import type { OrderMessage, OrderRequest, OrderStatus } from './order.model.js';
import { OrderLinkService } from './order-link.service.js';
import { type OrderFields, OrderRepository, type StepRow } from './order.repository.js';
import { isFinal, orderStatusOf, stepTransition } from './order-status.js';

export interface OrderContext {
  readonly tx: SqlRunner;
  /** hl7_message.id of the message applied. */
  readonly messageId: string;
  /** Who: 'hl7:APP@FACILITY'. */
  readonly actor: string;
  /** MSH-3 / MSH-4 of the order message: where the RIS notification goes back to. */
  readonly sendingApplication: string;
  readonly sendingFacility: string;
}

/** What applying a message did to one order, for the message log. */
export interface OrderOutcome {
  readonly accessionNumber: string;
  readonly control: string;
  readonly status: OrderStatus;
}

function refuse(code: string, text: string, location: string): never {
  throw new Hl7ProcessingError('AE', code, text, location);
}

/**
 * Applies order messages (ORM^O01, OMI^O23; IHE RAD-4/RAD-13) to the order tables, in the
 * message's transaction: NW creates (or, re-sent, updates) an order with its requested procedures
 * and scheduled steps; XO changes the details (an ended order gets no new steps); CA, DC and SC
 * move steps between the IHE SWF states. A message that cannot apply (unknown order, a step that ended, a Study Instance UID of
 * another order) is refused with AE and its table 0357 code, and changes nothing.
 */
@Injectable()
export class OrderService {
  private readonly logger = new Logger('Orders');

  constructor(
    @Inject(VNA_CONFIG) private readonly config: VnaConfig,
    private readonly orders: OrderRepository,
    private readonly links: OrderLinkService,
  ) {}

  async apply(message: OrderMessage, ctx: OrderContext): Promise<OrderOutcome[]> {
    const outcomes: OrderOutcome[] = [];
    for (const request of message.orders) {
      const { tx } = ctx;
      const existing = await this.orders.findForUpdate(tx, request.accessionNumber, request.accessionIssuer);
      const fields: OrderFields = {
        accessionNumber: request.accessionNumber,
        accessionIssuer: request.accessionIssuer,
        placerOrder: request.placerOrder,
        fillerOrder: request.fillerOrder,
        patient: message.patient,
        visit: message.visit,
        requestingPhysician: request.requestingPhysician,
        sendingApplication: ctx.sendingApplication,
        sendingFacility: ctx.sendingFacility,
      };
      let orderId: string;
      if (request.control === 'NW') {
        if (existing && isFinal(existing.status)) {
          refuse(Hl7ErrorCode.DuplicateKeyIdentifier, `an order with accession number ${request.accessionNumber} exists and is ${existing.status}: a new order needs a new accession number`, request.location);
        }
        orderId = existing ? existing.id : await this.orders.insert(tx, fields, ctx.actor, ctx.messageId);
        if (existing) await this.orders.update(tx, orderId, fields, ctx.actor, ctx.messageId);
        await this.schedule(tx, orderId, request);
      } else {
        if (!existing) refuse(Hl7ErrorCode.UnknownKeyIdentifier, `no order with accession number ${request.accessionNumber}`, request.location);
        orderId = existing.id;
        if (request.control === 'XO') {
          await this.orders.update(tx, orderId, fields, ctx.actor, ctx.messageId);
          await this.schedule(tx, orderId, request);
        } else {
          await this.changeStatus(tx, orderId, request);
        }
      }
      const status = orderStatusOf((await this.orders.steps(tx, orderId)).map((s) => s.status));
      // An ended order stays ended: a change that would schedule a new step on it is refused (the transaction is undone).
      if (existing && isFinal(existing.status) && !isFinal(status)) {
        refuse(Hl7ErrorCode.ApplicationRecordLocked, `order ${request.accessionNumber} has ended (${existing.status}): a new order needs a new accession number`, request.location);
      }
      await this.orders.setOrderStatus(tx, orderId, status, ctx.actor, ctx.messageId);
      if (request.control === 'NW' || request.control === 'XO') await this.links.afterOrderChange(tx, orderId, ctx.actor, ctx.messageId);
      this.logger.log(`order ${request.accessionNumber}: ${request.control}${request.targetStatus ? ` -> ${request.targetStatus}` : ''}, now ${status}`);
      outcomes.push({ accessionNumber: request.accessionNumber, control: request.control, status });
    }
    return outcomes;
  }

  /** Requested procedures and their steps, created or updated; a new procedure without a Study Instance UID gets one. */
  private async schedule(tx: SqlRunner, orderId: string, request: OrderRequest): Promise<void> {
    for (const procedure of request.procedures) {
      let studyUid = procedure.studyUid;
      if (studyUid) {
        const other = await this.orders.orderOfStudyUid(tx, studyUid);
        if (other && other !== orderId) {
          refuse(Hl7ErrorCode.DuplicateKeyIdentifier, `Study Instance UID ${studyUid} is scheduled for another order`, request.location);
        }
      } else if (!(await this.orders.procedureExists(tx, orderId, procedure.requestedProcedureId))) {
        if (!this.config.orders.generateStudyUid) refuse(Hl7ErrorCode.RequiredFieldMissing, 'the Study Instance UID (ZDS-1 or IPC-3) is required', request.location);
        studyUid = generateUid();
      }
      const row = await this.orders.upsertProcedure(tx, orderId, procedure, studyUid);
      for (const step of procedure.steps) await this.orders.upsertStep(tx, row.id, step);
    }
  }

  /**
   * CA, DC, SC: the steps the message names (by step id, else by requested procedure) or, when it
   * names none, every step of the order that has not ended, move to the state asked for.
   */
  private async changeStatus(tx: SqlRunner, orderId: string, request: OrderRequest): Promise<void> {
    const target = request.targetStatus!;
    const steps = await this.orders.steps(tx, orderId);
    const named = request.procedures.flatMap((p) => p.steps.filter((s) => s.explicitStepId).map((s) => ({ procedure: p.requestedProcedureId, step: s.stepId, explicitProcedure: p.explicitProcedureId })));
    const namedProcedures = request.procedures.filter((p) => p.explicitProcedureId).map((p) => p.requestedProcedureId);
    let scope: StepRow[];
    let strict: boolean;
    if (named.length > 0) {
      scope = steps.filter((s) => named.some((n) => n.step === s.stepId && (!n.explicitProcedure || n.procedure === s.requestedProcedureId)));
      strict = true;
    } else if (namedProcedures.length > 0) {
      scope = steps.filter((s) => namedProcedures.includes(s.requestedProcedureId));
      strict = true;
    } else {
      scope = steps;
      strict = false;
    }
    if (scope.length === 0) refuse(Hl7ErrorCode.UnknownKeyIdentifier, `order ${request.accessionNumber} has no such procedure step`, request.location);
    const moving: string[] = [];
    for (const step of scope) {
      const transition = stepTransition(step.status, target);
      if (transition === 'allowed') moving.push(step.id);
      else if (transition === 'refused' && (strict || !isFinal(step.status))) {
        refuse(Hl7ErrorCode.ApplicationRecordLocked, `procedure step ${step.stepId} of order ${request.accessionNumber} is ${step.status} and cannot become ${target}`, request.location);
      }
    }
    if (moving.length === 0 && !scope.some((s) => s.status === target)) {
      refuse(Hl7ErrorCode.ApplicationRecordLocked, `order ${request.accessionNumber} has ended (${scope[0]!.status}) and cannot become ${target}`, request.location);
    }
    await this.orders.setStepStatus(tx, moving, target);
  }
}
