import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { databaseUrl, testEnv } from './test-env.js';

/**
 * A database of its own for one test file, cloned from the migrated template (fast: a file copy
 * in PostgreSQL, no migrations per test).
 */
export async function createTestDatabase(label: string): Promise<{ url: string; name: string; drop: () => Promise<void> }> {
  const env = testEnv();
  const name = `vna_t_${env.runId}_${label.replace(/[^a-z0-9]/gi, '').toLowerCase().slice(0, 20)}_${randomBytes(3).toString('hex')}`;
  await admin(env.adminUrl, `CREATE DATABASE ${name} TEMPLATE ${env.templateDatabase}`);
  return {
    url: databaseUrl(env.adminUrl, name),
    name,
    drop: () => admin(env.adminUrl, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`),
  };
}

export async function admin(url: string, sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}
