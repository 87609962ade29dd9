import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { closeSync, mkdirSync, mkdtempSync, openSync, readFileSync, readdirSync, rmSync, statSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import dimse from 'dcmjs-dimse';
import pg from 'pg';
import { Client, Dataset, requests, type ResponseInstance } from '../../libs/dimse/src/dcmjs-dimse.js';
import { type DicomJson, encodeDataset, IMPLICIT_LE, jsonToElements, Tag, tagToHex } from '#vna/dicom';
import { RunningArchive } from '../support/archive-process.js';
import { dcmtk, dcmtkDaemon } from '../support/dcmtk.js';
import { associateRq, cGetCommand, cStoreCommand, IMPLICIT_VR_LITTLE_ENDIAN, pDataTf, pduHeader, RawPeer } from '../support/dul.js';
import { datasetBytes, fixtureJson, part10, sha256, uidOf, writeFixture } from '../support/fixtures.js';
import { freePort } from '../support/test-env.js';

// dcmjs-dimse as the archive loads it: its adapter mends the library's stale command fields, which
// would otherwise show one response's Error Comment on the next.
(dimse as unknown as typeof import('dcmjs-dimse')).log.setLevel('silent');

const CT_IMAGE_STORAGE = '1.2.840.10008.5.1.4.1.1.2';
const STUDY_ROOT_GET = '1.2.840.10008.5.1.4.1.2.2.3';
const EXPLICIT_VR_LITTLE_ENDIAN = '1.2.840.10008.1.2.1';
const MR_IMAGE_STORAGE = '1.2.840.10008.5.1.4.1.1.4';
const PDU = { AssociateAc: 0x02, AssociateRj: 0x03, PDataTf: 0x04, Abort: 0x07 } as const;

/** A copy of the GE CT fixture under its own instance UID (series `series`), so each case is a distinct object. */
function ct(instance: string, series = '9'): DicomJson {
  const json = structuredClone(fixtureJson('ct-ge-latin1'));
  const base = uidOf(json, Tag.SOPInstanceUID);
  json[tagToHex(Tag.SOPInstanceUID)] = { vr: 'UI', Value: [`${base}.${series}.${instance}`] };
  json[tagToHex(Tag.SeriesInstanceUID)] = { vr: 'UI', Value: [`${uidOf(json, Tag.SeriesInstanceUID)}.${series}`] };
  return json;
}

function implicit(json: DicomJson): Buffer {
  return encodeDataset(jsonToElements(json), IMPLICIT_LE);
}

/** Offset of a top-level element's tag in implicit VR little endian bytes. */
function offsetOf(bytes: Buffer, tag: number): number {
  const needle = Buffer.alloc(4);
  needle.writeUInt16LE(tag >>> 16, 0);
  needle.writeUInt16LE(tag & 0xffff, 2);
  const at = bytes.indexOf(needle);
  if (at < 0) throw new Error(`tag ${tag.toString(16)} not found`);
  return at;
}

/** The dataset dcmjs-dimse sends: exactly these bytes, in implicit VR little endian (what the archive accepts first). */
class CraftedDataset extends Dataset {
  constructor(private readonly bytes: Buffer) {
    super({}, IMPLICIT_VR_LITTLE_ENDIAN);
  }

  override getDenaturalizedDataset(): Buffer {
    return this.bytes;
  }
}

interface Crafted {
  readonly name: string;
  readonly bytes: Buffer;
  readonly sopClassUid: string;
  readonly sopInstanceUid: string;
}

interface StoreOutcome {
  readonly name: string;
  readonly status?: number;
  readonly comment?: string;
}

/** Sends C-STOREs on one association with dcmjs-dimse as the SCU; resolves with each response's status and Error Comment. */
function storeCrafted(port: number, objects: readonly Crafted[]): Promise<StoreOutcome[]> {
  return new Promise((resolve, reject) => {
    const client = new Client();
    const outcomes = new Map<string, StoreOutcome>();
    for (const object of objects) {
      const request = new requests.CStoreRequest(new CraftedDataset(object.bytes));
      request.setAffectedSopClassUid(object.sopClassUid);
      request.setAffectedSopInstanceUid(object.sopInstanceUid);
      request.on('response', (response: ResponseInstance) => {
        outcomes.set(object.name, { name: object.name, status: response.getStatus(), comment: response.getErrorComment() });
      });
      client.addRequest(request);
    }
    client.on('networkError', (e: Error) => reject(e));
    client.on('associationRejected', () => reject(new Error('association rejected')));
    client.on('closed', () => resolve(objects.map((o) => outcomes.get(o.name) ?? { name: o.name })));
    client.send('127.0.0.1', port, 'CRAFTED', 'VNA', { associationTimeout: 10_000, pduTimeout: 10_000 });
  });
}

function rssKiB(pid: number): number {
  const line = readFileSync(`/proc/${pid}/status`, 'utf8')
    .split('\n')
    .find((l) => l.startsWith('VmRSS:'));
  return Number(/(\d+)/.exec(line ?? '')?.[1] ?? NaN);
}

function spoolFiles(dataDir: string): string[] {
  const out: string[] = [];
  const walk = (dir: string): void => {
    let names: string[];
    try {
      names = readdirSync(dir);
    } catch {
      return;
    }
    for (const name of names) {
      const path = join(dir, name);
      if (statSync(path).isDirectory()) walk(path);
      else out.push(path);
    }
  };
  walk(join(dataDir, 'spool'));
  return out;
}

describe('DIMSE robustness: bad input and misbehaving peers (PS3.4 B.2.3, PS3.8 9)', () => {
  let archive: RunningArchive;
  let db: pg.Client;
  let work: string;
  let slowScpPort: number;

  /** The spool holds nothing but objects the index points to (none of a refused or cut-off transfer). */
  async function strayspoolFiles(): Promise<string[]> {
    const { rows } = await db.query<{ spool_path: string }>(`SELECT spool_path FROM instance WHERE spool_path IS NOT NULL`);
    const referenced = new Set(rows.map((r) => r.spool_path));
    return spoolFiles(archive.dataDir).filter((f) => !referenced.has(f));
  }

  async function indexed(sopInstanceUids: readonly string[]): Promise<string[]> {
    const { rows } = await db.query<{ sop_instance_uid: string }>(`SELECT sop_instance_uid FROM instance WHERE sop_instance_uid = ANY($1::text[])`, [sopInstanceUids]);
    return rows.map((r) => r.sop_instance_uid);
  }

  async function echo(): Promise<number> {
    return (await dcmtk('echoscu', ['-aec', 'VNA', '127.0.0.1', String(archive.dicomPort)], { timeoutMs: 10_000 })).code;
  }

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'vna-dimse-robust-'));
    slowScpPort = await freePort();
    archive = await RunningArchive.start({
      label: 'dimserobust',
      env: {
        VNA_DICOM_ASSOCIATION_TIMEOUT_SECONDS: '2',
        VNA_DICOM_PDU_TIMEOUT_SECONDS: '2',
        VNA_DICOM_NODES: `SLOWSCP@127.0.0.1:${slowScpPort}`,
      },
    });
    db = new pg.Client({ connectionString: archive.databaseUrl });
    await db.connect();
  });

  afterAll(async () => {
    await db?.end();
    await archive?.destroy();
    rmSync(work, { recursive: true, force: true });
  });

  it('refuses malformed C-STORE datasets with a failure status and an Error Comment, indexing nothing, and keeps the association', async () => {
    const whole = (n: string): { json: DicomJson; bytes: Buffer } => {
      const json = ct(n);
      return { json, bytes: implicit(json) };
    };
    const cases: (Crafted & { expected: { status: number; comment: RegExp } })[] = [];
    {
      // Cut off four bytes into the Pixel Data element's header.
      const { json, bytes } = whole('1');
      cases.push({
        name: 'truncated',
        bytes: bytes.subarray(0, offsetOf(bytes, Tag.PixelData) + 4),
        sopClassUid: CT_IMAGE_STORAGE,
        sopInstanceUid: uidOf(json, Tag.SOPInstanceUID),
        expected: { status: 0xc000, comment: /truncated/ },
      });
    }
    {
      // Pixel Data announces more bytes than follow.
      const { json, bytes } = whole('2');
      const copy = Buffer.from(bytes);
      copy.writeUInt32LE(copy.readUInt32LE(offsetOf(copy, Tag.PixelData) + 4) + 4096, offsetOf(copy, Tag.PixelData) + 4);
      cases.push({ name: 'value past the end', bytes: copy, sopClassUid: CT_IMAGE_STORAGE, sopInstanceUid: uidOf(json, Tag.SOPInstanceUID), expected: { status: 0xc000, comment: /truncated/ } });
    }
    {
      // A text element in the middle claims 1 MiB: it swallows the rest of the dataset and more.
      const { json, bytes } = whole('3');
      const copy = Buffer.from(bytes);
      copy.writeUInt32LE(1024 * 1024, offsetOf(copy, 0x00081030) + 4);
      cases.push({ name: 'wrong length', bytes: copy, sopClassUid: CT_IMAGE_STORAGE, sopInstanceUid: uidOf(json, Tag.SOPInstanceUID), expected: { status: 0xc000, comment: /truncated|runs past/ } });
    }
    {
      const json = ct('4');
      const announced = uidOf(json, Tag.SOPInstanceUID);
      delete json[tagToHex(Tag.SOPInstanceUID)];
      cases.push({ name: 'no SOP Instance UID', bytes: implicit(json), sopClassUid: CT_IMAGE_STORAGE, sopInstanceUid: announced, expected: { status: 0xa900, comment: /SOPInstanceUID is missing/ } });
    }
    {
      const { json, bytes } = whole('5');
      cases.push({
        name: 'other SOP Instance UID',
        bytes,
        sopClassUid: CT_IMAGE_STORAGE,
        sopInstanceUid: `${uidOf(json, Tag.SOPInstanceUID)}.99`,
        expected: { status: 0xa900, comment: /SOP Instance UID .* differs/ },
      });
    }
    {
      // A CT dataset sent as MR Image Storage.
      const { json, bytes } = whole('6');
      cases.push({ name: 'other SOP Class', bytes, sopClassUid: MR_IMAGE_STORAGE, sopInstanceUid: uidOf(json, Tag.SOPInstanceUID), expected: { status: 0xa900, comment: /SOP Class UID .* differs/ } });
    }
    const good = whole('7');
    const valid: Crafted = { name: 'valid', bytes: good.bytes, sopClassUid: CT_IMAGE_STORAGE, sopInstanceUid: uidOf(good.json, Tag.SOPInstanceUID) };

    const outcomes = await storeCrafted(archive.dicomPort, [...cases, valid]);

    for (const c of cases) {
      const outcome = outcomes.find((o) => o.name === c.name)!;
      expect({ name: c.name, statusClass: (outcome.status ?? -1) & 0xff00 }).toEqual({ name: c.name, statusClass: c.expected.status & 0xff00 });
      expect({ name: c.name, comment: outcome.comment }).toEqual({ name: c.name, comment: expect.stringMatching(c.expected.comment) });
      expect(outcome.comment!.length).toBeLessThanOrEqual(64); // Error Comment is LO
    }
    // The association survived every refusal: the last object on it was stored.
    expect(outcomes.find((o) => o.name === 'valid')).toEqual({ name: 'valid', status: 0x0000, comment: undefined });
    expect(await indexed(cases.map((c) => c.sopInstanceUid))).toEqual([]);
    expect(await indexed([valid.sopInstanceUid])).toEqual([valid.sopInstanceUid]);
    const qido = (await (await archive.fetch(`/dicomweb/instances?SeriesInstanceUID=${uidOf(good.json, Tag.SeriesInstanceUID)}`)).json()) as DicomJson[];
    expect(qido.map((r) => uidOf(r, Tag.SOPInstanceUID))).toEqual([valid.sopInstanceUid]);
    expect(await strayspoolFiles()).toEqual([]);
  });

  it('keeps nothing of an object whose transfer was cut off mid-dataset', async () => {
    const json = ct('20');
    const uid = uidOf(json, Tag.SOPInstanceUID);
    const bytes = implicit(json);
    const peer = await RawPeer.open(archive.dicomPort);
    await peer.send(associateRq({ contexts: [{ id: 1, abstractSyntax: CT_IMAGE_STORAGE }] }));
    expect(await peer.waitForPdu(PDU.AssociateAc)).toBeDefined();
    await peer.send(pDataTf(1, cStoreCommand(CT_IMAGE_STORAGE, uid), { command: true, last: true }));
    await peer.send(pDataTf(1, bytes.subarray(0, 600), { command: false, last: false }));
    await sleep(200); // the archive has opened the spool file by now
    peer.destroy();
    await sleep(500);
    expect(await indexed([uid])).toEqual([]);
    expect(await strayspoolFiles()).toEqual([]);
    expect(await echo()).toBe(0);
  });

  it('closes a connection that announces an oversized PDU before buffering it (A-ASSOCIATE-RQ, P-DATA-TF, garbage), and keeps serving', async () => {
    const pid = archive.pid!;
    const junk = Buffer.alloc(1024 * 1024, 0x41);

    // An A-ASSOCIATE-RQ announcing 1 GiB, followed by as much as the archive will take.
    const before = rssKiB(pid);
    const big = await RawPeer.open(archive.dicomPort);
    await big.send(pduHeader(0x01, 1024 ** 3));
    let sent = 0;
    while (big.isOpen && sent < 256) {
      if (!(await Promise.race([big.send(junk), sleep(2000).then(() => false)]))) break;
      sent++;
    }
    expect(await big.closedWithin(3000)).toBeDefined();
    expect(sent).toBeLessThan(256);
    const grownMiB = (rssKiB(pid) - before) / 1024;
    expect(grownMiB).toBeLessThan(32);

    // A P-DATA-TF on an accepted association, announcing 1 GiB (the archive advertised 256 KiB): A-ABORT, then closed.
    const pdata = await RawPeer.open(archive.dicomPort);
    await pdata.send(associateRq());
    expect(await pdata.waitForPdu(PDU.AssociateAc)).toBeDefined();
    await pdata.send(Buffer.concat([pduHeader(0x04, 1024 ** 3), junk]));
    expect(await pdata.closedWithin(3000)).toBeDefined();
    const abort = pdata.pdus().find((p) => p.type === PDU.Abort);
    if (abort) expect(abort.body[2]).toBe(2); // source: service provider

    // Not DICOM at all.
    const http = await RawPeer.open(archive.dicomPort);
    await http.send(Buffer.from('GET / HTTP/1.1\r\nHost: vna\r\n\r\n'));
    expect(await http.closedWithin(3000)).toBeDefined();

    expect(await echo()).toBe(0);
    expect(archive.logs()).toMatch(/closing DICOM connection from 127\.0\.0\.1:\d+ \(calling AE unknown\): PDU type 0x01 announces 1073741824 bytes/);
  });

  it('closes connections that stay silent, send half an association request or trickle it, and aborts idle associations, while serving others', async () => {
    const rq = associateRq();
    const silent = await RawPeer.open(archive.dicomPort);
    const half = await RawPeer.open(archive.dicomPort);
    await half.send(rq.subarray(0, Math.floor(rq.length / 2)));
    const trickle = await RawPeer.open(archive.dicomPort);
    let at = 0;
    const trickling = setInterval(() => void trickle.send(rq.subarray(at, ++at)), 250);
    const idle = await RawPeer.open(archive.dicomPort);
    await idle.send(rq);
    expect(await idle.waitForPdu(PDU.AssociateAc)).toBeDefined();

    try {
      // Meanwhile the archive serves everyone else.
      const file = writeFixture(join(work, 'meanwhile'), 'ct-meanwhile', ct('30'));
      const stored = await dcmtk('storescu', ['-aec', 'VNA', '127.0.0.1', String(archive.dicomPort), file], { timeoutMs: 10_000 });
      expect({ code: stored.code, stderr: stored.stderr }).toEqual({ code: 0, stderr: '' });
      expect(await echo()).toBe(0);

      // Association timeout 2 s (checked each second); the trickling peer sent a byte within the last 250 ms.
      for (const peer of [silent, half, trickle]) expect(await peer.closedWithin(5000)).toBeDefined();
      expect(trickle.pdus()).toEqual([]);
      // Idle timeout 2 s after the association: an A-ABORT, then the connection closes.
      expect(await idle.closedWithin(5000)).toBeDefined();
      expect(idle.pdus().map((p) => p.type)).toEqual([PDU.AssociateAc, PDU.Abort]);
    } finally {
      clearInterval(trickling);
      for (const peer of [silent, half, trickle, idle]) peer.destroy();
    }
    expect(archive.logs()).toMatch(/no complete A-ASSOCIATE-RQ within 2000 ms/);
    expect(archive.logs()).toMatch(/\(calling AE RAWSCU\): nothing received for 2000 ms/);
  });

  it('does not cut an association while the archive is working for it (C-MOVE to a slow destination, longer than the idle timeout)', async () => {
    const dir = join(work, 'move-source');
    const files = ['40', '41', '42'].map((n) => writeFixture(dir, `ct-${n}`, ct(n, '40')));
    const stored = await dcmtk('storescu', ['-aec', 'VNA', '127.0.0.1', String(archive.dicomPort), ...files]);
    expect(stored.code).toBe(0);
    const received = join(work, 'moved');
    mkdirSync(received, { recursive: true });
    // storescp pauses a second after each C-STORE: three sub-operations keep the C-MOVE busy for about 3 s.
    const scp = dcmtkDaemon('storescp', ['-aet', 'SLOWSCP', '--sleep-after', '1', '-od', received, String(slowScpPort)]);
    try {
      await sleep(300);
      const json = ct('40', '40');
      const r = await dcmtk('movescu', ['-S', '-aec', 'VNA', '-aem', 'SLOWSCP', '127.0.0.1', String(archive.dicomPort), '-k', 'QueryRetrieveLevel=SERIES', '-k', `StudyInstanceUID=${uidOf(json, Tag.StudyInstanceUID)}`, '-k', `SeriesInstanceUID=${uidOf(json, Tag.SeriesInstanceUID)}`]);
      expect({ code: r.code, errors: r.stderr }).toEqual({ code: 0, errors: '' });
      const got = readdirSync(received).map((f) => sha256(datasetBytes(readFileSync(join(received, f))))).sort();
      expect(got).toEqual(files.map((f) => sha256(datasetBytes(readFileSync(f)))).sort());
    } finally {
      await scp.stop();
    }
  });

  it('moves a 96 MiB object with memory flat (streamed from disk in PDUs, never loaded whole), byte for byte', async () => {
    // A multi-frame CT written straight to disk: the header, then 96 frames of 1 MiB each, each frame's bytes its own.
    const json = ct('60', '60');
    delete json[tagToHex(Tag.PixelData)];
    json[tagToHex(Tag.Rows)] = { vr: 'US', Value: [512] };
    json[tagToHex(Tag.Columns)] = { vr: 'US', Value: [1024] };
    json['00280008'] = { vr: 'IS', Value: [96] };
    const frame = Buffer.alloc(512 * 1024 * 2);
    const file = join(work, 'ct-96mib.dcm');
    const fd = openSync(file, 'w');
    const pixelHeader = Buffer.alloc(12);
    pixelHeader.writeUInt16LE(0x7fe0, 0);
    pixelHeader.writeUInt16LE(0x0010, 2);
    pixelHeader.write('OW', 4, 'latin1');
    pixelHeader.writeUInt32LE(frame.length * 96, 8);
    writeSync(fd, Buffer.concat([part10(json), pixelHeader]));
    for (let f = 0; f < 96; f++) {
      frame.fill(f);
      frame.writeUInt32LE(0xc0ffee00 + f, frame.length - 4);
      writeSync(fd, frame);
    }
    closeSync(fd);
    expect((await dcmtk('storescu', ['-aec', 'VNA', '127.0.0.1', String(archive.dicomPort), file], { timeoutMs: 60_000 })).code).toBe(0);

    const received = join(work, 'moved-96mib');
    mkdirSync(received, { recursive: true });
    const scp = dcmtkDaemon('storescp', ['-aet', 'SLOWSCP', '-od', received, String(slowScpPort)]);
    const pid = archive.pid!;
    try {
      await sleep(300);
      const before = rssKiB(pid);
      let peak = before;
      const sampling = setInterval(() => (peak = Math.max(peak, rssKiB(pid))), 20);
      const r = await dcmtk('movescu', ['-S', '-aec', 'VNA', '-aem', 'SLOWSCP', '127.0.0.1', String(archive.dicomPort), '-k', 'QueryRetrieveLevel=IMAGE', '-k', `StudyInstanceUID=${uidOf(json, Tag.StudyInstanceUID)}`, '-k', `SeriesInstanceUID=${uidOf(json, Tag.SeriesInstanceUID)}`, '-k', `SOPInstanceUID=${uidOf(json, Tag.SOPInstanceUID)}`], { timeoutMs: 60_000 });
      clearInterval(sampling);
      expect({ code: r.code, errors: r.stderr }).toEqual({ code: 0, errors: '' });
      // Loaded whole, the object took more than its size (the buffer, its PDUs, the socket's copies): +113 MiB here.
      expect((peak - before) / 1024).toBeLessThan(40);
    } finally {
      await scp.stop();
    }
    const files = readdirSync(received);
    expect(files).toHaveLength(1);
    expect(sha256(datasetBytes(readFileSync(join(received, files[0]!))))).toBe(sha256(datasetBytes(readFileSync(file))));
  });

  it("sends no PDU larger than the peer's Maximum Length (C-GET sub-operation to a peer that takes 4096 bytes)", async () => {
    const json = ct('50', '50');
    json[tagToHex(Tag.Rows)] = { vr: 'US', Value: [128] };
    json[tagToHex(Tag.Columns)] = { vr: 'US', Value: [128] };
    json[tagToHex(Tag.PixelData)] = { vr: 'OW', InlineBinary: Buffer.alloc(128 * 128 * 2, 7).toString('base64') };
    const file = writeFixture(join(work, 'big'), 'ct-50', json);
    expect((await dcmtk('storescu', ['-aec', 'VNA', '127.0.0.1', String(archive.dicomPort), file])).code).toBe(0);

    const peer = await RawPeer.open(archive.dicomPort);
    try {
      await peer.send(
        associateRq({
          maxPdu: 4096,
          contexts: [
            { id: 1, abstractSyntax: STUDY_ROOT_GET },
            { id: 3, abstractSyntax: CT_IMAGE_STORAGE, transferSyntaxes: [EXPLICIT_VR_LITTLE_ENDIAN] },
          ],
          roles: [{ sopClassUid: CT_IMAGE_STORAGE, scu: false, scp: true }],
        }),
      );
      expect(await peer.waitForPdu(PDU.AssociateAc)).toBeDefined();
      const identifier = encodeDataset(
        [
          { tag: 0x00080052, vr: 'CS', value: ['SERIES'] },
          { tag: Tag.StudyInstanceUID, vr: 'UI', value: [uidOf(json, Tag.StudyInstanceUID)] },
          { tag: Tag.SeriesInstanceUID, vr: 'UI', value: [uidOf(json, Tag.SeriesInstanceUID)] },
        ],
        IMPLICIT_LE,
      );
      await peer.send(pDataTf(1, cGetCommand(STUDY_ROOT_GET), { command: true, last: true }));
      await peer.send(pDataTf(1, identifier, { command: false, last: true }));
      // The C-STORE sub-operation's dataset (32 KiB of pixels) arrives in P-DATA-TFs of at most 4096 bytes.
      const deadline = Date.now() + 5000;
      const datasetBytes = (): number => peer.pdus().filter((p) => p.type === PDU.PDataTf && (p.body[5]! & 1) === 0).reduce((n, p) => n + p.body.length, 0);
      while (datasetBytes() < 128 * 128 * 2 && Date.now() < deadline) await sleep(50);
      expect(datasetBytes()).toBeGreaterThan(128 * 128 * 2);
      const largest = Math.max(...peer.pdus().filter((p) => p.type === PDU.PDataTf).map((p) => p.body.length));
      expect(largest).toBeLessThanOrEqual(4096);
    } finally {
      peer.destroy();
    }
  });

  it('rejects an association to an unknown called AE title (A-ASSOCIATE-RJ, called AE not recognized)', async () => {
    const r = await dcmtk('echoscu', ['-aec', 'NOT_VNA', '127.0.0.1', String(archive.dicomPort)]);
    expect(r.code).not.toBe(0);
    expect(r.stdout + r.stderr).toMatch(/Called AE Title Not Recognized/i);
    // The same over the raw upper layer: result permanent (1), source service user (1), reason 7 (PS3.8 9.3.4).
    const peer = await RawPeer.open(archive.dicomPort);
    await peer.send(associateRq({ called: 'NOT_VNA' }));
    const rj = await peer.waitForPdu(PDU.AssociateRj);
    peer.destroy();
    expect(rj && [...rj.body.subarray(1, 4)]).toEqual([1, 1, 7]);
    expect(await echo()).toBe(0);
  });
});
