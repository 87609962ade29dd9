import { open } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { Inject, Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { DataSource } from 'typeorm';
import { BlobStore, BlobStoreError } from '#vna/blob';
import { VNA_CONFIG, type VnaConfig } from '#vna/config';
import { ForegroundActivity } from '../foreground-activity.js';
import { RetrieveHookRegistry } from './retrieve-hooks.js';
import { INSTANCE_ROW_COLUMNS, INSTANCE_ROW_FROM, type InstanceRow, toInstanceRow } from './instance-row.js';

/** The object is acknowledged but cannot be read right now (still in another node's spool, or the store is down). */
export class ObjectUnavailableError extends Error {
  constructor(
    message: string,
    readonly retryAfterSeconds: number,
    /** Why, as a stable code: 'archived' (the blob is being rehydrated from the Archive tier), 'in-flight', 'store-down'. */
    readonly reason: 'archived' | 'in-flight' | 'store-down' = 'store-down',
  ) {
    super(message);
    this.name = 'ObjectUnavailableError';
  }
}

const REMOTE_SPOOL_WAIT_MS = 5000;

/**
 * Reads stored objects from wherever they are: this node's spool (not yet uploaded) or the blob
 * store. An acknowledged object is readable at once on the node that received it; another node
 * waits briefly for the upload (see README: separate gateway and api processes).
 */
@Injectable()
export class ObjectReaderService {
  constructor(
    @Inject(VNA_CONFIG) private readonly config: VnaConfig,
    @InjectDataSource() private readonly db: DataSource,
    private readonly blob: BlobStore,
    private readonly hooks: RetrieveHookRegistry,
    private readonly activity: ForegroundActivity,
  ) {}

  /**
   * The whole stored file, or a byte range of it (`end` inclusive). Someone waits for these bytes:
   * uploads give way from the open until a moment after the stream closes (ForegroundActivity).
   */
  async open(instance: InstanceRow, range?: { start: number; end: number }): Promise<Readable> {
    this.activity.touch();
    const stream = await this.locate(instance, range);
    stream.once('close', () => this.activity.touch());
    return stream;
  }

  private async locate(instance: InstanceRow, range?: { start: number; end: number }): Promise<Readable> {
    let row = instance;
    const deadline = Date.now() + REMOTE_SPOOL_WAIT_MS;
    for (;;) {
      if (row.spoolPath && (row.spoolNode === this.config.nodeId || row.storageState === 'spooled')) {
        const stream = await this.openLocal(row.spoolPath, range);
        if (stream) return stream;
        // Gone from the spool: the upload finished after this row was read. Read the row again at once.
        if (!row.blobKey) {
          const fresh = await this.reload(row.id);
          if (fresh?.blobKey) row = fresh;
        }
      }
      if (row.blobKey) {
        try {
          return await this.blob.read(row.blobKey, range);
        } catch (e) {
          if (e instanceof BlobStoreError && e.code === 'UNAVAILABLE') throw new ObjectUnavailableError('the blob store is unavailable', 30);
          if (e instanceof BlobStoreError && e.code === 'ARCHIVED') {
            // 409 BlobArchived: the index may not know yet (a tier set outside the archive); the hook starts rehydration.
            const outcome = await this.hooks.archived([row]);
            throw new ObjectUnavailableError(outcome.message, outcome.retryAfterSeconds, 'archived');
          }
          throw e;
        }
      }
      // Spooled on another node (or the upload just moved it): wait for the upload to land.
      if (Date.now() > deadline) throw new ObjectUnavailableError('the object is still being archived; try again shortly', 5, 'in-flight');
      await sleep(200);
      row = (await this.reload(row.id)) ?? row;
    }
  }

  /** Opens a spool file; undefined when it is gone (uploaded meanwhile) or on another node's disk. */
  private async openLocal(path: string, range?: { start: number; end: number }): Promise<Readable | undefined> {
    try {
      const handle = await open(path, 'r');
      // The descriptor keeps the bytes readable even if the upload removes the file now.
      return handle.createReadStream({ start: range?.start, end: range?.end, highWaterMark: 256 * 1024 });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw e;
    }
  }

  private async reload(id: string): Promise<InstanceRow | undefined> {
    const rows = (await this.db.query(
      `SELECT ${INSTANCE_ROW_COLUMNS} FROM ${INSTANCE_ROW_FROM} WHERE i.id = $1`,
      [id],
    )) as Record<string, unknown>[];
    return rows[0] ? toInstanceRow(rows[0]) : undefined;
  }
}
