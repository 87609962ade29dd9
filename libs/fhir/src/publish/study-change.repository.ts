import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { DataSource } from 'typeorm';
import { OutboxRepository, SHARED_QUEUE } from '#vna/jobs';
import { withTransaction } from '#vna/persistence';

export const FHIR_PUBLISH_TOPIC = 'fhir.publish';

export interface FhirPublishPayload extends Record<string, unknown> {
  readonly studyUid: string;
  readonly destination: string;
}

interface ChangeRow {
  study_fk: string;
  study_uid: string | null;
  quiet_since: Date;
}

/**
 * The studies the index triggers marked as changed (migration 1732500000000). A sweep takes those
 * quiet for the stability window (no change, no instance received) and, in the same transaction,
 * removes their marks and adds one outbox message per destination; a study still receiving keeps
 * its mark, moved to its latest instance. Several sweepers share the table (SKIP LOCKED).
 */
@Injectable()
export class StudyChangeRepository {
  constructor(
    @InjectDataSource() private readonly db: DataSource,
    private readonly outbox: OutboxRepository,
  ) {}

  /** Returns how many studies were handed to the outbox. */
  async sweep(windowMs: number, destinations: readonly string[], limit = 500): Promise<number> {
    return withTransaction(this.db, async (tx) => {
      const rows: ChangeRow[] = await tx.query(
        `SELECT c.study_fk, coalesce(s.study_uid, c.study_uid) AS study_uid,
                greatest(c.marked_at, (SELECT max(i.received_at) FROM series se JOIN instance i ON i.series_fk = se.id WHERE se.study_fk = c.study_fk)) AS quiet_since
           FROM fhir_study_change c LEFT JOIN study s ON s.id = c.study_fk
          WHERE c.marked_at <= now() - make_interval(secs => $1)
          ORDER BY c.marked_at
          LIMIT $2
          FOR UPDATE OF c SKIP LOCKED`,
        [windowMs / 1000, limit],
      );
      if (rows.length === 0) return 0;
      const [{ now }] = (await tx.query(`SELECT now() AS now`)) as [{ now: Date }];
      const stable = rows.filter((r) => r.quiet_since.getTime() <= now.getTime() - windowMs);
      const busy = rows.filter((r) => !stable.includes(r));
      if (busy.length) {
        await tx.query(
          `UPDATE fhir_study_change c SET marked_at = b.at FROM unnest($1::bigint[], $2::timestamptz[]) AS b(fk, at) WHERE c.study_fk = b.fk`,
          [busy.map((r) => r.study_fk), busy.map((r) => r.quiet_since)],
        );
      }
      if (stable.length) {
        await tx.query(`DELETE FROM fhir_study_change WHERE study_fk = ANY($1::bigint[])`, [stable.map((r) => r.study_fk)]);
        const messages = stable
          .filter((r) => r.study_uid)
          .flatMap((r) => destinations.map((destination) => ({ topic: FHIR_PUBLISH_TOPIC, queue: SHARED_QUEUE, payload: { studyUid: r.study_uid!, destination } satisfies FhirPublishPayload })));
        await this.outbox.add(tx, messages);
      }
      return stable.length;
    });
  }

  /** When the next mark comes due (its window over), if any. */
  async nextDue(windowMs: number): Promise<number | undefined> {
    const [row] = (await this.db.query(`SELECT extract(epoch FROM min(marked_at) + make_interval(secs => $1) - now()) * 1000 AS ms FROM fhir_study_change`, [
      windowMs / 1000,
    ])) as { ms: string | null }[];
    return row?.ms === null || row?.ms === undefined ? undefined : Number(row.ms);
  }
}
