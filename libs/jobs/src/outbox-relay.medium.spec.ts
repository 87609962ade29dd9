import { connect, createServer, type Server, type Socket } from 'node:net';
import { afterEach, describe, expect, it, jest } from '@jest/globals';
import type { QueueOptions } from 'bullmq';
import { Redis } from 'ioredis';
import type { DataSource } from 'typeorm';
import { createDataSource } from '#vna/persistence';
import { eventually, type MediumEnv, mediumEnv } from '../../../test/support/medium.js';
import { freePort } from '../../../test/support/test-env.js';
import { JobHandlerRegistry } from './job-handler.registry.js';
import { OutboxRelayService } from './outbox-relay.service.js';
import { type OutboxMessage, OutboxRepository } from './outbox.repository.js';
import { QueueService } from './queue.service.js';
import { JOB_ATTEMPTS } from './queues.js';

/**
 * The outbox path of ARCHITECTURE.md against real PostgreSQL and Redis: a message committed with
 * its change is relayed to BullMQ, its handler runs, the row is done; Redis outages delay, never lose.
 */

interface Rig {
  readonly env: MediumEnv;
  readonly db: DataSource;
  readonly outbox: OutboxRepository;
  readonly registry: JobHandlerRegistry;
  /** Producer side (the relay's QueueService), on `redisUrl`. */
  readonly producer: QueueService;
  /** Consumer side (a worker process), on the real Redis. */
  readonly consumer: QueueService;
  readonly relay: OutboxRelayService;
}

const rigs: Rig[] = [];
const servers: Proxy[] = [];

function bullConfig(url: string, prefix: string): QueueOptions {
  return { connection: { url }, prefix } as unknown as QueueOptions;
}

async function rig(label: string, redisUrl?: string): Promise<Rig> {
  const env = await mediumEnv(label);
  const db = createDataSource({ url: env.config.database.url, poolSize: 5 });
  await db.initialize();
  const outbox = new OutboxRepository(db);
  const registry = new JobHandlerRegistry();
  const producer = new QueueService(bullConfig(redisUrl ?? env.config.redis.url, env.config.redis.prefix), registry, outbox);
  const consumer = new QueueService(bullConfig(env.config.redis.url, env.config.redis.prefix), registry, outbox);
  const relay = new OutboxRelayService(env.config, outbox, producer);
  const r = { env, db, outbox, registry, producer, consumer, relay };
  rigs.push(r);
  return r;
}

afterEach(async () => {
  for (const r of rigs.splice(0)) {
    await r.relay.onApplicationShutdown();
    await r.producer.onApplicationShutdown();
    await r.consumer.onApplicationShutdown();
    await r.db.destroy();
    await dropRedisPrefix(r.env.config.redis.url, r.env.config.redis.prefix);
    await r.env.cleanup();
  }
  for (const s of servers.splice(0)) await s.close();
});

