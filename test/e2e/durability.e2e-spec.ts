import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { BlobServiceClient } from '@azure/storage-blob';
import pg from 'pg';
import { type DicomJson, Tag, tagToHex } from '#vna/dicom';
import { RunningArchive } from '../support/archive-process.js';
import { dcmtk } from '../support/dcmtk.js';
import { datasetBytes, fixtureJson, multipartBodies, sha256, uidOf, writeFixture } from '../support/fixtures.js';
import { azuriteConnectionString, freePort, testEnv } from '../support/test-env.js';

interface SentObject {
  readonly path: string;
  readonly sopInstanceUid: string;
  readonly seriesUid: string;
  readonly studyUid: string;
  /** SHA-256 of the dataset (what must come back byte for byte; the meta header may differ). */
  readonly dataset: string;
}

interface InstanceRow {
  sop_instance_uid: string;
  storage_state: string;
  spool_path: string | null;
  blob_key: string | null;
  sha256: Buffer;
  size_bytes: string;
}

/**
 * `count` distinct CT objects of 128x128 16-bit random pixels (~33 KB each), in series of 100 under
 * one study: the GE fixture with new UIDs.
 */
function generate(dir: string, run: number, count: number): SentObject[] {
  const out: SentObject[] = [];
  const base = fixtureJson('ct-ge-latin1');
  const studyUid = `${uidOf(base, Tag.StudyInstanceUID)}.${run}`;
  for (let i = 0; i < count; i++) {
    const json: DicomJson = structuredClone(base);
    const seriesUid = `${studyUid}.${Math.floor(i / 100) + 1}`;
    const sopInstanceUid = `${seriesUid}.${i + 1}`;
    json[tagToHex(Tag.StudyInstanceUID)] = { vr: 'UI', Value: [studyUid] };
    json[tagToHex(Tag.SeriesInstanceUID)] = { vr: 'UI', Value: [seriesUid] };
    json[tagToHex(Tag.SOPInstanceUID)] = { vr: 'UI', Value: [sopInstanceUid] };
    json[tagToHex(Tag.InstanceNumber)] = { vr: 'IS', Value: [i + 1] };
    json[tagToHex(Tag.Rows)] = { vr: 'US', Value: [128] };
    json[tagToHex(Tag.Columns)] = { vr: 'US', Value: [128] };
    json[tagToHex(Tag.PixelData)] = { vr: 'OW', InlineBinary: randomBytes(128 * 128 * 2).toString('base64') };
    const path = writeFixture(dir, `ct-${run}-${String(i + 1).padStart(4, '0')}`, json);
    out.push({ path, sopInstanceUid, seriesUid, studyUid, dataset: sha256(datasetBytes(readFileSync(path))) });
  }
  return out;
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

/** The archive's refusals, to show beside a failed store. */
function refusals(archive: RunningArchive): string[] {
  return archive.logs().split('\n').filter((line) => line.includes('refused'));
}

async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`);
    await sleep(250);
  }
}

/** WADO-RS of one instance: the SHA-256 of the dataset it returns. */
async function retrievedDataset(archive: RunningArchive, object: SentObject): Promise<string> {
  const res = await archive.fetch(`/dicomweb/studies/${object.studyUid}/series/${object.seriesUid}/instances/${object.sopInstanceUid}`);
  if (res.status !== 200) throw new Error(`WADO-RS of ${object.sopInstanceUid}: ${res.status}`);
  const parts = multipartBodies(Buffer.from(await res.arrayBuffer()), res.headers.get('content-type')!);
  if (parts.length !== 1) throw new Error(`WADO-RS of ${object.sopInstanceUid}: ${parts.length} parts`);
  return sha256(datasetBytes(parts[0]!.body));
}

/** The blob's SHA-256, read back from the blob store. */
async function blobSha256(archive: RunningArchive, key: string): Promise<Buffer> {
  const container = BlobServiceClient.fromConnectionString(testEnv().blobConnectionString).getContainerClient(archive.container);
  const hash = createHash('sha256');
  const download = await container.getBlobClient(key).download();
  for await (const chunk of download.readableStreamBody as AsyncIterable<Buffer>) hash.update(chunk);
  return hash.digest();
}

async function instances(db: pg.Client, uids: readonly string[]): Promise<InstanceRow[]> {
  const { rows } = await db.query<InstanceRow>(
    `SELECT sop_instance_uid, storage_state, spool_path, blob_key, sha256, size_bytes FROM instance WHERE sop_instance_uid = ANY($1::text[]) AND is_current`,
    [uids],
  );
  return rows;
}

/** Until every row is in the blob store, its spool copy gone; then each blob is checked against the indexed hash. */
async function expectAllUploaded(archive: RunningArchive, db: pg.Client, uids: readonly string[], timeoutMs: number): Promise<InstanceRow[]> {
  const rows = await waitFor(
    'every upload to finish',
    async () => {
      const rows = await instances(db, uids);
      return rows.length === uids.length && rows.every((r) => r.storage_state === 'stored') ? rows : undefined;
    },
    timeoutMs,
  );
  // Each upload's outbox message ends done (a job interrupted by a kill is taken up again once BullMQ finds it stalled).
  await waitFor(
    'every upload message to be done',
    async () => {
      const { rows } = await db.query<{ n: string }>(`SELECT count(*) AS n FROM outbox WHERE topic = 'blob.upload' AND (done_at IS NULL OR dead_at IS NOT NULL)`);
      return Number(rows[0]!.n) === 0 ? true : undefined;
    },
    timeoutMs,
  );
  for (const row of rows) {
    expect({ uid: row.sop_instance_uid, spool: row.spool_path, blob: row.blob_key }).toEqual({ uid: row.sop_instance_uid, spool: null, blob: expect.stringMatching(/^sha256\/[0-9a-f]{2}\/[0-9a-f]{2}\/[0-9a-f]{64}$/) });
    expect({ uid: row.sop_instance_uid, sha256: (await blobSha256(archive, row.blob_key!)).toString('hex') }).toEqual({ uid: row.sop_instance_uid, sha256: Buffer.from(row.sha256).toString('hex') });
  }
  return rows;
}

/**
 * A TCP relay to Azurite that can be switched on later: the blob store "comes back" without the
 * archive being restarted. Until then its port refuses connections.
 */
class SwitchableRelay {
  private server?: Server;
  private readonly sockets = new Set<Socket>();

  constructor(
    readonly port: number,
    private readonly target: number,
  ) {}

  async open(): Promise<void> {
    this.server = createServer((client) => {
      const upstream = connect({ host: '127.0.0.1', port: this.target });
      for (const s of [client, upstream]) {
        this.sockets.add(s);
        s.on('close', () => this.sockets.delete(s));
        s.on('error', () => undefined);
      }
      client.pipe(upstream).pipe(client);
      client.on('close', () => upstream.destroy());
      upstream.on('close', () => client.destroy());
    });
    await new Promise<void>((resolve) => this.server!.listen(this.port, '127.0.0.1', () => resolve()));
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }
}

describe('Durability: acknowledged means durable (ARCHITECTURE.md invariants 1 and 4)', () => {
  let work: string;
  const archives: RunningArchive[] = [];
  const clients: pg.Client[] = [];

  async function connectDb(archive: RunningArchive): Promise<pg.Client> {
    const db = new pg.Client({ connectionString: archive.databaseUrl });
    await db.connect();
    clients.push(db);
    return db;
  }

  beforeAll(() => {
    work = mkdtempSync(join(tmpdir(), 'vna-durability-'));
  });

  afterAll(async () => {
    for (const db of clients) await db.end().catch(() => undefined);
    for (const archive of archives) await archive.destroy();
    rmSync(work, { recursive: true, force: true });
  });

  it('keeps every acknowledged instance, with its hash, when killed (SIGKILL) in the middle of a storescu run, and finishes the uploads after the restart', async () => {
    const objects = generate(join(work, 'kill'), 71, 300);
    const byPath = new Map(objects.map((o) => [o.path, o]));
    const archive = await RunningArchive.start({ label: 'killmidrun' });
    archives.push(archive);
    const db = await connectDb(archive);

    // storescu -v (dcmtk 3.6.7) logs, per object, "I: Sending file: <path>" ... "I: Received Store Response (Success)".
    const acknowledged: SentObject[] = [];
    const killAfter = 120;
    let current: SentObject | undefined;
    let pending = '';
    let killed: Promise<void> | undefined;
    const storescu = spawn('storescu', ['-v', '-aec', 'VNA', '127.0.0.1', String(archive.dicomPort), ...objects.map((o) => o.path)], {
      env: { ...process.env, TCP_NODELAY: '1' },
    });
    let log = '';
    storescu.stdout.resume();
    storescu.stderr.on('data', (chunk: Buffer) => {
      log += chunk.toString('latin1');
      pending += chunk.toString('latin1');
      const lines = pending.split('\n');
      pending = lines.pop()!;
      for (const line of lines) {
        const sending = /^I: Sending file: (.+)$/.exec(line);
        if (sending) current = byPath.get(sending[1]!.trim());
        else if (/^I: Received Store Response \(Success\)/.test(line) && current) {
          acknowledged.push(current);
          current = undefined;
          if (acknowledged.length === killAfter) killed = archive.kill();
        }
      }
    });
    const exit = await new Promise<number | null>((resolve) => storescu.on('close', (code) => resolve(code)));
    await killed;
    // The run was cut short by the kill, not finished before it.
    expect(killed).toBeDefined();
    expect(refusals(archive)).toEqual([]);
    expect(acknowledged.length).toBeGreaterThanOrEqual(killAfter);
    expect(acknowledged.length).toBeLessThan(objects.length);
    expect(exit).not.toBe(0);
    expect(log).toMatch(/Sending file/);

    await RunningArchive.start({ label: 'killmidrun', reuse: archive });

    // Every acknowledged instance is indexed and served with the dataset that was sent.
    const rows = await instances(db, acknowledged.map((o) => o.sopInstanceUid));
    expect(rows.map((r) => r.sop_instance_uid).sort()).toEqual(acknowledged.map((o) => o.sopInstanceUid).sort());
    for (const object of acknowledged) {
      expect({ uid: object.sopInstanceUid, dataset: await retrievedDataset(archive, object) }).toEqual({ uid: object.sopInstanceUid, dataset: object.dataset });
    }
    // Nothing half-written is indexed: at most the object in flight at the kill was committed without
    // its response getting out, and it too is whole.
    const { rows: all } = await db.query<{ sop_instance_uid: string }>(`SELECT sop_instance_uid FROM instance`);
    const unacknowledged = all.map((r) => r.sop_instance_uid).filter((uid) => !acknowledged.some((o) => o.sopInstanceUid === uid));
    expect(unacknowledged.length).toBeLessThanOrEqual(1);
    for (const uid of unacknowledged) {
      const object = objects.find((o) => o.sopInstanceUid === uid)!;
      expect(await retrievedDataset(archive, object)).toBe(object.dataset);
    }

    // The uploads interrupted or never started finish after the restart; the spool keeps at most the
    // un-indexed remains of the object in flight (removed by the janitor later).
    const everything = [...acknowledged, ...unacknowledged.map((uid) => objects.find((o) => o.sopInstanceUid === uid)!)];
    await expectAllUploaded(archive, db, everything.map((o) => o.sopInstanceUid), 120_000);
    expect(spoolFiles(archive.dataDir).length).toBeLessThanOrEqual(1);
    for (const object of acknowledged.slice(0, 20)) expect(await retrievedDataset(archive, object)).toBe(object.dataset);
  });

  it('acknowledges, lists and serves instances while the blob store is down, and uploads them after a restart with the blob store back', async () => {
    const objects = generate(join(work, 'outage'), 72, 5);
    const closedPort = await freePort();
    const archive = await RunningArchive.start({ label: 'bloboutage', env: { VNA_BLOB_CONNECTION_STRING: azuriteConnectionString(closedPort) }, waitFor: 'live' });
    archives.push(archive);
    const db = await connectDb(archive);
    expect((await fetch(`${archive.baseUrl}/health/ready`)).status).not.toBe(200);

    const r = await dcmtk('storescu', ['-aec', 'VNA', '127.0.0.1', String(archive.dicomPort), ...objects.map((o) => o.path)]);
    expect({ code: r.code, stderr: r.stderr, refused: refusals(archive) }).toEqual({ code: 0, stderr: '', refused: [] });
    const listed = (await (await archive.fetch(`/dicomweb/studies/${objects[0]!.studyUid}/instances`)).json()) as DicomJson[];
    expect(listed.map((i) => uidOf(i, Tag.SOPInstanceUID)).sort()).toEqual(objects.map((o) => o.sopInstanceUid).sort());
    for (const object of objects) expect(await retrievedDataset(archive, object)).toBe(object.dataset);

    // Uploads are tried and fail; the objects wait in the spool, their outbox messages open.
    await waitFor(
      'a failed upload attempt',
      async () => {
        const { rows } = await db.query<{ n: string }>(`SELECT count(*) AS n FROM outbox WHERE topic = 'blob.upload' AND attempts > 0 AND last_error IS NOT NULL AND done_at IS NULL`);
        return Number(rows[0]!.n) > 0 ? true : undefined;
      },
      20_000,
    );
    expect((await instances(db, objects.map((o) => o.sopInstanceUid))).map((row) => row.storage_state)).toEqual(objects.map(() => 'spooled'));
    expect(spoolFiles(archive.dataDir)).toHaveLength(objects.length);

    await archive.stop();
    await RunningArchive.start({ label: 'bloboutage', reuse: archive, env: { VNA_BLOB_CONNECTION_STRING: testEnv().blobConnectionString } });
    await expectAllUploaded(archive, db, objects.map((o) => o.sopInstanceUid), 90_000);
    expect(spoolFiles(archive.dataDir)).toEqual([]);
    // Now from the blob store (the spool copies are gone), byte for byte.
    for (const object of objects) expect(await retrievedDataset(archive, object)).toBe(object.dataset);
  });

  it('resumes uploads when the blob store comes back, without a restart (the container is made on first use)', async () => {
    const objects = generate(join(work, 'comeback'), 73, 3);
    const azurite = Number(/BlobEndpoint=http:\/\/127\.0\.0\.1:(\d+)\//.exec(testEnv().blobConnectionString)![1]);
    const relay = new SwitchableRelay(await freePort(), azurite);
    const archive = await RunningArchive.start({ label: 'blobcomeback', env: { VNA_BLOB_CONNECTION_STRING: azuriteConnectionString(relay.port) }, waitFor: 'live' });
    archives.push(archive);
    const db = await connectDb(archive);
    try {
      const r = await dcmtk('storescu', ['-aec', 'VNA', '127.0.0.1', String(archive.dicomPort), ...objects.map((o) => o.path)]);
      expect({ code: r.code, stderr: r.stderr, refused: refusals(archive) }).toEqual({ code: 0, stderr: '', refused: [] });
      await waitFor(
        'a failed upload attempt',
        async () => {
          const { rows } = await db.query<{ n: string }>(`SELECT count(*) AS n FROM outbox WHERE topic = 'blob.upload' AND attempts > 0`);
          return Number(rows[0]!.n) > 0 ? true : undefined;
        },
        20_000,
      );
        await relay.open();
      await expectAllUploaded(archive, db, objects.map((o) => o.sopInstanceUid), 90_000);
      expect(spoolFiles(archive.dataDir)).toEqual([]);
      for (const object of objects) expect(await retrievedDataset(archive, object)).toBe(object.dataset);
    } finally {
      await relay.close(); // the archive stops in afterAll
    }
  });
});
