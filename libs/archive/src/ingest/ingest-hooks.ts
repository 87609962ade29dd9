import { Injectable } from '@nestjs/common';
import type { SqlRunner } from '#vna/persistence';
import type { IndexRecord } from './index-record.js';

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

/** Hooks by registration (feature libs register in onModuleInit); ingest does not know them. */
@Injectable()
export class IngestHookRegistry {
  private readonly hooks: IngestHook[] = [];

  register(hook: IngestHook): void {
    this.hooks.push(hook);
  }

  all(): readonly IngestHook[] {
    return this.hooks;
  }
}
