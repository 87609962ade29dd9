import type { Readable } from 'node:stream';

export type AccessTier = 'Hot' | 'Cool' | 'Cold' | 'Archive';

export interface BlobProperties {
  readonly size: number;
  readonly md5?: Buffer;
  readonly tier?: AccessTier;
  /** Set while an Archive-tier blob is being rehydrated. */
  readonly archiveStatus?: string;
}

/** The blob store is unavailable, or refused: the caller retries later. */
export class BlobStoreError extends Error {
  constructor(
    readonly code: 'UNAVAILABLE' | 'NOT_FOUND' | 'ARCHIVED' | 'CONFLICT' | 'INTEGRITY',
    message: string,
  ) {
    super(message);
    this.name = 'BlobStoreError';
  }
}

/**
 * Where archived objects live. A port (ARCHITECTURE.md layout): the archive depends on this, the
 * Azure adapter implements it. Keys are hash-based and never carry UIDs or patient data.
 */
export abstract class BlobStore {
  /** Creates the container if needed. */
  abstract init(): Promise<void>;
  /** Answers when the store is reachable (readiness). */
  abstract ping(): Promise<void>;
  /**
   * Uploads a file under `key` unless a blob is there already (never overwrites). The store checks
   * the bytes against `md5`. Resolves 'exists' when an identical blob was already stored.
   */
  abstract upload(key: string, path: string, size: number, md5: Buffer): Promise<'created' | 'exists'>;
  /** Reads a blob, or a byte range of it (`end` inclusive). */
  abstract read(key: string, range?: { start: number; end: number }): Promise<Readable>;
  abstract properties(key: string): Promise<BlobProperties | undefined>;
  abstract delete(key: string): Promise<void>;
  /**
   * Moves a blob to another access tier. From Archive this starts a rehydration (hours on Azure,
   * `priority` High or Standard) which `properties().archiveStatus` tracks until the blob is readable.
   */
  abstract setAccessTier(key: string, tier: AccessTier, options?: { rehydratePriority?: RehydratePriority }): Promise<void>;
  /** Replaces the blob's index tags (searchable key-values; never patient data). */
  abstract setTags(key: string, tags: Record<string, string>): Promise<void>;
  /**
   * Sets or clears the store's own legal hold on a blob (Azure version-level immutability).
   * 'unsupported' when the account or emulator does not offer it (Azurite answers 501): the caller
   * degrades to tags with a warning, never silently.
   */
  abstract setLegalHold(key: string, hold: boolean): Promise<'applied' | 'unsupported'>;
}

export type RehydratePriority = 'High' | 'Standard';

/** The blob's tier is Archive, or it is rehydrating from Archive: it cannot be read yet. */
export function isArchived(p: Pick<BlobProperties, 'tier' | 'archiveStatus'>): boolean {
  return p.tier === 'Archive' || !!p.archiveStatus;
}

/** `sha256/ab/cd/abcd...`: content-addressed, spread over prefixes. */
export function blobKeyForSha256(sha256: Buffer): string {
  const hex = sha256.toString('hex');
  return `sha256/${hex.slice(0, 2)}/${hex.slice(2, 4)}/${hex}`;
}
