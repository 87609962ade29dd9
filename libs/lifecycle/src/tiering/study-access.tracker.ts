import { Injectable, Logger, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { DataSource } from 'typeorm';
import { LifecycleClock } from '../lifecycle-clock.js';

const FLUSH_MS = 30_000;
/** A study's last access is written at most this often (a viewer scrolling a study retrieves it hundreds of times). */
const RESOLUTION_MS = 3_600_000;
const MAX_REMEMBERED = 100_000;

/**
 * "Last access" for the tiering policies (min_idle_days): retrieves note their studies here, and
 * the notes are written in one statement every 30 s, each study at most once an hour. Nothing
 * on the retrieve path waits for the database.
 */
@Injectable()
export class StudyAccessTracker implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger('StudyAccess');
  private pending = new Set<string>();
  private readonly written = new Map<string, number>();
  private timer?: NodeJS.Timeout;

  constructor(
    @InjectDataSource() private readonly db: DataSource,
    private readonly clock: LifecycleClock,
  ) {}

  onApplicationBootstrap(): void {
    this.timer = setInterval(() => void this.flush(), FLUSH_MS);
    this.timer.unref();
  }

  async onApplicationShutdown(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.flush();
  }

  note(studyUids: readonly string[]): void {
    const now = Date.now();
    for (const uid of studyUids) if ((this.written.get(uid) ?? 0) + RESOLUTION_MS < now) this.pending.add(uid);
  }

  async flush(): Promise<void> {
    if (this.pending.size === 0) return;
    const uids = [...this.pending];
    this.pending = new Set();
    try {
      await this.db.query(`UPDATE study SET last_accessed_at = $2 WHERE study_uid = ANY($1::text[])`, [uids, this.clock.now()]);
      const now = Date.now();
      if (this.written.size > MAX_REMEMBERED) this.written.clear();
      for (const uid of uids) this.written.set(uid, now);
    } catch (e) {
      this.logger.warn(`last access of ${uids.length} study(ies) not recorded: ${(e as Error).message}`);
    }
  }
}
