import { components, hl7Now, pnToXpn, segment } from './hl7-writer.js';
import type { CodedValue } from './order.model.js';

/** What the RIS is told when an ordered study's first object has arrived. */
export interface StudyArrivedNotice {
  readonly sendingApplication: string;
  readonly receivingApplication: string;
  readonly receivingFacility: string;
  readonly controlId: string;
  readonly now: Date;
  /** ORC-5: IP (in progress: images are arriving) or CM (completed), per the site's RIS. */
  readonly orderStatus: 'IP' | 'CM';
  readonly patient: { readonly id: string; readonly issuer: string; readonly name: string; readonly birthDate: string | null; readonly sex: string | null };
  readonly order: {
    readonly placerOrderNumber: string;
    readonly placerIssuer: string;
    readonly fillerOrderNumber: string;
    readonly fillerIssuer: string;
    readonly accessionNumber: string;
  };
  readonly procedure: { readonly requestedProcedureId: string; readonly code: CodedValue | null; readonly studyUid: string };
  readonly step?: { readonly stepId: string; readonly modality: string };
}

/** The HL7 version of the notification (IHE RAD TF-2 4.4 uses 2.3.1 for ORM). */
export const NOTIFICATION_VERSION = '2.3.1';

/**
 * ORM^O01 with ORC-1 SC (status changed) and ORC-5 IP or CM: the archive's word that an ordered
 * study's images are arriving, in the IHE SWF layout (OBR-18 accession, OBR-19 requested
 * procedure id, OBR-20 step id, OBR-24 modality, ZDS-1 Study Instance UID). UTF-8 when any value
 * is not ASCII (MSH-18 UNICODE UTF-8).
 */
export function buildStudyArrivedMessage(n: StudyArrivedNotice): string {
  const when = hl7Now(n.now);
  const code = n.procedure.code;
  const obr = new Array<string>(24).fill('');
  obr[0] = '1';
  obr[1] = components(n.order.placerOrderNumber, n.order.placerIssuer);
  obr[2] = components(n.order.fillerOrderNumber, n.order.fillerIssuer);
  obr[3] = code ? components(code.value, code.meaning, code.scheme) : '';
  obr[17] = components(n.order.accessionNumber);
  obr[18] = components(n.procedure.requestedProcedureId);
  obr[19] = components(n.step?.stepId);
  obr[23] = components(n.step?.modality);
  const body = [
    segment('PID', ['', '', components(n.patient.id, '', '', n.patient.issuer), '', pnToXpn(n.patient.name), '', n.patient.birthDate ?? '', n.patient.sex ?? '']),
    segment('PV1', ['', 'U']),
    segment('ORC', ['SC', obr[1]!, obr[2]!, '', n.orderStatus, '', '', '', when]),
    segment('OBR', obr),
    segment('ZDS', [components(n.procedure.studyUid, n.sendingApplication, 'Application', 'DICOM')]),
  ];
  const utf8 = /[^\x00-\x7f]/.test(body.join(''));
  const msh = segment('MSH', [
    '^~\\&',
    components(n.sendingApplication),
    '',
    components(n.receivingApplication),
    components(n.receivingFacility),
    when,
    '',
    'ORM^O01',
    n.controlId,
    'P',
    NOTIFICATION_VERSION,
    '',
    '',
    '',
    '',
    '',
    utf8 ? 'UNICODE UTF-8' : '',
  ]);
  return [msh, ...body].join('\r');
}
