import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { BlobServiceClient } from '@azure/storage-blob';
import { Redis } from 'ioredis';
import pg from 'pg';
import { admin } from '../support/databases.js';
import { azuriteConnectionString, databaseUrl, freePort, type TestEnv } from '../support/test-env.js';

/**
 * Everything the benchmark sets up around the archive, on loopback only, and removes again:
 * a template database migrated with the archive's own migrations (each run clones it: a fresh
 * archive is a fresh database), an Azurite of its own (temp dir, free port), a Redis key prefix
 * per archive, and a work directory for generated data. The PostgreSQL server and Redis are the
 * ones scripts/bench.sh provides (VNA_TEST_DATABASE_URL / VNA_DATABASE_URL, VNA_TEST_REDIS_URL /
 * VNA_REDIS_URL).
 */
export class BenchEnv {
  private azurite?: ChildProcess;
  private torn = false;
  private archives = 0;

  private constructor(
    readonly env: TestEnv,
    readonly workDir: string,
    private readonly azuriteDir: string,
    readonly keepData: boolean,
  ) {}

  get azuritePid(): number | undefined {
    return this.azurite?.pid;
  }

  /** The Redis prefix of the next archive (all of this run's keys start with `vnab-<run>-`). */
  nextRedisPrefix(): string {
    return `vnab-${this.env.runId}-${++this.archives}`;
  }

  static async setUp(workDir: string, keepData: boolean, log: (line: string) => void): Promise<BenchEnv> {
    const adminUrl = process.env['VNA_TEST_DATABASE_URL'] ?? (process.env['VNA_DATABASE_URL'] ? databaseUrl(process.env['VNA_DATABASE_URL'], 'postgres') : undefined);
    const redisUrl = process.env['VNA_TEST_REDIS_URL'] ?? process.env['VNA_REDIS_URL'];
    if (!adminUrl || !redisUrl) {
      throw new Error('VNA_TEST_DATABASE_URL (or VNA_DATABASE_URL) and VNA_TEST_REDIS_URL (or VNA_REDIS_URL) must be set: run the benchmark with `npm run bench`');
    }
    const runId = `b${Date.now().toString(36)}${process.pid.toString(36)}`;
    const templateDatabase = `vna_t_${runId}_template`;
    const azuriteDir = join(workDir, 'azurite');
    mkdirSync(azuriteDir, { recursive: true });
    const bench = new BenchEnv({ adminUrl, templateDatabase, redisUrl, blobConnectionString: '', runId }, workDir, azuriteDir, keepData);
    try {
      log(`database: creating ${templateDatabase} and applying the archive's migrations (dist/apps/vna/src/migrate.js)`);
      await admin(adminUrl, `CREATE DATABASE ${templateDatabase}`);
      await runMigrations(databaseUrl(adminUrl, templateDatabase));
      const blobConnectionString = await bench.startAzurite();
      log(`azurite: 127.0.0.1, data in ${azuriteDir}`);
      (bench as { env: TestEnv }).env = { ...bench.env, blobConnectionString };
      // test/support/archive-process.ts reads the shared settings from here.
      process.env['VNA_TEST_ENV'] = JSON.stringify(bench.env);
    } catch (e) {
      await bench.tearDown();
      throw e;
    }
    return bench;
  }

  private async startAzurite(): Promise<string> {
    const port = await freePort();
    const child = spawn(
      join(process.cwd(), 'node_modules/.bin/azurite-blob'),
      ['--blobHost', '127.0.0.1', '--blobPort', String(port), '--location', this.azuriteDir, '--disableTelemetry', '--skipApiVersionCheck', '--loose', '--silent'],
      { stdio: 'ignore' },
    );
    this.azurite = child;
    const connectionString = azuriteConnectionString(port);
    const client = BlobServiceClient.fromConnectionString(connectionString);
    for (let i = 0; ; i++) {
      if (child.exitCode !== null) throw new Error(`Azurite exited with ${child.exitCode}`);
      try {
        await client.getProperties();
        return connectionString;
      } catch (e) {
        if (i > 150) throw new Error(`Azurite did not start: ${(e as Error).message}`);
        await sleep(100);
      }
    }
  }

  /** Drops every database of this run, stops Azurite, deletes this run's Redis keys and files. Idempotent. */
  async tearDown(): Promise<void> {
    if (this.torn) return;
    this.torn = true;
    const problems: string[] = [];
    try {
      const client = new pg.Client({ connectionString: this.env.adminUrl });
      await client.connect();
      try {
        const { rows } = await client.query<{ datname: string }>(`SELECT datname FROM pg_database WHERE datname LIKE $1`, [`vna_t_${this.env.runId}_%`]);
        for (const { datname } of rows) await client.query(`DROP DATABASE IF EXISTS ${datname} WITH (FORCE)`);
      } finally {
        await client.end();
      }
    } catch (e) {
      problems.push(`databases: ${(e as Error).message}`);
    }
    const azurite = this.azurite;
    if (azurite && azurite.exitCode === null && azurite.signalCode === null) {
      const exited = once(azurite, 'exit');
      azurite.kill('SIGTERM');
      const timer = setTimeout(() => azurite.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
    }
    try {
      const redis = new Redis(this.env.redisUrl, { lazyConnect: true, maxRetriesPerRequest: 1 });
      await redis.connect();
      try {
        let cursor = '0';
        do {
          const [next, keys] = await redis.scan(cursor, 'MATCH', `vnab-${this.env.runId}-*`, 'COUNT', 1000);
          cursor = next;
          if (keys.length > 0) await redis.del(...keys);
        } while (cursor !== '0');
      } finally {
        redis.disconnect();
      }
    } catch (e) {
      problems.push(`redis: ${(e as Error).message}`);
    }
    if (!this.keepData) rmSync(this.workDir, { recursive: true, force: true });
    else rmSync(this.azuriteDir, { recursive: true, force: true });
    if (problems.length) process.stderr.write(`[bench] clean-up incomplete: ${problems.join('; ')}\n`);
  }
}

/** The archive's own migration entry point, against one database. */
async function runMigrations(url: string): Promise<void> {
  const child = spawn(process.execPath, ['dist/apps/vna/src/migrate.js'], {
    cwd: process.cwd(),
    env: { PATH: process.env['PATH'], NODE_ENV: 'test', VNA_DATABASE_URL: url },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
  const [code] = (await once(child, 'exit')) as [number | null];
  if (code !== 0) throw new Error(`migrations failed (exit ${code}):\n${output}`);
}
