import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { DataSource } from 'typeorm';
import type { SqlRunner } from '#vna/persistence';

export interface OutboxMessage {
  readonly topic: string;
  /** The BullMQ queue that carries it: the shared one, or a node's own (work on its local spool). */
  readonly queue: string;
  readonly payload: Record<string, unknown>;
}

export interface OutboxRow {
  readonly id: string;
  readonly topic: string;
  readonly queue: string;
  readonly payload: Record<string, unknown>;
  readonly attempts: number;
  readonly createdAt: Date;
  readonly lastError: string | null;
  readonly deadAt: Date | null;
}

interface RawRow {
  id: string;
  topic: string;
  queue: string;
  payload: Record<string, unknown>;
  attempts: number;
  created_at: Date;
  last_error: string | null;
  dead_at: Date | null;
}

const toRow = (r: RawRow): OutboxRow => ({
  id: String(r.id),
  topic: r.topic,
  queue: r.queue,
  payload: r.payload,
  attempts: r.attempts,
  createdAt: r.created_at,
  lastError: r.last_error,
  deadAt: r.dead_at,
});

export const OUTBOX_CHANNEL = 'vna_outbox';

/** The transactional outbox table (ARCHITECTURE.md invariant 4). */
@Injectable()
export class OutboxRepository {
  constructor(@InjectDataSource() private readonly db: DataSource) {}

  /**
   * Adds messages inside the caller's transaction; they exist exactly when the change commits.
   * One statement: the rows and the NOTIFY that wakes the relay (delivered at commit).
   */
  async add(tx: SqlRunner, messages: readonly OutboxMessage[]): Promise<void> {
    if (messages.length === 0) return;
    const values: unknown[] = [OUTBOX_CHANNEL];
    const rows = messages.map((m, i) => {
      values.push(m.topic, m.queue, JSON.stringify(m.payload));
      return `($${i * 3 + 2}, $${i * 3 + 3}, $${i * 3 + 4}::jsonb)`;
    });
    await tx.query(
      `WITH added AS (INSERT INTO outbox (topic, queue, payload) VALUES ${rows.join(', ')} RETURNING 1)
       SELECT pg_notify($1, '') FROM (SELECT 1 FROM added LIMIT 1) AS one`,
      values,
    );
  }

  /**
   * Messages to hand to BullMQ: never relayed, or relayed long ago and still not done (the job
   * was lost, e.g. Redis restarted without persistence). SKIP LOCKED lets several relays share.
   */
  async claimForRelay(limit: number, staleAfterSeconds: number): Promise<OutboxRow[]> {
    const rows: RawRow[] = await this.db.query(
      `WITH claimed AS (UPDATE outbox SET relayed_at = now()
        WHERE id IN (
          SELECT id FROM outbox
           WHERE done_at IS NULL AND dead_at IS NULL AND available_at <= now()
             AND (relayed_at IS NULL OR relayed_at < now() - make_interval(secs => $2))
           ORDER BY id
           LIMIT $1
           FOR UPDATE SKIP LOCKED)
        RETURNING id, topic, queue, payload, attempts, created_at, last_error, dead_at)
       SELECT * FROM claimed`,
      [limit, staleAfterSeconds],
    );
    return rows.map(toRow).sort((a, b) => Number(a.id) - Number(b.id));
  }

  /** Puts messages back for the next relay pass (Redis did not take them). */
  async unclaim(ids: readonly string[]): Promise<void> {
    if (ids.length === 0) return;
    await this.db.query(`UPDATE outbox SET relayed_at = NULL WHERE id = ANY($1::bigint[])`, [ids]);
  }

  async complete(id: string): Promise<void> {
    await this.db.query(`UPDATE outbox SET done_at = now(), last_error = NULL WHERE id = $1`, [id]);
  }

  async recordFailure(id: string, error: string, attempts: number): Promise<void> {
    await this.db.query(`UPDATE outbox SET attempts = $2, last_error = $3 WHERE id = $1`, [id, attempts, error.slice(0, 2000)]);
  }

