import { Inject, Injectable, Logger, type OnApplicationShutdown } from '@nestjs/common';
import { getSharedConfigToken } from '@nestjs/bullmq';
import { type ConnectionOptions, Queue, type QueueOptions, Worker } from 'bullmq';
import { JobHandlerRegistry } from './job-handler.registry.js';
import { OutboxRepository, type OutboxRow } from './outbox.repository.js';
import { JOB_ATTEMPTS, JOB_BACKOFF_MS, JOB_LOCK_MS } from './queues.js';

export interface OutboxJobData {
  /** Absent for derived work scheduled directly (see schedule()). */
  readonly outboxId?: string;
  readonly payload: Record<string, unknown>;
  /** Attempts made before this job (earlier relays of the same outbox row). */
  readonly priorAttempts?: number;
}

/**
 * BullMQ queues and workers by name. Queue names are runtime values (each spool node has its own),
 * which @nestjs/bullmq's static decorators do not express; its shared root configuration still
 * carries the connection.
 */
@Injectable()
export class QueueService implements OnApplicationShutdown {
  private readonly logger = new Logger('Queues');
  private readonly queues = new Map<string, Queue>();
  private readonly workers = new Map<string, Worker>();

  constructor(
    @Inject(getSharedConfigToken()) private readonly bullConfig: QueueOptions,
    private readonly registry: JobHandlerRegistry,
    private readonly outbox: OutboxRepository,
  ) {}

  private connection(offlineQueue: boolean): ConnectionOptions {
    const base = this.bullConfig.connection as { url: string };
    return { url: base.url, enableOfflineQueue: offlineQueue, maxRetriesPerRequest: offlineQueue ? null : 1 } as ConnectionOptions;
  }

  queue(name: string): Queue {
    let q = this.queues.get(name);
    if (!q) {
      // Producers fail fast when Redis is away: the outbox keeps the message and the relay retries.
      q = new Queue(name, { connection: this.connection(false), prefix: this.bullConfig.prefix });
      q.on('error', (e) => this.logger.warn(`queue ${name}: ${e.message}`));
      this.queues.set(name, q);
    }
    return q;
  }

  /** Hands outbox rows to BullMQ; the job id is the outbox id, so a second relay adds nothing. */
  async relay(rows: readonly OutboxRow[]): Promise<void> {
    const byQueue = new Map<string, OutboxRow[]>();
    for (const row of rows) byQueue.set(row.queue, [...(byQueue.get(row.queue) ?? []), row]);
    for (const [name, list] of byQueue) {
      await this.queue(name).addBulk(
        list.map((row) => ({
          name: row.topic,
          data: { outboxId: row.id, payload: row.payload, priorAttempts: row.attempts } satisfies OutboxJobData,
          opts: {
            jobId: `outbox-${row.id}`,
            attempts: Math.max(1, JOB_ATTEMPTS - row.attempts),
            backoff: { type: 'exponential', delay: JOB_BACKOFF_MS },
            removeOnComplete: true,
            removeOnFail: { age: 7 * 24 * 3600 },
          },
        })),
      );
    }
  }

  /** Removes a finished or failed job so that a replayed outbox row can be added again. */
  async forget(queueName: string, outboxId: string): Promise<void> {
    await this.queue(queueName).remove(`outbox-${outboxId}`).catch(() => 0);
  }

  /**
   * Gives a dead letter a new set of attempts: the failed job (kept for diagnosis, under the same
   * job id) is removed first, or BullMQ would ignore the new one. Undefined when there is no such dead letter.
   */
  async replay(outboxId: string): Promise<OutboxRow | undefined> {
    const dead = await this.outbox.find(outboxId);
    if (!dead?.deadAt) return undefined;
    await this.forget(dead.queue, outboxId);
    return this.outbox.replay(outboxId);
  }

  /** Starts consuming a queue: each job runs its topic's handler, then completes its outbox row. */
  consume(name: string, concurrency: number): void {
    const worker = new Worker<OutboxJobData>(
      name,
      async (job) => {
        const handler = this.registry.get(job.name);
        if (!handler) throw new Error(`no handler for job topic "${job.name}"`);
        await handler(job.data.payload);
        if (job.data.outboxId) await this.outbox.complete(job.data.outboxId);
      },
      { connection: this.connection(true), prefix: this.bullConfig.prefix, concurrency, autorun: true, lockDuration: JOB_LOCK_MS, stalledInterval: JOB_LOCK_MS },
    );
    worker.on('failed', (job, error) => {
      if (!job) return;
      if (!job.data.outboxId) {
        this.logger.warn(`job ${job.name} ${job.id} failed: ${error.message}`);
        return;
      }
      const exhausted = job.attemptsMade >= (job.opts.attempts ?? 1);
      // The outbox row counts every attempt ever made, across relays.
      const attempts = (job.data.priorAttempts ?? 0) + job.attemptsMade;
      this.logger.warn(`job ${job.name} ${job.id} failed (attempt ${attempts}${exhausted ? ', dead letter' : ''}): ${error.message}`);
      const write = exhausted
        ? this.outbox.markDead(job.data.outboxId, error.message, attempts)
        : this.outbox.recordFailure(job.data.outboxId, error.message, attempts);
      write.catch((e: Error) => this.logger.error(`outbox bookkeeping failed: ${e.message}`));
    });
    worker.on('error', (e) => this.logger.warn(`worker ${name}: ${e.message}`));
    this.workers.set(name, worker);
  }

  /**
   * Derived work that may be lost without harm (rebuilding a cache, say): straight to BullMQ, not
   * through the outbox. A job id already waiting makes this a no-op, which debounces bursts.
   */
  async schedule(queueName: string, topic: string, payload: Record<string, unknown>, options: { jobId: string; delayMs: number }): Promise<void> {
    await this.queue(queueName).add(topic, { payload } as unknown as OutboxJobData, {
      jobId: options.jobId,
      delay: options.delayMs,
      removeOnComplete: true,
      removeOnFail: true,
      attempts: 3,
      backoff: { type: 'exponential', delay: JOB_BACKOFF_MS },
    });
  }

  /** The worker consuming a queue in this process, if any (to pause and resume it). */
  worker(name: string): Worker | undefined {
    return this.workers.get(name);
  }

  async counts(): Promise<Record<string, number>> {
    const out: Record<string, number> = {};
    for (const [name, q] of this.queues) {
      const c = await q.getJobCounts('waiting', 'active', 'delayed').catch(() => undefined);
      if (c) out[name] = (c['waiting'] ?? 0) + (c['active'] ?? 0) + (c['delayed'] ?? 0);
    }
    return out;
  }

  async onApplicationShutdown(): Promise<void> {
    await Promise.allSettled([...this.workers.values()].map((w) => w.close()));
    await Promise.allSettled([...this.queues.values()].map((q) => q.close()));
  }
}
