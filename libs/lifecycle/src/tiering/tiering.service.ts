import { Inject, Injectable, Logger } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { DataSource } from 'typeorm';
import { BlobStore } from '#vna/blob';
import { VNA_CONFIG, type VnaConfig } from '#vna/config';
import { autocommit, withTransaction } from '#vna/persistence';
import { mapLimited } from '../concurrency.js';
import { LifecycleClock } from '../lifecycle-clock.js';
import { LifecycleError } from '../lifecycle.errors.js';
import { LifecycleMetrics } from '../lifecycle-metrics.js';
import { type StoredObjectState, type TierChange, type TierPolicy, type TierPolicyInput, TierPolicyRepository } from './tier-policy.repository.js';

export interface TieringRun {
  readonly evaluated: number;
  readonly moved: number;
  readonly failed: number;
  readonly rehydrating: number;
  readonly seconds: number;
  /** Of those, the time spent moving (Set Blob Tier and the index update), for the moves' rate. */
  readonly moveSeconds: number;
}

/**
 * Tiering (Hot, Cool, Cold, Archive by policy): a run walks the stored objects in batches; each
 * batch is evaluated in one statement and its moves go to the store in parallel (Set Blob Tier),
 * then the index follows in one statement. An object leaving Archive for a warmer tier rehydrates.
 */
@Injectable()
export class TieringService {
  private readonly logger = new Logger('Tiering');

  constructor(
    @InjectDataSource() private readonly db: DataSource,
    @Inject(VNA_CONFIG) private readonly config: VnaConfig,
    private readonly policies: TierPolicyRepository,
    private readonly blob: BlobStore,
    private readonly clock: LifecycleClock,
    private readonly metrics: LifecycleMetrics,
  ) {}

  listPolicies(): Promise<TierPolicy[]> {
    return this.policies.list(autocommit(this.db));
  }

  savePolicy(policy: TierPolicyInput, by: string): Promise<TierPolicy> {
    return this.policies.upsert(autocommit(this.db), policy, by);
  }

  async deletePolicy(name: string): Promise<void> {
    if (!(await this.policies.delete(autocommit(this.db), name))) throw new LifecycleError('not-found', `no tiering policy "${name}"`);
  }

  /** A study's objects as the index knows their storage (404 for an unknown study). */
  async study(studyUid: string): Promise<StoredObjectState[]> {
    const objects = await this.policies.studyObjects(autocommit(this.db), studyUid);
    if (objects.length === 0) throw new LifecycleError('not-found', `no study ${studyUid}`);
    return objects;
  }

  /** One pass over every stored object. `dryRun`: evaluate only (the benchmark's evaluation rate). */
  async run(options: { dryRun?: boolean } = {}): Promise<TieringRun> {
    const started = performance.now();
    // No policy, nothing to decide: the index is not walked (an archive that does not tier pays nothing).
    if (!(await this.policies.list(autocommit(this.db))).some((p) => p.enabled)) return { evaluated: 0, moved: 0, failed: 0, rehydrating: 0, seconds: 0, moveSeconds: 0 };
    let cursor = '0';
    let evaluated = 0;
    let moved = 0;
    let failed = 0;
    let rehydrating = 0;
    let moving = 0;
    for (;;) {
      const now = this.clock.now();
      const batch = await this.policies.evaluate(autocommit(this.db), cursor, this.config.lifecycle.batchSize, now);
      if (batch.last === null) break;
      evaluated += batch.evaluated;
      cursor = batch.last;
      if (!options.dryRun && batch.changes.length > 0) {
        const t0 = performance.now();
        const outcome = await this.apply(batch.changes);
        moving += performance.now() - t0;
        moved += outcome.moved;
        failed += outcome.failed;
        rehydrating += outcome.rehydrating;
      }
    }
    this.metrics.evaluated.inc({ job: 'tiering' }, evaluated);
    const seconds = (performance.now() - started) / 1000;
    if (moved + failed + rehydrating > 0) this.logger.log(`tiering: ${evaluated} object(s) evaluated, ${moved} moved, ${rehydrating} rehydrating, ${failed} failed in ${seconds.toFixed(1)} s`);
    return { evaluated, moved, failed, rehydrating, seconds, moveSeconds: moving / 1000 };
  }

  /** Set Blob Tier for each change (limited concurrency: the store's rate is the limit), then the index in one statement. */
  private async apply(changes: readonly TierChange[]): Promise<{ moved: number; failed: number; rehydrating: number }> {
    const priority = this.config.lifecycle.rehydratePriority;
    const results = await mapLimited(changes, this.config.lifecycle.moveConcurrency, (c) =>
      this.blob.setAccessTier(c.blobKey, c.to, c.from === 'Archive' ? { rehydratePriority: priority } : {}),
    );
    const moved: { id: string; tier: string }[] = [];
    const rehydrating: string[] = [];
    let failed = 0;
    results.forEach((r, n) => {
      const c = changes[n]!;
      this.metrics.tierMoves.inc({ to: c.to, result: r.status === 'fulfilled' ? 'ok' : 'failed' });
      if (r.status === 'rejected') {
        failed++;
        this.logger.warn(`tier move of object ${c.id} to ${c.to} failed: ${(r.reason as Error).message}`);
      } else if (c.from === 'Archive') rehydrating.push(c.id);
      else moved.push({ id: c.id, tier: c.to });
    });
    const now = this.clock.now();
    await withTransaction(this.db, async (sql) => {
      await this.policies.setTiers(sql, moved, now);
      // Leaving Archive is a rehydration: tracked from the store's archive status until readable.
      if (rehydrating.length) await sql.query(`UPDATE instance SET archive_status = 'rehydrate-pending', rehydrate_requested_at = $2 WHERE id = ANY($1::bigint[])`, [rehydrating, now]);
    });
    return { moved: moved.length, failed, rehydrating: rehydrating.length };
  }

  /** Objects and bytes per tier to /metrics. */
  async refreshGauges(): Promise<{ tiers: { tier: string; objects: number; bytes: number }[]; rehydrating: number }> {
    const census = await this.policies.census(autocommit(this.db));
    for (const tier of ['Hot', 'Cool', 'Cold', 'Archive']) {
      const t = census.tiers.find((c) => c.tier === tier);
      this.metrics.objects.set({ tier }, t?.objects ?? 0);
      this.metrics.bytes.set({ tier }, t?.bytes ?? 0);
    }
    this.metrics.rehydrating.set(census.rehydrating);
    return census;
  }
}
