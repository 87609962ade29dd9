import { Injectable } from '@nestjs/common';
import type { InstanceRow } from './instance-row.js';

/** What a hook made of objects that cannot be read from their tier: why, and when to ask again. */
export interface ArchivedOutcome {
  readonly message: string;
  readonly retryAfterSeconds: number;
  /** The objects' earlier rehydration has finished meanwhile: they can be read now (the index had not caught up). */
  readonly readable?: boolean;
}

/**
 * Objects whose blob is in the Archive tier (the store answered 409 BlobArchived, or the index
 * knows the tier): the hook starts their rehydration and says when to come back.
 */
export type ArchivedHook = (instances: readonly InstanceRow[]) => Promise<ArchivedOutcome>;

/** Studies just retrieved (for "last access" tiering policies); must be cheap, failures are ignored. */
export type AccessHook = (studyUids: readonly string[]) => void;

/** Retrieve's extension points (feature libs register in onModuleInit); retrieve does not know them. */
@Injectable()
export class RetrieveHookRegistry {
  private archivedHook?: ArchivedHook;
  private readonly accessHooks: AccessHook[] = [];

  onArchived(hook: ArchivedHook): void {
    if (this.archivedHook) throw new Error('an archived-object hook is already registered');
    this.archivedHook = hook;
  }

  onAccess(hook: AccessHook): void {
    this.accessHooks.push(hook);
  }

  async archived(instances: readonly InstanceRow[]): Promise<ArchivedOutcome> {
    if (!this.archivedHook) return { message: 'the object is in the Archive tier and must be rehydrated before it can be read', retryAfterSeconds: 3600 };
    return this.archivedHook(instances);
  }

  accessed(studyUids: readonly string[]): void {
    for (const hook of this.accessHooks) {
      try {
        hook(studyUids);
      } catch {
        // Access tracking never fails a retrieve.
      }
    }
  }
}
