import { Inject, Injectable, Logger } from '@nestjs/common';
import type { NewSeriesEvent } from '#vna/archive';
import { VNA_CONFIG, type VnaConfig } from '#vna/config';
import type { SqlRunner } from '#vna/persistence';
import { ReconciliationTaskRepository } from '../reconciliation/reconciliation-task.repository.js';
import { Hl7OutboundService } from './hl7-outbound.service.js';
import { outboundControlId } from './hl7-writer.js';
import { OrderLinkRepository, type StudyIdentity } from './order-link.repository.js';
import { OrderRepository, type OrderRow } from './order.repository.js';
import { buildStudyArrivedMessage } from './ris-notification.js';

export const ORDER_PATIENT_MISMATCH = 'order-patient-mismatch';

/** The reconciliation task subject of a study: one open question per study. */
export function studySubject(studyUid: string): string {
  return `study:${studyUid}`;
}

function sameId(orderId: string, orderIssuer: string, id: string, issuer: string): boolean {
  // An identifier without its issuer is compared by value alone (many modalities send no issuer).
  return orderId === id && (orderIssuer === '' || issuer === '' || orderIssuer === issuer);
}

/** Whether the order's patient is the study's: the identity the objects arrived with, or the one the index gives them now. */
export function samePatient(order: Pick<OrderRow, 'patientId' | 'patientIssuer'>, study: Pick<StudyIdentity, 'receivedPatientId' | 'receivedIssuer' | 'currentPatientId' | 'currentIssuer'>): boolean {
  return (
    sameId(order.patientId, order.patientIssuer, study.receivedPatientId, study.receivedIssuer) ||
    sameId(order.patientId, order.patientIssuer, study.currentPatientId, study.currentIssuer)
  );
}

/**
 * The order a study belongs to: the one scheduling its Study Instance UID, else the only one of
 * its accession number whose issuer agrees (an issuer on both sides must be the same; an exact
 * issuer match wins). Undefined when none or several fit: nothing is linked on a guess.
 */
export function chooseOrder(candidates: readonly { order: OrderRow; byStudyUid: boolean }[], accessionIssuer: string): OrderRow | undefined {
  const byUid = candidates.find((c) => c.byStudyUid);
  if (byUid) return byUid.order;
  const fitting = candidates.map((c) => c.order).filter((o) => o.accessionIssuer === '' || accessionIssuer === '' || o.accessionIssuer === accessionIssuer);
  const exact = fitting.filter((o) => accessionIssuer !== '' && o.accessionIssuer === accessionIssuer);
  if (exact.length === 1) return exact[0];
  return fitting.length === 1 ? fitting[0] : undefined;
}

/** Issuer of Accession Number Sequence > Local Namespace Entity ID, else Universal Entity ID, from DICOM JSON. */
function accessionIssuerOf(attributes: Record<string, { Value?: unknown[] }>): string {
  const item = attributes['00080051']?.Value?.[0] as Record<string, { Value?: unknown[] }> | undefined;
  const local = item?.['00400031']?.Value?.[0];
  const universal = item?.['00400032']?.Value?.[0];
  return String(local ?? universal ?? '');
}

/**
 * Links stored studies to their orders (IHE SWF / PIR): at ingest, when a study's first series
 * arrives, and when an order arrives or changes after its study. A study whose patient is not the
 * order's keeps its own patient (the order's is never applied on a guess) and gets an
 * 'order-patient-mismatch' reconciliation task; a later order message that makes them agree
 * closes it. A study linked without doubt is announced to the RIS, once (VNA_RIS_NOTIFY).
 */
@Injectable()
export class OrderLinkService {
  private readonly logger = new Logger('Orders');

  constructor(
    @Inject(VNA_CONFIG) private readonly config: VnaConfig,
    private readonly orders: OrderRepository,
    private readonly links: OrderLinkRepository,
    private readonly tasks: ReconciliationTaskRepository,
    private readonly outbound: Hl7OutboundService,
  ) {}

  /** The ingest hook: runs in the ingest transaction for each series new to the process (idempotent). */
  async atIngest(tx: SqlRunner, event: NewSeriesEvent): Promise<void> {
    const { study } = event.record;
    if (await this.links.isLinked(tx, event.studyRowId)) return;
    const candidates = await this.orders.candidatesForStudy(tx, study.studyUid, study.accessionNumber);
    if (candidates.length === 0) return;
    const order = chooseOrder(candidates, accessionIssuerOf(study.attributes as Record<string, { Value?: unknown[] }>));
    if (!order) {
      this.logger.warn(`study ${study.studyUid}: accession number fits ${candidates.length} orders of different issuers; not linked`);
      return;
    }
    const identity = await this.links.study(tx, event.studyRowId);
    if (identity) await this.link(tx, order, identity, 'ingest');
  }

