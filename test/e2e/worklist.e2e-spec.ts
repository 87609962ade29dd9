import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { datasetToJson, type DicomJson, lookupTransferSyntax, readPart10Prefix, readWholeDataset } from '#vna/dicom';
import { RunningArchive } from '../support/archive-process.js';
import { dcmtk } from '../support/dcmtk.js';
import { MllpClient } from '../support/mllp.js';
import { type OrderSpec, ormO01 } from '../support/worklist.js';

/**
 * The Modality Worklist of the running archive (IHE SWF.b RAD-5): orders arrive as ORM^O01 over a
 * real MLLP socket, and dcmtk's `findscu -W` asks for them as a modality does, matching on
 * scheduled station AE title, modality, start date range, patient id and accession number. Names
 * come back in the character set the response declares; a cancelled order leaves the worklist;
 * a malformed identifier gets a failure status.
 */

interface Response {
  readonly json: DicomJson;
  /** Specific Character Set the response declares. */
  readonly charset: string[] | undefined;
  readonly path: string;
  readonly bytes: Buffer;
}

const ORDERS: OrderSpec[] = [
  { controlId: 'WL-1', accession: 'WL-ACC-1', patientId: 'WL-P1', name: 'Müller^Jürgen', stationAet: 'WL_CT1', modality: 'CT', start: '20250610090000', studyUid: '1.2.826.0.1.3680043.10.1434.900.1' },
  { controlId: 'WL-2', accession: 'WL-ACC-2', patientId: 'WL-P2', name: 'Ωμέγα^Ζωή', stationAet: 'WL_MR1', modality: 'MR', start: '20250611100000', studyUid: '1.2.826.0.1.3680043.10.1434.900.2' },
  { controlId: 'WL-3', accession: 'WL-ACC-3', patientId: 'WL-P3', name: 'Doe^John', stationAet: 'WL_CT1', modality: 'CT', start: '20250612140000', studyUid: '1.2.826.0.1.3680043.10.1434.900.3' },
  { controlId: 'WL-4', accession: 'WL-ACC-4', patientId: 'WL-P4', name: 'Roe^Richard', stationAet: 'WL_CT1', modality: 'CT', start: '20250610110000', studyUid: '1.2.826.0.1.3680043.10.1434.900.4' },
];

/** The keys a modality typically asks for (PS3.4 K.6.1.2.2), the step's inside its sequence. */
const RETURN_KEYS = [
  'AccessionNumber',
  'PatientName',
  'PatientID',
  'PatientBirthDate',
  'PatientSex',
  'StudyInstanceUID',
  'RequestedProcedureID',
  'RequestedProcedureDescription',
  'ScheduledProcedureStepSequence[0].Modality',
  'ScheduledProcedureStepSequence[0].ScheduledStationAETitle',
  'ScheduledProcedureStepSequence[0].ScheduledProcedureStepStartDate',
  'ScheduledProcedureStepSequence[0].ScheduledProcedureStepStartTime',
  'ScheduledProcedureStepSequence[0].ScheduledProcedureStepID',
  'ScheduledProcedureStepSequence[0].ScheduledProcedureStepStatus',
];

