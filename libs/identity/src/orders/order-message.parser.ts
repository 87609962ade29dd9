import { isValidUid } from '#vna/dicom';
import { Hl7ErrorCode, type Hl7Message, Hl7ProcessingError, type Hl7Segment } from '#vna/hl7';
import { codedValue, codedValues, dateToDa, locationText, ndlToPn, sexToDicom, tsToDicom, xcnToPn, xpnGroups } from './hl7-values.js';
import type {
  CodedValue,
  IdentifierWithIssuer,
  OrderControl,
  OrderMessage,
  OrderPatient,
  OrderRequest,
  OrderStatus,
  OrderVisit,
  RequestedProcedureData,
  ScheduledStepData,
} from './order.model.js';

export interface OrderParseOptions {
  /** A new order without a Study Instance UID gets one (VNA_ORDERS_GENERATE_STUDY_UID); else it is refused. */
  readonly generateStudyUid: boolean;
}

/** ORC-1 values taken, with the synonyms some order fillers send (OC order cancelled, OD order discontinued). */
const CONTROLS: Readonly<Record<string, OrderControl>> = { NW: 'NW', XO: 'XO', CA: 'CA', OC: 'CA', DC: 'DC', OD: 'DC', SC: 'SC' };

/** ORC-5 (order status, table 0038) of an SC message to the IHE SWF state. */
const SC_STATUS: Readonly<Record<string, OrderStatus>> = { SC: 'scheduled', IP: 'in-progress', CM: 'completed', CA: 'cancelled', DC: 'discontinued' };

/** Priority (TQ1-9, or TQ component 6; table 0027) to Requested Procedure Priority (0040,1003). */
const PRIORITY: Readonly<Record<string, string>> = { S: 'STAT', A: 'HIGH', P: 'HIGH', C: 'HIGH', T: 'HIGH', R: 'ROUTINE' };

function refuse(code: string, text: string, location: string): never {
  throw new Hl7ProcessingError('AE', code, text, location);
}

/** A segment with its occurrence number among segments of its name (ERR-2's sequence). */
interface Located {
  readonly segment: Hl7Segment;
  readonly n: number;
}

interface ObrGroup {
  readonly obr: Located;
  readonly ipcs: Located[];
  zds?: Located;
}

interface OrcGroup {
  readonly orc: Located;
  tq1?: Located;
  readonly obrs: ObrGroup[];
}

/** One scheduled step as a segment group states it, with what it belongs to. */
interface StepRecord {
  readonly accessionNumber: string;
  readonly accessionIssuer: string;
  readonly procedure: Omit<RequestedProcedureData, 'steps'>;
  readonly step: ScheduledStepData;
}

function at(l: Located, field: number): string {
  return `${l.segment.name}^${l.n}^${field}`;
}

/** EI (entity id^namespace id^universal id^type): the id and its issuer (the namespace, else the universal id). */
function entity(segment: Hl7Segment, field: number): IdentifierWithIssuer {
  return { id: segment.get(field, 1).trim(), issuer: (segment.get(field, 2).trim() || segment.get(field, 3).trim()) };
}

function groupSegments(message: Hl7Message): { pid?: Located; pv1?: Located; groups: OrcGroup[] } {
  const counts = new Map<string, number>();
  let pid: Located | undefined;
  let pv1: Located | undefined;
  const groups: OrcGroup[] = [];
  for (const segment of message.segments) {
    const n = (counts.get(segment.name) ?? 0) + 1;
    counts.set(segment.name, n);
    const located: Located = { segment, n };
    const group = groups[groups.length - 1];
    const obr = group?.obrs[group.obrs.length - 1];
    switch (segment.name) {
      case 'PID':
        pid ??= located;
        break;
      case 'PV1':
        pv1 ??= located;
        break;
      case 'ORC':
        groups.push({ orc: located, obrs: [] });
        break;
      case 'TQ1':
        if (group) group.tq1 ??= located;
        break;
      case 'OBR':
        if (!group) refuse(Hl7ErrorCode.SegmentSequenceError, 'an OBR segment must follow its ORC', `OBR^${n}`);
        group.obrs.push({ obr: located, ipcs: [] });
        break;
      case 'IPC':
        if (!obr) refuse(Hl7ErrorCode.SegmentSequenceError, 'an IPC segment must follow its OBR', `IPC^${n}`);
        obr.ipcs.push(located);
        break;
      case 'ZDS':
        if (obr) obr.zds ??= located;
        break;
    }
  }
  return { pid, pv1, groups };
}

