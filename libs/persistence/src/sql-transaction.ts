import { createHash } from 'node:crypto';
import type { DataSource } from 'typeorm';

/** What a repository needs to run SQL: rows back for a statement with numbered parameters. */
export interface SqlRunner {
  query(sql: string, params?: readonly unknown[]): Promise<any[]>;
}

interface PgQuery {
  readonly name?: string;
  readonly text: string;
  readonly values?: unknown[];
}

interface PgClient {
  query(query: PgQuery): Promise<{ rows: unknown[] }>;
  query(sql: string, params?: readonly unknown[]): Promise<{ rows: unknown[] }>;
  release(error?: Error | boolean): void;
  on(event: 'error', listener: (e: Error) => void): unknown;
  off(event: 'error', listener: (e: Error) => void): unknown;
}

interface PgPool {
  connect(): Promise<PgClient>;
}

/** Statement texts given a name so far (each connection prepares a named one once). */
const names = new Map<string, string>();
/** Beyond this many distinct texts, statements go unnamed: a connection never holds more prepared ones. */
const MAX_PREPARED = 400;

/**
 * The statement as a named prepared statement when it has parameters: PostgreSQL parses and plans
 * it once per connection instead of at every execution (the HL7 and ingest paths run the same
 * dozen statements thousands of times). Texts past MAX_PREPARED (generated ones, say) stay unnamed.
 */
function prepared(text: string, params: readonly unknown[] | undefined): PgQuery {
  if (!params?.length) return { text };
  let name = names.get(text);
  if (!name && names.size < MAX_PREPARED) {
    name = `vna_${createHash('sha1').update(text).digest('hex').slice(0, 24)}`;
    names.set(text, name);
  }
  return { name, text, values: params as unknown[] };
}

/**
 * A transaction on one pooled connection, straight on node-postgres: the ingest hot path runs a
 * handful of statements per received object, and TypeORM's query runner adds a measurable cost to
 * each (the benchmark's figures). Everything else keeps using the DataSource.
 */
export async function withTransaction<T>(db: DataSource, work: (sql: SqlRunner) => Promise<T>): Promise<T> {
  const pool = (db.driver as unknown as { master: PgPool }).master;
  const client = await pool.connect();
  const sql: SqlRunner = { query: async (text, params) => (await client.query(prepared(text, params))).rows as any[] };
  let broken = false;
  // A checked-out client that loses its connection emits 'error'; unheard, that would end the process.
  const onError = (): void => {
    broken = true;
  };
  client.on('error', onError);
  try {
    await client.query('BEGIN');
    const result = await work(sql);
    await client.query('COMMIT');
    return result;
  } catch (e) {
    try {
      await client.query('ROLLBACK');
    } catch {
      broken = true; // the connection itself failed: do not return it to the pool
    }
    throw e;
  } finally {
    client.off('error', onError);
    client.release(broken);
  }
}

/** Single statements on the pool, each atomic by itself (autocommit). */
export function autocommit(db: DataSource): SqlRunner {
  const pool = (db.driver as unknown as { master: { query(sql: string, params?: unknown[]): Promise<{ rows: unknown[] }> } }).master;
  return { query: async (text, params) => (await pool.query(text, params as unknown[])).rows as any[] };
}

/**
 * Single statements on the pool (autocommit) as named prepared statements, without TypeORM's query
 * runner: for the read paths that run the same few statements for every request (the FHIR API's
 * searches), which PostgreSQL then parses once per connection and, once a generic plan is as good,
 * no longer plans at every request.
 */
export function preparedAutocommit(db: DataSource): SqlRunner {
  const pool = (): { query(query: PgQuery): Promise<{ rows: unknown[] }> } => (db.driver as unknown as { master: { query(query: PgQuery): Promise<{ rows: unknown[] }> } }).master;
  return { query: async (text, params) => (await pool().query(prepared(text, params))).rows as any[] };
}