  /** Records a link and acts on the patient question. */
  async link(tx: SqlRunner, order: OrderRow, study: StudyIdentity, actor: string): Promise<void> {
    const matches = samePatient(order, study);
    if (!(await this.links.insert(tx, order.id, study, matches, actor))) return;
    if (matches) {
      this.logger.log(`study ${study.studyUid} linked to the order of accession ${order.accessionNumber}`);
      await this.notifyRis(tx, order, study);
    } else {
      await this.openMismatch(tx, order, study, actor);
    }
  }

  /**
   * After an order message changed an order: studies that arrived before it are linked now, and
   * each linked study's patient question is decided again (a corrected order patient closes the
   * task; an order moved to another patient opens one).
   */
  async afterOrderChange(tx: SqlRunner, orderId: string, actor: string, messageId: string): Promise<void> {
    const order = await this.orders.get(tx, orderId);
    for (const linked of await this.links.linkedTo(tx, orderId)) {
      const matches = samePatient(order, linked);
      if (matches === linked.patientMatches) continue;
      await this.links.setPatientMatches(tx, linked.studyRowId, matches);
      if (matches) {
        const closed = await this.tasks.resolve(tx, ORDER_PATIENT_MISMATCH, studySubject(linked.studyUid), actor, {
          outcome: 'order-patient-corrected',
          hl7MessageId: messageId,
          patientId: order.patientId,
          issuer: order.patientIssuer,
        });
        this.logger.log(`study ${linked.studyUid}: the order's patient now agrees (${closed} task(s) resolved)`);
        if (!linked.notified) await this.notifyRis(tx, order, linked);
      } else {
        await this.openMismatch(tx, order, linked, actor);
      }
    }
    const procedures = await this.orders.procedures(tx, orderId);
    const uids = new Set(procedures.map((p) => p.studyUid));
    for (const study of await this.links.unlinked(tx, order.accessionNumber, [...uids])) {
      const fits = uids.has(study.studyUid) || chooseOrder([{ order, byStudyUid: false }], study.accessionIssuer) !== undefined;
      if (fits) await this.link(tx, order, study, actor);
    }
  }

  private async openMismatch(tx: SqlRunner, order: OrderRow, study: StudyIdentity, actor: string): Promise<void> {
    const id = await this.tasks.open(tx, {
      kind: ORDER_PATIENT_MISMATCH,
      subject: studySubject(study.studyUid),
      studyRowId: study.studyRowId,
      details: {
        studyUid: study.studyUid,
        accessionNumber: order.accessionNumber,
        accessionIssuer: order.accessionIssuer,
        orderId: order.id,
        order: { patientId: order.patientId, issuer: order.patientIssuer, name: order.patientName.alphabetic, birthDate: order.patientBirthDate, sex: order.patientSex },
        study: { patientId: study.receivedPatientId, issuer: study.receivedIssuer, currentPatientId: study.currentPatientId, currentIssuer: study.currentIssuer },
      },
      openedBy: actor,
    });
    // No patient data in logs: the task holds the case.
    this.logger.warn(`study ${study.studyUid}: its patient is not the patient of the order of accession ${order.accessionNumber}; reconciliation task ${id}`);
  }

  /** Queues ORM^O01 SC (IP or CM) to the RIS for a study of the order, once per study. */
  private async notifyRis(tx: SqlRunner, order: OrderRow, study: StudyIdentity): Promise<void> {
    const target = this.config.orders.risNotify;
    if (!target) return;
    if (!(await this.links.markNotified(tx, study.studyRowId))) return;
    const procedures = await this.orders.procedures(tx, order.id);
    const procedure = procedures.find((p) => p.studyUid === study.studyUid) ?? procedures[0];
    const steps = await this.orders.steps(tx, order.id);
    const step = steps.find((s) => s.procedureId === procedure?.id);
    const controlId = outboundControlId();
    const text = buildStudyArrivedMessage({
      sendingApplication: this.config.dicom.aet,
      receivingApplication: order.sendingApplication,
      receivingFacility: order.sendingFacility,
      controlId,
      now: new Date(),
      orderStatus: target.orderStatus,
      patient: { id: order.patientId, issuer: order.patientIssuer, name: order.patientName.alphabetic, birthDate: order.patientBirthDate, sex: order.patientSex },
      order: {
        placerOrderNumber: order.placerOrderNumber,
        placerIssuer: order.placerIssuer,
        fillerOrderNumber: order.fillerOrderNumber,
        fillerIssuer: order.fillerIssuer,
        accessionNumber: order.accessionNumber,
      },
      procedure: { requestedProcedureId: procedure?.requestedProcedureId ?? order.accessionNumber, code: procedure?.code ?? null, studyUid: study.studyUid },
      step: step ? { stepId: step.stepId, modality: step.modality } : undefined,
    });
    await this.outbound.enqueueRisNotification(tx, text, controlId, study.studyUid);
  }
}