describe('Modality Worklist of the running archive (ORM^O01 over MLLP, dcmtk findscu -W)', () => {
  let archive: RunningArchive;
  let mllp: MllpClient;
  let work: string;
  let run = 0;

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'vna-worklist-'));
    archive = await RunningArchive.start({ label: 'worklist' });
    mllp = await MllpClient.connect(archive.hl7Port);
    for (const order of ORDERS) {
      const ack = await mllp.request(ormO01(order));
      expect([order.controlId, ack.code, ack.error]).toEqual([order.controlId, 'AA', undefined]);
    }
  });

  afterAll(async () => {
    await mllp?.close().catch(() => undefined);
    await archive?.destroy();
    rmSync(work, { recursive: true, force: true });
  });

  /** Runs `findscu -W` with these keys (the return keys added); the responses, as the files findscu wrote. */
  async function find(keys: Record<string, string>, options: { debug?: boolean; args?: string[] } = {}): Promise<{ responses: Response[]; log: string }> {
    const out = join(work, `find-${++run}`);
    mkdirSync(out, { recursive: true });
    // -d prints the whole C-FIND-RSP command, Error Comment included.
    const args = ['-W', options.debug ? '-d' : '-v', '-aet', 'MODALITY', '-aec', 'VNA', '-X', '-od', out];
    for (const key of RETURN_KEYS) if (!(key in keys)) args.push('-k', key);
    for (const [key, value] of Object.entries(keys)) args.push('-k', `${key}=${value}`);
    const r = await dcmtk('findscu', [...args, ...(options.args ?? []), '127.0.0.1', String(archive.dicomPort)]);
    expect(r.code).toBe(0);
    const responses = readdirSync(out)
      .sort()
      .map((f): Response => {
        const path = join(out, f);
        const bytes = readFileSync(path);
        const prefix = readPart10Prefix(bytes, true)!;
        const ds = readWholeDataset(bytes.subarray(prefix.datasetOffset), lookupTransferSyntax(prefix.transferSyntaxUid)!);
        return { json: datasetToJson(ds), charset: ds.specificCharacterSet(), path, bytes };
      });
    return { responses, log: r.stdout + r.stderr };
  }

  const accessionsOf = (responses: Response[]): string[] => responses.map((r) => String(r.json['00080050']?.Value?.[0])).sort();
  const step = (r: Response): DicomJson => r.json['00400100']?.Value?.[0] as DicomJson;

  it('matches on the scheduled station AE title, and returns the step’s keys inside its sequence', async () => {
    const { responses } = await find({ 'ScheduledProcedureStepSequence[0].ScheduledStationAETitle': 'WL_CT1' });
    expect(accessionsOf(responses)).toEqual(['WL-ACC-1', 'WL-ACC-3', 'WL-ACC-4']);
    const first = responses.find((r) => r.json['00080050']?.Value?.[0] === 'WL-ACC-1')!;
    expect(first.json['0020000D']?.Value).toEqual([ORDERS[0]!.studyUid]);
    expect(first.json['00100020']?.Value).toEqual(['WL-P1']);
    const sps = step(first);
    expect([sps['00400001']?.Value, sps['00080060']?.Value, sps['00400002']?.Value, sps['00400003']?.Value, sps['00400020']?.Value]).toEqual([
      ['WL_CT1'],
      ['CT'],
      ['20250610'],
      ['090000'],
      ['SCHEDULED'],
    ]);
  });

  it('reads an identifier in Implicit VR Little Endian (sequence keys included)', async () => {
    const { responses } = await find({ 'ScheduledProcedureStepSequence[0].ScheduledStationAETitle': 'WL_MR1' }, { args: ['-xi'] });
    expect(accessionsOf(responses)).toEqual(['WL-ACC-2']);
    expect(step(responses[0]!)['00080060']?.Value).toEqual(['MR']);
  });

  it('matches on modality', async () => {
    expect(accessionsOf((await find({ 'ScheduledProcedureStepSequence[0].Modality': 'MR' })).responses)).toEqual(['WL-ACC-2']);
    expect(accessionsOf((await find({ 'ScheduledProcedureStepSequence[0].Modality': 'US' })).responses)).toEqual([]);
  });

  it('matches on scheduled procedure step start date ranges (and a time range with them)', async () => {
    const date = 'ScheduledProcedureStepSequence[0].ScheduledProcedureStepStartDate';
    const time = 'ScheduledProcedureStepSequence[0].ScheduledProcedureStepStartTime';
    expect(accessionsOf((await find({ [date]: '20250610' })).responses)).toEqual(['WL-ACC-1', 'WL-ACC-4']);
    expect(accessionsOf((await find({ [date]: '20250610-20250611' })).responses)).toEqual(['WL-ACC-1', 'WL-ACC-2', 'WL-ACC-4']);
    expect(accessionsOf((await find({ [date]: '20250611-' })).responses)).toEqual(['WL-ACC-2', 'WL-ACC-3']);
    expect(accessionsOf((await find({ [date]: '-20250610' })).responses)).toEqual(['WL-ACC-1', 'WL-ACC-4']);
    expect(accessionsOf((await find({ [date]: '20250610', [time]: '1000-1200' })).responses)).toEqual(['WL-ACC-4']);
  });

  it('matches on patient id and accession number, wildcards included, and on several keys at once', async () => {
    expect(accessionsOf((await find({ PatientID: 'WL-P3' })).responses)).toEqual(['WL-ACC-3']);
    expect(accessionsOf((await find({ AccessionNumber: 'WL-ACC-2' })).responses)).toEqual(['WL-ACC-2']);
    expect(accessionsOf((await find({ PatientID: 'WL-P?' })).responses)).toEqual(['WL-ACC-1', 'WL-ACC-2', 'WL-ACC-3', 'WL-ACC-4']);
    expect(accessionsOf((await find({ AccessionNumber: '*-3' })).responses)).toEqual(['WL-ACC-3']);
    expect(
      accessionsOf((await find({ PatientID: 'WL-P*', 'ScheduledProcedureStepSequence[0].Modality': 'CT', 'ScheduledProcedureStepSequence[0].ScheduledProcedureStepStartDate': '20250612' })).responses),
    ).toEqual(['WL-ACC-3']);
  });

  it('returns a Latin-1 name in ISO_IR 100 when the modality asks in ISO_IR 100, as dcmtk reads it', async () => {
    const { responses } = await find({ SpecificCharacterSet: 'ISO_IR 100', PatientID: 'WL-P1' });
    expect(responses).toHaveLength(1);
    const r = responses[0]!;
    expect(r.charset).toEqual(['ISO_IR 100']);
    expect(r.json['00100010']?.Value).toEqual([{ Alphabetic: 'Müller^Jürgen' }]);
    expect(r.bytes.includes(Buffer.from('Müller^Jürgen', 'latin1'))).toBe(true);
    const dump = await dcmtk('dcmdump', ['+U8', r.path]);
    expect(Buffer.from(dump.stdout, 'latin1').toString('utf8')).toContain('[Müller^Jürgen]');
  });

  it('returns names in ISO_IR 192 (UTF-8) when asked so, or when the asked set cannot write them; matches a UTF-8 name key', async () => {
    const utf8 = await find({ SpecificCharacterSet: 'ISO_IR 192', PatientName: 'Müll*' });
    expect(utf8.responses.map((r) => [r.charset, r.json['00100010']?.Value])).toEqual([[['ISO_IR 192'], [{ Alphabetic: 'Müller^Jürgen' }]]]);
    expect(utf8.responses[0]!.bytes.includes(Buffer.from('Müller^Jürgen', 'utf8'))).toBe(true);

    const greek = await find({ SpecificCharacterSet: 'ISO_IR 100', PatientID: 'WL-P2' });
    expect(greek.responses.map((r) => [r.charset, r.json['00100010']?.Value])).toEqual([[['ISO_IR 192'], [{ Alphabetic: 'Ωμέγα^Ζωή' }]]]);
    const dump = await dcmtk('dcmdump', ['+U8', greek.responses[0]!.path]);
    expect(Buffer.from(dump.stdout, 'latin1').toString('utf8')).toContain('[Ωμέγα^Ζωή]');

    // An all-ASCII answer needs no character set.
    const ascii = await find({ PatientID: 'WL-P3' });
    expect(ascii.responses.map((r) => r.charset)).toEqual([undefined]);
  });

  it('a cancelled order (ORM^O01 CA) leaves the worklist', async () => {
    const ack = await mllp.request(ormO01({ ...ORDERS[3]!, controlId: 'WL-4-CA', control: 'CA', orderStatus: 'CA', studyUid: null }));
    expect([ack.code, ack.error]).toEqual(['AA', undefined]);
    expect(accessionsOf((await find({ 'ScheduledProcedureStepSequence[0].ScheduledStationAETitle': 'WL_CT1' })).responses)).toEqual(['WL-ACC-1', 'WL-ACC-3']);
    expect(accessionsOf((await find({ AccessionNumber: 'WL-ACC-4' })).responses)).toEqual([]);
  });

  it('answers a malformed identifier with a failure status (A900) and an error comment, no matches', async () => {
    const badDate = await find({ 'ScheduledProcedureStepSequence[0].ScheduledProcedureStepStartDate': '2025-06-10' }, { debug: true });
    expect(badDate.responses).toEqual([]);
    expect(badDate.log).toContain('DIMSE Status                  : 0xa900');
    expect(badDate.log).toContain('["2025-06-10" is not a single value or a range');
    const badTime = await find({ 'ScheduledProcedureStepSequence[0].ScheduledProcedureStepStartTime': '8 am' }, { debug: true });
    expect(badTime.log).toContain('DIMSE Status                  : 0xa900');
    expect(badTime.log).toContain('is not a valid TM value');
    const badUid = await find({ StudyInstanceUID: 'not-a-uid' }, { debug: true });
    expect(badUid.responses).toEqual([]);
    expect(badUid.log).toContain('DIMSE Status                  : 0xa900');
    expect(badUid.log).toContain('is not a UID');
    // The archive still answers afterwards.
    expect(accessionsOf((await find({ AccessionNumber: 'WL-ACC-1' })).responses)).toEqual(['WL-ACC-1']);
  });
});