function readPatient(pid: Located | undefined): OrderPatient {
  if (!pid) refuse(Hl7ErrorCode.SegmentSequenceError, 'the PID segment is required', 'PID');
  const s = pid.segment;
  const count = Math.max(1, s.repetitions(3));
  const ids: IdentifierWithIssuer[] = [];
  for (let r = 0; r < count; r++) {
    const id = s.get(3, 1, 1, r).trim();
    // PID-3.4 (assigning authority, HD): its namespace id is DICOM's Issuer of Patient ID.
    if (id) ids.push({ id, issuer: s.get(3, 4, 1, r).trim() });
  }
  const primary = ids[0];
  if (!primary) refuse(Hl7ErrorCode.RequiredFieldMissing, 'PID-3 (patient identifier list) is required', at(pid, 3));
  return {
    id: primary.id,
    issuer: primary.issuer,
    name: xpnGroups(s, 5),
    birthDate: dateToDa(s.get(7)),
    sex: sexToDicom(s.get(8)),
    otherIds: ids.slice(1),
  };
}

function readVisit(pv1: Located | undefined): OrderVisit {
  if (!pv1) return { admissionId: '', location: '', referringPhysician: '' };
  const s = pv1.segment;
  return { admissionId: s.get(19).trim(), location: locationText(s, 3), referringPhysician: xcnToPn(s, 8) };
}

function control(group: OrcGroup): { control: OrderControl; orderStatus: string; targetStatus?: OrderStatus } {
  const orc = group.orc.segment;
  const raw = orc.get(1).trim().toUpperCase();
  if (!raw) refuse(Hl7ErrorCode.RequiredFieldMissing, 'ORC-1 (order control) is required', at(group.orc, 1));
  const value = CONTROLS[raw];
  if (!value) refuse(Hl7ErrorCode.TableValueNotFound, `order control "${raw}" (ORC-1) is not taken: NW, XO, CA, DC or SC`, at(group.orc, 1));
  const orderStatus = orc.get(5).trim().toUpperCase();
  if (value === 'CA') return { control: value, orderStatus, targetStatus: 'cancelled' };
  if (value === 'DC') return { control: value, orderStatus, targetStatus: 'discontinued' };
  if (value === 'SC') {
    if (!orderStatus) refuse(Hl7ErrorCode.RequiredFieldMissing, 'ORC-5 (order status) is required with ORC-1 SC', at(group.orc, 5));
    const target = SC_STATUS[orderStatus];
    if (!target) refuse(Hl7ErrorCode.TableValueNotFound, `order status "${orderStatus}" (ORC-5) is not taken: SC, IP, CM, CA or DC`, at(group.orc, 5));
    return { control: value, orderStatus, targetStatus: target };
  }
  return { control: value, orderStatus };
}

/** Start of the step: TQ1-7 (2.5), else the TQ start of ORC-7 or OBR-27 (2.3.1). */
function start(group: OrcGroup, obr: Located): { date: string; time: string; location: string } {
  const candidates: [string, string][] = [];
  if (group.tq1) candidates.push([group.tq1.segment.get(7), at(group.tq1, 7)]);
  candidates.push([obr.segment.get(27, 4), at(obr, 27)], [group.orc.segment.get(7, 4), at(group.orc, 7)]);
  const given = candidates.find(([value]) => value.trim() !== '');
  const location = given?.[1] ?? (group.tq1 ? at(group.tq1, 7) : at(obr, 27));
  if (!given) return { date: '', time: '', location };
  const parsed = tsToDicom(given[0]);
  if (!parsed) refuse(Hl7ErrorCode.DataTypeError, `"${given[0]}" is not a date/time (YYYYMMDD[HHMM[SS]])`, given[1]);
  return { ...parsed, location };
}

function priority(group: OrcGroup, obr: Located): string {
  const code = (group.tq1?.segment.get(9) || obr.segment.get(27, 6) || group.orc.segment.get(7, 6) || obr.segment.get(5)).trim().toUpperCase();
  return PRIORITY[code] ?? '';
}

/**
 * The body part of the requested procedure: the body site of OBR-15 (Specimen Source: SPS in 2.5.1,
 * CM in 2.3.1; component 4 is the body site, a CWE/CE: its identifier, else its text), trimmed and
 * upper-cased as DICOM's Body Part Examined terms are (CHEST, HEAD, KNEE); '' when not given.
 */
