import { hl7 } from './mllp.js';

/**
 * Order messages for the orders and Modality Worklist tests: ORM^O01 in the IHE RAD-4 layout
 * (HL7 2.3.1 fields: OBR-18 accession, OBR-19 requested procedure, OBR-20 step, OBR-21 station
 * AE title, OBR-24 modality, OBR-27.4 start, ZDS-1 Study Instance UID) and OMI^O23 (2.5.1: TQ1-7
 * start, one IPC per step). Every value the test does not give has a plain default.
 */
export interface OrderSpec {
  readonly controlId: string;
  readonly control?: string;
  /** ORC-5. */
  readonly orderStatus?: string;
  readonly patientId?: string;
  readonly issuer?: string;
  /** PID-5 as XPN text ('Family^Given'). */
  readonly name?: string;
  readonly birthDate?: string;
  readonly sex?: string;
  readonly accession: string;
  readonly procedureId?: string;
  readonly stepId?: string;
  /** ZDS-1 (ORM) or IPC-3 (OMI); null leaves it out. */
  readonly studyUid?: string | null;
  readonly modality?: string;
  readonly stationAet?: string;
  /** HL7 TS, e.g. '20241120090000'. */
  readonly start?: string;
  /** OBR-4 as CE text. */
  readonly procedureCode?: string;
  /** OBR-15 (specimen source) as SPS text: the body site is component 4 ('^^^CHEST&Chest&L'); empty when not given. */
  readonly specimenSource?: string;
  /** PV1-8 as XCN text. */
  readonly referring?: string;
  /** MSH-18 ('' for ASCII). */
  readonly charset?: string;
  readonly app?: string;
  readonly facility?: string;
}

/** A segment from fields by number (1-based); fields not given are empty. */
export function seg(name: string, fields: Readonly<Record<number, string>>): string {
  const max = Math.max(0, ...Object.keys(fields).map(Number));
  const out: string[] = [name];
  for (let i = 1; i <= max; i++) out.push(fields[i] ?? '');
  return out.join('|');
}

function msh(s: OrderSpec, type: string, version: string): string {
  return `MSH|^~\\&|${s.app ?? 'RIS'}|${s.facility ?? 'NORTHSIDE'}|VNA|NORTHSIDE|20241115110000||${type}|${s.controlId}|P|${version}||||||${s.charset ?? 'UNICODE UTF-8'}`;
}

function pid(s: OrderSpec): string {
  return seg('PID', { 1: '1', 3: `${s.patientId ?? 'P-1'}^^^${s.issuer ?? 'NORTHSIDE'}^MR`, 5: s.name ?? 'Testperson^Anna', 7: s.birthDate ?? '19800214', 8: s.sex ?? 'F' });
}

function pv1(s: OrderSpec): string {
  return seg('PV1', { 1: '1', 2: 'O', 3: 'RAD^101^1^NORTHSIDE', 8: s.referring ?? '1001^Referrer^Robert^^^Dr', 19: 'V-1' });
}

/** ORM^O01 (IHE RAD-4 / RAD-13 in HL7 2.3.1). */
export function ormO01(s: OrderSpec): string {
  const start = s.start ?? '20241120090000';
  const placer = `PL-${s.accession}^RIS`;
  const filler = `FI-${s.accession}^VNA`;
  const segments = [
    msh(s, 'ORM^O01', '2.3.1'),
    pid(s),
    pv1(s),
    seg('ORC', { 1: s.control ?? 'NW', 2: placer, 3: filler, 5: s.orderStatus ?? 'SC', 7: `^^^${start}`, 12: '1002^Requester^Rita' }),
    seg('OBR', {
      1: '1',
      2: placer,
      3: filler,
      4: s.procedureCode ?? 'CTCHEST^CT chest without contrast^L',
      15: s.specimenSource ?? '',
      18: s.accession,
      19: s.procedureId ?? '',
      20: s.stepId ?? '',
      21: s.stationAet ?? 'CT01',
      24: s.modality ?? 'CT',
      27: `^^^${start}`,
    }),
  ];
  if (s.studyUid !== null && s.studyUid !== undefined) segments.push(seg('ZDS', { 1: `${s.studyUid}^VNA^Application^DICOM` }));
  return hl7(...segments);
}

/** OMI^O23 (IHE RAD-4 in HL7 2.5.1): one IPC for the step. */
export function omiO23(s: OrderSpec): string {
  const placer = `PL-${s.accession}^RIS`;
  const filler = `FI-${s.accession}^VNA`;
  return hl7(
    msh(s, 'OMI^O23^OMI_O23', '2.5.1'),
    pid(s),
    pv1(s),
    seg('ORC', { 1: s.control ?? 'NW', 2: placer, 3: filler, 5: s.orderStatus ?? 'SC', 12: '1002^Requester^Rita' }),
    seg('TQ1', { 1: '1', 7: s.start ?? '20241120090000', 9: 'S' }),
    seg('OBR', { 1: '1', 2: placer, 3: filler, 4: s.procedureCode ?? 'MRBRAIN^MR brain^L', 15: s.specimenSource ?? '' }),
    seg('IPC', {
      1: `${s.accession}^RIS`,
      2: s.procedureId ?? '',
      3: s.studyUid ?? '',
      4: s.stepId ?? '',
      5: s.modality ?? 'MR',
      6: 'PROT-1^Brain protocol^L',
      7: 'MR one',
      8: 'ROOM1^Room one',
      9: s.stationAet ?? 'MR01',
    }),
  );
}