async function dropRedisPrefix(url: string, prefix: string): Promise<void> {
  const redis = new Redis(url);
  try {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
      if (keys.length) await redis.del(...keys);
      cursor = next;
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
}

/** A TCP relay to the real Redis that can be taken down and brought back on the same port. */
class Proxy {
  private server?: Server;
  private readonly sockets = new Set<Socket>();
  constructor(
    readonly port: number,
    private readonly target: URL,
  ) {}

  async up(): Promise<void> {
    const server = createServer((client) => {
      const upstream = connect(Number(this.target.port || 6379), this.target.hostname);
      for (const s of [client, upstream]) {
        this.sockets.add(s);
        s.on('close', () => this.sockets.delete(s));
        s.on('error', () => undefined);
      }
      client.pipe(upstream).pipe(client);
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, '127.0.0.1', () => resolve());
    });
    this.server = server;
  }

  async down(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    for (const s of this.sockets) s.destroy();
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  close(): Promise<void> {
    return this.down();
  }
}

async function commit(r: Rig, messages: OutboxMessage[]): Promise<string[]> {
  await r.db.transaction((tx) => r.outbox.add(tx, messages));
  const rows = (await r.db.query(`SELECT id::text FROM outbox ORDER BY id DESC LIMIT $1`, [messages.length])) as { id: string }[];
  return rows.map((x) => x.id).reverse();
}

interface OutboxState {
  id: string;
  relayed: boolean;
  done: boolean;
  dead: boolean;
  attempts: number;
  last_error: string | null;
}

async function rows(r: Rig): Promise<OutboxState[]> {
  return (await r.db.query(
    `SELECT id::text, relayed_at IS NOT NULL AS relayed, done_at IS NOT NULL AS done, dead_at IS NOT NULL AS dead, attempts, last_error FROM outbox ORDER BY id`,
  )) as OutboxState[];
}

describe('outbox relay with BullMQ', () => {
  it('relays a committed message, runs its handler once, and marks the row done', async () => {
    const r = await rig('relay');
    const seen: Record<string, unknown>[] = [];
    r.registry.register('test.ok', async (payload) => {
      seen.push(payload);
    });
    r.consumer.consume('q-ok', 2);
    await r.relay.onApplicationBootstrap();
    const [id] = await commit(r, [{ topic: 'test.ok', queue: 'q-ok', payload: { instanceId: '42', note: 'ü' } }]);
    await eventually(async () => (await rows(r)).find((x) => x.id === id)?.done, 20_000, 'row done');
    expect(seen).toEqual([{ instanceId: '42', note: 'ü' }]);
    expect((await rows(r)).find((x) => x.id === id)).toMatchObject({ relayed: true, done: true, dead: false, last_error: null });
  });

  it('never relays a message whose transaction rolled back', async () => {
    const r = await rig('rollback');
    const seen: unknown[] = [];
    r.registry.register('test.rolled-back', async (p) => void seen.push(p));
    r.registry.register('test.marker', async (p) => void seen.push(p));
    r.consumer.consume('q-rb', 2);
    await r.relay.onApplicationBootstrap();
    await expect(
      r.db.transaction(async (tx) => {
        await r.outbox.add(tx, [{ topic: 'test.rolled-back', queue: 'q-rb', payload: { n: 1 } }]);
        throw new Error('the change failed');
      }),
    ).rejects.toThrow('the change failed');
    // A later message goes through; the rolled-back one never existed.
    const [marker] = await commit(r, [{ topic: 'test.marker', queue: 'q-rb', payload: { n: 2 } }]);
    await eventually(async () => (await rows(r)).find((x) => x.id === marker)?.done, 20_000, 'marker done');
    expect(seen).toEqual([{ n: 2 }]);
    expect(await rows(r)).toHaveLength(1);
  });

  it('keeps messages while Redis has never been reachable, and relays them once it answers', async () => {
    const port = await freePort();
    const r = await rig('redis-absent', `redis://127.0.0.1:${port}`);
    const proxy = new Proxy(port, new URL(r.env.config.redis.url));
    servers.push(proxy);
    const seen: unknown[] = [];
    r.registry.register('test.wait', async (p) => void seen.push(p));
    r.consumer.consume('q-wait', 2);
    await r.relay.onApplicationBootstrap();
    const ids = await commit(r, [
      { topic: 'test.wait', queue: 'q-wait', payload: { n: 1 } },
      { topic: 'test.wait', queue: 'q-wait', payload: { n: 2 } },
    ]);
    // The relay has tried (the rows were claimed, or handed back) and nothing ran.
    const claim = jest.spyOn(r.outbox, 'claimForRelay');
    r.relay.kick();
    await eventually(async () => claim.mock.calls.length > 0 || (await rows(r)).every((x) => x.relayed), 10_000, 'a relay attempt');
    expect(seen).toEqual([]);
    expect((await rows(r)).map((x) => ({ id: x.id, done: x.done, dead: x.dead }))).toEqual(ids.map((id) => ({ id, done: false, dead: false })));

    await proxy.up();
    await eventually(async () => (await rows(r)).every((x) => x.done), 30_000, 'rows done after Redis came back');
    expect(seen).toHaveLength(2);
    expect(seen).toEqual(expect.arrayContaining([{ n: 1 }, { n: 2 }]));
  });

  it('keeps messages while Redis is lost after working, and relays them once it answers again', async () => {
    const port = await freePort();
    const r = await rig('redis-lost', `redis://127.0.0.1:${port}`);
    const proxy = new Proxy(port, new URL(r.env.config.redis.url));
    servers.push(proxy);
    await proxy.up();
    const seen: unknown[] = [];
    r.registry.register('test.lost', async (p) => void seen.push(p));
    r.consumer.consume('q-lost', 2);
    await r.relay.onApplicationBootstrap();
    const [first] = await commit(r, [{ topic: 'test.lost', queue: 'q-lost', payload: { n: 1 } }]);
    await eventually(async () => (await rows(r)).find((x) => x.id === first)?.done, 20_000, 'first done');

    await proxy.down();
    const unclaim = jest.spyOn(r.outbox, 'unclaim');
    const [second] = await commit(r, [{ topic: 'test.lost', queue: 'q-lost', payload: { n: 2 } }]);
    // The relay tried, Redis refused, the row was handed back for the next pass.
    await eventually(async () => unclaim.mock.calls.some(([ids]) => ids.includes(second!)), 20_000, 'the row handed back');
    expect((await rows(r)).find((x) => x.id === second)).toMatchObject({ relayed: false, done: false, dead: false });
    expect(seen).toEqual([{ n: 1 }]);

    await proxy.up();
    await eventually(async () => (await rows(r)).find((x) => x.id === second)?.done, 30_000, 'second done after Redis came back');
    expect(seen).toEqual([{ n: 1 }, { n: 2 }]);
  });

  describe('a handler that always fails', () => {
    /** Leaves `left` attempts for the job (the relay gives JOB_ATTEMPTS minus those already made). */
    async function failing(r: Rig, topic: string, queue: string, left: number): Promise<string> {
      await r.db.transaction(async (tx) => {
        await r.outbox.add(tx, [{ topic, queue, payload: { topic } }]);
        await tx.query(`UPDATE outbox SET attempts = $1 WHERE topic = $2`, [JOB_ATTEMPTS - left, topic]);
      });
      const [row] = (await r.db.query(`SELECT id::text FROM outbox WHERE topic = $1`, [topic])) as { id: string }[];
      return row!.id;
    }

    it('is retried and ends as a dead letter with its error', async () => {
      const r = await rig('dead');
      let calls = 0;
      r.registry.register('test.fail', async () => {
        calls++;
        throw new Error(`always fails (${calls})`);
      });
      r.consumer.consume('q-fail', 1);
      await r.relay.onApplicationBootstrap();
      const id = await failing(r, 'test.fail', 'q-fail', 2);
      const dead = await eventually(async () => (await rows(r)).find((x) => x.id === id && x.dead), 30_000, 'dead letter');
      expect(calls).toBe(2);
      expect(dead).toMatchObject({ done: false, dead: true, last_error: 'always fails (2)' });
      expect((await r.outbox.listDead(10, 0)).map((x) => x.id)).toEqual([id]);
      expect(await r.outbox.counts()).toEqual({ open: 0, dead: 1 });
    });

    it('counts every attempt made, those before the last relay included', async () => {
      const r = await rig('dead-count');
      r.registry.register('test.count', async () => {
        throw new Error('nope');
      });
      r.consumer.consume('q-count', 1);
      await r.relay.onApplicationBootstrap();
      const id = await failing(r, 'test.count', 'q-count', 1);
      const dead = await eventually(async () => (await rows(r)).find((x) => x.id === id && x.dead), 30_000, 'dead letter');
      // JOB_ATTEMPTS - 1 attempts were recorded before this relay, one more was made: all of them spent.
      expect(dead.attempts).toBe(JOB_ATTEMPTS);
    });

    it('runs again after QueueService.replay(), and its row is done when it succeeds', async () => {
      const r = await rig('replay');
      let calls = 0;
      let healthy = false;
      r.registry.register('test.replay', async () => {
        calls++;
        if (!healthy) throw new Error('not yet');
      });
      r.consumer.consume('q-replay', 1);
      await r.relay.onApplicationBootstrap();
      const id = await failing(r, 'test.replay', 'q-replay', 1);
      await eventually(async () => (await rows(r)).find((x) => x.id === id && x.dead), 30_000, 'dead letter');
      expect(calls).toBe(1);

      healthy = true;
      const replayed = await r.consumer.replay(id);
      expect(replayed).toMatchObject({ id, attempts: 0, deadAt: null });
      await eventually(async () => (await rows(r)).find((x) => x.id === id)?.done, 20_000, 'replayed row done');
      expect(calls).toBe(2);
      expect(await r.outbox.counts()).toEqual({ open: 0, dead: 0 });
      // Replaying what is not a dead letter does nothing.
      expect(await r.consumer.replay(id)).toBeUndefined();
    });
  });
});
