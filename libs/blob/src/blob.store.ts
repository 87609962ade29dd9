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
}

/** `sha256/ab/cd/abcd...`: content-addressed, spread over prefixes. */
export function blobKeyForSha256(sha256: Buffer): string {
  const hex = sha256.toString('hex');
  return `sha256/${hex.slice(0, 2)}/${hex.slice(2, 4)}/${hex}`;
}
