import { createHash } from 'node:crypto';
import { Inject, Injectable, Logger } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { DataSource } from 'typeorm';
import { BlobStore, BlobStoreError, isArchived } from '#vna/blob';
import { VNA_CONFIG, type VnaConfig } from '#vna/config';
import { autocommit } from '#vna/persistence';
import { mapLimited } from '../concurrency.js';
import { LifecycleClock } from '../lifecycle-clock.js';
import { LifecycleMetrics } from '../lifecycle-metrics.js';
import { type VerificationFinding, VerificationRepository, type VerificationStatus, type VerificationTarget } from './verification.repository.js';

export interface VerificationRun {
  readonly checked: number;
  readonly reread: number;
  readonly counts: Record<VerificationStatus, number>;
}

interface Outcome {
  readonly id: string;
  readonly status: VerificationStatus;
  readonly method: string;
  readonly detail: string | null;
}

/**
 * Storage verification: every stored object is checked against the index (the blob exists, its
 * size, its MD5 as the store keeps it) and a sample (all of them with VNA_LIFECYCLE_VERIFY_HASH
 * sha256) is read back and hashed. Results are kept per object; missing or corrupt objects raise
 * vna_storage_verification_failures on /metrics and are listed at /api/v1/lifecycle/verification.
 * It never "fixes" anything: a bad object is for a human to look at (restore from a copy).
 */
@Injectable()
export class VerificationService {
  private readonly logger = new Logger('Verification');

  constructor(
    @InjectDataSource() private readonly db: DataSource,
    @Inject(VNA_CONFIG) private readonly config: VnaConfig,
    private readonly repo: VerificationRepository,
    private readonly blob: BlobStore,
    private readonly clock: LifecycleClock,
    private readonly metrics: LifecycleMetrics,
  ) {}

  /** One round over every stored object, in id order (a batch per statement; checks in parallel within it). */
  async run(options: { samplePercent?: number } = {}): Promise<VerificationRun> {
    const sample = options.samplePercent ?? (this.config.lifecycle.verifyHash === 'sha256' ? 100 : this.config.lifecycle.verifySamplePercent);
    let cursor = '0';
    let checked = 0;
    let reread = 0;
    for (;;) {
      const targets = await this.repo.batch(autocommit(this.db), cursor, this.config.lifecycle.batchSize);
      if (targets.length === 0) break;
      cursor = targets[targets.length - 1]!.id;
      const results = await mapLimited(targets, 8, (t) => this.check(t, Math.random() * 100 < sample));
      const outcomes = results.map((r, n): Outcome => (r.status === 'fulfilled' ? r.value : { id: targets[n]!.id, status: 'unreadable', method: 'properties', detail: String((r.reason as Error).message) }));
      await this.repo.record(autocommit(this.db), outcomes, this.clock.now());
      checked += outcomes.length;
      reread += outcomes.filter((o) => o.method === 'sha256').length;
      for (const o of outcomes) if (o.status !== 'ok') this.logger.error(`storage verification: object ${o.id} is ${o.status}: ${o.detail ?? ''}`);
    }
    const counts = await this.refreshGauges();
    return { checked, reread, counts };
  }

  private async check(t: VerificationTarget, reread: boolean): Promise<Outcome> {
    const props = await this.blob.properties(t.blobKey);
    if (!props) return { id: t.id, status: 'missing', method: 'properties', detail: 'the blob is not in the store' };
    if (props.size !== t.sizeBytes) return { id: t.id, status: 'corrupt', method: 'properties', detail: `size ${props.size} in the store, ${t.sizeBytes} in the index` };
    if (t.md5 && props.md5 && !props.md5.equals(t.md5)) {
      return { id: t.id, status: 'corrupt', method: 'properties', detail: `MD5 ${props.md5.toString('hex')} in the store, ${t.md5.toString('hex')} in the index` };
    }
    // An archived blob cannot be read back without rehydrating it (hours, and a cost): its properties are what can be checked.
    if (!reread || isArchived(props)) return { id: t.id, status: 'ok', method: 'properties', detail: null };
    try {
      const hash = createHash('sha256');
      for await (const chunk of await this.blob.read(t.blobKey)) hash.update(chunk as Buffer);
      const sha256 = hash.digest();
      if (!sha256.equals(t.sha256)) return { id: t.id, status: 'corrupt', method: 'sha256', detail: `SHA-256 ${sha256.toString('hex')} read back, ${t.sha256.toString('hex')} in the index` };
      return { id: t.id, status: 'ok', method: 'sha256', detail: null };
    } catch (e) {
      if (e instanceof BlobStoreError && e.code === 'NOT_FOUND') return { id: t.id, status: 'missing', method: 'sha256', detail: 'the blob disappeared while read' };
      if (e instanceof BlobStoreError && e.code === 'ARCHIVED') return { id: t.id, status: 'ok', method: 'properties', detail: 'archived: not read back' };
      return { id: t.id, status: 'unreadable', method: 'sha256', detail: (e as Error).message };
    }
  }

  failures(status: VerificationStatus | undefined, limit: number, offset: number): Promise<VerificationFinding[]> {
    return this.repo.failures(autocommit(this.db), status, limit, offset);
  }

  async refreshGauges(): Promise<Record<VerificationStatus, number>> {
    const counts = await this.repo.counts(autocommit(this.db));
    for (const status of ['missing', 'corrupt', 'unreadable'] as const) this.metrics.verificationFailures.set({ status }, counts[status]);
    return counts;
  }
}
