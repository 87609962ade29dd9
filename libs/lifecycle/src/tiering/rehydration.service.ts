import { Inject, Injectable, Logger } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { DataSource } from 'typeorm';
import type { ArchivedOutcome, InstanceRow } from '#vna/archive';
import { type AccessTier, BlobStore, isArchived } from '#vna/blob';
import { VNA_CONFIG, type VnaConfig } from '#vna/config';
import { autocommit } from '#vna/persistence';
import { mapLimited } from '../concurrency.js';
import { LifecycleClock } from '../lifecycle-clock.js';
import { LifecycleMetrics } from '../lifecycle-metrics.js';
import { RehydrationRepository } from './rehydration.repository.js';

/**
 * Rehydration from the Archive tier (Azure: Set Blob Tier with a rehydrate priority; hours). It is
 * tracked from the blob's own archive status (rehydrate-pending-to-hot ...), polled until the blob
 * is readable, so it works the same on Azure and on Azurite (which rehydrates at once). A
 * rehydrated object stays Hot for VNA_LIFECYCLE_REHYDRATED_HOT_DAYS, then its policy tier applies.
 */
@Injectable()
export class RehydrationService {
  private readonly logger = new Logger('Rehydration');

  constructor(
    @InjectDataSource() private readonly db: DataSource,
    @Inject(VNA_CONFIG) private readonly config: VnaConfig,
    private readonly repo: RehydrationRepository,
    private readonly blob: BlobStore,
    private readonly clock: LifecycleClock,
    private readonly metrics: LifecycleMetrics,
  ) {}

  /**
   * The retrieve hook: rehydration of these objects (and the rest of their studies in Archive)
   * starts; the caller is told why and when to retry. Objects whose rehydration an earlier request
   * started are looked at in the store now: when all of them are done, the retrieve goes on.
   */
  async onArchived(instances: readonly InstanceRow[]): Promise<ArchivedOutcome> {
    const sql = autocommit(this.db);
    const ids = instances.map((i) => i.id);
    const claimed = await this.repo.claim(sql, ids, this.clock.now());
    await this.start(claimed, 'retrieve');
    const started = new Set(claimed.map((c) => c.id));
    const earlier = ids.filter((id) => !started.has(id));
    if (earlier.length === ids.length) {
      await this.poll(earlier);
      if (await this.repo.readable(sql, earlier)) return { message: 'rehydrated', retryAfterSeconds: 0, readable: true };
    }
    const retryAfterSeconds = this.config.lifecycle.retryAfterSeconds;
    const n = instances.length;
    return {
      message: `${n === 1 ? 'the object is' : `${n} objects are`} in the Archive tier of the blob store and must be rehydrated before ${n === 1 ? 'it' : 'they'} can be read: rehydration (${this.config.lifecycle.rehydratePriority} priority) has been started; retry after ${retryAfterSeconds} seconds`,
      retryAfterSeconds,
    };
  }

  /** Prefetch: these objects come back from Archive. */
  async rehydrate(instanceIds: readonly string[], trigger: string): Promise<number> {
    const claimed = await this.repo.claimIds(autocommit(this.db), instanceIds, this.clock.now());
    await this.start(claimed, trigger);
    return claimed.length;
  }

  private async start(claimed: readonly { id: string; blobKey: string }[], trigger: string): Promise<void> {
    if (claimed.length === 0) return;
    const priority = this.config.lifecycle.rehydratePriority;
    const results = await mapLimited(claimed, this.config.lifecycle.moveConcurrency, (c) => this.blob.setAccessTier(c.blobKey, 'Hot', { rehydratePriority: priority }));
    const failed = claimed.filter((_, n) => results[n]!.status === 'rejected');
    if (failed.length > 0) {
      this.logger.warn(`rehydration of ${failed.length} object(s) could not be asked for (${String((results.find((r) => r.status === 'rejected') as PromiseRejectedResult).reason)}); the next retrieve asks again`);
      await this.repo.unclaim(autocommit(this.db), failed.map((f) => f.id));
    }
    const started = claimed.length - failed.length;
    this.metrics.rehydrations.inc({ trigger }, started);
    this.logger.log(`rehydration of ${started} object(s) started (${priority}, ${trigger})`);
    // A store that rehydrates at once (Azurite) makes them readable now; Azure reports a pending status.
    await this.poll(claimed.filter((_, n) => results[n]!.status === 'fulfilled').map((c) => c.id));
  }

  /**
   * Reads the archive status of rehydrating objects (all of them, a batch at a time, or these):
   * done ones are marked readable in their new tier, the others keep the status the store reports.
   */
  async poll(ids?: readonly string[]): Promise<{ done: number; pending: number }> {
    const sql = autocommit(this.db);
    const pending = await this.repo.pending(sql, ids ? ids.length : this.config.lifecycle.batchSize, ids);
    if (pending.length === 0) return { done: 0, pending: 0 };
    const results = await mapLimited(pending, this.config.lifecycle.moveConcurrency, (p) => this.blob.properties(p.blobKey));
    const done: { id: string; tier: AccessTier }[] = [];
    const still: { id: string; status: string }[] = [];
    results.forEach((r, n) => {
      const id = pending[n]!.id;
      if (r.status === 'rejected' || !r.value) return; // unreachable or gone (verification reports a missing blob)
      if (isArchived(r.value)) still.push({ id, status: r.value.archiveStatus ?? 'rehydrate-pending-to-hot' });
      else done.push({ id, tier: r.value.tier ?? 'Hot' });
    });
    const now = this.clock.now();
    await this.repo.complete(sql, done, now, new Date(now.getTime() + this.config.lifecycle.hotHoldMs));
    await this.repo.setStatus(sql, still);
    return { done: done.length, pending: still.length };
  }
}
