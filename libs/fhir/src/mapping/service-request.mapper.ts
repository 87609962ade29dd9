import type { OrderStatus } from '#vna/identity';
import type { Identifier, Reference, ServiceRequest } from '@medplum/fhirtypes';
import { fhirDateTime, issuerSystem } from './fhir-values.js';
import { accessionIdentifier, procedureCode, V2_0203 } from './imaging-study.mapper.js';

/** FHIR R4 request-status of each order state: open orders are active, cancelled and discontinued ones revoked. */
export const REQUEST_STATUS: Readonly<Record<OrderStatus, NonNullable<ServiceRequest['status']>>> = {
  scheduled: 'active',
  'in-progress': 'active',
  completed: 'completed',
  cancelled: 'revoked',
  discontinued: 'revoked',
};

/** What the index knows of an order (libs/identity, from ORM/OMI), as the ServiceRequest mapper needs it. */
export interface OrderRecord {
  /** imaging_order.id: the ServiceRequest id. */
  readonly id: string;
  readonly status: OrderStatus;
  readonly accessionNumber: string;
  readonly accessionIssuer: string;
  readonly placerOrderNumber: string;
  readonly placerIssuer: string;
  readonly fillerOrderNumber: string;
  readonly fillerIssuer: string;
  /**
   * The API's Patient id of the order's patient (as ImagingStudy.subject: `r<n>` the registry
   * patient after merges, `p<n>` an identity only the index knows), or null when the archive has
   * no patient for it (then the subject is the order's patient identifier).
   */
  readonly patientFid: string | null;
  readonly patientId: string;
  readonly patientIssuer: string;
  /** The first requested procedure's code and description. */
  readonly procedureCode: { readonly code: string; readonly scheme: string; readonly meaning: string } | null;
  readonly procedureDescription: string;
  /** The earliest scheduled step start (DA, TM), if any. */
  readonly startDate: string | null;
  readonly startTime: string | null;
}

function orderNumber(code: 'PLAC' | 'FILL', value: string, issuer: string, systems: Readonly<Record<string, string>>): Identifier {
  const system = issuer ? issuerSystem(issuer, systems) : undefined;
  return { type: { coding: [{ system: V2_0203, code }] }, ...(system ? { system } : {}), value };
}

/**
 * An order as an R4 ServiceRequest (https://hl7.org/fhir/R4/servicerequest.html), read-only:
 * identifiers accession (ACSN), placer (PLAC) and filler (FILL) order numbers; status by
 * REQUEST_STATUS; intent `order`; code from the requested procedure; occurrence the scheduled start
 * (date only without a known time zone, as ImagingStudy.started).
 */
export function toServiceRequest(r: OrderRecord, systems: Readonly<Record<string, string>>): ServiceRequest {
  const identifier: Identifier[] = [accessionIdentifier(r.accessionNumber, r.accessionIssuer || null, systems)];
  if (r.placerOrderNumber) identifier.push(orderNumber('PLAC', r.placerOrderNumber, r.placerIssuer, systems));
  if (r.fillerOrderNumber) identifier.push(orderNumber('FILL', r.fillerOrderNumber, r.fillerIssuer, systems));
  const patientSystem = issuerSystem(r.patientIssuer, systems);
  const subject: Reference = r.patientFid
    ? { reference: `Patient/${r.patientFid}` }
    : { type: 'Patient', identifier: { ...(patientSystem ? { system: patientSystem } : {}), value: r.patientId } };
  const code = procedureCode(r)?.[0];
  const occurrence = fhirDateTime(r.startDate, r.startTime);
  return {
    resourceType: 'ServiceRequest',
    id: r.id,
    identifier,
    status: REQUEST_STATUS[r.status] ?? 'unknown',
    intent: 'order',
    ...(code ? { code } : {}),
    subject: subject as ServiceRequest['subject'],
    ...(occurrence ? { occurrenceDateTime: occurrence } : {}),
  };
}
