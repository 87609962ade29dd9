import type { DataSource } from 'typeorm';

/** What a repository needs to run SQL: rows back for a statement with numbered parameters. */
export interface SqlRunner {
  query(sql: string, params?: readonly unknown[]): Promise<any[]>;
}

interface PgClient {
  query(sql: string, params?: readonly unknown[]): Promise<{ rows: unknown[] }>;
  release(error?: Error | boolean): void;
  on(event: 'error', listener: (e: Error) => void): unknown;
  off(event: 'error', listener: (e: Error) => void): unknown;
}

interface PgPool {
  connect(): Promise<PgClient>;
}

/**
 * A transaction on one pooled connection, straight on node-postgres: the ingest hot path runs a
 * handful of statements per received object, and TypeORM's query runner adds a measurable cost to
 * each (the benchmark's figures). Everything else keeps using the DataSource.
 */
export async function withTransaction<T>(db: DataSource, work: (sql: SqlRunner) => Promise<T>): Promise<T> {
  const pool = (db.driver as unknown as { master: PgPool }).master;
  const client = await pool.connect();
  const sql: SqlRunner = { query: async (text, params) => (await client.query(text, params as unknown[])).rows as any[] };
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
