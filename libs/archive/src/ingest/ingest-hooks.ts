import { Injectable } from '@nestjs/common';
import type { SqlRunner } from '#vna/persistence';
import type { IndexRecord } from './index-record.js';
import type { InstanceSource } from './instance-index.repository.js';

/** A series new to this process's index cache: its rows, and which of them this object created. */
export interface NewSeriesEvent {
  readonly record: IndexRecord;
  readonly patientRowId: string;
  readonly studyRowId: string;
  readonly seriesRowId: string;
  readonly created: { readonly patient: boolean; readonly study: boolean; readonly series: boolean };
}

/**
 * Runs inside the ingest transaction when an object's series is not yet known to this process
 * (its first object here, or after a restart): the place to link the patient and study to the
 * registry and orders. Must be idempotent (it runs again for a series after a restart) and quick.
 */
export type IngestHook = (tx: SqlRunner, event: NewSeriesEvent) => Promise<void>;

/** One object about to be indexed (its SOP Instance UID's advisory lock is held). */
export interface InstanceEvent {
  readonly record: IndexRecord;
  readonly sha256: Buffer;
  readonly source: InstanceSource;
}

/**
 * Looks at each object before its instance row is written, inside the ingest transaction: may
 * refuse it (throw an IngestError: nothing is kept) or change index rows with it (IOCM rejection
 * notes hide the instances they reject; a re-sent rejected instance follows its policy).
 * `fullPath`: the objects the guard must see even in a series the index knows (the one-statement
 * fast path otherwise skips guards for new objects of known series).
 */
export interface InstanceGuard {
  readonly fullPath: (record: IndexRecord) => boolean;
  /**
   * For objects `fullPath` cannot judge from the header alone: a SQL boolean expression over `$1`
   * (the SOP Instance UID) evaluated in the fast path's own statement; true rolls the fast path
   * back and sends the object to the full path.
   */
  readonly fastPathCheck?: string;
  readonly check: (tx: SqlRunner, event: InstanceEvent) => Promise<void>;
}

/** Hooks by registration (feature libs register in onModuleInit); ingest does not know them. */
@Injectable()
export class IngestHookRegistry {
  private readonly hooks: IngestHook[] = [];
  private readonly instanceGuards: InstanceGuard[] = [];

  register(hook: IngestHook): void {
    this.hooks.push(hook);
  }

  all(): readonly IngestHook[] {
    return this.hooks;
  }

  registerGuard(guard: InstanceGuard): void {
    this.instanceGuards.push(guard);
  }

  guards(): readonly InstanceGuard[] {
    return this.instanceGuards;
  }

  /** The guards' fast path checks as one SQL expression over `$1` ('false' without any). */
  fastPathChecks(): string {
    const checks = this.instanceGuards.map((g) => g.fastPathCheck).filter((c): c is string => !!c);
    return checks.length ? checks.map((c) => `(${c})`).join(' OR ') : 'false';
  }

  /** Whether any guard must see this object (so it takes the full path). */
  needsFullPath(record: IndexRecord): boolean {
    return this.instanceGuards.some((g) => g.fullPath(record));
  }
}
