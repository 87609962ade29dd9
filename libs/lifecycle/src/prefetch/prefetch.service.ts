import { Inject, Injectable, Logger } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { DataSource } from 'typeorm';
import { BlobStore } from '#vna/blob';
import { VNA_CONFIG, type VnaConfig } from '#vna/config';
import { autocommit } from '#vna/persistence';
import { mapLimited } from '../concurrency.js';
import { LifecycleClock } from '../lifecycle-clock.js';
import { RehydrationService } from '../tiering/rehydration.service.js';
import { priorCriteria } from './prefetch-match.js';
import { type PrefetchTrigger, PrefetchRepository } from './prefetch.repository.js';

/** How far back a run looks for new orders and pre-admits (each is claimed once; older ones were handled or are moot). */
const LOOKBACK_MS = 2 * 86_400_000;

/**
 * Prefetch of priors: a new order (ORM NW), a pre-admit (ADT^A05) or a scheduled worklist step
 * about to start brings that patient's relevant prior studies (a series of the same modality, the
 * same body part, either, or any: VNA_LIFECYCLE_PREFETCH_MATCH, see priorCriteria; last
 * VNA_LIFECYCLE_PREFETCH_YEARS), each whole (every series, so a dose report or a series without
 * Body Part Examined comes with it), up to Hot before the exam:
 * Cool and Cold objects at once, Archive ones by rehydration (hours on Azure: hence the lead time).
 */
@Injectable()
export class PrefetchService {
  private readonly logger = new Logger('Prefetch');

  constructor(
    @InjectDataSource() private readonly db: DataSource,
    @Inject(VNA_CONFIG) private readonly config: VnaConfig,
    private readonly repo: PrefetchRepository,
    private readonly rehydration: RehydrationService,
    private readonly blob: BlobStore,
    private readonly clock: LifecycleClock,
  ) {}

  async run(): Promise<{ triggers: number; objects: number }> {
    const now = this.clock.now();
    const triggers = await this.repo.claim(autocommit(this.db), new Date(now.getTime() - LOOKBACK_MS), now, new Date(now.getTime() + this.config.lifecycle.prefetchLeadHours * 3_600_000));
    let objects = 0;
    for (const t of triggers) objects += await this.prefetch(t);
    return { triggers: triggers.length, objects };
  }

  private async prefetch(t: PrefetchTrigger): Promise<number> {
    const sql = autocommit(this.db);
    const now = this.clock.now();
    const priors = await this.repo.priors(sql, t, priorCriteria(this.config.lifecycle.prefetchMatch, t), this.config.lifecycle.prefetchYears, now);
    const warm = priors.filter((p) => p.accessTier === 'Cool' || p.accessTier === 'Cold');
    const archived = priors.filter((p) => p.accessTier === 'Archive');
    const results = await mapLimited(warm, this.config.lifecycle.moveConcurrency, (p) => this.blob.setAccessTier(p.blobKey, 'Hot'));
    const movedHot = warm.filter((_, n) => results[n]!.status === 'fulfilled').map((p) => p.id);
    await this.repo.keepHot(sql, priors.map((p) => p.id), movedHot, new Date(now.getTime() + this.config.lifecycle.hotHoldMs), now);
    const rehydrating = archived.length ? await this.rehydration.rehydrate(archived.map((p) => p.id), `prefetch-${t.kind}`) : 0;
    await this.repo.recordCount(sql, t, priors.length);
    if (warm.length + archived.length > 0) {
      this.logger.log(`prefetch (${t.kind} ${t.ref}): ${priors.length} prior object(s), ${movedHot.length} moved to Hot, ${rehydrating} rehydrating from Archive`);
    }
    return priors.length;
  }
}