  /** Dead letter: retries exhausted. It stays visible and can be replayed. */
  async markDead(id: string, error: string, attempts: number): Promise<void> {
    await this.db.query(`UPDATE outbox SET dead_at = now(), attempts = $2, last_error = $3 WHERE id = $1`, [id, attempts, error.slice(0, 2000)]);
  }

  async listDead(limit: number, offset: number, topic?: string): Promise<OutboxRow[]> {
    const rows: RawRow[] = await this.db.query(
      `SELECT id, topic, queue, payload, attempts, created_at, last_error, dead_at FROM outbox
        WHERE dead_at IS NOT NULL AND ($3::text IS NULL OR topic = $3)
        ORDER BY dead_at DESC, id DESC LIMIT $1 OFFSET $2`,
      [limit, offset, topic ?? null],
    );
    return rows.map(toRow);
  }

  /**
   * The same, as the tail of another statement: a CTE named `outbox_added` that adds one message
   * per row of `payloadsSql` (a query yielding a jsonb `payload` column) and wakes the relay. For
   * hot paths that commit a change and its message in a single statement.
   */
  cteFor(topic: string, queue: string, payloadsSql: string, firstParam: number): { cte: string; select: string; params: unknown[] } {
    const [t, q, c] = [firstParam, firstParam + 1, firstParam + 2];
    return {
      cte: `outbox_added AS (INSERT INTO outbox (topic, queue, payload) SELECT $${t}, $${q}, payload FROM (${payloadsSql}) AS p RETURNING 1),
       outbox_woken AS (SELECT pg_notify($${c}, '') FROM (SELECT 1 FROM outbox_added LIMIT 1) AS one)`,
      // A plain SELECT in WITH runs only when used: the statement must select this.
      select: `(SELECT count(*) FROM outbox_woken)`,
      params: [topic, queue, OUTBOX_CHANNEL],
    };
  }

  async find(id: string): Promise<OutboxRow | undefined> {
    const rows: RawRow[] = await this.db.query(`SELECT id, topic, queue, payload, attempts, created_at, last_error, dead_at FROM outbox WHERE id = $1`, [id]);
    return rows[0] ? toRow(rows[0]) : undefined;
  }

  /** Gives a dead letter another full set of attempts. Returns false when there is no such dead letter. */
  async replay(id: string): Promise<OutboxRow | undefined> {
    const rows: RawRow[] = await this.db.query(
      `WITH replayed AS (UPDATE outbox SET dead_at = NULL, relayed_at = NULL, attempts = 0, available_at = now()
        WHERE id = $1 AND dead_at IS NOT NULL
        RETURNING id, topic, queue, payload, attempts, created_at, last_error, dead_at)
       SELECT * FROM replayed`,
      [id],
    );
    const row = rows[0];
    if (row) await this.db.query(`SELECT pg_notify($1, '')`, [OUTBOX_CHANNEL]);
    return row ? toRow(row) : undefined;
  }

  async counts(): Promise<{ open: number; dead: number }> {
    const [row] = (await this.db.query(
      `SELECT count(*) FILTER (WHERE done_at IS NULL AND dead_at IS NULL) AS open,
              count(*) FILTER (WHERE dead_at IS NOT NULL) AS dead
         FROM outbox WHERE done_at IS NULL`,
    )) as { open: string; dead: string }[];
    return { open: Number(row?.open ?? 0), dead: Number(row?.dead ?? 0) };
  }

  /** Finished messages are history; keep a while for diagnosis, then drop. */
  async purgeDone(olderThanDays: number): Promise<number> {
    const rows = (await this.db.query(`WITH gone AS (DELETE FROM outbox WHERE done_at < now() - make_interval(days => $1) RETURNING 1) SELECT count(*) AS n FROM gone`, [olderThanDays])) as { n: string }[];
    return Number(rows[0]?.n ?? 0);
  }
}
