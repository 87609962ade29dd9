import { Inject, Injectable, Logger } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { DataSource } from 'typeorm';
import { BlobStore } from '#vna/blob';
import { VNA_CONFIG, type VnaConfig } from '#vna/config';
import { OutboxRepository, SHARED_QUEUE } from '#vna/jobs';
import { autocommit, type SqlRunner, withTransaction } from '#vna/persistence';
import { auditEvent } from '../audit.js';
import { mapLimited } from '../concurrency.js';
import { LifecycleClock } from '../lifecycle-clock.js';
import { LifecycleError } from '../lifecycle.errors.js';
import { type LegalHold, LegalHoldRepository } from './legal-hold.repository.js';

/** Mirror a hold (placed or released) to the blob store: index tags, and the store's legal hold where it has one. */
export const MIRROR_HOLD_TOPIC = 'lifecycle.mirror-hold';

/** The blob index tag every held object carries (Azure blob index tags: searchable, no patient data). */
export const HOLD_TAG = 'vna-legal-hold';

export interface PlaceHold {
  readonly scope: 'patient' | 'study';
  readonly patientId?: string;
  readonly issuer?: string;
  readonly studyUid?: string;
  readonly reason: string;
  readonly caseReference: string;
}

/**
 * Legal holds on a patient or a study. A hold blocks expiry and deletion by every path: they all
 * call assertNotHeld (or use studyHeldSql), in the transaction that deletes. Holds are mirrored to
 * the blob store through the outbox: an index tag always, the store's legal hold where supported.
 */
@Injectable()
export class LegalHoldService {
  private readonly logger = new Logger('LegalHolds');

  constructor(
    @InjectDataSource() private readonly db: DataSource,
    @Inject(VNA_CONFIG) private readonly config: VnaConfig,
    private readonly holds: LegalHoldRepository,
    private readonly outbox: OutboxRepository,
    private readonly blob: BlobStore,
    private readonly clock: LifecycleClock,
  ) {}

  /**
   * THE check of every deletion path (retention, admin delete, IOCM, routing that moves data
   * away): refuses with a 'legal-hold' conflict when any of these studies is held. Run it in the
   * transaction that deletes, so a hold committed before it is seen.
   */
  async assertNotHeld(sql: SqlRunner, studyUids: readonly string[]): Promise<void> {
    const held = await this.holds.heldStudies(sql, studyUids);
    if (held.size === 0) return;
    const [uid, holds] = [...held][0]!;
    throw new LifecycleError('conflict', `study ${uid}${held.size > 1 ? ` and ${held.size - 1} more` : ''} is under legal hold ${holds.join(', ')}: it cannot be deleted or expired`, 'legal-hold');
  }

  /** The held studies among these, each with its holds (id and case reference). */
  async heldStudies(studyUids: readonly string[], sql: SqlRunner = autocommit(this.db)): Promise<Map<string, string[]>> {
    return this.holds.heldStudies(sql, studyUids);
  }

  async place(request: PlaceHold, by: string): Promise<LegalHold> {
    const issuer = request.scope === 'patient' ? (request.issuer ?? this.config.identity.defaultPatientIdIssuer) : null;
    if (request.scope === 'study' && !request.studyUid) throw new LifecycleError('invalid', 'a study hold needs studyUid');
    if (request.scope === 'patient' && !request.patientId) throw new LifecycleError('invalid', 'a patient hold needs patientId');
    return withTransaction(this.db, async (sql) => {
      if (request.scope === 'study' && !(await this.holds.studyExists(sql, request.studyUid!))) throw new LifecycleError('not-found', `no study ${request.studyUid}`);
      const at = this.clock.now();
      const hold = await this.holds.insert(
        sql,
        { scope: request.scope, patientId: request.scope === 'patient' ? request.patientId! : null, issuer, studyUid: request.scope === 'study' ? request.studyUid! : null, reason: request.reason, caseReference: request.caseReference, placedBy: by },
        at,
      );
      await auditEvent(sql, 'legal-hold.placed', by, hold.studyUid, { hold: hold.id, scope: hold.scope, patientId: hold.patientId, issuer: hold.issuer, reason: hold.reason, caseReference: hold.caseReference }, at);
      await this.outbox.add(sql, [{ topic: MIRROR_HOLD_TOPIC, queue: SHARED_QUEUE, payload: { holdId: hold.id } }]);
      this.logger.log(`legal hold ${hold.id} placed on ${hold.scope} ${hold.studyUid ?? hold.patientId} by ${by} (case ${hold.caseReference})`);
      return hold;
    });
  }