function bodyPart(obr: Hl7Segment): string {
  return (obr.get(15, 4, 1).trim() || obr.get(15, 4, 2).trim()).toUpperCase();
}

/**
 * The steps one OBR (with its IPCs, or its 2.3.1 fields and ZDS) schedules.
 *
 * OMI^O23 (IHE RAD-4, HL7 2.5.1): one step per IPC. ORM^O01 (IHE RAD-4, HL7 2.3.1): one step per
 * ORC/OBR, identified by OBR-18 (accession), OBR-19 (requested procedure id), OBR-20 (step id),
 * with the study in ZDS-1. integration-specs/hl7/README.md lists the fields read.
 */
function stepsOf(group: OrcGroup, g: ObrGroup): StepRecord[] {
  const obr = g.obr.segment;
  const when = start(group, g.obr);
  const universal = codedValue(obr, 4);
  const procedureCode = codedValue(obr, 44) ?? universal;
  const description = procedureCode?.meaning ?? '';
  // IHE RAD TF-2 4.4: OBR-4 components 4-6 carry the scheduled protocol code.
  const obrProtocol = codedValue(obr, 4, 0, true);
  const reason = obr.get(31, 2).trim() || obr.get(31, 1).trim();
  const performing = ndlToPn(obr, 34);
  const common = { code: procedureCode, description, priority: priority(group, g.obr), reason, bodyPart: bodyPart(obr) };
  const ipcStart = { startDate: when.date, startTime: when.time };
  if (g.ipcs.length > 0) {
    return g.ipcs.map((ipc): StepRecord => {
      const s = ipc.segment;
      const accession = entity(s, 1);
      if (!accession.id) refuse(Hl7ErrorCode.RequiredFieldMissing, 'IPC-1 (accession identifier) is required', at(ipc, 1));
      const procedureId = s.get(2, 1).trim();
      const stepId = s.get(4, 1).trim();
      const protocols: CodedValue[] = codedValues(s, 6);
      const studyUid = s.get(3, 1).trim();
      if (studyUid && !isValidUid(studyUid)) refuse(Hl7ErrorCode.DataTypeError, `"${studyUid}" (IPC-3) is not a UID`, at(ipc, 3));
      // IPC-9 is the Scheduled Station AE Title (2.5.1); order fillers that leave it empty often put the AE title in IPC-7.
      const stationName = s.get(7, 1).trim();
      return {
        accessionNumber: accession.id,
        accessionIssuer: accession.issuer,
        procedure: { requestedProcedureId: procedureId || accession.id, explicitProcedureId: !!procedureId, studyUid, ...common },
        step: {
          stepId: stepId || procedureId || accession.id,
          explicitStepId: !!stepId,
          modality: (s.get(5, 1) || obr.get(24)).trim(),
          stationAet: (s.get(9) || stationName).trim(),
          stationName,
          location: s.get(8, 2).trim() || s.get(8, 1).trim(),
          ...ipcStart,
          description: protocols[0]?.meaning || description,
          protocolCodes: protocols,
          performingPhysician: performing,
        },
      };
    });
  }
  const accession = obr.get(18).trim();
  if (!accession) refuse(Hl7ErrorCode.RequiredFieldMissing, 'OBR-18 (placer field 1: accession number) is required', at(g.obr, 18));
  const procedureId = obr.get(19).trim();
  const stepId = obr.get(20).trim();
  const studyUid = g.zds?.segment.get(1, 1).trim() ?? '';
  if (studyUid && !isValidUid(studyUid)) refuse(Hl7ErrorCode.DataTypeError, `"${studyUid}" (ZDS-1) is not a UID`, at(g.zds!, 1));
  return [
    {
      accessionNumber: accession,
      // OBR-18 is a plain string: an ORM carries no issuer of the accession number.
      accessionIssuer: '',
      procedure: { requestedProcedureId: procedureId || accession, explicitProcedureId: !!procedureId, studyUid, ...common },
      step: {
        stepId: stepId || procedureId || accession,
        explicitStepId: !!stepId,
        modality: obr.get(24).trim(),
        // HL7 2.3.1 has no field for it: OBR-21 (filler field 2), else ORC-18 (entering device, as dcm4chee reads it).
        stationAet: (obr.get(21) || group.orc.segment.get(18, 1)).trim(),
        stationName: '',
        location: '',
        ...ipcStart,
        description: obrProtocol?.meaning || description,
        protocolCodes: obrProtocol ? [obrProtocol] : [],
        performingPhysician: performing,
      },
    },
  ];
}

