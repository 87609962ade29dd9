import { Inject, Injectable, Logger, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { DataSource } from 'typeorm';
import { VNA_CONFIG, type VnaConfig } from '#vna/config';
import { type DicomDataset, Tag } from '#vna/dicom';
import { nodeQueue, OutboxRepository, QueueService } from '#vna/jobs';
import { SERIES_METADATA_TOPIC } from '../retrieve/retrieve.service.js';
import { MetricsService } from '#vna/observability';
import { withTransaction } from '#vna/persistence';
import { buildIndexRecord, type IndexRecord, MissingAttributeError } from './index-record.js';
import { ForegroundActivity } from '../foreground-activity.js';
import { IngestNormalizerRegistry } from './ingest-normalizer.js';
import { IngestError } from './ingest.errors.js';
import { EarlierRowsError, type InstanceSource, InstanceIndexRepository, type StoreOutcome } from './instance-index.repository.js';
import { Spool } from './spool.js';
import { SpoolError, type SpoolInput, type SpoolWriter } from './spool-writer.js';

export const BLOB_UPLOAD_TOPIC = 'blob.upload';

export interface IngestResult {
  readonly outcome: StoreOutcome['kind'];
  readonly instanceId: string;
  readonly sopClassUid: string;
  readonly sopInstanceUid: string;
  readonly studyUid: string;
  readonly seriesUid: string;
  readonly warnings: readonly string[];
}

export interface IngestConstraints {
  /** STOW-RS to /studies/{uid}: every instance must belong to that study (PS3.18 10.5). */
  readonly studyUid?: string;
}

const UNIQUE_VIOLATION = '23505';
/** How long after a series' first new object its metadata document is built. */
const METADATA_DELAY_MS = 3000;
const FOREIGN_KEY_VIOLATION = '23503';

/**
 * Ingest, steps 1-6 of ARCHITECTURE.md: bytes to the spool (fsync, SHA-256, header), index rows
 * and the upload's outbox message in one transaction, then the caller acknowledges.
 */
@Injectable()
export class IngestService implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger('Ingest');
  readonly spool: Spool;
  /** Series whose metadata job this process scheduled, by the time that job is due. */
  private readonly metadataDue = new Map<string, number>();

  constructor(
    @Inject(VNA_CONFIG) private readonly config: VnaConfig,
    @InjectDataSource() private readonly db: DataSource,
    private readonly index: InstanceIndexRepository,
    private readonly outbox: OutboxRepository,
    private readonly metrics: MetricsService,
    private readonly activity: ForegroundActivity,
    private readonly queues: QueueService,
    private readonly normalizers: IngestNormalizerRegistry,
  ) {
    this.spool = new Spool(config.spoolDir, config.stow.maxBytes);
  }

  async onModuleInit(): Promise<void> {
    await this.spool.init();
    await this.checkEarlierBoots();
  }

  /**
   * A new instance in a known series is committed while its file's fsync still runs (and
   * acknowledged once both are done), so a machine crash in that moment can leave a row whose file
   * did not survive; a process crash cannot (the written bytes are in the page cache). Rows this
   * node spooled during an earlier boot and has not uploaded yet are checked at start, before
   * anything is received: a file of the right size and SHA-256 is kept (its row marked as of this
   * boot), a missing or different one loses its row, and the loss is recorded as an event. Such an
   * object was never acknowledged; its sender sends it again.
   */
  async checkEarlierBoots(): Promise<{ kept: number; lost: number }> {
    // A node's processes start together after a reboot: one checks, the others wait for it and
    // then find nothing left to check (each file is read once).
    const lock = this.db.createQueryRunner();
    await lock.connect();
    try {
      await lock.query(`SELECT pg_advisory_lock(7343, hashtext($1))`, [this.config.nodeId]);
      return await this.checkSpooledBefore(this.spool.boot);
    } finally {
      await lock.query(`SELECT pg_advisory_unlock(7343, hashtext($1))`, [this.config.nodeId]).catch(() => undefined);
      await lock.release();
    }
  }

  private async checkSpooledBefore(boot: string): Promise<{ kept: number; lost: number }> {
    let kept = 0;
    let lost = 0;
    for (let after = '0'; ; ) {
      const rows: { id: string; sop_instance_uid: string; study_uid: string; series_fk: string; spool_path: string; size_bytes: string; sha256: Buffer }[] = await this.db.query(
        `SELECT i.id, i.sop_instance_uid, st.study_uid, i.series_fk, i.spool_path, i.size_bytes, i.sha256
           FROM instance i JOIN series se ON se.id = i.series_fk JOIN study st ON st.id = se.study_fk
          WHERE i.storage_state = 'spooled' AND i.spool_node = $1 AND i.spool_boot IS DISTINCT FROM $2 AND i.id > $3
          ORDER BY i.id LIMIT 500`,
        [this.config.nodeId, boot, after],
      );
      if (rows.length === 0) break;
      after = rows[rows.length - 1]!.id;
      for (const row of rows) {
        if (await this.spool.holds(row.spool_path, Number(row.size_bytes), Buffer.from(row.sha256))) {
          await this.db.query(`UPDATE instance SET spool_boot = $2 WHERE id = $1`, [row.id, boot]);
          kept++;
          continue;
        }
        const removed: unknown[] = await this.db.query(
          `WITH gone AS (DELETE FROM instance WHERE id = $1 AND storage_state = 'spooled' AND spool_boot IS DISTINCT FROM $2 RETURNING id)
           INSERT INTO archive_event (kind, actor, study_uid, sop_instance_uid, detail)
           SELECT 'instance.spool-lost', 'vna', $3, $4, jsonb_build_object('instanceId', $1::text, 'spoolNode', $5::text) FROM gone
           RETURNING id`,
          [row.id, boot, row.study_uid, row.sop_instance_uid, this.config.nodeId],
        );
        if (removed.length === 0) continue;
        lost++;
        this.logger.warn(`instance ${row.sop_instance_uid}: its spool file did not survive a machine restart (never acknowledged); its row is removed`);
        this.prebuildMetadataSoon(String(row.series_fk));
      }
    }
    if (kept + lost > 0) this.logger.log(`spool files from an earlier boot checked: ${kept} kept, ${lost} lost`);
    return { kept, lost };
  }

  async onApplicationShutdown(): Promise<void> {
    await this.spool.close();
  }

  /** A writable for one object's bytes; pipe the object into it, then call `commit`. */
  createWriter(input: SpoolInput): SpoolWriter {
    this.activity.touch();
    return this.spool.createWriter(input);
  }

  /**
   * Indexes a received object; resolves only when the object is durable on disk AND the index
   * transaction has committed (acknowledged means durable). The index rows are written while the
   * disk is still making the file durable; a new instance in a known series also commits then
   * (see checkEarlierBoots), anything else only after the fsync.
   */
  async commit(writer: SpoolWriter, source: InstanceSource, constraints: IngestConstraints = {}): Promise<IngestResult> {
    let spooled;
    try {
      spooled = await writer.received;
    } catch (e) {
      const error = asIngestError(e);
      this.metrics.ingestFailures.inc({ source: source.kind, reason: error.code });
      if (error.code !== 'ABORTED') this.logger.warn(`refused an object from ${source.aet ?? source.kind}: ${error.code}: ${error.message}`);
      throw error;
    }
    this.activity.touch();
    const started = process.hrtime.bigint();
    try {
      const record = this.indexRecord(spooled.dataset, source);
      if (constraints.studyUid && record.study.studyUid !== constraints.studyUid) {
        throw new IngestError('STUDY_MISMATCH', `instance belongs to study ${record.study.studyUid}, not ${constraints.studyUid}`);
      }
      const outcome = await this.storeWithRetry(record, spooled, source, writer.result);
      if (outcome.kind === 'duplicate') await this.spool.remove(spooled.path);
      else this.prebuildMetadataSoon(outcome.seriesId);
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      this.metrics.instancesReceived.inc({ source: source.kind, outcome: outcome.kind });
      this.metrics.bytesReceived.inc({ source: source.kind }, spooled.size);
      this.metrics.ingestSeconds.observe({ source: source.kind }, seconds);
      if (outcome.kind === 'new-version') {
        this.logger.log(`new version of ${record.instance.sopInstanceUid} from ${source.aet ?? source.kind}`);
      }
      return {
        outcome: outcome.kind,
        instanceId: outcome.instanceId,
        sopClassUid: record.instance.sopClassUid,
        sopInstanceUid: record.instance.sopInstanceUid,
        studyUid: record.study.studyUid,
        seriesUid: record.series.seriesUid,
        warnings: record.warnings,
      };
    } catch (e) {
      await this.spool.remove(spooled.path).catch(() => undefined);
      const uid = spooled.dataset.ascii(Tag.SOPInstanceUID) ?? '';
      const classUid = spooled.dataset.ascii(Tag.SOPClassUID) ?? '';
      const code = e instanceof IngestError ? e.code : 'OUT_OF_RESOURCES';
      const message = e instanceof IngestError ? e.message : `index unavailable: ${(e as Error).message}`;
      const error = new IngestError(code, message, classUid, uid);
      if (!(e instanceof IngestError)) this.metrics.errors.inc({ component: 'ingest' });
      this.metrics.ingestFailures.inc({ source: source.kind, reason: error.code });
      this.logger.warn(`refused ${uid || 'an object'} from ${source.aet ?? source.kind}: ${error.code}: ${error.message}`);
      throw error;
    }
  }

  private indexRecord(dataset: DicomDataset, source: InstanceSource): IndexRecord {
    try {
      const normalize = this.normalizers.get();
      return buildIndexRecord(dataset, normalize ? (json) => normalize(json, source) : undefined);
    } catch (e) {
      if (e instanceof MissingAttributeError) throw new IngestError('MISSING_ATTRIBUTE', e.message);
      throw new IngestError('MALFORMED', (e as Error).message);
    }
  }

  /**
   * WADO-RS metadata is precomputed per series: a few seconds after a series stops changing, its
   * document is rebuilt by this node's queue (one job per series at a time). Losing it costs only
   * a slower first request, so it is not an outbox message and nothing waits for it.
   */
  private prebuildMetadataSoon(seriesId: string): void {
    // The job's id makes BullMQ ignore adds while one is pending; knowing that here saves a Redis
    // script per received object (all but the first of a series within the delay). An object
    // committed before the pending job's due time is in the document it builds.
    const now = Date.now();
    const due = this.metadataDue.get(seriesId);
    if (due !== undefined && now < due) return;
    if (this.metadataDue.size >= 10_000) this.metadataDue.clear();
    this.metadataDue.set(seriesId, now + METADATA_DELAY_MS);
    this.queues
      .schedule(nodeQueue(this.config.nodeId), SERIES_METADATA_TOPIC, { seriesId }, { jobId: `series-metadata-${seriesId}`, delayMs: METADATA_DELAY_MS })
      .catch(() => this.metadataDue.delete(seriesId));
  }

  /**
   * Waits for a committed row's file to become durable; when it cannot (an fsync failed), the row
   * is taken back before the failure is reported, so nothing unacknowledged stays indexed. Its
   * upload message then finds no row and does nothing.
   */
  private async durableOrWithdrawn(instanceId: string, durable: Promise<unknown>): Promise<void> {
    try {
      await durable;
    } catch (e) {
      await this.db.query(`DELETE FROM instance WHERE id = $1 AND storage_state = 'spooled'`, [instanceId]).catch((d: Error) => {
        this.metrics.errors.inc({ component: 'ingest' });
        this.logger.error(`instance row ${instanceId} could not be withdrawn after its spool file failed: ${d.message}`);
      });
      throw asIngestError(e);
    }
  }

  private async storeWithRetry(
    record: IndexRecord,
    spooled: Awaited<SpoolWriter['result']>,
    source: InstanceSource,
    durable: Promise<unknown>,
  ): Promise<StoreOutcome> {
    const queue = nodeQueue(this.config.nodeId);
    let fast: StoreOutcome | undefined;
    try {
      // Most objects are new and belong to a series the index has: the instance row and its upload
      // message in one statement. It commits while the file's fsync still runs: the two disk
      // flushes overlap instead of following each other. The object is acknowledged only when both
      // are done; checkEarlierBoots covers a machine crash between them.
      fast = await withTransaction(this.db, (tx) =>
        this.index.storeNewInKnownSeries(tx, record, spooled, source, this.config.nodeId, (payloads, first) =>
          this.outbox.cteFor(BLOB_UPLOAD_TOPIC, queue, payloads, first),
        ),
      );
    } catch (e) {
      // The series remembered may be gone (a foreign key violation): the full path looks it up again.
      // An object with hidden earlier rows (a rejected instance sent again) is the full path's to judge.
      if (!(e instanceof EarlierRowsError)) {
        if ((e as { code?: string }).code !== FOREIGN_KEY_VIOLATION) throw e;
        this.index.forgetSeries(record.series.seriesUid);
      }
    }
    if (fast) {
      await this.durableOrWithdrawn(fast.instanceId, durable);
      return fast;
    }
    for (let attempt = 1; ; attempt++) {
      try {
        return await withTransaction(this.db, async (tx) => {
          const outcome = await this.index.store(tx, record, spooled, source, this.config.nodeId);
          if (outcome.kind !== 'duplicate') {
            await this.outbox.add(tx, [{ topic: BLOB_UPLOAD_TOPIC, queue, payload: { instanceId: outcome.instanceId } }]);
          }
          await durable.catch((e: unknown) => {
            throw asIngestError(e);
          });
          return outcome;
        });
      } catch (e) {
        const code = (e as { code?: string }).code;
        // A series remembered by the index may have gone (a foreign key violation): look it up again.
        if (code === FOREIGN_KEY_VIOLATION && attempt < 3) {
          this.index.forgetSeries(record.series.seriesUid);
          continue;
        }
        // Two associations creating the same new SOP Instance UID at once: the loser sees the winner's row next time.
        if (code === UNIQUE_VIOLATION && attempt < 3) continue;
        throw e;
      }
    }
  }
}

/** A spool failure (the file could not be made durable) as the edge reports it. */
function asIngestError(e: unknown): IngestError {
  if (e instanceof IngestError) return e;
  if (e instanceof SpoolError) return new IngestError(e.code, e.message);
  return new IngestError('OUT_OF_RESOURCES', (e as Error).message);
}
