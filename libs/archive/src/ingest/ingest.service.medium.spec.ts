import { createHash } from 'node:crypto';
import { existsSync, readFileSync, truncateSync, unlinkSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Tag } from '#vna/dicom';
import { nodeQueue } from '#vna/jobs';
import { type ArchiveHarness, eventually, imageDataset, type MediumEnv, mediumEnv, startArchive, storeDataset, uid } from '../../../../test/support/medium.js';
import { BLOB_UPLOAD_TOPIC } from './ingest.service.js';
import { IngestError } from './ingest.errors.js';

let env: MediumEnv;
let archive: ArchiveHarness;

beforeAll(async () => {
  env = await mediumEnv('ingest');
  archive = await startArchive(env);
});

afterAll(async () => {
  await archive?.close();
  await env?.cleanup();
});

async function sql<T = Record<string, unknown>>(text: string, params: unknown[] = []): Promise<T[]> {
  return (await archive.db.query(text, params)) as T[];
}

/** A new patient, study and series, and an object in them. */
function newObject(patientId = `P-${uid().slice(-8)}`) {
  const spec = { sopInstanceUid: uid(), studyUid: uid(), seriesUid: uid(), extra: [{ tag: Tag.PatientID, vr: 'LO', value: patientId }] };
  return { spec, patientId, bytes: imageDataset(spec) };
}

/** What the index holds of one object's identities. */
async function footprint(o: ReturnType<typeof newObject>) {
  const [row] = await sql<{ patients: string; studies: string; series: string; instances: string; outbox: string }>(
    `SELECT (SELECT count(*) FROM patient WHERE patient_id = $1) AS patients,
            (SELECT count(*) FROM study WHERE study_uid = $2) AS studies,
            (SELECT count(*) FROM series WHERE series_uid = $3) AS series,
            (SELECT count(*) FROM instance WHERE sop_instance_uid = $4) AS instances,
            (SELECT count(*) FROM outbox WHERE payload->>'instanceId' IN (SELECT id::text FROM instance WHERE sop_instance_uid = $4)) AS outbox`,
    [o.patientId, o.spec.studyUid, o.spec.seriesUid, o.spec.sopInstanceUid],
  );
  return { patients: Number(row!.patients), studies: Number(row!.studies), series: Number(row!.series), instances: Number(row!.instances), outbox: Number(row!.outbox) };
}

async function totalOutbox(): Promise<number> {
  const [row] = await sql<{ n: string }>(`SELECT count(*) AS n FROM outbox`);
  return Number(row!.n);
}

