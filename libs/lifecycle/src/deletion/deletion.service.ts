import { Inject, Injectable, Logger } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { DataSource } from 'typeorm';
import { BlobStore } from '#vna/blob';
import { VNA_CONFIG, type VnaConfig } from '#vna/config';
import { OutboxRepository, SHARED_QUEUE } from '#vna/jobs';
import { autocommit, type SqlRunner, withTransaction } from '#vna/persistence';
import { auditEvent } from '../audit.js';
import { LegalHoldService } from '../holds/legal-hold.service.js';
import { LifecycleClock } from '../lifecycle-clock.js';
import { LifecycleError } from '../lifecycle.errors.js';
import { type DeletionRequest, DeletionRepository, type Tombstone } from './deletion.repository.js';

/** Delete blobs whose index rows are gone (after the deletion committed); idempotent, retried. */
export const DELETE_BLOBS_TOPIC = 'lifecycle.delete-blobs';

/**
 * The deletion workflow (ARCHITECTURE.md invariant 6: nothing is deleted without a retention
 * decision and an audit record; a legal hold wins). A request (proposed by the retention job, or
 * by HIM) needs VNA_RETENTION_APPROVALS approvals from different users (the two-person rule);
 * with the last one the study is deleted: its index rows go and a tombstone (UIDs, hashes, policy,
 * approvers, time) and an audit record are written in one transaction, after the legal hold check;
 * its blobs, in whatever tier, are deleted through the outbox once that has committed.
 */
@Injectable()
export class DeletionService {
  private readonly logger = new Logger('Deletion');

  constructor(
    @InjectDataSource() private readonly db: DataSource,
    @Inject(VNA_CONFIG) private readonly config: VnaConfig,
    private readonly repo: DeletionRepository,
    private readonly holds: LegalHoldService,
    private readonly outbox: OutboxRepository,
    private readonly blob: BlobStore,
    private readonly clock: LifecycleClock,
  ) {}

  /** The retention job: expired studies no hold keeps become proposals (approval needed). */
  async proposeExpired(): Promise<number> {
    const n = await this.repo.proposeExpired(autocommit(this.db), this.clock.today(), this.config.retention.approvals, this.clock.now());
    if (n > 0) this.logger.log(`retention: ${n} expired study(ies) proposed for deletion`);
    return n;
  }

  /** IOCM 113039 rejections become proposals too (the same approvals and hold check). */
  async proposeRejected(): Promise<number> {
    const n = await this.repo.proposeRejected(autocommit(this.db), this.config.retention.approvals, this.clock.now());
    if (n > 0) this.logger.log(`IOCM: instances rejected with 113039 in ${n} study(ies) proposed for deletion`);
    return n;
  }

  /** HIM asks for a study's deletion (the admin path): refused at once when a hold covers it. */
  async request(studyUid: string, reason: string, by: string): Promise<DeletionRequest> {
    return withTransaction(this.db, async (sql) => {
      if (!(await this.repo.lockStudy(sql, studyUid))) throw new LifecycleError('not-found', `no study ${studyUid}`);
      await this.holds.assertNotHeld(sql, [studyUid]);
      const at = this.clock.now();
      const created = await this.repo.insert(sql, { studyUid, origin: 'admin', reason, policyName: null, approvalsNeeded: this.config.retention.approvals, requestedBy: by }, at);
      if (!created) throw new LifecycleError('conflict', `study ${studyUid} already has an open deletion request`);
      await auditEvent(sql, 'deletion.requested', by, studyUid, { request: created.id, reason }, at);
      return created;
    });
  }

  /**
   * An approval. The same user cannot approve twice (two-person rule). With the last approval
   * needed the study is deleted at once, unless a hold covers it by then (the request is 'blocked').
   */
  async approve(id: string, by: string, reason: string): Promise<DeletionRequest> {
    const outcome = await withTransaction(this.db, async (sql) => {
      const request = await this.repo.get(sql, id, true);
      if (!request) throw new LifecycleError('not-found', `no deletion request ${id}`);
      if (request.status !== 'proposed') throw new LifecycleError('conflict', `deletion request ${id} is ${request.status}: nothing to approve`, 'not-approvable');
      if (request.approvals.some((a) => a.by === by)) {
        throw new LifecycleError('conflict', `${by} has approved deletion request ${id} already: a second approval must come from another user (two-person rule)`, 'same-approver');
      }
      const at = this.clock.now();
      const approvals = [...request.approvals, { by, at: at.toISOString(), reason }];
      const complete = approvals.length >= request.approvalsNeeded;
      await this.repo.setApprovals(sql, id, approvals, complete ? 'approved' : 'proposed');
      await auditEvent(sql, 'deletion.approved', by, request.studyUid, { request: id, reason, approvals: approvals.length, needed: request.approvalsNeeded }, at);
      return complete;
    });
    if (outcome) await this.execute(id);
    return this.get(id);
  }