  async release(id: string, by: string, reason: string): Promise<LegalHold> {
    return withTransaction(this.db, async (sql) => {
      const hold = await this.holds.get(sql, id, true);
      if (!hold) throw new LifecycleError('not-found', `no legal hold ${id}`);
      if (hold.releasedAt) throw new LifecycleError('conflict', `legal hold ${id} was released already`);
      const at = this.clock.now();
      const released = await this.holds.release(sql, id, by, reason, at);
      await auditEvent(sql, 'legal-hold.released', by, hold.studyUid, { hold: id, reason }, at);
      await this.outbox.add(sql, [{ topic: MIRROR_HOLD_TOPIC, queue: SHARED_QUEUE, payload: { holdId: id } }]);
      return released;
    });
  }

  async get(id: string): Promise<LegalHold> {
    const hold = await this.holds.get(autocommit(this.db), id);
    if (!hold) throw new LifecycleError('not-found', `no legal hold ${id}`);
    return hold;
  }

  list(filter: { active?: boolean; studyUid?: string; patientId?: string; limit: number; offset: number }): Promise<LegalHold[]> {
    return this.holds.list(autocommit(this.db), filter);
  }

  /**
   * The outbox job: each blob the hold covers gets the hold tag (true while any active hold covers
   * it) and the store's legal hold set or cleared. A store without legal holds (Azurite: 501) leaves
   * the tag as the only mirror: logged as a warning and shown by /health/ready, never silently.
   * `since`: only objects stored after then (the hold's later arrivals).
   */
  async mirror(holdId: string, since: Date | null = null): Promise<void> {
    const sql = autocommit(this.db);
    const hold = await this.holds.get(sql, holdId);
    if (!hold) return;
    // Objects stored from now on are the next round's (mirrored_at is taken before reading them).
    const asOf = new Date();
    const blobs = await this.holds.blobsOf(sql, hold, since);
    let unsupported = 0;
    const results = await mapLimited(blobs, this.config.lifecycle.moveConcurrency, async (b) => {
      await this.blob.setTags(b.blobKey, { [HOLD_TAG]: b.held ? 'true' : 'false' });
      if ((await this.blob.setLegalHold(b.blobKey, b.held)) === 'unsupported') unsupported++;
    });
    const failed = results.filter((r) => r.status === 'rejected');
    if (failed.length > 0) throw new Error(`mirroring legal hold ${holdId}: ${failed.length} of ${blobs.length} blob(s) failed (${String((failed[0] as PromiseRejectedResult).reason)})`);
    if (unsupported > 0) {
      this.logger.warn(`legal hold ${holdId}: the blob store does not support legal holds (501 or not enabled); ${unsupported} blob(s) carry the ${HOLD_TAG} index tag only`);
    }
    const state = hold.releasedAt ? 'released' : unsupported > 0 ? 'tagged' : blobs.length > 0 ? 'immutable' : since ? hold.mirrorState : 'pending';
    await this.holds.setMirrored(sql, holdId, state, asOf);
  }

  /** The lifecycle cycle: objects of held patients and studies stored since their hold was mirrored get it too. */
  async mirrorNewObjects(): Promise<number> {
    const pending = await this.holds.needingMirror(autocommit(this.db));
    for (const p of pending) await this.mirror(p.id, p.since);
    return pending.length;
  }

  /** /health/ready: active holds the store could not make immutable (a degraded mirror). */
  async degradation(): Promise<string | undefined> {
    const [row] = (await this.db.query(`SELECT count(*)::int AS n FROM legal_hold WHERE released_at IS NULL AND mirror_state = 'tagged'`)) as { n: number }[];
    if (!row || row.n === 0) return undefined;
    return `${row.n} active legal hold(s) are mirrored to the blob store as index tags only: the store does not support legal holds (Azurite answers 501); the archive's own check still blocks every deletion`;
  }
}
