import { Inject, Injectable, Logger, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { DataSource } from 'typeorm';
import { VNA_CONFIG, type VnaConfig } from '#vna/config';
import { withTransaction } from '#vna/persistence';
import { DeletionService } from './deletion/deletion.service.js';
import { LegalHoldService } from './holds/legal-hold.service.js';
import { PrefetchService } from './prefetch/prefetch.service.js';
import { RetentionService } from './retention/retention.service.js';
import { RehydrationService } from './tiering/rehydration.service.js';
import { TieringService } from './tiering/tiering.service.js';
import { VerificationService } from './verification/verification.service.js';

/** Advisory lock keys: one runner per job across every process of the cluster. */
const LOCKS = { cycle: 0x7663_6c01, verify: 0x7663_6c02 } as const;

export type LifecycleJob = 'rehydration' | 'prefetch' | 'tiering' | 'retention' | 'holds' | 'verification';

/** The lifecycle jobs by name, run now (POST /api/v1/lifecycle/jobs/{job}, the scheduler, tests). */
@Injectable()
export class LifecycleJobs {
  constructor(
    private readonly rehydration: RehydrationService,
    private readonly prefetch: PrefetchService,
    private readonly tiering: TieringService,
    private readonly retention: RetentionService,
    private readonly deletion: DeletionService,
    private readonly verification: VerificationService,
    private readonly holds: LegalHoldService,
  ) {}

  async run(job: LifecycleJob): Promise<Record<string, unknown>> {
    switch (job) {
      case 'rehydration':
        return { ...(await this.rehydration.poll()) };
      case 'prefetch':
        return { ...(await this.prefetch.run()) };
      case 'tiering':
        return { ...(await this.tiering.run()) };
      case 'retention': {
        const computed = await this.retention.recompute();
        return { ...computed, proposed: await this.deletion.proposeExpired(), proposedRejected: await this.deletion.proposeRejected() };
      }
      case 'holds':
        return { holdsMirrored: await this.holds.mirrorNewObjects() };
      case 'verification':
        return { ...(await this.verification.run()) };
    }
  }

  /** Gauges for /metrics (objects and bytes per tier, verification failures), counted from the index. */
  async gauges(): Promise<void> {
    await this.tiering.refreshGauges().catch(() => undefined);
    await this.verification.refreshGauges().catch(() => undefined);
  }
}

/**
 * The scheduled lifecycle jobs, in the apps that import LifecycleSchedulerModule (the worker and
 * the all-in-one app) where VNA_LIFECYCLE_JOBS is on. Every VNA_LIFECYCLE_INTERVAL_SECONDS: rehydration status, prefetch, tiering, retention
 * (expiries, then proposals); every VNA_LIFECYCLE_VERIFY_INTERVAL_SECONDS: storage verification.
 * A PostgreSQL advisory lock lets one process of the cluster run each at a time.
 */
@Injectable()
export class LifecycleScheduler implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger('LifecycleJobs');
  private readonly timers: NodeJS.Timeout[] = [];
  private running = Promise.resolve();

  constructor(
    @InjectDataSource() private readonly db: DataSource,
    @Inject(VNA_CONFIG) private readonly config: VnaConfig,
    private readonly jobs: LifecycleJobs,
  ) {}

  onApplicationBootstrap(): void {
    if (!this.config.lifecycle.jobs) return;
    const every = (ms: number, work: () => Promise<void>): void => {
      const timer = setInterval(() => void (this.running = this.running.then(work)), ms);
      timer.unref();
      this.timers.push(timer);
    };
    every(this.config.lifecycle.intervalMs, () => this.locked(LOCKS.cycle, () => this.cycle()));
    every(this.config.lifecycle.verifyIntervalMs, () => this.locked(LOCKS.verify, async () => void (await this.jobs.run('verification'))));
    // Gauges for /metrics (objects and bytes per tier, verification failures) once at start, then after each cycle:
    // counting over the whole index is not for every scrape.
    this.running = this.jobs.gauges();
  }

  async onApplicationShutdown(): Promise<void> {
    for (const t of this.timers) clearInterval(t);
    await this.running;
  }

  private async cycle(): Promise<void> {
    for (const job of ['rehydration', 'prefetch', 'tiering', 'retention', 'holds'] as const) {
      try {
        await this.jobs.run(job);
      } catch (e) {
        this.logger.error(`${job} job failed: ${(e as Error).message}`);
      }
    }
    await this.jobs.gauges();
  }

  private async locked(key: number, work: () => Promise<void>): Promise<void> {
    try {
      await withTransaction(this.db, async (sql) => {
        const [row] = (await sql.query(`SELECT pg_try_advisory_xact_lock($1) AS got`, [key])) as { got: boolean }[];
        if (row?.got) await work();
      });
    } catch (e) {
      this.logger.error(`lifecycle jobs: ${(e as Error).message}`);
    }
  }
}
