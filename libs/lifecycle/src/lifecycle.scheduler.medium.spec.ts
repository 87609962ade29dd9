import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { LifecycleScheduler } from './lifecycle.scheduler.js';
import { LifecycleSchedulerModule } from './lifecycle.module.js';
import { type ArchiveHarness, type MediumEnv, mediumEnv, startArchive } from '../../../test/support/medium.js';

/** The schedule is shared by every process of a cluster (PostgreSQL): a due job runs once, whoever gets to it. */

let env: MediumEnv;
let h: ArchiveHarness;

beforeAll(async () => {
  env = await mediumEnv('lifecycle-schedule', { VNA_LIFECYCLE_JOBS: 'false' });
  h = await startArchive(env, [LifecycleSchedulerModule]);
});

afterAll(async () => {
  await h?.close();
  await env?.cleanup();
});

describe('LifecycleScheduler', () => {
  it('runs a due job once across processes (advisory lock, last run kept), and again only when due', async () => {
    const scheduler = h.module.get(LifecycleScheduler);
    let runs = 0;
    const work = async (): Promise<void> => {
      runs++;
      await new Promise((r) => setTimeout(r, 100));
    };
    // Two "processes" at once: one holds the lock and runs, the other finds it taken.
    const both = await Promise.all([scheduler.whenDue('test-job', 4242, 60_000, work), scheduler.whenDue('test-job', 4242, 60_000, work)]);
    expect(both.filter(Boolean)).toHaveLength(1);
    expect(runs).toBe(1);
    // Not due again within the interval; due with a shorter one.
    expect(await scheduler.whenDue('test-job', 4242, 60_000, work)).toBe(false);
    expect(await scheduler.whenDue('test-job', 4242, 1, work)).toBe(true);
    expect(runs).toBe(2);
    // A failing job is not recorded as run: the next tick tries again.
    expect(await scheduler.whenDue('failing-job', 4243, 60_000, async () => Promise.reject(new Error('store down')))).toBe(false);
    expect(await h.db.query(`SELECT 1 FROM lifecycle_job_run WHERE job = 'failing-job'`)).toEqual([]);
  });
});