  async reject(id: string, by: string, reason: string): Promise<DeletionRequest> {
    await withTransaction(this.db, async (sql) => {
      const request = await this.repo.get(sql, id, true);
      if (!request) throw new LifecycleError('not-found', `no deletion request ${id}`);
      if (request.status !== 'proposed' && request.status !== 'approved') throw new LifecycleError('conflict', `deletion request ${id} is ${request.status}`, 'not-approvable');
      const at = this.clock.now();
      await this.repo.close(sql, id, 'rejected', by, reason, at);
      await auditEvent(sql, 'deletion.rejected', by, request.studyUid, { request: id, reason }, at);
    });
    return this.get(id);
  }

  /**
   * Deletes an approved request's study: the hold check, the index rows, the tombstone, the audit
   * record and the blob deletion's outbox message in ONE transaction. A hold found here blocks the
   * request (kept, with why) and nothing is deleted.
   */
  async execute(id: string): Promise<DeletionRequest> {
    const blocked = await withTransaction(this.db, async (sql) => {
      const request = await this.repo.get(sql, id, true);
      if (!request) throw new LifecycleError('not-found', `no deletion request ${id}`);
      if (request.status !== 'approved') throw new LifecycleError('conflict', `deletion request ${id} is ${request.status}, not approved`, 'not-deletable');
      const at = this.clock.now();
      const study = await this.repo.lockStudy(sql, request.studyUid);
      try {
        await this.holds.assertNotHeld(sql, [request.studyUid]);
      } catch (e) {
        if (!(e instanceof LifecycleError) || e.code !== 'legal-hold') throw e;
        await this.repo.close(sql, id, 'blocked', 'system:legal-hold', e.message, at);
        await auditEvent(sql, 'deletion.blocked', 'system:legal-hold', request.studyUid, { request: id, reason: e.message }, at);
        return e;
      }
      const approvers = request.approvals.map((a) => a.by);
      if (!study) {
        await this.repo.close(sql, id, 'deleted', approvers.join(','), 'the study was no longer in the index', at);
        return undefined;
      }
      await this.deleteStudy(sql, study, { requestId: id, reason: request.reason, policyName: request.policyName, approvers, studyUid: request.studyUid, sopInstanceUids: request.sopInstanceUids }, at);
      await this.repo.close(sql, id, 'deleted', approvers.join(','), request.reason, at);
      return undefined;
    });
    if (blocked) throw blocked;
    return this.get(id);
  }

  private async deleteStudy(
    sql: SqlRunner,
    study: { id: string; patientId: string; issuer: string },
    why: { requestId: string; reason: string; policyName: string | null; approvers: string[]; studyUid: string; sopInstanceUids: string[] | null },
    at: Date,
  ): Promise<void> {
    const instances = await this.repo.instancesOf(sql, study.id, why.sopInstanceUids);
    if (why.sopInstanceUids) await this.repo.deleteInstanceRows(sql, study.id, why.sopInstanceUids);
    else await this.repo.deleteStudyRows(sql, study.id);
    await this.repo.insertTombstone(sql, { requestId: why.requestId, studyUid: why.studyUid, patientId: study.patientId, issuer: study.issuer, policyName: why.policyName, reason: why.reason, approvers: why.approvers, instances }, at);
    await auditEvent(sql, why.sopInstanceUids ? 'instances.deleted' : 'study.deleted', why.approvers.join(','), why.studyUid, { request: why.requestId, reason: why.reason, policy: why.policyName, approvers: why.approvers, objects: instances.length, sopInstanceUids: why.sopInstanceUids }, at);
    const keys = [...new Set(instances.map((i) => i.blobKey).filter((k): k is string => !!k))];
    if (keys.length) await this.outbox.add(sql, [{ topic: DELETE_BLOBS_TOPIC, queue: SHARED_QUEUE, payload: { keys, studyUid: why.studyUid } }]);
    this.logger.log(`${why.sopInstanceUids ? `${why.sopInstanceUids.length} instance(s) of study` : 'study'} ${why.studyUid} deleted (${instances.length} object version(s); request ${why.requestId}; approved by ${why.approvers.join(', ')})`);
  }

  /** The outbox job: deletes the blobs no index row refers to any more (any tier; a missing one is fine). */
  async deleteBlobs(keys: readonly string[]): Promise<void> {
    const gone = await this.repo.unreferenced(autocommit(this.db), keys);
    for (const key of gone) await this.blob.delete(key);
  }

  async get(id: string): Promise<DeletionRequest> {
    const request = await this.repo.get(autocommit(this.db), id);
    if (!request) throw new LifecycleError('not-found', `no deletion request ${id}`);
    return request;
  }

  list(status: string | undefined, limit: number, offset: number): Promise<DeletionRequest[]> {
    return this.repo.list(autocommit(this.db), status, limit, offset);
  }

  tombstones(studyUid: string | undefined, limit: number, offset: number): Promise<Tombstone[]> {
    return this.repo.tombstones(autocommit(this.db), studyUid, limit, offset);
  }
}
