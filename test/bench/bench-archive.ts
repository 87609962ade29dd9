import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { RunningArchive, TEST_API_KEYS } from '../support/archive-process.js';
import type { BenchEnv } from './bench-env.js';

export interface ArchiveStartOptions {
  /** Profile the archive's CPU (profile-hook.ts), profiles written to this directory. */
  readonly profileDir?: string;
  readonly qidoMaxResults: number;
  /** More environment for the archive (a phase's own settings). */
  readonly env?: Record<string, string>;
}

/**
 * One fresh archive for one measurement: the all-in-one app as a child process
 * (test/support/archive-process.ts: its own database cloned from the migrated template, data
 * directory, ports, blob container), plus what the benchmark needs to watch it: its pid, direct
 * SQL on its index, and per-phase CPU profiles.
 */
export class BenchArchive {
  private readonly pool: pg.Pool;

  private constructor(
    readonly archive: RunningArchive,
    private readonly profileDir: string | undefined,
  ) {
    this.pool = new pg.Pool({ connectionString: archive.databaseUrl, max: 1, application_name: 'vna-bench' });
  }

  static async start(bench: BenchEnv, label: string, options: ArchiveStartOptions): Promise<BenchArchive> {
    const env: Record<string, string> = {
      VNA_REDIS_PREFIX: bench.nextRedisPrefix(),
      VNA_QIDO_MAX_RESULTS: String(options.qidoMaxResults),
      // The archive's own default pool size (the e2e launcher uses a smaller one).
      VNA_DATABASE_POOL_SIZE: '20',
      VNA_LOG_LEVEL: 'info',
      // The generated objects carry no IssuerOfPatientID: they belong to the issuer the HL7 phase's PID-3 names.
      VNA_DEFAULT_PATIENT_ID_ISSUER: 'NORTHSIDE',
      // One process per core, as the archive runs by default (a CPU profile follows one process).
      VNA_WORKERS: options.profileDir ? '1' : String(Math.min(availableParallelism(), 4)),
      ...options.env,
    };
    // Extra V8/Node flags for the archive under test (experiments: BENCH_NODE_OPTIONS='--max-semi-space-size=32').
    if (process.env['BENCH_NODE_OPTIONS']) env['NODE_OPTIONS'] = process.env['BENCH_NODE_OPTIONS'];
    if (options.profileDir) {
      mkdirSync(options.profileDir, { recursive: true });
      env['NODE_OPTIONS'] = `${env['NODE_OPTIONS'] ?? ''} --import=${resolve('dist/test/bench/profile-hook.js')}`.trim();
      env['VNA_BENCH_PROFILE_DIR'] = options.profileDir;
    }
    const archive = await RunningArchive.start({ label, env });
    return new BenchArchive(archive, options.profileDir);
  }

  get pid(): number {
    const pid = this.archive.pid;
    if (pid === undefined) throw new Error('the archive is not running');
    return pid;
  }

  get baseUrl(): string {
    return this.archive.baseUrl;
  }

  get hl7Port(): number {
    return this.archive.hl7Port;
  }

  get dicomPort(): number {
    return this.archive.dicomPort;
  }

  readonly aet = 'VNA';
  readonly apiKey = TEST_API_KEYS.admin;

  /** The PostgreSQL processes working for this archive: its database's backends and the server's WAL writer, checkpointer and background writer. */
  async postgresPids(): Promise<number[]> {
    const rows = await this.sql<{ pid: number }>(
      `SELECT pid FROM pg_stat_activity WHERE (datname = current_database() AND pid <> pg_backend_pid()) OR backend_type IN ('walwriter', 'checkpointer', 'background writer')`,
    );
    return rows.map((r) => r.pid);
  }

  async sql<T>(text: string, params: unknown[] = []): Promise<T[]> {
    return (await this.pool.query(text, params)).rows as T[];
  }

  /**
   * Gives the planner statistics on the index tables, as autovacuum does within a minute of a bulk
   * load (autovacuum_naptime): queries are measured in that steady state, not in the minute before.
   */
  async analyze(): Promise<void> {
    await this.sql(`ANALYZE patient, study, series, instance`);
  }

  /** Current instances in the index, and those still in the spool (not yet uploaded to the blob store). */
  async counts(): Promise<{ instances: number; spooled: number }> {
    const [row] = await this.sql<{ instances: string; spooled: string }>(
      `SELECT count(*) FILTER (WHERE is_current) AS instances, count(*) FILTER (WHERE storage_state = 'spooled') AS spooled FROM instance`,
    );
    return { instances: Number(row?.instances ?? 0), spooled: Number(row?.spooled ?? 0) };
  }

  /** Waits until every instance is uploaded (spool empty); seconds waited. */
  async waitSpoolEmpty(timeoutMs: number): Promise<number> {
    const started = performance.now();
    for (;;) {
      const { spooled } = await this.counts();
      if (spooled === 0) return (performance.now() - started) / 1000;
      if (performance.now() - started > timeoutMs) throw new Error(`${spooled} instances still spooled after ${timeoutMs / 1000} s`);
      await sleep(100);
    }
  }

  /** Sum and count of a Prometheus histogram from /metrics, over all label sets. */
  async histogram(name: string): Promise<{ sum: number; count: number }> {
    const text = await (await fetch(`${this.baseUrl}/metrics`)).text();
    let sum = 0;
    let count = 0;
    for (const line of text.split('\n')) {
      const m = /^(\S+?)(?:\{[^}]*\})? ([0-9.eE+-]+)$/.exec(line);
      if (!m) continue;
      if (m[1] === `${name}_sum`) sum += Number(m[2]);
      if (m[1] === `${name}_count`) count += Number(m[2]);
    }
    return { sum, count };
  }

  /**
   * Ends the current profiling interval: its samples go to <profileDir>/<label>.cpuprofile
   * ("-" discards them, to start a phase clean). Nothing when not profiling.
   */
  async profileMark(label: string): Promise<string | undefined> {
    const dir = this.profileDir;
    if (!dir) return undefined;
    const target = label === '-' ? join(dir, 'discarded') : join(dir, `${label}.cpuprofile`);
    rmSync(target, { force: true });
    writeFileSync(join(dir, 'label'), label);
    process.kill(this.pid, 'SIGWINCH');
    for (let i = 0; i < 600 && !existsSync(target); i++) await sleep(50);
    if (!existsSync(target)) throw new Error(`the archive did not write ${target}; its last output:\n${this.logs().slice(-3000)}`);
    return label === '-' ? undefined : target;
  }

  logs(): string {
    return this.archive.logs();
  }

  async destroy(): Promise<void> {
    await this.pool.end().catch(() => undefined);
    await this.archive.destroy();
  }
}
