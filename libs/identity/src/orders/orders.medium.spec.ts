import { createServer, type Server, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { TestingModule } from '@nestjs/testing';
import type { DataSource } from 'typeorm';
import type { IngestService } from '#vna/archive';
import { type DicomJson, Tag, type WriteElement } from '#vna/dicom';
import { Hl7InboundModule, Hl7InboundService, parseHl7 } from '#vna/hl7';
import { JobHandlerRegistry } from '#vna/jobs';
import { imageDataset, type MediumEnv, mediumEnv, startArchive, storeDataset, uid } from '../../../../test/support/medium.js';
import { type Ack, parseAck } from '../../../../test/support/mllp.js';
import { omiO23, type OrderSpec, ormO01 } from '../../../../test/support/worklist.js';
import { HL7_FORWARD_TOPIC, RIS_NOTIFY_TOPIC } from './hl7-outbound.service.js';
import { OrdersModule } from './orders.module.js';
import { WorklistQueryError, WorklistService } from './worklist.service.js';

/**
 * Orders and the Modality Worklist against real PostgreSQL, driven through the HL7 inbound flow
 * (one transaction per message, then the ACK): ORM/OMI create and update orders, the IHE SWF
 * states, the worklist's matching, order linkage at ingest with its patient check, and the
 * outbound messages written to the outbox.
 */

let env: MediumEnv;
let module: TestingModule;
let db: DataSource;
let inbound: Hl7InboundService;
let ingest: IngestService;
let worklist: WorklistService;
let seq = 0;

beforeAll(async () => {
  env = await mediumEnv('orders', { VNA_RIS_NOTIFY: '127.0.0.1:9', VNA_HL7_FORWARD: 'ORM^*@127.0.0.1:9' });
  ({ module, db, ingest } = await startArchive(env, [Hl7InboundModule, OrdersModule]));
  inbound = module.get(Hl7InboundService);
  worklist = module.get(WorklistService);
});

afterAll(async () => {
  await module?.close();
  await env?.cleanup();
});

async function sql<T = Record<string, unknown>>(text: string, params: unknown[] = []): Promise<T[]> {
  return (await db.query(text, params)) as T[];
}

async function send(text: string | Buffer): Promise<Ack> {
  const answer = await inbound.receive({ payload: typeof text === 'string' ? Buffer.from(text, 'utf8') : text, receivedAt: new Date(), peer: '127.0.0.1:40000' });
  return parseAck(answer.ack.toString('utf8'));
}

function orm(spec: Omit<OrderSpec, 'controlId'>): string {
  return ormO01({ controlId: `ORM-${++seq}`, ...spec });
}

function omi(spec: Omit<OrderSpec, 'controlId'>): string {
  return omiO23({ controlId: `OMI-${++seq}`, ...spec });
}

/** A fresh accession number per test. */
function acc(label: string): string {
  return `${label}-${uid().slice(-8)}`;
}

async function expectAA(text: string): Promise<void> {
  const ack = await send(text);
  expect({ code: ack.code, error: ack.error }).toEqual({ code: 'AA', error: undefined });
}

async function order(accession: string) {
  const [o] = await sql<Record<string, unknown>>(`SELECT * FROM imaging_order WHERE accession_number = $1`, [accession]);
  return o;
}

async function steps(accession: string) {
  return sql<{ step_id: string; status: string; modality: string; station_aet: string; start_date: string; start_time: string; study_uid: string; requested_procedure_id: string }>(
    `SELECT ss.step_id, ss.status, ss.modality, ss.station_aet, ss.start_date, ss.start_time, rp.study_uid, rp.requested_procedure_id
       FROM scheduled_step ss JOIN requested_procedure rp ON rp.id = ss.procedure_fk JOIN imaging_order o ON o.id = rp.order_fk
      WHERE o.accession_number = $1 ORDER BY ss.id`,
    [accession],
  );
}

/** A worklist query: top-level keys and Scheduled Procedure Step keys, as a modality sends them. */
function mwl(top: Record<string, unknown> = {}, sps: Record<string, unknown> = {}): DicomJson {
  const vrs: Record<string, string> = { '00100010': 'PN', '00100020': 'LO', '00080050': 'SH', '0020000D': 'UI', '00100030': 'DA', '00400001': 'AE', '00080060': 'CS', '00400002': 'DA', '00400003': 'TM', '00400020': 'CS' };
  const attrs = (keys: Record<string, unknown>): DicomJson =>
    Object.fromEntries(Object.entries(keys).map(([k, v]) => [k, v === '' ? { vr: vrs[k] ?? 'LO' } : { vr: vrs[k] ?? 'LO', Value: [v] }]));
  return { ...attrs(top), '00400100': { vr: 'SQ', Value: [attrs(sps)] } };
}

async function accessions(query: DicomJson): Promise<string[]> {
  const { matches } = await worklist.find(query);
  return matches.map((m) => String(m['00080050']?.Value?.[0])).sort();
}

describe('order messages (IHE SWF.b RAD-4/RAD-13)', () => {
  it('ORM NW creates the order, its requested procedure and scheduled step, on the worklist', async () => {
    const a = acc('NW');
    const study = uid();
    await expectAA(orm({ accession: a, studyUid: study, patientId: 'P-NW', name: 'Müller^Jürgen', procedureId: 'RP-1', stepId: 'SPS-1', stationAet: 'CT01', start: '20241120091500' }));
    expect(await order(a)).toMatchObject({ status: 'scheduled', patient_id: 'P-NW', patient_issuer: 'NORTHSIDE', patient_name_alphabetic: 'Müller^Jürgen', placer_order_number: `PL-${a}`, referring_physician: 'Referrer^Robert^^Dr' });
    expect(await steps(a)).toEqual([{ step_id: 'SPS-1', status: 'scheduled', modality: 'CT', station_aet: 'CT01', start_date: '20241120', start_time: '091500', study_uid: study, requested_procedure_id: 'RP-1' }]);
    const { matches } = await worklist.find(mwl({ '00080050': a }));
    expect(matches).toHaveLength(1);
    const item = matches[0]!;
    expect(item['00100010']?.Value).toEqual([{ Alphabetic: 'Müller^Jürgen' }]);
    expect(item['0020000D']?.Value).toEqual([study]);
    expect(item['00401001']?.Value).toEqual(['RP-1']);
    expect(item['00321064']?.Value).toEqual([{ '00080100': { vr: 'SH', Value: ['CTCHEST'] }, '00080102': { vr: 'SH', Value: ['L'] }, '00080104': { vr: 'LO', Value: ['CT chest without contrast'] } }]);
    const sps = item['00400100']?.Value?.[0] as DicomJson;
    expect([sps['00400001']?.Value, sps['00080060']?.Value, sps['00400002']?.Value, sps['00400003']?.Value, sps['00400009']?.Value, sps['00400020']?.Value]).toEqual([
      ['CT01'],
      ['CT'],
      ['20241120'],
      ['091500'],
      ['SPS-1'],
      ['SCHEDULED'],
    ]);
    // The message log knows which patient it was about.
    const [logged] = await sql<{ patient_ids: string[] }>(`SELECT patient_ids FROM hl7_message WHERE control_id = $1`, [`ORM-${seq}`]);
    expect(logged!.patient_ids).toEqual(['P-NW']);
  });

  it('generates a Study Instance UID for a new order that has none (VNA_ORDERS_GENERATE_STUDY_UID default)', async () => {
    const a = acc('GEN');
    await expectAA(orm({ accession: a, studyUid: null }));
    const [s] = await steps(a);
    expect(s!.study_uid).toMatch(/^2\.25\.\d+$/);
    // Re-sent as XO without a UID: the generated one stays.
    await expectAA(orm({ accession: a, studyUid: null, control: 'XO', stationAet: 'CT09' }));
    expect((await steps(a))[0]).toMatchObject({ study_uid: s!.study_uid, station_aet: 'CT09' });
  });

  it('XO updates the details: station, modality, start, patient name; the step stays scheduled', async () => {
    const a = acc('XO');
    const study = uid();
    await expectAA(orm({ accession: a, studyUid: study, stationAet: 'CT01', start: '20241120090000' }));
    await expectAA(orm({ accession: a, studyUid: study, control: 'XO', stationAet: 'MR02', modality: 'MR', start: '20241121143000', name: 'Testperson^Anne' }));
    expect(await steps(a)).toEqual([expect.objectContaining({ status: 'scheduled', modality: 'MR', station_aet: 'MR02', start_date: '20241121', start_time: '143000', study_uid: study })]);
    expect(await order(a)).toMatchObject({ patient_name_alphabetic: 'Testperson^Anne', status: 'scheduled' });
    expect(await accessions(mwl({ '00080050': a }, { '00400001': 'CT01' }))).toEqual([]);
    expect(await accessions(mwl({ '00080050': a }, { '00400001': 'MR02' }))).toEqual([a]);
  });

  it('a repeated NW (new control id) updates the open order; it does not add a second one', async () => {
    const a = acc('RENW');
    const study = uid();
    await expectAA(orm({ accession: a, studyUid: study, stationAet: 'CT01' }));
    await expectAA(orm({ accession: a, studyUid: study, stationAet: 'CT05' }));
    expect(await sql(`SELECT 1 FROM imaging_order WHERE accession_number = $1`, [a])).toHaveLength(1);
    expect((await steps(a)).map((s) => s.station_aet)).toEqual(['CT05']);
  });

  it('CA cancels: the order and step are cancelled and leave the worklist; it cannot be cancelled or renewed again', async () => {
    const a = acc('CA');
    await expectAA(orm({ accession: a, studyUid: uid() }));
    await expectAA(orm({ accession: a, control: 'CA', orderStatus: 'CA', studyUid: null }));
    expect((await order(a))!['status']).toBe('cancelled');
    expect((await steps(a)).map((s) => s.status)).toEqual(['cancelled']);
    expect(await accessions(mwl({ '00080050': a }))).toEqual([]);
    // A cancelled order stays cancelled: a second CA changes nothing and is accepted, an NW of the same number is refused.
    await expectAA(orm({ accession: a, control: 'CA', orderStatus: 'CA', studyUid: null }));
    const renewed = await send(orm({ accession: a, studyUid: uid() }));
    expect([renewed.code, renewed.error?.code]).toEqual(['AE', '205']);
    const started = await send(orm({ accession: a, control: 'SC', orderStatus: 'IP', studyUid: null }));
    expect([started.code, started.error?.code]).toEqual(['AE', '206']);
  });

  it('SC IP starts the step (still on the worklist, STARTED); DC then discontinues it; SC CM completes another', async () => {
    const a = acc('SC');
    await expectAA(orm({ accession: a, studyUid: uid() }));
    await expectAA(orm({ accession: a, control: 'SC', orderStatus: 'IP', studyUid: null }));
    expect((await order(a))!['status']).toBe('in-progress');
    const { matches } = await worklist.find(mwl({ '00080050': a }));
    expect((matches[0]!['00400100']?.Value?.[0] as DicomJson)['00400020']?.Value).toEqual(['STARTED']);
    // A cancellation after it began is refused: it has to be discontinued.
    const cancel = await send(orm({ accession: a, control: 'CA', orderStatus: 'CA', studyUid: null }));
    expect([cancel.code, cancel.error?.code]).toEqual(['AE', '206']);
    await expectAA(orm({ accession: a, control: 'DC', orderStatus: 'DC', studyUid: null }));
    expect((await order(a))!['status']).toBe('discontinued');
    expect(await accessions(mwl({ '00080050': a }))).toEqual([]);

    const b = acc('CM');
    await expectAA(orm({ accession: b, studyUid: uid() }));
    await expectAA(orm({ accession: b, control: 'SC', orderStatus: 'CM', studyUid: null }));
    expect([(await order(b))!['status'], (await steps(b))[0]!.status]).toEqual(['completed', 'completed']);
    expect(await accessions(mwl({ '00080050': b }))).toEqual([]);
  });

  /** An ORM^O01 with two steps (OBR-20 SPS-A and SPS-B) of one requested procedure, one ORC/OBR/ZDS group each. */
  function twoSteps(spec: Omit<OrderSpec, 'controlId'>): string {
    const first = orm({ ...spec, stepId: 'SPS-A' }).split('\r').filter(Boolean);
    const second = ormO01({ controlId: 'unused', ...spec, stepId: 'SPS-B', stationAet: 'CT02' }).split('\r').filter((line) => /^(ORC|OBR|ZDS)\|/.test(line));
    return `${[...first, ...second].join('\r')}\r`;
  }

  it('CA and SC name a step by OBR-20: only that step changes; the order follows its steps', async () => {
    const a = acc('TWO');
    const study = uid();
    await expectAA(twoSteps({ accession: a, studyUid: study, procedureId: 'RP-1' }));
    expect((await steps(a)).map((s) => [s.step_id, s.status, s.station_aet])).toEqual([
      ['SPS-A', 'scheduled', 'CT01'],
      ['SPS-B', 'scheduled', 'CT02'],
    ]);
    await expectAA(orm({ accession: a, control: 'CA', orderStatus: 'CA', studyUid: null, procedureId: 'RP-1', stepId: 'SPS-A' }));
    expect((await steps(a)).map((s) => s.status)).toEqual(['cancelled', 'scheduled']);
    expect((await order(a))!['status']).toBe('scheduled');
    const { matches } = await worklist.find(mwl({ '00080050': a }));
    expect(matches.map((m) => (m['00400100']?.Value?.[0] as DicomJson)['00400009']?.Value?.[0])).toEqual(['SPS-B']);
    // A step the order does not have: AE 204, nothing changed.
    const unknown = await send(orm({ accession: a, control: 'SC', orderStatus: 'CM', studyUid: null, procedureId: 'RP-1', stepId: 'SPS-Z' }));
    expect([unknown.code, unknown.error?.code]).toEqual(['AE', '204']);
    await expectAA(orm({ accession: a, control: 'SC', orderStatus: 'CM', studyUid: null, procedureId: 'RP-1', stepId: 'SPS-B' }));
    expect((await steps(a)).map((s) => s.status)).toEqual(['cancelled', 'completed']);
    expect((await order(a))!['status']).toBe('completed');
  });

  it('an ended order cannot be brought back by XO: a new step on it is refused, a change of details keeps it ended', async () => {
    const a = acc('XOEND');
    const study = uid();
    await expectAA(orm({ accession: a, studyUid: study, procedureId: 'RP-1', stepId: 'SPS-1' }));
    await expectAA(orm({ accession: a, control: 'CA', orderStatus: 'CA', studyUid: null }));
    const reopened = await send(orm({ accession: a, control: 'XO', studyUid: study, procedureId: 'RP-1', stepId: 'SPS-2' }));
    expect([reopened.code, reopened.error?.code]).toEqual(['AE', '206']);
    expect((await steps(a)).map((s) => [s.step_id, s.status])).toEqual([['SPS-1', 'cancelled']]);
    await expectAA(orm({ accession: a, control: 'XO', studyUid: study, procedureId: 'RP-1', stepId: 'SPS-1', stationAet: 'CT07' }));
    expect((await steps(a)).map((s) => [s.step_id, s.status, s.station_aet])).toEqual([['SPS-1', 'cancelled', 'CT07']]);
    expect((await order(a))!['status']).toBe('cancelled');
    expect(await accessions(mwl({ '00080050': a }))).toEqual([]);
  });

  it('refuses with AE and changes nothing: an unknown order, a Study UID of another order', async () => {
    const unknown = await send(orm({ accession: acc('NONE'), control: 'CA', orderStatus: 'CA', studyUid: null }));
    expect([unknown.code, unknown.error?.code]).toEqual(['AE', '204']);
    const study = uid();
    const a = acc('DUP');
    await expectAA(orm({ accession: a, studyUid: study }));
    const b = acc('DUP');
    const taken = await send(orm({ accession: b, studyUid: study }));
    expect([taken.code, taken.error?.code]).toEqual(['AE', '205']);
    expect(await order(b)).toBeUndefined();
  });

  it('OMI^O23: accession with its issuer (IPC-1), Study UID (IPC-3), station AE (IPC-9)', async () => {
    const a = acc('OMI');
    const study = uid();
    await expectAA(omi({ accession: a, studyUid: study, stepId: 'S-1', stationAet: 'MR01', start: '20241122080000' }));
    expect(await order(a)).toMatchObject({ accession_issuer: 'RIS', status: 'scheduled' });
    expect(await steps(a)).toEqual([expect.objectContaining({ step_id: 'S-1', modality: 'MR', station_aet: 'MR01', study_uid: study })]);
    // An ORM CA (no issuer on OBR-18) finds it: one order has that number.
    await expectAA(orm({ accession: a, control: 'CA', orderStatus: 'CA', studyUid: null }));
    expect((await order(a))!['status']).toBe('cancelled');
  });

  it('queues the message for forwarding (VNA_HL7_FORWARD) in its own transaction', async () => {
    const a = acc('FWD');
    await expectAA(orm({ accession: a, studyUid: uid() }));
    const [row] = await sql<{ payload: Record<string, unknown> }>(`SELECT payload FROM outbox WHERE topic = $1 AND payload->>'controlId' = $2`, [HL7_FORWARD_TOPIC, `ORM-${seq}`]);
    expect(row!.payload).toMatchObject({ host: '127.0.0.1', port: 9, type: 'ORM^O01' });
    // A refused message forwards nothing.
    await send(orm({ accession: a, control: 'XO', studyUid: '1.2.bad' }));
    expect(await sql(`SELECT 1 FROM outbox WHERE topic = $1 AND payload->>'controlId' = $2`, [HL7_FORWARD_TOPIC, `ORM-${seq}`])).toEqual([]);
  });
});

describe('the Modality Worklist: matching (PS3.4 K.6.1.2)', () => {
  const tag = acc('MWL');
  const a = (n: number): string => `${tag}-${n}`;

  beforeAll(async () => {
    await expectAA(orm({ accession: a(1), studyUid: uid(), patientId: `${tag}-PA`, name: 'Yamada^Tarou', stationAet: 'MWL_CT1', modality: 'CT', start: '20250301080000' }));
    await expectAA(orm({ accession: a(2), studyUid: uid(), patientId: `${tag}-PA`, name: 'Yamada^Tarou', stationAet: 'MWL_CT1', modality: 'CT', start: '20250301153000' }));
    await expectAA(orm({ accession: a(3), studyUid: uid(), patientId: `${tag}-PB`, name: 'Müller^Jürgen', stationAet: 'MWL_MR1', modality: 'MR', start: '20250302100000' }));
    await expectAA(orm({ accession: a(4), studyUid: uid(), patientId: `${tag}-PC`, name: 'Smith^Jane', stationAet: 'MWL_US1', modality: 'US', start: '20250305090000' }));
    // Cancelled: never on the worklist, whatever the keys.
    await expectAA(orm({ accession: a(5), studyUid: uid(), patientId: `${tag}-PC`, name: 'Smith^Jane', stationAet: 'MWL_US1', modality: 'US', start: '20250305100000' }));
    await expectAA(orm({ accession: a(5), control: 'CA', orderStatus: 'CA', studyUid: null }));
  });

  const mine = (top: Record<string, unknown> = {}, sps: Record<string, unknown> = {}) => accessions(mwl({ '00080050': `${tag}-*`, ...top }, sps));

  it('by scheduled station AE title, one or several', async () => {
    expect(await mine({}, { '00400001': 'MWL_CT1' })).toEqual([a(1), a(2)]);
    expect(await mine({}, { '00400001': 'MWL_MR1\\MWL_US1' })).toEqual([a(3), a(4)]);
    expect(await mine({}, { '00400001': 'MWL_*' })).toEqual([a(1), a(2), a(3), a(4)]);
  });

  it('by modality', async () => {
    expect(await mine({}, { '00080060': 'MR' })).toEqual([a(3)]);
    expect(await mine({}, { '00080060': 'XA' })).toEqual([]);
  });

  it('by start date, date ranges, and a time range on each day of a date range', async () => {
    expect(await mine({}, { '00400002': '20250301' })).toEqual([a(1), a(2)]);
    expect(await mine({}, { '00400002': '20250302-' })).toEqual([a(3), a(4)]);
    expect(await mine({}, { '00400002': '-20250302' })).toEqual([a(1), a(2), a(3)]);
    expect(await mine({}, { '00400002': '20250302-20250304' })).toEqual([a(3)]);
    expect(await mine({}, { '00400002': '20250301', '00400003': '1200-1800' })).toEqual([a(2)]);
    // Date and time match each on its own (no combined date-time matching negotiated): 09:00-16:00 on the 1st and the 2nd.
    expect(await mine({}, { '00400002': '20250301-20250302', '00400003': '0900-1600' })).toEqual([a(2), a(3)]);
    expect(await mine({}, { '00400002': '20250301-20250302', '00400003': '1200-1000' })).toEqual([]);
  });

  it('by patient id, accession number and patient name, with wildcards; names ignore case', async () => {
    expect(await mine({ '00100020': `${tag}-PA` })).toEqual([a(1), a(2)]);
    expect(await mine({ '00100020': `${tag}-P?` })).toEqual([a(1), a(2), a(3), a(4)]);
    expect(await accessions(mwl({ '00080050': a(3) }))).toEqual([a(3)]);
    expect(await mine({ '00100010': { Alphabetic: 'müller*' } })).toEqual([a(3)]);
    expect(await mine({ '00100010': { Alphabetic: 'Yamada^Tarou' } })).toEqual([a(1), a(2)]);
    expect(await mine({ '00100010': { Alphabetic: '*' } })).toEqual([a(1), a(2), a(3), a(4)]);
  });

  it('combines keys (AND) and returns every return key of the table, empty when unknown', async () => {
    expect(await mine({ '00100020': `${tag}-PA` }, { '00400002': '20250301', '00400001': 'MWL_CT1', '00080060': 'CT' })).toEqual([a(1), a(2)]);
    const { matches } = await worklist.find(mwl({ '00080050': a(4) }));
    expect(Object.keys(matches[0]!)).toEqual(expect.arrayContaining(['00080050', '00100010', '00100020', '00100030', '00100040', '0020000D', '00321060', '00400100', '00401001']));
  });

  it('refuses malformed keys with WorklistQueryError', async () => {
    await expect(worklist.find(mwl({}, { '00400002': '2025-03-01' }))).rejects.toThrow(WorklistQueryError);
    await expect(worklist.find(mwl({ '0020000D': 'not-a-uid' }))).rejects.toThrow(WorklistQueryError);
  });
});

describe('order linkage at ingest (IHE SWF / PIR)', () => {
  /** Stores one object of a study with these header values. */
  async function store(studyUid: string, header: { patientId: string; accession?: string; accessionIssuer?: string; name?: string }): Promise<void> {
    const extra: WriteElement[] = [
      { tag: Tag.PatientID, vr: 'LO', value: header.patientId },
      { tag: Tag.PatientName, vr: 'PN', value: header.name ?? 'Testperson^Anna' },
    ];
    if (header.accession) extra.push({ tag: Tag.AccessionNumber, vr: 'SH', value: header.accession });
    if (header.accessionIssuer) extra.push({ tag: 0x00080051, vr: 'SQ', value: [[{ tag: 0x00400031, vr: 'UT', value: header.accessionIssuer }]] });
    const spec = { sopInstanceUid: uid(), studyUid, seriesUid: uid(), extra };
    const result = await storeDataset(ingest, imageDataset(spec), { sopInstanceUid: spec.sopInstanceUid });
    expect(result.outcome).toBe('stored');
  }

  async function storeWith(studyUid: string, extra: WriteElement[]): Promise<void> {
    const spec = { sopInstanceUid: uid(), studyUid, seriesUid: uid(), extra };
    expect((await storeDataset(ingest, imageDataset(spec), { sopInstanceUid: spec.sopInstanceUid })).outcome).toBe('stored');
  }

  async function link(studyUid: string) {
    const [row] = await sql<{ accession_number: string; patient_matches: boolean; notified_at: Date | null }>(
      `SELECT o.accession_number, l.patient_matches, l.notified_at FROM order_study_link l JOIN imaging_order o ON o.id = l.order_fk WHERE l.study_uid = $1`,
      [studyUid],
    );
    return row;
  }

  async function tasks(studyUid: string) {
    return sql<{ kind: string; status: string; details: Record<string, unknown> }>(`SELECT kind, status, details FROM reconciliation_task WHERE subject = $1 ORDER BY id`, [`study:${studyUid}`]);
  }

  async function notifications(studyUid: string) {
    return sql<{ payload: { text: string } }>(`SELECT payload FROM outbox WHERE topic = $1 AND payload->>'studyUid' = $2`, [RIS_NOTIFY_TOPIC, studyUid]);
  }

  it('links a study by its accession number (another Study UID than the order’s) and tells the RIS, once', async () => {
    const a = acc('LINK');
    await expectAA(orm({ accession: a, studyUid: uid(), patientId: 'P-LINK' }));
    const study = uid();
    await store(study, { patientId: 'P-LINK', accession: a });
    await store(study, { patientId: 'P-LINK', accession: a });
    expect(await link(study)).toMatchObject({ accession_number: a, patient_matches: true, notified_at: expect.any(Date) });
    expect(await tasks(study)).toEqual([]);
    const sent = await notifications(study);
    expect(sent).toHaveLength(1);
    const text = sent[0]!.payload.text;
    expect(text).toMatch(/^MSH\|\^~\\&\|VNA\|\|RIS\|NORTHSIDE\|\d{14}\|\|ORM\^O01\|/);
    expect(text).toContain(`\rORC|SC|PL-${a}^RIS|FI-${a}^VNA||IP|`);
    expect(text).toContain(`|${a}|`);
    expect(text).toContain(`\rZDS|${study}^VNA^Application^DICOM`);
  });

  it('links by the order’s Study Instance UID even without an accession number in the header', async () => {
    const a = acc('UID');
    const study = uid();
    await expectAA(orm({ accession: a, studyUid: study, patientId: 'P-UID' }));
    await store(study, { patientId: 'P-UID' });
    expect(await link(study)).toMatchObject({ accession_number: a, patient_matches: true });
  });

  it('the order’s patient differs from the header’s: linked, flagged, a reconciliation task opened, no RIS notice; a corrected order closes it', async () => {
    const a = acc('MIS');
    await expectAA(orm({ accession: a, studyUid: uid(), patientId: 'P-ORDER' }));
    const study = uid();
    await store(study, { patientId: 'P-OTHER', accession: a });
    expect(await link(study)).toMatchObject({ patient_matches: false, notified_at: null });
    const [task] = await tasks(study);
    expect(task).toMatchObject({ kind: 'order-patient-mismatch', status: 'open', details: { accessionNumber: a, order: { patientId: 'P-ORDER' }, study: { patientId: 'P-OTHER' } } });
    expect(await notifications(study)).toEqual([]);
    // The study keeps its own patient: nothing is applied on a guess.
    const [patient] = await sql<{ patient_id: string }>(`SELECT p.patient_id FROM study st JOIN patient p ON p.id = st.patient_fk WHERE st.study_uid = $1`, [study]);
    expect(patient!.patient_id).toBe('P-OTHER');

    // The RIS corrects the order's patient: the question is answered, the task closed, the RIS told.
    await expectAA(orm({ accession: a, control: 'XO', studyUid: null, patientId: 'P-OTHER' }));
    expect(await link(study)).toMatchObject({ patient_matches: true, notified_at: expect.any(Date) });
    expect((await tasks(study)).map((t) => t.status)).toEqual(['resolved']);
    expect(await notifications(study)).toHaveLength(1);
  });

  it('compares the patient with its issuer: the same id of another issuer is another patient; an id without issuer is compared by value', async () => {
    const a = acc('PIS');
    await expectAA(orm({ accession: a, studyUid: uid(), patientId: 'P-PIS', issuer: 'NORTHSIDE' }));
    const other = uid();
    await storeWith(other, [{ tag: Tag.PatientID, vr: 'LO', value: 'P-PIS' }, { tag: 0x00100021, vr: 'LO', value: 'SOUTHSIDE' }, { tag: Tag.AccessionNumber, vr: 'SH', value: a }]);
    expect(await link(other)).toMatchObject({ patient_matches: false });
    expect((await tasks(other)).map((t) => [t.kind, t.status])).toEqual([['order-patient-mismatch', 'open']]);
    const bare = uid();
    await storeWith(bare, [{ tag: Tag.PatientID, vr: 'LO', value: 'P-PIS' }, { tag: Tag.AccessionNumber, vr: 'SH', value: a }]);
    expect(await link(bare)).toMatchObject({ patient_matches: true });
  });

  it('a study that arrived before its order is linked when the order comes', async () => {
    const a = acc('LATE');
    const study = uid();
    await store(study, { patientId: 'P-LATE', accession: a });
    expect(await link(study)).toBeUndefined();
    await expectAA(orm({ accession: a, studyUid: uid(), patientId: 'P-LATE' }));
    expect(await link(study)).toMatchObject({ accession_number: a, patient_matches: true });
    expect(await notifications(study)).toHaveLength(1);
  });

  it('uses the issuer of the accession number: the order of that issuer, nothing on a guess when it cannot tell', async () => {
    const a = acc('ISS');
    await expectAA(omi({ accession: a, studyUid: uid(), patientId: 'P-ISS', app: 'RIS' }));
    // The same number from another issuer (IPC-1.2).
    await expectAA(omi({ accession: a, studyUid: uid(), patientId: 'P-ISS' }).replace(`IPC|${a}^RIS`, `IPC|${a}^OTHER`));
    const [other] = await sql<{ id: string }>(`SELECT id FROM imaging_order WHERE accession_number = $1 AND accession_issuer = 'OTHER'`, [a]);
    expect(other).toBeDefined();

    const exact = uid();
    await store(exact, { patientId: 'P-ISS', accession: a, accessionIssuer: 'OTHER' });
    const [linked] = await sql<{ order_fk: string }>(`SELECT order_fk::text FROM order_study_link WHERE study_uid = $1`, [exact]);
    expect(linked!.order_fk).toBe(String(other!.id));

    const ambiguous = uid();
    await store(ambiguous, { patientId: 'P-ISS', accession: a });
    expect(await link(ambiguous)).toBeUndefined();
  });
});

/** A downstream system (a RIS, a legacy PACS) on an MLLP port: keeps what it gets, answers with `code`. */
class FakeReceiver {
  readonly received: Buffer[] = [];
  code = 'AA';
  private readonly sockets = new Set<Socket>();
  private constructor(private readonly server: Server) {}

  static async start(): Promise<FakeReceiver> {
    const server = createServer();
    const receiver = new FakeReceiver(server);
    server.on('connection', (socket) => receiver.serve(socket));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return receiver;
  }

  get port(): number {
    return (this.server.address() as { port: number }).port;
  }

  private serve(socket: Socket): void {
    this.sockets.add(socket);
    socket.on('close', () => this.sockets.delete(socket));
    let buffer = Buffer.alloc(0);
    socket.on('data', (chunk: Buffer) => {
      buffer = Buffer.concat([buffer, chunk]);
      for (let end = buffer.indexOf(0x1c); end >= 0; end = buffer.indexOf(0x1c)) {
        const payload = buffer.subarray(buffer.indexOf(0x0b) + 1, end);
        buffer = buffer.subarray(end + 2);
        this.received.push(Buffer.from(payload));
        const controlId = payload.toString('latin1').split('\r')[0]!.split('|')[9] ?? '';
        const ack = `MSH|^~\\&|RIS|NORTHSIDE|VNA||20241115110000||ACK^O01^ACK|ACK-${controlId}|P|2.3.1\rMSA|${this.code}|${controlId}\r`;
        socket.write(Buffer.concat([Buffer.from([0x0b]), Buffer.from(ack, 'latin1'), Buffer.from([0x1c, 0x0d])]));
      }
    });
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise((resolve) => this.server.close(resolve));
  }
}

describe('outbound HL7 delivery (the outbox jobs)', () => {
  let receiver: FakeReceiver;
  let jobs: JobHandlerRegistry;

  beforeAll(async () => {
    receiver = await FakeReceiver.start();
    jobs = module.get(JobHandlerRegistry);
  });

  afterAll(async () => {
    await receiver?.close();
  });

  /** The outbox payload written for a message, pointed at the fake receiver. */
  async function forwardJob(controlId: string): Promise<Record<string, unknown>> {
    const [row] = await sql<{ payload: Record<string, unknown> }>(`SELECT payload FROM outbox WHERE topic = $1 AND payload->>'controlId' = $2`, [HL7_FORWARD_TOPIC, controlId]);
    return { ...row!.payload, port: receiver.port };
  }

  it('forwards the received bytes unchanged (UTF-8 text included) and ends on the AA', async () => {
    const a = acc('OUT');
    await expectAA(orm({ accession: a, studyUid: uid(), name: 'Müller^Jürgen' }));
    const controlId = `ORM-${seq}`;
    const [stored] = await sql<{ raw: Buffer }>(`SELECT raw FROM hl7_message WHERE control_id = $1`, [controlId]);
    receiver.received.length = 0;
    await jobs.get(HL7_FORWARD_TOPIC)!(await forwardJob(controlId));
    expect(receiver.received).toHaveLength(1);
    const sent = receiver.received[0]!.toString('utf8');
    expect(sent.replace(/\r+$/, '')).toBe(stored!.raw.toString('utf8').replace(/\r+$/, ''));
    expect(sent).toContain('Müller^Jürgen');
  });

  it('fails the job (to be retried with backoff) on AE, and when nobody listens', async () => {
    const a = acc('OUTAE');
    await expectAA(orm({ accession: a, studyUid: uid() }));
    const job = await forwardJob(`ORM-${seq}`);
    receiver.code = 'AE';
    try {
      await expect(jobs.get(HL7_FORWARD_TOPIC)!(job)).rejects.toThrow(/answered AE/);
    } finally {
      receiver.code = 'AA';
    }
    const closed = await FakeReceiver.start();
    const port = closed.port;
    await closed.close();
    await expect(jobs.get(HL7_FORWARD_TOPIC)!({ ...job, port })).rejects.toThrow();
  });

  it('tells the RIS that an ordered study arrived: ORM^O01 SC with the order’s numbers and the Study UID', async () => {
    const a = acc('RIS');
    await expectAA(orm({ accession: a, studyUid: uid(), patientId: 'P-RIS', name: 'Ωμέγα^Ζωή' }));
    const study = uid();
    const spec = { sopInstanceUid: uid(), studyUid: study, seriesUid: uid(), extra: [{ tag: Tag.PatientID, vr: 'LO', value: 'P-RIS' }, { tag: Tag.AccessionNumber, vr: 'SH', value: a }] as WriteElement[] };
    await storeDataset(ingest, imageDataset(spec), { sopInstanceUid: spec.sopInstanceUid });
    const [row] = await sql<{ payload: Record<string, unknown> }>(`SELECT payload FROM outbox WHERE topic = $1 AND payload->>'studyUid' = $2`, [RIS_NOTIFY_TOPIC, study]);
    receiver.received.length = 0;
    await jobs.get(RIS_NOTIFY_TOPIC)!({ ...row!.payload, port: receiver.port });
    expect(receiver.received).toHaveLength(1);
    const parsed = parseHl7(receiver.received[0]!);
    if (!parsed.ok) throw new Error(parsed.error.message);
    const m = parsed.message;
    expect([m.messageType, m.triggerEvent, m.characterSet]).toEqual(['ORM', 'O01', 'UNICODE UTF-8']);
    expect(m.segment('PID')!.get(5)).toBe('Ωμέγα');
    expect([m.segment('ORC')!.get(1), m.segment('ORC')!.get(5), m.segment('OBR')!.get(18), m.segment('ZDS')!.get(1)]).toEqual(['SC', 'IP', a, study]);
  });
});
