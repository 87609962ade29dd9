import { Inject, Injectable, Logger, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import pg from 'pg';
import { VNA_CONFIG, type VnaConfig } from '#vna/config';
import { OUTBOX_CHANNEL, OutboxRepository } from './outbox.repository.js';
import { QueueService } from './queue.service.js';

const BATCH = 500;
const POLL_MS = 2000;
const STALE_SECONDS = 600;
/**
 * The least time between NOTIFY-woken passes: at ingest rates every process is woken at each
 * commit, and each pass is a claim statement and a BullMQ round trip. 100 ms makes that at most ten
 * passes a second per process (at 20 ms it was nearly one per received object). A NOTIFY after a
 * quiet spell is relayed at once (a FHIR publication, an HL7 forward: latency users see); those in
 * a burst wait for the next pass, gathered.
 */
const GATHER_MS = 100;

/**
 * Moves outbox rows to BullMQ. Woken by NOTIFY at each commit (low latency), and polling as a
 * fallback. When Redis is down the rows stay and the next pass tries again: work is delayed, never lost.
 */
@Injectable()
export class OutboxRelayService implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger('OutboxRelay');
  private listener?: pg.Client;
  private timer?: NodeJS.Timeout;
  private running = false;
  private again = false;
  private stopped = false;
  private redisDown = false;
  private readonly startedAt = Date.now();

  constructor(
    @Inject(VNA_CONFIG) private readonly config: VnaConfig,
    private readonly outbox: OutboxRepository,
    private readonly queues: QueueService,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    await this.listen().catch((e: Error) => this.logger.warn(`LISTEN failed, polling only: ${e.message}`));
    this.timer = setInterval(() => this.kick(), POLL_MS);
    this.kick();
  }

  private async listen(): Promise<void> {
    const client = new pg.Client({ connectionString: this.config.database.url, application_name: 'vna-outbox-relay' });
    client.on('error', (e) => {
      this.logger.warn(`notification connection lost: ${e.message}`);
      this.listener = undefined;
      if (!this.stopped) setTimeout(() => void this.listen().catch(() => undefined), 2000);
    });
    // Commits come in bursts (one per received object): gather GATHER_MS of them per pass.
    client.on('notification', () => this.kickSoon());
    await client.connect();
    await client.query(`LISTEN ${OUTBOX_CHANNEL}`);
    this.listener = client;
  }

  private soon?: NodeJS.Timeout;
  /** When the last pass started (for GATHER_MS). */
  private lastPassAt = 0;

  private kickSoon(): void {
    if (this.soon) return;
    const wait = this.lastPassAt + GATHER_MS - Date.now();
    if (wait <= 0) return this.kick();
    this.soon = setTimeout(() => {
      this.soon = undefined;
      this.kick();
    }, wait);
  }

  /** Runs a relay pass now, or right after the current one. */
  kick(): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = true;
    this.lastPassAt = Date.now();
    void this.pass().finally(() => {
      this.running = false;
      if (this.again) {
        this.again = false;
        this.kick();
      }
    });
  }

  private async pass(): Promise<void> {
    for (;;) {
      let rows;
      try {
        rows = await this.outbox.claimForRelay(BATCH, this.staleAfterSeconds());
      } catch (e) {
        this.logger.warn(`outbox claim failed: ${(e as Error).message}`);
        return;
      }
      if (rows.length === 0) return;
      try {
        await this.queues.relay(rows);
        if (this.redisDown) this.logger.log('Redis answers again: relaying the outbox');
        this.redisDown = false;
      } catch (e) {
        if (!this.redisDown) this.logger.warn(`Redis unavailable, ${rows.length} outbox messages wait: ${(e as Error).message}`);
        this.redisDown = true;
        await this.outbox.unclaim(rows.map((r) => r.id)).catch(() => undefined);
        return;
      }
      if (rows.length < BATCH) return;
    }
  }

  /**
   * Claims older than this process count as lost: a process killed between a claim and the BullMQ
   * add would otherwise leave its messages waiting STALE_SECONDS after the restart. Re-adding a
   * message that did reach BullMQ adds nothing (the job id is the outbox id).
   */
  private staleAfterSeconds(): number {
    return Math.min(STALE_SECONDS, (Date.now() - this.startedAt) / 1000);
  }

  async onApplicationShutdown(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    if (this.soon) clearTimeout(this.soon);
    await this.listener?.end().catch(() => undefined);
  }
}