function checkNew(records: readonly StepRecord[], group: OrcGroup, g: ObrGroup, options: OrderParseOptions): void {
  for (const [i, r] of records.entries()) {
    const ipc = g.ipcs[i];
    if (!r.step.modality) refuse(Hl7ErrorCode.RequiredFieldMissing, 'the modality (OBR-24 or IPC-5) is required for a new order', ipc ? at(ipc, 5) : at(g.obr, 24));
    if (!r.step.startDate) {
      refuse(Hl7ErrorCode.RequiredFieldMissing, 'the scheduled start (TQ1-7, OBR-27.4 or ORC-7.4) is required for a new order', start(group, g.obr).location);
    }
    if (!r.procedure.studyUid && !options.generateStudyUid) {
      refuse(Hl7ErrorCode.RequiredFieldMissing, 'the Study Instance UID (ZDS-1 or IPC-3) is required', ipc ? at(ipc, 3) : g.zds ? at(g.zds, 1) : 'ZDS^1^1');
    }
    if (r.step.stationAet.length > 16) refuse(Hl7ErrorCode.DataTypeError, `scheduled station AE title "${r.step.stationAet}" is longer than 16 characters`, ipc ? at(ipc, 9) : at(g.obr, 21));
  }
}

/**
 * Reads an ORM^O01 or OMI^O23 (IHE RAD-4/RAD-13 Procedure Scheduled/Updated) into orders.
 * Throws Hl7ProcessingError (AE, table 0357 code, ERR location) when a required field is missing
 * or malformed; nothing of such a message is applied.
 */
export function parseOrderMessage(message: Hl7Message, options: OrderParseOptions): OrderMessage {
  const { pid, pv1, groups } = groupSegments(message);
  const patient = readPatient(pid);
  const visit = readVisit(pv1);
  if (groups.length === 0) refuse(Hl7ErrorCode.SegmentSequenceError, 'an order message needs an ORC segment', 'ORC');
  const orders: OrderRequest[] = [];
  for (const group of groups) {
    const c = control(group);
    if (group.obrs.length === 0) refuse(Hl7ErrorCode.SegmentSequenceError, 'each ORC needs its OBR segment', `ORC^${group.orc.n}`);
    const orc = group.orc.segment;
    const byAccession = new Map<string, { accessionNumber: string; accessionIssuer: string; records: StepRecord[]; obr: Hl7Segment }>();
    for (const g of group.obrs) {
      const records = stepsOf(group, g);
      if (c.control === 'NW') checkNew(records, group, g, options);
      for (const r of records) {
        const key = `${r.accessionIssuer}\u0000${r.accessionNumber}`;
        const entry = byAccession.get(key) ?? { accessionNumber: r.accessionNumber, accessionIssuer: r.accessionIssuer, records: [], obr: g.obr.segment };
        entry.records.push(r);
        byAccession.set(key, entry);
      }
    }
    for (const entry of byAccession.values()) {
      const procedures = new Map<string, { data: Omit<RequestedProcedureData, 'steps'>; steps: Map<string, ScheduledStepData> }>();
      for (const r of entry.records) {
        const p = procedures.get(r.procedure.requestedProcedureId) ?? { data: r.procedure, steps: new Map() };
        p.steps.set(r.step.stepId, r.step);
        procedures.set(r.procedure.requestedProcedureId, p);
      }
      const placer = entity(orc, 2).id ? entity(orc, 2) : entity(entry.obr, 2);
      const filler = entity(orc, 3).id ? entity(orc, 3) : entity(entry.obr, 3);
      orders.push({
        ...c,
        accessionNumber: entry.accessionNumber,
        accessionIssuer: entry.accessionIssuer,
        placerOrder: placer,
        fillerOrder: filler,
        requestingPhysician: xcnToPn(orc, 12) || xcnToPn(entry.obr, 16),
        procedures: [...procedures.values()].map((p) => ({ ...p.data, steps: [...p.steps.values()] })),
        location: `ORC^${group.orc.n}`,
      });
    }
  }
  return { patient, visit, orders };
}
