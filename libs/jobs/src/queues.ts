/** The shared queue: work any worker may do. */
export const SHARED_QUEUE = 'jobs';

/** A node's own queue: work on that node's local spool (only that process can read the files). */
export function nodeQueue(nodeId: string): string {
  return `node-${nodeId.replace(/[^A-Za-z0-9_.-]/g, '_')}`;
}

/** Retries with exponential backoff: 2 s, 4 s, ... about 4.5 hours in all before a dead letter. */
export const JOB_ATTEMPTS = 14;
export const JOB_BACKOFF_MS = 2000;

/**
 * A running job holds a lock renewed every half of this; when its process dies, the job counts as
 * stalled once the lock lapses and is taken up again at the next stalled check (same period). So a
 * killed process's jobs resume within about twice this after a restart (BullMQ's default: 30 s).
 */
export const JOB_LOCK_MS = 10_000;
