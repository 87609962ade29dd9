import { createHash, randomUUID } from 'node:crypto';
import { createReadStream, readFileSync } from 'node:fs';
import { type FileHandle, mkdir, open, readdir, stat, unlink } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { SpoolWriter, type SpoolInput } from './spool-writer.js';

/**
 * The local spool: where received objects are made durable before they are acknowledged, and
 * where they wait for their upload to the blob store. Files are named by random ids (never by
 * UIDs or anything from the patient), in one directory per day.
 */
export class Spool {
  /**
   * This machine boot (Linux boot_id; elsewhere one id per process, so every start counts as a
   * new boot). A file written during this boot outlives the process in the page cache even before
   * its fsync completes; only a machine crash can lose it.
   */
  readonly boot: string = currentBoot();
  private readonly dirHandles = new Map<string, Promise<FileHandle>>();
  private readonly madeDirs = new Set<string>();

  constructor(
    readonly root: string,
    private readonly maxObjectBytes: number,
  ) {}

  async init(): Promise<void> {
    await mkdir(this.root, { recursive: true });
  }

  createWriter(input: SpoolInput): SpoolWriter {
    const day = new Date().toISOString().slice(0, 10);
    const path = join(this.root, day, `${randomUUID()}.dcm`);
    return new SpoolWriter({
      path,
      input,
      maxBytes: this.maxObjectBytes,
      boot: this.boot,
      ensureDirectory: (p) => this.ensureDirectory(p),
      fsyncDirectory: (p) => this.fsyncDirectory(p),
    });
  }

  /**
   * A file's directory entry is durable only once the directory itself is fsync'd; the handle is
   * kept open so that each object costs one fsync of it, not an open and close as well.
   */
  private async fsyncDirectory(path: string): Promise<void> {
    const dir = dirname(path);
    let handle = this.dirHandles.get(dir);
    if (!handle) {
      handle = open(dir, 'r');
      this.dirHandles.set(dir, handle);
      if (this.dirHandles.size > 4) {
        const [oldest] = this.dirHandles.keys();
        if (oldest && oldest !== dir) {
          const old = this.dirHandles.get(oldest);
          this.dirHandles.delete(oldest);
          void old?.then((h) => h.close()).catch(() => undefined);
        }
      }
    }
    await (await handle).sync();
  }

  /** Closes the directory handles kept for fsync (at shutdown). */
  async close(): Promise<void> {
    const handles = [...this.dirHandles.values()];
    this.dirHandles.clear();
    await Promise.all(handles.map((h) => h.then((f) => f.close()).catch(() => undefined)));
  }

  /** Makes a day's directory before its first file (writers open files with 'wx'). */
  private async ensureDirectory(path: string): Promise<void> {
    const dir = dirname(path);
    if (this.madeDirs.has(dir)) return;
    await mkdir(dir, { recursive: true });
    this.madeDirs.add(dir);
  }

  /** Whether the file at `path` is there with this size and SHA-256. */
  async holds(path: string, size: number, sha256: Buffer): Promise<boolean> {
    const s = await stat(path).catch(() => undefined);
    if (!s?.isFile() || s.size !== size) return false;
    const digests = await hashFile(path, ['sha256']).catch(() => undefined);
    return digests?.sha256.equals(sha256) ?? false;
  }

  async remove(path: string): Promise<void> {
    await unlink(path).catch((e: NodeJS.ErrnoException) => {
      if (e.code !== 'ENOENT') throw e;
    });
  }

  /** Spool files older than `olderThanMs` (for the janitor, which checks them against the index). */
  async *listFiles(olderThanMs: number): AsyncGenerator<string> {
    const cutoff = Date.now() - olderThanMs;
    let days: string[];
    try {
      days = await readdir(this.root);
    } catch {
      return;
    }
    for (const day of days.sort()) {
      const dir = join(this.root, day);
      let names: string[];
      try {
        names = await readdir(dir);
      } catch {
        continue;
      }
      for (const name of names) {
        const path = join(dir, name);
        const s = await stat(path).catch(() => undefined);
        if (s?.isFile() && s.mtimeMs < cutoff) yield path;
      }
    }
  }
}

function currentBoot(): string {
  try {
    return readFileSync('/proc/sys/kernel/random/boot_id', 'latin1').trim() || randomUUID();
  } catch {
    return randomUUID();
  }
}

/** Digests of a file's bytes, read once, a MiB at a time. */
export async function hashFile<A extends 'sha256' | 'md5'>(path: string, algorithms: readonly A[]): Promise<Record<A, Buffer>> {
  const hashes = algorithms.map((a) => createHash(a));
  for await (const chunk of createReadStream(path, { highWaterMark: 1024 * 1024 })) for (const h of hashes) h.update(chunk as Buffer);
  return Object.fromEntries(algorithms.map((a, i) => [a, hashes[i]!.digest()])) as Record<A, Buffer>;
}