describe('IngestService.commit against PostgreSQL', () => {
  it('writes patient, study, series, instance and one outbox message in one transaction', async () => {
    const o = newObject();
    const result = await storeDataset(archive.ingest, o.bytes, { sopInstanceUid: o.spec.sopInstanceUid });
    expect(result).toMatchObject({ outcome: 'stored', sopInstanceUid: o.spec.sopInstanceUid, studyUid: o.spec.studyUid, seriesUid: o.spec.seriesUid });
    expect(await footprint(o)).toEqual({ patients: 1, studies: 1, series: 1, instances: 1, outbox: 1 });

    // Every row was written by the same transaction: one xmin.
    const xmins = await sql<{ t: string; xmin: string }>(
      `SELECT 'patient' AS t, xmin::text FROM patient WHERE patient_id = $1
       UNION ALL SELECT 'study', xmin::text FROM study WHERE study_uid = $2
       UNION ALL SELECT 'series', xmin::text FROM series WHERE series_uid = $3
       UNION ALL SELECT 'instance', xmin::text FROM instance WHERE id = $4
       UNION ALL SELECT 'outbox', xmin::text FROM outbox WHERE payload->>'instanceId' = $4::text`,
      [o.patientId, o.spec.studyUid, o.spec.seriesUid, result.instanceId],
    );
    expect(xmins.map((r) => r.t).sort()).toEqual(['instance', 'outbox', 'patient', 'series', 'study']);
    expect(new Set(xmins.map((r) => r.xmin)).size).toBe(1);

    const [outbox] = await sql<{ topic: string; queue: string; payload: Record<string, unknown>; done_at: Date | null }>(
      `SELECT topic, queue, payload, done_at FROM outbox WHERE payload->>'instanceId' = $1`,
      [result.instanceId],
    );
    expect(outbox).toEqual({ topic: BLOB_UPLOAD_TOPIC, queue: nodeQueue(env.config.nodeId), payload: { instanceId: result.instanceId }, done_at: null });

    const [instance] = await sql<{ version: number; is_current: boolean; storage_state: string; spool_path: string; spool_node: string; size_bytes: string; sha256: Buffer; source_kind: string; source_aet: string }>(
      `SELECT version, is_current, storage_state, spool_path, spool_node, size_bytes, sha256, source_kind, source_aet FROM instance WHERE id = $1`,
      [result.instanceId],
    );
    expect(instance).toMatchObject({ version: 1, is_current: true, storage_state: 'spooled', spool_path: result.spoolPath, spool_node: env.config.nodeId, source_kind: 'dimse', source_aet: 'MEDIUM' });
    // The spool file is the object, and the row's hash and size are the file's.
    const file = readFileSync(result.spoolPath);
    expect(Number(instance!.size_bytes)).toBe(file.length);
    expect(Buffer.from(instance!.sha256).equals(createHash('sha256').update(file).digest())).toBe(true);
    expect(file.subarray(file.length - o.bytes.length).equals(o.bytes)).toBe(true);
  });

  it('stores a re-sent identical object once and removes the re-sent spool file', async () => {
    const o = newObject();
    const first = await storeDataset(archive.ingest, o.bytes, { sopInstanceUid: o.spec.sopInstanceUid });
    const outboxBefore = await totalOutbox();
    const again = await storeDataset(archive.ingest, o.bytes, { sopInstanceUid: o.spec.sopInstanceUid });
    expect(again.outcome).toBe('duplicate');
    expect(again.instanceId).toBe(first.instanceId);
    expect(await footprint(o)).toEqual({ patients: 1, studies: 1, series: 1, instances: 1, outbox: 1 });
    expect(await totalOutbox()).toBe(outboxBefore);
    expect(again.spoolPath).not.toBe(first.spoolPath);
    expect(existsSync(again.spoolPath)).toBe(false);
    expect(existsSync(first.spoolPath)).toBe(true);
  });

  it('keeps different content under the same UID as a new version, the old one kept, the event recorded', async () => {
    const o = newObject();
    const first = await storeDataset(archive.ingest, o.bytes, { sopInstanceUid: o.spec.sopInstanceUid });
    const changed = imageDataset({ ...o.spec, pixels: Buffer.alloc(64, 0x77) });
    const second = await storeDataset(archive.ingest, changed, { sopInstanceUid: o.spec.sopInstanceUid }, { kind: 'stow', aet: 'writer-key' });
    expect(second.outcome).toBe('new-version');
    expect(second.instanceId).not.toBe(first.instanceId);

    const rows = await sql<{ id: string; version: number; is_current: boolean; spool_path: string }>(
      `SELECT id::text, version, is_current, spool_path FROM instance WHERE sop_instance_uid = $1 ORDER BY version`,
      [o.spec.sopInstanceUid],
    );
    expect(rows).toEqual([
      { id: first.instanceId, version: 1, is_current: false, spool_path: first.spoolPath },
      { id: second.instanceId, version: 2, is_current: true, spool_path: second.spoolPath },
    ]);
    expect(existsSync(first.spoolPath)).toBe(true);
    expect(existsSync(second.spoolPath)).toBe(true);

    const events = await sql<{ kind: string; actor: string; study_uid: string; detail: Record<string, unknown> }>(
      `SELECT kind, actor, study_uid, detail FROM archive_event WHERE sop_instance_uid = $1`,
      [o.spec.sopInstanceUid],
    );
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ kind: 'instance.new-version', actor: 'writer-key', study_uid: o.spec.studyUid });
    expect(events[0]!.detail).toMatchObject({ version: 2, previousInstanceId: first.instanceId });
    // Both versions are uploaded: one outbox message each.
    expect((await footprint(o)).outbox).toBe(2);

    // The first content sent again is not a duplicate of the current version: a third version.
    const third = await storeDataset(archive.ingest, o.bytes, { sopInstanceUid: o.spec.sopInstanceUid });
    expect(third.outcome).toBe('new-version');
    const current = await sql<{ version: number }>(`SELECT version FROM instance WHERE sop_instance_uid = $1 AND is_current`, [o.spec.sopInstanceUid]);
    expect(current).toEqual([{ version: 3 }]);
  });

  it('ends concurrent commits of the same new object with one row; the others are duplicates', async () => {
    const o = newObject();
    const results = await Promise.all(Array.from({ length: 5 }, () => storeDataset(archive.ingest, o.bytes, { sopInstanceUid: o.spec.sopInstanceUid })));
    expect(results.map((r) => r.outcome).sort()).toEqual(['duplicate', 'duplicate', 'duplicate', 'duplicate', 'stored']);
    expect(new Set(results.map((r) => r.instanceId)).size).toBe(1);
    expect(await footprint(o)).toEqual({ patients: 1, studies: 1, series: 1, instances: 1, outbox: 1 });
    expect(results.filter((r) => existsSync(r.spoolPath))).toHaveLength(1);
  });

  it('ends concurrent commits of different content under one new UID with exactly one current row', async () => {
    const o = newObject();
    const variants = [0x11, 0x22, 0x33].map((fill) => imageDataset({ ...o.spec, pixels: Buffer.alloc(64, fill) }));
    const results = await Promise.all(variants.map((bytes) => storeDataset(archive.ingest, bytes, { sopInstanceUid: o.spec.sopInstanceUid })));
    expect(results.map((r) => r.outcome).sort()).toEqual(['new-version', 'new-version', 'stored']);
    const rows = await sql<{ version: number; is_current: boolean }>(`SELECT version, is_current FROM instance WHERE sop_instance_uid = $1 ORDER BY version`, [o.spec.sopInstanceUid]);
    expect(rows.map((r) => r.version)).toEqual([1, 2, 3]);
    expect(rows.filter((r) => r.is_current)).toEqual([{ version: 3, is_current: true }]);
  });

  it('stores every one of many concurrent versions of one UID (no failure from losing a race)', async () => {
    // Ten associations sending ten different versions of one object at once: each must be kept
    // (and acknowledged); contention is not a reason to answer "index unavailable".
    const o = newObject();
    const variants = [0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa].map((fill) => imageDataset({ ...o.spec, pixels: Buffer.alloc(64, fill) }));
    const settled = await Promise.allSettled(variants.map((bytes) => storeDataset(archive.ingest, bytes, { sopInstanceUid: o.spec.sopInstanceUid })));
    expect(settled.filter((s) => s.status === 'rejected').map((s) => String((s as PromiseRejectedResult).reason))).toEqual([]);
    const rows = await sql<{ version: number; is_current: boolean }>(`SELECT version, is_current FROM instance WHERE sop_instance_uid = $1 ORDER BY version`, [o.spec.sopInstanceUid]);
    expect(rows.map((r) => r.version)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(rows.filter((r) => r.is_current)).toEqual([{ version: 10, is_current: true }]);
  });

  describe('a transaction that fails leaves nothing behind', () => {
    async function failing(setup: string, teardown: string): Promise<{ error: unknown; spoolPath: string; o: ReturnType<typeof newObject> }> {
      const o = newObject();
      const writer = archive.ingest.createWriter({ kind: 'dataset', transferSyntaxUid: '1.2.840.10008.1.2.1', sopClassUid: '1.2.840.10008.5.1.4.1.1.2', sopInstanceUid: o.spec.sopInstanceUid });
      writer.end(o.bytes);
      const spooled = await writer.result;
      expect(existsSync(spooled.path)).toBe(true);
      await archive.db.query(setup);
      let error: unknown;
      try {
        await archive.ingest.commit(writer, { kind: 'dimse', aet: 'MEDIUM' });
      } catch (e) {
        error = e;
      } finally {
        await archive.db.query(teardown);
      }
      return { error, spoolPath: spooled.path, o };
    }

    it('a constraint refusing the last statement (the outbox message)', async () => {
      const { error, spoolPath, o } = await failing(
        `ALTER TABLE outbox ADD CONSTRAINT medium_refuse_uploads CHECK (topic <> '${BLOB_UPLOAD_TOPIC}') NOT VALID`,
        `ALTER TABLE outbox DROP CONSTRAINT medium_refuse_uploads`,
      );
      expect(error).toBeInstanceOf(IngestError);
      expect((error as IngestError).code).toBe('OUT_OF_RESOURCES');
      expect((error as IngestError).sopInstanceUid).toBe(o.spec.sopInstanceUid);
      expect(await footprint(o)).toEqual({ patients: 0, studies: 0, series: 0, instances: 0, outbox: 0 });
      expect(existsSync(spoolPath)).toBe(false);
    });

    it('the database connection dropped in the middle of the transaction', async () => {
      const { error, spoolPath, o } = await failing(
        `CREATE FUNCTION medium_die() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN PERFORM pg_terminate_backend(pg_backend_pid()); RETURN NEW; END $$;
         CREATE TRIGGER medium_die BEFORE INSERT ON instance FOR EACH ROW EXECUTE FUNCTION medium_die()`,
        `DROP TRIGGER medium_die ON instance; DROP FUNCTION medium_die()`,
      );
      expect(error).toBeInstanceOf(IngestError);
      expect((error as IngestError).code).toBe('OUT_OF_RESOURCES');
      expect(await footprint(o)).toEqual({ patients: 0, studies: 0, series: 0, instances: 0, outbox: 0 });
      expect(existsSync(spoolPath)).toBe(false);
      // The pool recovers: the next object is stored.
      const next = newObject();
      expect((await storeDataset(archive.ingest, next.bytes, { sopInstanceUid: next.spec.sopInstanceUid })).outcome).toBe('stored');
    });
  });

  describe('refusals write nothing and remove the spool file', () => {
    it('an object without SOP Instance UID', async () => {
      const o = newObject();
      const bytes = imageDataset({ ...o.spec, extra: [...o.spec.extra, { tag: Tag.SOPInstanceUID, vr: 'UI', value: '' }] });
      const writer = archive.ingest.createWriter({ kind: 'dataset', transferSyntaxUid: '1.2.840.10008.1.2.1', sopClassUid: '1.2.840.10008.5.1.4.1.1.2', sopInstanceUid: o.spec.sopInstanceUid });
      writer.end(bytes);
      const spooled = await writer.result;
      await expect(archive.ingest.commit(writer, { kind: 'dimse' })).rejects.toMatchObject({ code: 'MISSING_ATTRIBUTE' });
      expect(existsSync(spooled.path)).toBe(false);
      expect(await footprint(o)).toEqual({ patients: 0, studies: 0, series: 0, instances: 0, outbox: 0 });
    });

    it('an instance of another study than the STOW-RS path names', async () => {
      const o = newObject();
      const writer = archive.ingest.createWriter({ kind: 'dataset', transferSyntaxUid: '1.2.840.10008.1.2.1', sopClassUid: '1.2.840.10008.5.1.4.1.1.2', sopInstanceUid: o.spec.sopInstanceUid });
      writer.end(o.bytes);
      const spooled = await writer.result;
      await expect(archive.ingest.commit(writer, { kind: 'stow' }, { studyUid: uid() })).rejects.toMatchObject({ code: 'STUDY_MISMATCH' });
      expect(existsSync(spooled.path)).toBe(false);
      expect(await footprint(o)).toEqual({ patients: 0, studies: 0, series: 0, instances: 0, outbox: 0 });
    });

    it('a truncated object', async () => {
      const o = newObject();
      const writer = archive.ingest.createWriter({ kind: 'dataset', transferSyntaxUid: '1.2.840.10008.1.2.1', sopClassUid: '1.2.840.10008.5.1.4.1.1.2', sopInstanceUid: o.spec.sopInstanceUid });
      writer.end(o.bytes.subarray(0, o.bytes.length - 10));
      await expect(archive.ingest.commit(writer, { kind: 'dimse' })).rejects.toMatchObject({ code: 'MALFORMED' });
      expect(await footprint(o)).toEqual({ patients: 0, studies: 0, series: 0, instances: 0, outbox: 0 });
    });
  });

  describe('a new instance in a known series commits while its file is made durable', () => {
    /** Holds the spool's directory fsync (part of every object's durability) until released; `fail` makes it fail. */
    function holdFsync() {
      const spool = archive.ingest.spool as unknown as { fsyncDirectory: (path: string) => Promise<void> };
      const original = spool.fsyncDirectory;
      let release!: (error?: Error) => void;
      const gate = new Promise<void>((resolve, reject) => (release = (error) => (error ? reject(error) : resolve())));
      spool.fsyncDirectory = async (path) => {
        await gate;
        return original.call(spool, path);
      };
      return {
        release,
        restore: () => {
          spool.fsyncDirectory = original;
        },
      };
    }

    /** A second object of `first`'s series (the series is known: the fast path takes it). */
    function sameSeries(first: ReturnType<typeof newObject>) {
      const spec = { ...first.spec, sopInstanceUid: uid() };
      return { spec, patientId: first.patientId, bytes: imageDataset(spec) };
    }

    async function rowOf(sopInstanceUid: string) {
      const [row] = await sql<{ id: string; spool_boot: string | null }>(`SELECT id, spool_boot FROM instance WHERE sop_instance_uid = $1`, [sopInstanceUid]);
      return row;
    }

    it('is indexed before the fsync completes, and acknowledged only after it', async () => {
      const first = newObject();
      await storeDataset(archive.ingest, first.bytes, { sopInstanceUid: first.spec.sopInstanceUid });
      const o = sameSeries(first);
      const held = holdFsync();
      let acknowledged = false;
      try {
        const writer = archive.ingest.createWriter({ kind: 'dataset', transferSyntaxUid: '1.2.840.10008.1.2.1', sopClassUid: '1.2.840.10008.5.1.4.1.1.2', sopInstanceUid: o.spec.sopInstanceUid });
        writer.end(o.bytes);
        const stored = archive.ingest.commit(writer, { kind: 'dimse', aet: 'MEDIUM' }).then((r) => {
          acknowledged = true;
          return r;
        });
        const row = await eventually(() => rowOf(o.spec.sopInstanceUid), 10_000, 'the committed row');
        expect(row.spool_boot).toBe(archive.ingest.spool.boot);
        await new Promise((r) => setTimeout(r, 100));
        expect(acknowledged).toBe(false);
        held.release();
        expect((await stored).outcome).toBe('stored');
        expect(acknowledged).toBe(true);
      } finally {
        held.release();
        held.restore();
      }
    });

    it('is withdrawn when its file cannot be made durable, and the store fails', async () => {
      const first = newObject();
      await storeDataset(archive.ingest, first.bytes, { sopInstanceUid: first.spec.sopInstanceUid });
      const o = sameSeries(first);
      const held = holdFsync();
      try {
        const writer = archive.ingest.createWriter({ kind: 'dataset', transferSyntaxUid: '1.2.840.10008.1.2.1', sopClassUid: '1.2.840.10008.5.1.4.1.1.2', sopInstanceUid: o.spec.sopInstanceUid });
        writer.end(o.bytes);
        const committed = archive.ingest.commit(writer, { kind: 'dimse', aet: 'MEDIUM' });
        committed.catch(() => undefined);
        const spoolPath = (await writer.received).path;
        await eventually(() => rowOf(o.spec.sopInstanceUid), 10_000, 'the committed row');
        held.release(Object.assign(new Error('EIO: i/o error, fsync'), { code: 'EIO' }));
        await expect(committed).rejects.toMatchObject({ code: 'OUT_OF_RESOURCES', sopInstanceUid: o.spec.sopInstanceUid });
        expect(await rowOf(o.spec.sopInstanceUid)).toBeUndefined();
        expect(existsSync(spoolPath)).toBe(false);
      } finally {
        held.restore();
      }
    });
  });

  describe('start-up check of files spooled during an earlier machine boot', () => {
    it('keeps the rows whose files are whole, removes those whose files were lost, and records the losses', async () => {
      const first = newObject();
      const objects = [first, ...[1, 2, 3].map(() => ({ ...first, spec: { ...first.spec, sopInstanceUid: uid() } }))].map((o) => ({ ...o, bytes: imageDataset(o.spec) }));
      const stored: Awaited<ReturnType<typeof storeDataset>>[] = [];
      for (const o of objects) stored.push(await storeDataset(archive.ingest, o.bytes, { sopInstanceUid: o.spec.sopInstanceUid }));
      const [whole, truncated, missing, current] = stored as [(typeof stored)[0], (typeof stored)[0], (typeof stored)[0], (typeof stored)[0]];
      await sql(`UPDATE instance SET spool_boot = 'an-earlier-boot' WHERE id = ANY($1::bigint[])`, [[whole.instanceId, truncated.instanceId, missing.instanceId]]);
      const size = readFileSync(whole.spoolPath).length;
      truncateSync(truncated.spoolPath, size - 100);
      unlinkSync(missing.spoolPath);

      expect(await archive.ingest.checkEarlierBoots()).toEqual({ kept: 1, lost: 2 });

      const rows = await sql<{ sop_instance_uid: string; spool_boot: string }>(
        `SELECT sop_instance_uid, spool_boot FROM instance WHERE series_fk = (SELECT id FROM series WHERE series_uid = $1) ORDER BY id`,
        [first.spec.seriesUid],
      );
      expect(rows).toEqual([
        { sop_instance_uid: whole.sopInstanceUid, spool_boot: archive.ingest.spool.boot },
        { sop_instance_uid: current.sopInstanceUid, spool_boot: archive.ingest.spool.boot },
      ]);
      expect(readFileSync(whole.spoolPath).length).toBe(size);
      const events = await sql<{ sop_instance_uid: string; detail: { instanceId: string } }>(
        `SELECT sop_instance_uid, detail FROM archive_event WHERE kind = 'instance.spool-lost' AND study_uid = $1 ORDER BY id`,
        [first.spec.studyUid],
      );
      expect(events.map((e) => [e.sop_instance_uid, e.detail.instanceId])).toEqual([
        [truncated.sopInstanceUid, truncated.instanceId],
        [missing.sopInstanceUid, missing.instanceId],
      ]);
      // Checked once: a second start in the same boot finds nothing to check.
      expect(await archive.ingest.checkEarlierBoots()).toEqual({ kept: 0, lost: 0 });
    });

    it('is done by one process at a time: processes starting together check each file once', async () => {
      const first = newObject();
      await storeDataset(archive.ingest, first.bytes, { sopInstanceUid: first.spec.sopInstanceUid });
      await sql(`UPDATE instance SET spool_boot = 'an-earlier-boot' WHERE sop_instance_uid = $1`, [first.spec.sopInstanceUid]);
      const results = await Promise.all([archive.ingest.checkEarlierBoots(), archive.ingest.checkEarlierBoots(), archive.ingest.checkEarlierBoots()]);
      expect(results.reduce((n, r) => n + r.kept, 0)).toBe(1);
      expect(results.every((r) => r.lost === 0)).toBe(true);
    });
  });
});
