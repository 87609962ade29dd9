import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { type BlockBlobClient, BlobServiceClient, type ContainerClient, RestError } from '@azure/storage-blob';
import { type AccessTier, type BlobProperties, BlobStore, BlobStoreError, type RehydratePriority } from './blob.store.js';

/** Up to this size an object is one block, streamed (Put Block accepts up to 4000 MiB). */
const SINGLE_BLOCK_MAX = 64 * 1024 * 1024;
const BLOCK_SIZE = 8 * 1024 * 1024;
const SDK_RETRIES = { maxTries: 3, retryDelayInMs: 500, maxRetryDelayInMs: 4000 };

/** Azure Blob Storage (and Azurite). Integrity: Content-MD5 on every upload, checked by the service. */
export class AzureBlobStore extends BlobStore {
  private readonly container: ContainerClient;

  constructor(connectionString: string, containerName: string) {
    super();
    // Short in-call retries for a transient error: the outbox job retries with its own backoff, and
    // the SDK's default (4 tries, up to ~20 s) would hold each upload, readiness probe and shutdown that long in an outage.
    this.container = BlobServiceClient.fromConnectionString(connectionString, { retryOptions: SDK_RETRIES }).getContainerClient(containerName);
  }

  async init(): Promise<void> {
    await this.guard(() => this.container.createIfNotExists());
  }

  async ping(): Promise<void> {
    await this.guard(() => this.container.getProperties());
  }

  async upload(key: string, path: string, size: number, md5: Buffer): Promise<'created' | 'exists'> {
    const blob = this.container.getBlockBlobClient(key);
    try {
      await this.uploadBlocks(blob, path, size, md5);
      return 'created';
    } catch (e) {
      if (e instanceof RestError && (e.statusCode === 409 || e.statusCode === 412)) {
        // Already there (a retried upload, or the same content under its hash): verify, never overwrite.
        const existing = await this.properties(key);
        if (existing && existing.size === size && (!existing.md5 || existing.md5.equals(md5))) return 'exists';
        throw new BlobStoreError('CONFLICT', `blob ${key} exists with different content`);
      }
      throw this.translate(e);
    }
  }

  /**
   * Blocks, each sent with its MD5 for the service to check (Put Block validates Content-MD5),
   * then the list committed with the whole object's MD5 and If-None-Match: * (never overwrite).
   * A small object is one block streamed from the file; a large one is read 8 MiB at a time.
   */
  private async uploadBlocks(blob: BlockBlobClient, path: string, size: number, md5: Buffer): Promise<void> {
    const ids: string[] = [];
    const blockId = (n: number): string => Buffer.from(`block-${String(n).padStart(8, '0')}`).toString('base64');
    if (size <= SINGLE_BLOCK_MAX) {
      ids.push(blockId(0));
      await blob.stageBlock(ids[0]!, () => createReadStream(path), size, { transactionalContentMD5: md5 });
    } else {
      const file = await open(path, 'r');
      try {
        const buffer = Buffer.alloc(BLOCK_SIZE);
        for (let offset = 0, n = 0; offset < size; offset += BLOCK_SIZE, n++) {
          const { bytesRead } = await file.read(buffer, 0, Math.min(BLOCK_SIZE, size - offset), offset);
          const chunk = buffer.subarray(0, bytesRead);
          ids.push(blockId(n));
          await blob.stageBlock(ids[n]!, chunk, chunk.length, { transactionalContentMD5: createHash('md5').update(chunk).digest() });
        }
      } finally {
        await file.close();
      }
    }
    await blob.commitBlockList(ids, {
      blobHTTPHeaders: { blobContentMD5: md5, blobContentType: 'application/dicom' },
      conditions: { ifNoneMatch: '*' },
    });
  }

  async read(key: string, range?: { start: number; end: number }): Promise<Readable> {
    const blob = this.container.getBlobClient(key);
    try {
      const response = range ? await blob.download(range.start, range.end - range.start + 1) : await blob.download();
      if (!response.readableStreamBody) throw new BlobStoreError('UNAVAILABLE', 'no body in the blob response');
      return response.readableStreamBody as Readable;
    } catch (e) {
      throw this.translate(e);
    }
  }

  async properties(key: string): Promise<BlobProperties | undefined> {
    try {
      const p = await this.container.getBlobClient(key).getProperties();
      return {
        size: p.contentLength ?? 0,
        md5: p.contentMD5 ? Buffer.from(p.contentMD5) : undefined,
        tier: p.accessTier as AccessTier | undefined,
        archiveStatus: p.archiveStatus,
      };
    } catch (e) {
      if (e instanceof RestError && e.statusCode === 404) return undefined;
      throw this.translate(e);
    }
  }

  async delete(key: string): Promise<void> {
    await this.guard(() => this.container.getBlobClient(key).deleteIfExists({ deleteSnapshots: 'include' }));
  }

  async setAccessTier(key: string, tier: AccessTier, options: { rehydratePriority?: RehydratePriority } = {}): Promise<void> {
    try {
      await this.container.getBlobClient(key).setAccessTier(tier, options.rehydratePriority ? { rehydratePriority: options.rehydratePriority } : {});
    } catch (e) {
      // Already rehydrating (Azure: 409 BlobBeingRehydrated): the rehydration asked for is under way.
      if (e instanceof RestError && e.statusCode === 409 && e.code === 'BlobBeingRehydrated') return;
      throw this.translate(e);
    }
  }

  async setTags(key: string, tags: Record<string, string>): Promise<void> {
    await this.guard(() => this.container.getBlobClient(key).setTags(tags));
  }

  async setLegalHold(key: string, hold: boolean): Promise<'applied' | 'unsupported'> {
    try {
      await this.container.getBlobClient(key).setLegalHold(hold);
      return 'applied';
    } catch (e) {
      // 501 (Azurite), or an account without version-level immutability (409/400 feature not enabled).
      if (e instanceof RestError && (e.statusCode === 501 || /immutab|versionlevelworm|featurenotenabled|notsupported/i.test(`${e.code ?? ''} ${e.message}`))) return 'unsupported';
      throw this.translate(e);
    }
  }

  private async guard<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (e) {
      throw this.translate(e);
    }
  }

  private translate(e: unknown): Error {
    if (e instanceof BlobStoreError) return e;
    if (e instanceof RestError) {
      if (e.statusCode === 404) return new BlobStoreError('NOT_FOUND', e.message);
      if (e.statusCode === 409 && e.code === 'BlobArchived') return new BlobStoreError('ARCHIVED', e.message);
      // Azure answers Md5Mismatch; Azurite an InvalidOperation saying the Content-MD5 does not match.
      if (e.code === 'Md5Mismatch' || e.code === 'InvalidMd5' || (e.statusCode === 400 && /md5/i.test(e.message))) return new BlobStoreError('INTEGRITY', e.message);
      return new BlobStoreError('UNAVAILABLE', `${e.statusCode ?? ''} ${e.code ?? ''} ${e.message}`.trim());
    }
    return new BlobStoreError('UNAVAILABLE', (e as Error).message);
  }
}
