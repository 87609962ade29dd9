import { createHash } from 'node:crypto';
import type { DataSource } from 'typeorm';

/** What a repository needs to run SQL: rows back for a statement with numbered parameters. */
export interface SqlRunner {
  query(sql: string, params?: readonly unknown[]): Promise<any[]>;
  /**
   * A transaction's runner only (`withTransaction`): its last statement, sent together with the
   * COMMIT (one round trip instead of two). Resolves with the statement's rows once both are done;
   * when the statement fails, PostgreSQL turns the COMMIT into a rollback and this rejects with the
   * statement's error. Nothing may run in the transaction after it.
   */
  readonly queryAndCommit?: (sql: string, params?: readonly unknown[]) => Promise<any[]>;
}

interface PgQuery {
  readonly name?: string;
  readonly text: string;
  readonly values?: unknown[];
}

interface PgClient {
  /** node-postgres' connection; its socket is corked to send several messages in one write. */
  readonly connection?: { readonly stream?: { cork?(): void; uncork?(): void } };
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
 *
 * The pool's clients pipeline (`dataSourceOptions`): BEGIN goes out with the first statement
 * instead of waiting for its own answer, and `queryAndCommit` sends the last statement and the
 * COMMIT together, so a transaction of n statements costs n round trips, not n + 2. Without
 * pipelining (another pool) the same calls simply queue: slower, equally correct.
 */
export async function withTransaction<T>(db: DataSource, work: (sql: SqlRunner) => Promise<T>): Promise<T> {
  const pool = (db.driver as unknown as { master: PgPool }).master;
  const client = await pool.connect();
  let broken = false;
  // A checked-out client that loses its connection emits 'error'; unheard, that would end the process.
  const onError = (): void => {
    broken = true;
  };
  client.on('error', onError);
  // BEGIN waits in the socket for the work's first statement (queued by the time the microtasks
  // the work starts with have run): both go out in one write. Its failure (a lost connection)
  // fails the statements behind it too; it is awaited before COMMIT.
  const stream = client.connection?.stream;
  stream?.cork?.();
  const begin = client.query('BEGIN');
  begin.catch(() => undefined);
  process.nextTick(() => stream?.uncork?.());
  /** The COMMIT, once sent: the transaction is over when it is answered. */
  let commit: Promise<{ command?: string }> | undefined;
  const sendCommit = (): void => {
    commit = client.query('COMMIT') as Promise<{ command?: string }>;
    commit.catch(() => undefined);
  };
  // PostgreSQL answers COMMIT with ROLLBACK when a statement failed in the transaction (an error the work caught).
  const committed = async (): Promise<void> => {
    if ((await commit!).command !== 'COMMIT') throw new Error('the transaction was rolled back (a statement in it failed)');
  };
  const stillOpen = (): void => {
    if (commit) throw new Error('the transaction was already committed (queryAndCommit ends it)');
  };
  const sql: SqlRunner = {
    query: async (text, params) => {
      stillOpen();
      return (await client.query(prepared(text, params))).rows as any[];
    },
    queryAndCommit: async (text, params) => {
      stillOpen();
      await begin;
      // One write for both.
      stream?.cork?.();
      const statement = client.query(prepared(text, params));
      sendCommit();
      stream?.uncork?.();
      const rows = (await statement).rows as any[];
      await committed();
      return rows;
    },
  };
  try {
    const result = await work(sql);
    await begin;
    if (!commit) sendCommit();
    await committed();
    return result;
  } catch (e) {
    if (commit) {
      // The COMMIT (or, after an error, the rollback it became) ends the transaction either way.
      await commit.catch(() => {
        broken = true;
      });
    } else {
      try {
        await client.query('ROLLBACK');
      } catch {
        broken = true; // the connection itself failed: do not return it to the pool
      }
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
