import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { DataSource } from 'typeorm';
import { type MediumEnv, mediumEnv } from '../../../test/support/medium.js';
import { createDataSource } from './data-source.js';
import { withTransaction } from './sql-transaction.js';

/**
 * withTransaction on real PostgreSQL with the pool's pipelining clients: BEGIN sent with the first
 * statement and the last statement with its COMMIT change nothing of what a transaction means.
 */
describe('withTransaction (pipelined BEGIN and COMMIT)', () => {
  let env: MediumEnv;
  let db: DataSource;

  beforeAll(async () => {
    env = await mediumEnv('sqltx');
    db = createDataSource({ url: env.config.database.url, poolSize: 2 });
    await db.initialize();
    await db.query(`CREATE TABLE tx_probe (k text PRIMARY KEY, v int NOT NULL)`);
  });

  afterAll(async () => {
    await db.destroy();
    await env.cleanup();
  });

  async function rows(): Promise<Record<string, number>> {
    const found = (await db.query(`SELECT k, v FROM tx_probe ORDER BY k`)) as { k: string; v: number }[];
    return Object.fromEntries(found.map((r) => [r.k, r.v]));
  }

  async function socketWrites<T>(work: () => Promise<T>): Promise<number> {
    // Every pooled client's socket counts its writes (one writev per corked batch).
    const pool = (db.driver as unknown as { master: { connect(): Promise<{ connection: { stream: Record<string, unknown> }; release(): void }> } }).master;
    const clients = await Promise.all([pool.connect(), pool.connect()]);
    let writes = 0;
    const restore: (() => void)[] = [];
    for (const c of clients) {
      const stream = c.connection.stream as { _write: (...a: unknown[]) => unknown; _writev: (...a: unknown[]) => unknown };
      const { _write, _writev } = stream;
      stream._write = (...a: unknown[]) => (writes++, _write.apply(stream, a));
      stream._writev = (...a: unknown[]) => (writes++, _writev.apply(stream, a));
      restore.push(() => Object.assign(stream, { _write, _writev }));
      c.release();
    }
    try {
      await work();
    } finally {
      for (const r of restore) r();
    }
    return writes;
  }

  it('commits what the work wrote, with the last statement and COMMIT in one write', async () => {
    const writes = await socketWrites(() =>
      withTransaction(db, async (tx) => {
        await tx.query(`INSERT INTO tx_probe VALUES ($1, $2)`, ['a', 1]);
        await tx.query(`INSERT INTO tx_probe VALUES ($1, $2)`, ['b', 2]);
        return tx.queryAndCommit!(`UPDATE tx_probe SET v = v + $1 WHERE k = 'a' RETURNING v`, [10]);
      }),
    );
    expect(await rows()).toEqual({ a: 11, b: 2 });
    // BEGIN + first insert, second insert, update + COMMIT.
    expect(writes).toBe(3);
  });

  it('a failing last statement rolls back everything and rejects with its error', async () => {
    await db.query(`DELETE FROM tx_probe`);
    await expect(
      withTransaction(db, async (tx) => {
        await tx.query(`INSERT INTO tx_probe VALUES ($1, $2)`, ['c', 3]);
        await tx.queryAndCommit!(`INSERT INTO tx_probe VALUES ($1, $2)`, ['c', 4]);
      }),
    ).rejects.toMatchObject({ code: '23505' });
    expect(await rows()).toEqual({});
    // The connection is clean for the next transaction.
    await withTransaction(db, (tx) => tx.queryAndCommit!(`INSERT INTO tx_probe VALUES ($1, $2)`, ['d', 5]));
    expect(await rows()).toEqual({ d: 5 });
  });

  it('an earlier error the work swallowed makes the COMMIT a rollback, and the caller is told', async () => {
    await db.query(`DELETE FROM tx_probe`);
    await expect(
      withTransaction(db, async (tx) => {
        await tx.query(`INSERT INTO tx_probe VALUES ($1, $2)`, ['e', 1]);
        await tx.query(`SELECT 1 / $1::int`, [0]).catch(() => undefined);
        await tx.query(`SELECT 1`).catch(() => undefined);
      }),
    ).rejects.toThrow();
    expect(await rows()).toEqual({});
  });

  it('nothing runs after queryAndCommit, and a failure in the first statement behind BEGIN undoes nothing else', async () => {
    await db.query(`DELETE FROM tx_probe`);
    await expect(
      withTransaction(db, async (tx) => {
        await tx.queryAndCommit!(`INSERT INTO tx_probe VALUES ($1, $2)`, ['f', 1]);
        await tx.query(`INSERT INTO tx_probe VALUES ($1, $2)`, ['g', 2]);
      }),
    ).rejects.toThrow(/already committed/);
    expect(await rows()).toEqual({ f: 1 });
    await expect(withTransaction(db, (tx) => tx.query(`INSERT INTO tx_probe VALUES ($1, 'not a number')`, ['h']))).rejects.toMatchObject({ code: '22P02' });
    expect(await rows()).toEqual({ f: 1 });
  });

  it('a work error rolls back (BEGIN pipelined, no COMMIT sent)', async () => {
    await db.query(`DELETE FROM tx_probe`);
    await expect(
      withTransaction(db, async (tx) => {
        await tx.query(`INSERT INTO tx_probe VALUES ($1, $2)`, ['i', 1]);
        throw new Error('refused');
      }),
    ).rejects.toThrow('refused');
    expect(await rows()).toEqual({});
  });
});
