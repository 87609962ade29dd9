/** The shared queue: work any worker may do. */
export const SHARED_QUEUE = 'jobs';

/** A node's own queue: work on that node's local spool (only that process can read the files). */
export function nodeQueue(nodeId: string): string {
  return `node-${nodeId.replace(/[^A-Za-z0-9_.-]/g, '_')}`;
}

/** Retries with exponential backoff: 2 s, 4 s, ... about 4.5 hours in all before a dead letter. */
export const JOB_ATTEMPTS = 14;
export const JOB_BACKOFF_MS = 2000;
