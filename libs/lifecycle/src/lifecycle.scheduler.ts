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

/** How often a process looks whether a scheduled job is due (the intervals themselves are longer). */
const TICK_MS = 60_000;

/**
 * The scheduled lifecycle jobs, in the apps that import LifecycleSchedulerModule (the worker and
 * the all-in-one app) where VNA_LIFECYCLE_JOBS is on. Every VNA_LIFECYCLE_INTERVAL_SECONDS:
 * rehydration status, prefetch, tiering, retention (expiries, then proposals), legal holds onto
 * newly stored objects; every VNA_LIFECYCLE_VERIFY_INTERVAL_SECONDS: storage verification. Every
 * process of a cluster looks each minute whether a job is due (lifecycle_job_run, read under a
 * PostgreSQL advisory lock): the first one runs it for all, and a restart does not reset the schedule.
 */
@Injectable()
export class LifecycleScheduler implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger('LifecycleJobs');
  private timer?: NodeJS.Timeout;
  private running = Promise.resolve();

  constructor(
    @InjectDataSource() private readonly db: DataSource,
    @Inject(VNA_CONFIG) private readonly config: VnaConfig,
    private readonly jobs: LifecycleJobs,
  ) {}

  onApplicationBootstrap(): void {
    if (!this.config.lifecycle.jobs) return;
    const tick = async (): Promise<void> => {
      await this.whenDue('cycle', LOCKS.cycle, this.config.lifecycle.intervalMs, () => this.cycle());
      await this.whenDue('verification', LOCKS.verify, this.config.lifecycle.verifyIntervalMs, async () => void (await this.jobs.run('verification')));
    };
    this.timer = setInterval(() => void (this.running = this.running.then(tick)), Math.min(TICK_MS, this.config.lifecycle.intervalMs));
    this.timer.unref();
    // Gauges for /metrics (objects and bytes per tier, verification failures) once at start, then after each cycle:
    // counting over the whole index is not for every scrape.
    this.running = this.jobs.gauges();
  }

  async onApplicationShutdown(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
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

  /** Runs `work` if no process ran it within `intervalMs`, holding the job's advisory lock meanwhile. */
  async whenDue(job: string, lock: number, intervalMs: number, work: () => Promise<void>): Promise<boolean> {
    try {
      return await withTransaction(this.db, async (sql) => {
        const [got] = (await sql.query(`SELECT pg_try_advisory_xact_lock($1) AS got`, [lock])) as { got: boolean }[];
        if (!got?.got) return false;
        const [last] = (await sql.query(`SELECT last_run_at AS "lastRunAt" FROM lifecycle_job_run WHERE job = $1`, [job])) as { lastRunAt: Date }[];
        if (last && Date.now() - last.lastRunAt.getTime() < intervalMs) return false;
        const started = new Date();
        await work();
        await sql.query(
          `INSERT INTO lifecycle_job_run (job, last_run_at, outcome) VALUES ($1, $2, $3::jsonb)
           ON CONFLICT (job) DO UPDATE SET last_run_at = excluded.last_run_at, outcome = excluded.outcome`,
          [job, started, JSON.stringify({ seconds: (Date.now() - started.getTime()) / 1000 })],
        );
        return true;
      });
    } catch (e) {
      this.logger.error(`lifecycle ${job}: ${(e as Error).message}`);
      return false;
    }
  }
}
