import { Injectable } from '@nestjs/common';
import type { SqlRunner } from '#vna/persistence';
import type { PatientIdentifier } from '../registry/registry.model.js';
import type { ReconciliationTask } from './reconciliation-task.repository.js';

/** What a task action gets: the open task (locked), who decided and why, in one transaction. */
export interface TaskActionContext {
  readonly tx: SqlRunner;
  readonly task: ReconciliationTask;
  readonly user: string;
  readonly reason: string;
}

/**
 * What HIM's decisions mean for one kind of task. Each returns what to keep in the task's
 * resolution (what it changed, with the previous state where it changed anything). An action
 * left out has the default meaning: accept and dismiss close the task; reassign links the task's
 * patient row (or its study's) to another registry patient.
 */
export interface TaskKindActions {
  accept?(ctx: TaskActionContext): Promise<Record<string, unknown>>;
  dismiss?(ctx: TaskActionContext): Promise<Record<string, unknown>>;
  /** `target`: the patient named by the request (an identifier, default issuer applied). */
  reassign?(ctx: TaskActionContext & { readonly target: PatientIdentifier }): Promise<Record<string, unknown>>;
}

/**
 * Task kinds' actions by registration (merges register 'merge-review'; orders may register
 * theirs in onModuleInit), so the tasks API does not know the features behind its tasks.
 */
@Injectable()
export class ReconciliationActions {
  private readonly byKind = new Map<string, TaskKindActions>();

  register(kind: string, actions: TaskKindActions): void {
    if (this.byKind.has(kind)) throw new Error(`task actions for ${kind} are already registered`);
    this.byKind.set(kind, actions);
  }

  get(kind: string): TaskKindActions | undefined {
    return this.byKind.get(kind);
  }
}
