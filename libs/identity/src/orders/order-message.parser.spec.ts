import { describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { type Hl7Message, Hl7ProcessingError, parseHl7 } from '#vna/hl7';
import { omiO23, type OrderSpec, ormO01 } from '../../../../test/support/worklist.js';
import { parseOrderMessage } from './order-message.parser.js';

function message(text: string | Buffer): Hl7Message {
  const outcome = parseHl7(typeof text === 'string' ? Buffer.from(text, 'utf8') : text);
  if (!outcome.ok) throw new Error(`not parsed: ${outcome.error.message}`);
  return outcome.message;
}

const generate = { generateStudyUid: true };
const strict = { generateStudyUid: false };

function orm(spec: Partial<OrderSpec> = {}): Hl7Message {
  return message(ormO01({ controlId: 'C-1', accession: 'ACC-1', studyUid: '1.2.3.4', ...spec }));
}

/** The AE a message gets: table 0357 code and ERR location. */
function refusal(m: Hl7Message, options = generate): { status: string; code: string; location?: string; text: string } {
  try {
    parseOrderMessage(m, options);
  } catch (e) {
    if (!(e instanceof Hl7ProcessingError)) throw e;
    return { status: e.status, code: e.code, location: e.location, text: e.message };
  }
  throw new Error('parsed');
}

describe('parseOrderMessage: ORM^O01 (IHE RAD-4, HL7 2.3.1 layout)', () => {
  it('reads a new order: accession (OBR-18), Study UID (ZDS-1), modality, station AE, start, procedure, physicians, patient', () => {
    const parsed = parseOrderMessage(
      orm({ patientId: 'NS-1', issuer: 'NORTHSIDE', name: 'Müller^Jürgen^^^Dr', birthDate: '19750305', sex: 'M', procedureId: 'RP-1', stepId: 'SPS-1', stationAet: 'CT_NORTH', start: '20241120093015+0100' }),
      strict,
    );
    expect(parsed.patient).toEqual({
      id: 'NS-1',
      issuer: 'NORTHSIDE',
      // XPN family^given^middle^suffix^prefix to DICOM family^given^middle^prefix^suffix.
      name: { alphabetic: 'Müller^Jürgen^^Dr', ideographic: '', phonetic: '' },
      birthDate: '19750305',
      sex: 'M',
      otherIds: [],
    });
    expect(parsed.visit).toEqual({ admissionId: 'V-1', location: 'RAD 101 1', referringPhysician: 'Referrer^Robert^^Dr' });
    expect(parsed.orders).toHaveLength(1);
    const [order] = parsed.orders;
    expect(order).toMatchObject({
      control: 'NW',
      accessionNumber: 'ACC-1',
      accessionIssuer: '',
      placerOrder: { id: 'PL-ACC-1', issuer: 'RIS' },
      fillerOrder: { id: 'FI-ACC-1', issuer: 'VNA' },
      requestingPhysician: 'Requester^Rita',
    });
    expect(order!.targetStatus).toBeUndefined();
    expect(order!.procedures).toEqual([
      {
        requestedProcedureId: 'RP-1',
        explicitProcedureId: true,
        studyUid: '1.2.3.4',
        code: { value: 'CTCHEST', scheme: 'L', meaning: 'CT chest without contrast' },
        description: 'CT chest without contrast',
        priority: '',
        reason: '',
        bodyPart: '',
        steps: [
          expect.objectContaining({
            stepId: 'SPS-1',
            explicitStepId: true,
            modality: 'CT',
            stationAet: 'CT_NORTH',
            startDate: '20241120',
            startTime: '093015',
            description: 'CT chest without contrast',
          }),
        ],
      },
    ]);
  });

  it('reads the sample message of the interface specification', () => {
    const sample = readFileSync(join(process.cwd(), 'integration-specs/hl7/samples/orm-o01-new-order.hl7'));
    const [order] = parseOrderMessage(message(sample), strict).orders;
    expect(order).toMatchObject({ control: 'NW', accessionNumber: 'ACC-0001' });
    expect(order!.procedures[0]).toMatchObject({ requestedProcedureId: 'RP-0001', studyUid: '1.2.826.0.1.3680043.10.1434.700.1', bodyPart: 'CHEST' });
    expect(order!.procedures[0]!.steps[0]).toMatchObject({ stepId: 'SPS-0001', modality: 'CT', startDate: '20241120', startTime: '090000' });
  });

  it('reads the body part from OBR-15.4 (body site: its identifier, else its text), trimmed and upper-cased; none when absent', () => {
    const bodyPart = (specimenSource: string): string => parseOrderMessage(orm({ specimenSource }), generate).orders[0]!.procedures[0]!.bodyPart;
    expect(bodyPart('^^^CHEST&Chest&L')).toBe('CHEST');
    expect(bodyPart('^^^ knee &Knee')).toBe('KNEE');
    expect(bodyPart('^^^&Lspine&L')).toBe('LSPINE');
    // Components 1-3 (specimen source, additives, collection method) and 5 (site modifier) are not the body site.
    expect(bodyPart('BLD&Blood^^^^LEFT')).toBe('');
    expect(bodyPart('')).toBe('');
    // Upper case and trim only: spaces stay (DICOM terms have none; the sender's term is kept as sent).
    expect(bodyPart('^^^&left knee')).toBe('LEFT KNEE');
  });

  it('defaults the requested procedure and step ids to the accession number, and pads a start time to HHMMSS', () => {
    const [order] = parseOrderMessage(orm({ start: '202411200930' }), generate).orders;
    const procedure = order!.procedures[0]!;
    expect([procedure.requestedProcedureId, procedure.explicitProcedureId]).toEqual(['ACC-1', false]);
    expect(procedure.steps[0]).toMatchObject({ stepId: 'ACC-1', explicitStepId: false, startDate: '20241120', startTime: '093000' });
  });

  it.each([
    ['NW', '', undefined],
    ['XO', '', undefined],
    ['CA', 'CA', 'cancelled'],
    ['OC', 'CA', 'cancelled'],
    ['DC', 'DC', 'discontinued'],
    ['OD', 'DC', 'discontinued'],
  ])('ORC-1 %s is read as its control and target state', (control, orderStatus, target) => {
    const [order] = parseOrderMessage(orm({ control, orderStatus }), generate).orders;
    expect(order!.control).toBe(control === 'OC' ? 'CA' : control === 'OD' ? 'DC' : control);
    expect(order!.targetStatus).toBe(target);
  });

  it.each([
    ['SC', 'scheduled'],
    ['IP', 'in-progress'],
    ['CM', 'completed'],
    ['CA', 'cancelled'],
    ['DC', 'discontinued'],
  ])('ORC-1 SC with ORC-5 %s asks for %s', (orderStatus, target) => {
    const [order] = parseOrderMessage(orm({ control: 'SC', orderStatus }), generate).orders;
    expect([order!.control, order!.targetStatus]).toEqual(['SC', target]);
  });

  it('refuses an SC without ORC-5 or with an unknown one, and an unknown ORC-1', () => {
    expect(refusal(orm({ control: 'SC', orderStatus: '' }))).toMatchObject({ status: 'AE', code: '101', location: 'ORC^1^5' });
    expect(refusal(orm({ control: 'SC', orderStatus: 'ZZ' }))).toMatchObject({ status: 'AE', code: '103', location: 'ORC^1^5' });
    expect(refusal(orm({ control: 'RP' }))).toMatchObject({ status: 'AE', code: '103', location: 'ORC^1^1' });
    expect(refusal(orm({ control: '' }))).toMatchObject({ status: 'AE', code: '101', location: 'ORC^1^1' });
  });

  it('refuses a new order without accession number, modality or start', () => {
    expect(refusal(orm({ accession: '' }))).toMatchObject({ code: '101', location: 'OBR^1^18' });
    expect(refusal(orm({ modality: '' }))).toMatchObject({ code: '101', location: 'OBR^1^24' });
    expect(refusal(message(ormO01({ controlId: 'C', accession: 'A', studyUid: '1.2.3', start: '' })))).toMatchObject({ code: '101' });
  });

  it('refuses a start that is not a date/time, a malformed Study UID and a station AE title over 16 characters', () => {
    expect(refusal(orm({ start: '2024-11-20' }))).toMatchObject({ code: '102' });
    expect(refusal(orm({ studyUid: '1.2.abc' }))).toMatchObject({ code: '102', location: 'ZDS^1^1' });
    expect(refusal(orm({ stationAet: 'A_VERY_LONG_STATION_AE' }))).toMatchObject({ code: '102' });
  });

  it('without a Study UID: accepted when generation is configured (the service generates it), else AE 101', () => {
    const [order] = parseOrderMessage(orm({ studyUid: null }), generate).orders;
    expect(order!.procedures[0]!.studyUid).toBe('');
    expect(refusal(orm({ studyUid: null }), strict)).toMatchObject({ status: 'AE', code: '101' });
    // Only a new order needs it: a cancellation names the order by its accession number.
    expect(parseOrderMessage(orm({ control: 'CA', studyUid: null }), strict).orders[0]!.targetStatus).toBe('cancelled');
  });

  it('requires PID-3 and an ORC with its OBR', () => {
    const text = ormO01({ controlId: 'C', accession: 'A', studyUid: '1.2.3', patientId: '' }).replace('PID|1||^^^NORTHSIDE^MR', 'PID|1||');
    expect(refusal(message(text))).toMatchObject({ code: '101', location: 'PID^1^3' });
    const noObr = ormO01({ controlId: 'C', accession: 'A', studyUid: '1.2.3' }).replace(/OBR\|[^\r]*\r/, '');
    expect(refusal(message(noObr))).toMatchObject({ code: '100' });
    const noOrc = ormO01({ controlId: 'C', accession: 'A', studyUid: '1.2.3' }).replace(/ORC\|[^\r]*\r/, '');
    expect(refusal(message(noOrc))).toMatchObject({ code: '100' });
  });

  it('reads the name representations of PID-5 (XPN-8 A, I, P) as the person name groups', () => {
    const name = 'Yamada^Tarou^^^^^L^A~山田^太郎^^^^^L^I~やまだ^たろう^^^^^L^P';
    const parsed = parseOrderMessage(orm({ name }), generate);
    expect(parsed.patient.name).toEqual({ alphabetic: 'Yamada^Tarou', ideographic: '山田^太郎', phonetic: 'やまだ^たろう' });
  });

  it('reads an 8859/1 message', () => {
    const text = ormO01({ controlId: 'C', accession: 'A', studyUid: '1.2.3', name: 'Grüß^Jörg', charset: '8859/1' });
    const parsed = parseOrderMessage(message(Buffer.from(text, 'latin1')), generate);
    expect(parsed.patient.name.alphabetic).toBe('Grüß^Jörg');
  });
});

describe('parseOrderMessage: OMI^O23 (IHE RAD-4, HL7 2.5.1)', () => {
  it('reads accession (IPC-1 with issuer), Study UID (IPC-3), step, modality, station AE (IPC-9), start (TQ1-7), priority, protocol', () => {
    const parsed = parseOrderMessage(message(omiO23({ controlId: 'C', accession: 'ACC-9', procedureId: 'RP-9', studyUid: '1.2.3.9', stepId: 'SPS-9', start: '20241121101500' })), strict);
    const [order] = parsed.orders;
    expect(order).toMatchObject({ control: 'NW', accessionNumber: 'ACC-9', accessionIssuer: 'RIS' });
    const procedure = order!.procedures[0]!;
    expect(procedure).toMatchObject({ requestedProcedureId: 'RP-9', studyUid: '1.2.3.9', priority: 'STAT', description: 'MR brain', code: { value: 'MRBRAIN', scheme: 'L', meaning: 'MR brain' }, bodyPart: '' });
    expect(procedure.steps).toEqual([
      {
        stepId: 'SPS-9',
        explicitStepId: true,
        modality: 'MR',
        stationAet: 'MR01',
        stationName: 'MR one',
        location: 'Room one',
        startDate: '20241121',
        startTime: '101500',
        description: 'Brain protocol',
        protocolCodes: [{ value: 'PROT-1', scheme: 'L', meaning: 'Brain protocol' }],
        performingPhysician: '',
      },
    ]);
  });

  it('reads the body part from OBR-15.4 of the OBR the IPCs belong to', () => {
    const parsed = parseOrderMessage(message(omiO23({ controlId: 'C', accession: 'ACC-8', studyUid: '1.2.3.8', specimenSource: '^^^HEAD&Head&L' })), strict);
    expect(parsed.orders[0]!.procedures[0]!.bodyPart).toBe('HEAD');
  });

  it('one IPC per step: two IPCs of one accession and procedure are one order with two steps', () => {
    const text = omiO23({ controlId: 'C', accession: 'ACC-7', procedureId: 'RP-7', studyUid: '1.2.3.7', stepId: 'S-1' });
    const ipc = text.split('\r').find((line) => line.startsWith('IPC|'))!;
    const two = text.replace(`${ipc}\r`, `${ipc}\r${ipc.replace('|S-1|', '|S-2|').replace('|MR01', '|MR02')}\r`);
    const orders = parseOrderMessage(message(two), strict).orders;
    expect(orders).toHaveLength(1);
    expect(orders[0]!.procedures).toHaveLength(1);
    expect(orders[0]!.procedures[0]!.steps.map((s) => [s.stepId, s.stationAet])).toEqual([
      ['S-1', 'MR01'],
      ['S-2', 'MR02'],
    ]);
  });

  it('refuses a malformed IPC-3 and an IPC without accession; without a Study UID follows the configuration', () => {
    expect(refusal(message(omiO23({ controlId: 'C', accession: 'A', studyUid: 'x.y' })))).toMatchObject({ code: '102', location: 'IPC^1^3' });
    expect(refusal(message(omiO23({ controlId: 'C', accession: '', studyUid: '1.2.3' })))).toMatchObject({ code: '101', location: 'IPC^1^1' });
    expect(refusal(message(omiO23({ controlId: 'C', accession: 'A', studyUid: '' })), strict)).toMatchObject({ code: '101', location: 'IPC^1^3' });
    expect(parseOrderMessage(message(omiO23({ controlId: 'C', accession: 'A', studyUid: '' })), generate).orders[0]!.procedures[0]!.studyUid).toBe('');
  });
});
