import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { createServer } from 'node:net';
import { BlobServiceClient } from '@azure/storage-blob';
import pg from 'pg';
// Jest loads this file natively (no module mapping): the package import resolves to the build,
// which `npm test` makes before Jest starts. Helpers are inlined here for the same reason.
import { migrate } from '#vna/persistence';

const AZURITE_KEY = 'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==';

async function admin(url: string, sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

function databaseUrl(adminUrl: string, database: string): string {
  const url = new URL(adminUrl);
  url.pathname = `/${database}`;
  return url.toString();
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

/**
 * Once per run: a template database with the schema (from the migrations, as in production),
 * and one Azurite for every test. Test files clone the template and make their own containers.
 */
export default async function globalSetup(): Promise<void> {
  const adminUrl = process.env['VNA_TEST_DATABASE_URL'];
  const redisUrl = process.env['VNA_TEST_REDIS_URL'];
  if (!adminUrl || !redisUrl) {
    throw new Error('VNA_TEST_DATABASE_URL and VNA_TEST_REDIS_URL must be set: run the tests with `npm test`, which provisions PostgreSQL and Redis');
  }
  const runId = `${Date.now().toString(36)}${process.pid.toString(36)}`;
  const templateDatabase = `vna_t_${runId}_template`;
  await admin(adminUrl, `CREATE DATABASE ${templateDatabase}`);
  await migrate({ url: databaseUrl(adminUrl, templateDatabase), poolSize: 2 });

  const port = await freePort();
  const location = mkdtempSync(join(tmpdir(), 'vna-azurite-'));
  const azurite = spawn(
    join(process.cwd(), 'node_modules/.bin/azurite-blob'),
    ['--blobHost', '127.0.0.1', '--blobPort', String(port), '--location', location, '--disableTelemetry', '--skipApiVersionCheck', '--loose', '--silent'],
    { stdio: 'ignore', detached: false },
  );
  const connectionString = `DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=${AZURITE_KEY};BlobEndpoint=http://127.0.0.1:${port}/devstoreaccount1;`;
  const client = BlobServiceClient.fromConnectionString(connectionString);
  for (let i = 0; ; i++) {
    try {
      await client.getProperties();
      break;
    } catch (e) {
      if (i > 100) throw new Error(`Azurite did not start: ${(e as Error).message}`);
      await sleep(100);
    }
  }
  const env = { adminUrl, templateDatabase, redisUrl, blobConnectionString: connectionString, runId };
  process.env['VNA_TEST_ENV'] = JSON.stringify(env);
  (globalThis as { __vnaTeardown?: () => Promise<void> }).__vnaTeardown = async () => {
    azurite.kill('SIGTERM');
    await admin(adminUrl, `DROP DATABASE IF EXISTS ${templateDatabase} WITH (FORCE)`);
  };
}
