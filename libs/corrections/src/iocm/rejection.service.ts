import { Inject, Injectable, Logger } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { DataSource } from 'typeorm';
import { type InstanceEvent, type InstanceGuard, IngestError } from '#vna/archive';
import { VNA_CONFIG, type VnaConfig } from '#vna/config';
import { autocommit, type SqlRunner, withTransaction } from '#vna/persistence';
import { CorrectionError } from '../corrections.errors.js';
import { KOS_SOP_CLASS, parseRejectionNote, REJECTION_REASONS, RejectionNoteError } from './rejection-note.js';
import { type Rejection, RejectionRepository, type RejectionState } from './rejection.repository.js';

/** The outcome of a revocation: the note's rejections ended, and how many instances are visible again. */
export interface RevocationResult {
  readonly noteSopInstanceUid: string;
  readonly revoked: number;
  readonly shown: number;
  readonly rejections: readonly Rejection[];
}

/**
 * IHE IOCM (RAD TF-2 RAD-66, Rejection Note Stored): a Key Object Selection rejection note received
 * by C-STORE or STOW is stored like any object, and in the same transaction the instances it
 * references are hidden from query and retrieve (their index rows stop being current; the stored
 * objects are untouched, ARCHITECTURE.md invariant 2). A rejected instance sent again follows
 * VNA_IOCM_RESEND: `reject` refuses it, `restore` shows it again. An admin revokes a note's
 * rejections through /api/v1. 113039 (retention expired) rejections are the lifecycle's to delete.
 *
 * References to instances the archive does not have are recorded all the same (a note may arrive
 * before the objects it rejects, by another route): such an instance arriving later is treated as a
 * re-send of a rejected instance.
 */
@Injectable()
export class RejectionService {
  private readonly logger = new Logger('IOCM');

  readonly guard: InstanceGuard = {
    fullPath: (record) => record.instance.sopClassUid === KOS_SOP_CLASS,
    // A rejected instance the archive never had (the note came first) arrives by the fast path.
    fastPathCheck: `EXISTS (SELECT 1 FROM iocm_rejection r WHERE r.sop_instance_uid = $1 AND r.state = 'active')`,
    check: (tx, event) => this.check(tx, event),
  };

  constructor(
    @Inject(VNA_CONFIG) private readonly config: VnaConfig,
    @InjectDataSource() private readonly db: DataSource,
    private readonly repo: RejectionRepository,
  ) {}

  /** Runs in the ingest transaction of every object on the full path (ingest's guard). */
  async check(tx: SqlRunner, { record, source }: InstanceEvent): Promise<void> {
    const { sopInstanceUid, sopClassUid } = record.instance;
    const by = source.aet ?? source.kind;
    if (sopClassUid === KOS_SOP_CLASS) await this.applyNote(tx, sopInstanceUid, record.instance.metadata, by);
    const active = await this.repo.activeFor(tx, sopInstanceUid);
    if (!active) return;
    if (this.config.iocm.resend === 'reject') {
      throw new IngestError('REJECTED_INSTANCE', `rejected by IOCM note ${active.noteSopInstanceUid} (${active.reasonCode} ${active.reasonMeaning})`, sopClassUid, sopInstanceUid);
    }
    await this.repo.end(tx, [active.id], 'restored', by, 'sent again (VNA_IOCM_RESEND=restore)');
    this.logger.log(`rejected instance ${sopInstanceUid} sent again by ${by}: restored`);
  }

  private async applyNote(tx: SqlRunner, noteUid: string, metadata: Parameters<typeof parseRejectionNote>[0], by: string): Promise<void> {
    let note;
    try {
      note = parseRejectionNote(metadata);
    } catch (e) {
      if (e instanceof RejectionNoteError) throw new IngestError('INVALID_REJECTION_NOTE', e.message, KOS_SOP_CLASS, noteUid);
      throw e;
    }
    if (!note) return;
    if (note.references.some((r) => r.sopInstanceUid === noteUid)) {
      throw new IngestError('INVALID_REJECTION_NOTE', 'a rejection note cannot reject itself', KOS_SOP_CLASS, noteUid);
    }
    await this.repo.lockUids(tx, note.references.map((r) => r.sopInstanceUid));
    const { rejected, hidden } = await this.repo.reject(tx, noteUid, note.code, note.meaning, note.references, by);
    this.logger.log(`rejection note ${noteUid} (${note.code}) from ${by}: ${rejected} instances rejected, ${hidden} hidden, ${note.references.length - rejected} already rejected`);
  }

  /** Ends a note's active rejections: the instances are visible again (recorded: who, when, why). */
  async revoke(noteUid: string, reason: string, by: string): Promise<RevocationResult> {
    return withTransaction(this.db, async (tx) => {
      const all = await this.repo.ofNote(tx, noteUid, true);
      if (all.length === 0) throw new CorrectionError('not-found', `no rejection note ${noteUid}`);
      const active = all.filter((r) => r.state === 'active');
      if (active.length === 0) throw new CorrectionError('conflict', `the rejections of note ${noteUid} already ended (revoked or restored)`);
      await this.repo.lockUids(tx, active.map((r) => r.sopInstanceUid));
      const shown = await this.repo.end(tx, active.map((r) => r.id), 'revoked', by, reason);
      this.logger.log(`rejection note ${noteUid} revoked by ${by}: ${active.length} rejections ended, ${shown} instances shown again`);
      return { noteSopInstanceUid: noteUid, revoked: active.length, shown, rejections: await this.repo.ofNote(tx, noteUid) };
    });
  }

  list(q: { state?: RejectionState; reasonCode?: string; studyUid?: string; limit: number; offset: number }): Promise<Rejection[]> {
    if (q.reasonCode !== undefined && !(q.reasonCode in REJECTION_REASONS)) throw new CorrectionError('invalid', `unknown rejection reason ${q.reasonCode}`);
    return this.repo.list(autocommit(this.db), q);
  }
}
