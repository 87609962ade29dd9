import { Inject, Injectable, Logger, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { DataSource } from 'typeorm';
import { blobKeyForSha256, BlobStore } from '#vna/blob';
import { VNA_CONFIG, type VnaConfig } from '#vna/config';
import { JobHandlerRegistry, nodeQueue, QueueService } from '#vna/jobs';
import { MetricsService } from '#vna/observability';
import { ForegroundActivity } from '../foreground-activity.js';
import { BLOB_UPLOAD_TOPIC } from '../ingest/ingest.service.js';
import { hashFile, Spool } from '../ingest/spool.js';

/** Ingest counts as busy until it has been quiet this long. */
const QUIET_MS = 1500;
/** Past this many objects waiting in the spool, uploads run even while ingest is busy. */
const DEFER_MAX = 20_000;

interface SpooledRow {
  id: string;
  storage_state: string;
  spool_node: string | null;
  spool_path: string | null;
  size_bytes: string;
  sha256: Buffer;
}

/**
 * Moves acknowledged objects from this node's spool to the blob store (after the acknowledgement,
 * through the outbox). Idempotent: a repeated job finds the object stored and does nothing.
 */
@Injectable()
export class UploadService implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger('Upload');
  private readonly spool: Spool;
  private janitor?: NodeJS.Timeout;
  private governor?: NodeJS.Timeout;
  private deferring = false;
  private backlog = 0;
  private backlogCheckedAt = 0;
  /** Whether the container is known to exist; an archive started during a blob-store outage makes it on first upload. */
  private containerReady?: Promise<void>;

  constructor(
    @Inject(VNA_CONFIG) private readonly config: VnaConfig,
    @InjectDataSource() private readonly db: DataSource,
    private readonly blob: BlobStore,
    private readonly registry: JobHandlerRegistry,
    private readonly metrics: MetricsService,
    private readonly queues: QueueService,
    private readonly activity: ForegroundActivity,
  ) {
    this.spool = new Spool(config.spoolDir, Number.MAX_SAFE_INTEGER);
    this.registry.register(BLOB_UPLOAD_TOPIC, (payload) => this.upload(String(payload['instanceId'])));
  }

  async onApplicationBootstrap(): Promise<void> {
    await this.ensureContainer().catch((e: Error) => this.logger.warn(`blob store not ready (uploads will retry): ${e.message}`));
    this.janitor = setInterval(() => void this.housekeeping(), 60_000);
    void this.housekeeping();
    this.governor = setInterval(() => void this.govern(), 250);
    this.governor.unref();
  }

  /**
   * Uploads give way to foreground work: while objects are arriving or being retrieved, this node's
   * upload consumer pauses, so that receiving (which the sender waits for) and sending (which a
   * viewer or a C-MOVE destination waits for) have the CPU, and resumes once the archive has been
   * quiet for a moment. The spool absorbs the difference; when its backlog passes DEFER_MAX the
   * uploads run regardless, so a long migration cannot fill the disk. Nothing acknowledged depends
   * on this: it is durable in the spool and indexed before the acknowledgement.
   */
  private async govern(): Promise<void> {
    const worker = this.queues.worker(nodeQueue(this.config.nodeId));
    if (!worker) return;
    const busy = this.activity.idleMs() < QUIET_MS;
    if (busy && Date.now() - this.backlogCheckedAt > 5000) {
      this.backlogCheckedAt = Date.now();
      const [count] = (await this.db.query(`SELECT count(*) AS n FROM instance WHERE storage_state = 'spooled' AND spool_node = $1`, [this.config.nodeId]).catch(
        () => [{ n: String(this.backlog) }],
      )) as { n: string }[];
      this.backlog = Number(count?.n ?? 0);
      this.metrics.spoolDepth.set(this.backlog);
    }
    const defer = busy && this.backlog < DEFER_MAX;
    if (defer && !this.deferring) {
      this.deferring = true;
      await worker.pause(true).catch(() => undefined);
    } else if (!defer && this.deferring) {
      this.deferring = false;
      worker.resume();
    }
  }

  private ensureContainer(): Promise<void> {
    this.containerReady ??= this.blob.init().catch((e: unknown) => {
      this.containerReady = undefined;
      throw e;
    });
    return this.containerReady;
  }

  onApplicationShutdown(): void {
    if (this.janitor) clearInterval(this.janitor);
    if (this.governor) clearInterval(this.governor);
  }

  async upload(instanceId: string): Promise<void> {
    const [row] = (await this.db.query(
      `SELECT id, storage_state, spool_node, spool_path, size_bytes, sha256 FROM instance WHERE id = $1`,
      [instanceId],
    )) as SpooledRow[];
    if (!row || row.storage_state === 'stored' || !row.spool_path) return;
    if (row.spool_node !== this.config.nodeId) throw new Error(`instance ${instanceId} is spooled on node ${row.spool_node}, not here`);
    const size = Number(row.size_bytes);
    // Hashed here rather than while receiving: MD5 is the slower of the two, and uploads run when
    // ingest is quiet. The spool copy is checked on the way: a spool file changed on disk since it
    // was received must never become the archived original; the store then checks the MD5.
    const { sha256, md5 } = await hashFile(row.spool_path, ['sha256', 'md5']);
    if (!sha256.equals(Buffer.from(row.sha256))) throw new Error(`spool file of instance ${instanceId} does not match its SHA-256`);
    const key = blobKeyForSha256(sha256);
    await this.ensureContainer();
    const result = await this.blob.upload(key, row.spool_path, size, md5);
    await this.db.query(
      `UPDATE instance SET storage_state = 'stored', blob_key = $2, md5 = $3, stored_at = now(), spool_path = NULL WHERE id = $1`,
      [instanceId, key, md5],
    );
    // Readers that still have the path open keep reading it; new readers go to the blob.
    await this.spool.remove(row.spool_path);
    this.metrics.uploads.inc({ result });
  }

  /**
   * Spool files no index row points to are leftovers of a crash between the fsync and the commit
   * (never acknowledged): they are removed after an hour. Also refreshes the spool depth gauge.
   */
  private async housekeeping(): Promise<void> {
    try {
      const [count] = (await this.db.query(
        `SELECT count(*) AS n FROM instance WHERE storage_state = 'spooled' AND spool_node = $1`,
        [this.config.nodeId],
      )) as { n: string }[];
      this.metrics.spoolDepth.set(Number(count?.n ?? 0));
      for await (const path of this.spool.listFiles(3600_000)) {
        const [ref] = (await this.db.query(`SELECT 1 FROM instance WHERE spool_path = $1 LIMIT 1`, [path])) as unknown[];
        if (!ref) {
          await this.spool.remove(path);
          this.logger.log(`removed an orphaned spool file (never acknowledged): ${path}`);
        }
      }
    } catch (e) {
      this.logger.warn(`spool housekeeping: ${(e as Error).message}`);
    }
  }
}
