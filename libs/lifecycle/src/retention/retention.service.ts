import { Inject, Injectable, Logger } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { DataSource } from 'typeorm';
import { VNA_CONFIG, type VnaConfig } from '#vna/config';
import { autocommit, type SqlRunner, withTransaction } from '#vna/persistence';
import { auditEvent } from '../audit.js';
import { LifecycleClock } from '../lifecycle-clock.js';
import { LifecycleError } from '../lifecycle.errors.js';
import { LifecycleMetrics } from '../lifecycle-metrics.js';
import { type ExpiredStudy, type RetentionPolicy, type RetentionPolicyInput, RetentionRepository, type StudyRetention } from './retention.repository.js';

/**
 * Retention: policies give every study an expiry date (at ingest, and recomputed in batches of
 * one statement each whenever the policies change and at every retention run, except expiries HIM
 * froze by hand). Expired studies are proposed for deletion by DeletionService; nothing expires under hold.
 */
@Injectable()
export class RetentionService {
  private readonly logger = new Logger('Retention');

  constructor(
    @InjectDataSource() private readonly db: DataSource,
    @Inject(VNA_CONFIG) private readonly config: VnaConfig,
    private readonly repo: RetentionRepository,
    private readonly clock: LifecycleClock,
    private readonly metrics: LifecycleMetrics,
  ) {}

  listPolicies(): Promise<RetentionPolicy[]> {
    return this.repo.listPolicies(autocommit(this.db));
  }

  async savePolicy(policy: RetentionPolicyInput, by: string): Promise<RetentionPolicy> {
    const saved = await withTransaction(this.db, async (sql) => {
      const p = await this.repo.upsertPolicy(sql, policy, by);
      await auditEvent(sql, 'retention.policy-saved', by, null, { ...policy }, this.clock.now());
      return p;
    });
    await this.recompute(true);
    return saved;
  }

  async deletePolicy(name: string, by: string): Promise<void> {
    await withTransaction(this.db, async (sql) => {
      if (!(await this.repo.deletePolicy(sql, name))) throw new LifecycleError('not-found', `no retention policy "${name}"`);
      await auditEvent(sql, 'retention.policy-deleted', by, null, { name }, this.clock.now());
    });
    await this.recompute(true);
  }

  /**
   * Every study's expiry from the policies now (frozen ones kept). `force`: even with no policy
   * (after the last one went: every expiry not set by hand is cleared); otherwise an archive
   * without retention policies is not walked.
   */
  async recompute(force = false): Promise<{ evaluated: number; seconds: number }> {
    const started = performance.now();
    if (!force && !(await this.repo.listPolicies(autocommit(this.db))).some((p) => p.enabled)) return { evaluated: 0, seconds: 0 };
    let cursor = '0';
    let evaluated = 0;
    for (;;) {
      const batch = await this.repo.computeBatch(autocommit(this.db), cursor, this.config.lifecycle.batchSize, this.clock.now());
      if (batch.last === null) break;
      evaluated += batch.evaluated;
      cursor = batch.last;
    }
    this.metrics.evaluated.inc({ job: 'retention' }, evaluated);
    return { evaluated, seconds: (performance.now() - started) / 1000 };
  }

  /** A new study's expiry, in its ingest transaction (an IngestHook): no study waits for the next run to have one. */
  async atIngest(tx: SqlRunner, studyRowId: string): Promise<void> {
    await this.repo.computeBatch(tx, studyRowId, 1, this.clock.now(), true);
  }

  async study(studyUid: string): Promise<StudyRetention> {
    const r = await this.repo.studyRetention(autocommit(this.db), studyUid);
    if (!r) throw new LifecycleError('not-found', `no study ${studyUid}`);
    return r;
  }

  /** HIM sets a study's expiry by hand (null: keep indefinitely), with a reason; policy changes no longer touch it. */
  async override(studyUid: string, expiresOn: string | null, reason: string, by: string): Promise<StudyRetention> {
    if (expiresOn !== null && (!/^\d{4}-\d{2}-\d{2}$/.test(expiresOn) || Number.isNaN(Date.parse(`${expiresOn}T00:00:00Z`)))) {
      throw new LifecycleError('invalid', `expiresOn must be a date YYYY-MM-DD or null (got "${expiresOn}")`);
    }
    await withTransaction(this.db, async (sql) => {
      const before = await this.repo.studyRetention(sql, studyUid);
      if (!before) throw new LifecycleError('not-found', `no study ${studyUid}`);
      const at = this.clock.now();
      await this.repo.override(sql, studyUid, expiresOn, reason, by, at);
      await auditEvent(sql, 'retention.override', by, studyUid, { from: before.expiresOn, to: expiresOn, reason }, at);
    });
    return this.study(studyUid);
  }

  /** Back to the policies: the expiry is computed again. */
  async release(studyUid: string, reason: string, by: string): Promise<StudyRetention> {
    await withTransaction(this.db, async (sql) => {
      if (!(await this.repo.unfreeze(sql, studyUid))) throw new LifecycleError('not-found', `study ${studyUid} has no expiry set by hand`);
      await auditEvent(sql, 'retention.override-released', by, studyUid, { reason }, this.clock.now());
    });
    await this.recompute(true);
    return this.study(studyUid);
  }

  /** The dry-run report: what has expired on `asOf` (default today) and would be proposed, and what a hold keeps. */
  expired(asOf: string | undefined, limit: number, offset: number): Promise<ExpiredStudy[]> {
    return this.repo.expired(autocommit(this.db), asOf ?? this.clock.today(), limit, offset);
  }
}
