import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { createTestDatabase } from './databases.js';
import { freePort, testEnv } from './test-env.js';

export const TEST_API_KEYS = {
  admin: 'test-admin-key-0123456789abcdef',
  writer: 'test-writer-key-0123456789abcdef',
  reader: 'test-reader-key-0123456789abcdef',
};

export interface ArchiveOptions {
  readonly label: string;
  readonly env?: Record<string, string>;
  /** Reuse the database, data directory and ports of an earlier run (restart after a crash). */
  readonly reuse?: RunningArchive;
  /** Wait for /health/ready (default) or only /health/live (when a dependency is meant to be down). */
  readonly waitFor?: 'ready' | 'live';
}

/**
 * The archive as users run it: the built all-in-one app (dist/apps/vna/src/main.js) as a child
 * process, on loopback ports of its own, with its own database, Redis prefix, blob container and
 * data directory.
 */
export class RunningArchive {
  private child?: ChildProcess;
  readonly output: string[] = [];

  private constructor(
    readonly label: string,
    readonly databaseUrl: string,
    private readonly dropDatabase: () => Promise<void>,
    readonly dataDir: string,
    readonly httpPort: number,
    readonly dicomPort: number,
    readonly container: string,
    readonly redisPrefix: string,
    private readonly extraEnv: Record<string, string>,
    readonly hl7Port: number,
  ) {}

  static async start(options: ArchiveOptions): Promise<RunningArchive> {
    const reuse = options.reuse;
    let archive: RunningArchive;
    if (reuse) {
      archive = reuse;
      if (options.env) Object.assign(archive.extraEnv, options.env);
    } else {
      const db = await createTestDatabase(options.label);
      const id = db.name.slice(-6);
      archive = new RunningArchive(
        options.label,
        db.url,
        db.drop,
        mkdtempSync(join(tmpdir(), `vna-${options.label}-`)),
        await freePort(),
        await freePort(),
        `t-${id}-${options.label.toLowerCase().replace(/[^a-z0-9]/g, '')}`.slice(0, 60),
        `vnat-${id}`,
        options.env ?? {},
        await freePort(),
      );
    }
    await archive.spawn(options.waitFor ?? 'ready');
    return archive;
  }

  get baseUrl(): string {
    return `http://127.0.0.1:${this.httpPort}`;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  private async spawn(waitFor: 'ready' | 'live'): Promise<void> {
    const env = testEnv();
    const child = spawn(process.execPath, ['dist/apps/vna/src/main.js'], {
      cwd: process.cwd(),
      env: {
        PATH: process.env['PATH'],
        NODE_ENV: 'test',
        VNA_NODE_ID: `test-${this.label}`,
        VNA_BIND: '127.0.0.1',
        VNA_HTTP_PORT: String(this.httpPort),
        VNA_DICOM_PORT: String(this.dicomPort),
        VNA_DICOM_AET: 'VNA',
        VNA_HL7_PORT: String(this.hl7Port),
        VNA_DATABASE_URL: this.databaseUrl,
        VNA_DATABASE_POOL_SIZE: '10',
        VNA_REDIS_URL: env.redisUrl,
        VNA_REDIS_PREFIX: this.redisPrefix,
        VNA_BLOB_CONNECTION_STRING: env.blobConnectionString,
        VNA_BLOB_CONTAINER: this.container,
        VNA_DATA_DIR: this.dataDir,
        VNA_API_KEYS: `admin:admin:${TEST_API_KEYS.admin},writer:writer:${TEST_API_KEYS.writer},reader:reader:${TEST_API_KEYS.reader}`,
        VNA_LOG_LEVEL: 'info',
        // One process unless a test asks for more (tests read the process's memory and signal it).
        VNA_WORKERS: '1',
        ...this.extraEnv,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child = child;
    const collect = (chunk: Buffer): void => {
      this.output.push(chunk.toString());
      if (this.output.length > 2000) this.output.splice(0, 1000);
    };
    child.stdout!.on('data', collect);
    child.stderr!.on('data', collect);
    const deadline = Date.now() + 30_000;
    for (;;) {
      if (child.exitCode !== null) throw new Error(`archive exited with ${child.exitCode}:\n${this.output.join('').slice(-4000)}`);
      try {
        const res = await fetch(`${this.baseUrl}/health/${waitFor}`);
        if (res.status === 200) break;
      } catch {
        // not listening yet
      }
      if (Date.now() > deadline) throw new Error(`archive not ready in 30 s:\n${this.output.join('').slice(-4000)}`);
      await sleep(100);
    }
    // The DICOM port opens during bootstrap, before HTTP; nothing more to wait for.
  }

  /** Kills the process without warning (SIGKILL): nothing gets to flush or finish. */
  async kill(): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGKILL');
    await exited;
  }

  async stop(): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
    await exited;
    clearTimeout(timer);
  }

  /** Stops the process and removes what it made (database, data directory). */
  async destroy(): Promise<void> {
    await this.stop();
    await this.dropDatabase().catch(() => undefined);
    rmSync(this.dataDir, { recursive: true, force: true });
  }

  logs(): string {
    return this.output.join('');
  }

  async fetch(path: string, init: RequestInit & { key?: keyof typeof TEST_API_KEYS | null } = {}): Promise<Response> {
    const headers = new Headers(init.headers);
    const key = init.key === undefined ? 'admin' : init.key;
    if (key) headers.set('Authorization', `Bearer ${TEST_API_KEYS[key]}`);
    return fetch(`${this.baseUrl}${path}`, { ...init, headers });
  }
}
