import cluster, { type Worker } from 'node:cluster';
import type { ConsoleLogger } from '@nestjs/common';
import { AggregatorRegistry } from 'prom-client';
import { answerMetricsRequests } from '#vna/observability';

/**
 * The primary of a cluster (VNA_WORKERS > 1): starts the workers (each a whole app on the same
 * DICOM and HTTP ports; the primary shares connections out among them), replaces one that dies,
 * and stops them all on SIGTERM/SIGINT (each finishes its associations first). Node runs
 * JavaScript on one core per process: this is how the archive uses the machine's other cores.
 */
export function runPrimary(count: number, logger: ConsoleLogger): void {
  let stopping = false;
  const aggregator = new AggregatorRegistry<never>();
  const fork = (): Worker => {
    const worker = cluster.fork();
    answerMetricsRequests(worker, aggregator);
    // Messages a worker marks for broadcast (ingest activity, say) reach the other workers.
    worker.on('message', (message: { broadcast?: boolean }) => {
      if (!message?.broadcast) return;
      for (const other of Object.values(cluster.workers ?? {})) if (other && other !== worker && other.isConnected()) other.send(message);
    });
    return worker;
  };
  for (let i = 0; i < count; i++) fork();
  cluster.on('exit', (worker, code, signal) => {
    if (stopping) {
      if (Object.keys(cluster.workers ?? {}).length === 0) process.exit(0);
      return;
    }
    logger.error(`worker ${worker.process.pid} ended (${signal ?? code}); starting another`);
    setTimeout(fork, 1000).unref();
  });
  const stop = (): void => {
    if (stopping) return;
    stopping = true;
    for (const worker of Object.values(cluster.workers ?? {})) worker?.kill('SIGTERM');
    setTimeout(() => process.exit(0), 45_000).unref();
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  logger.log(`started ${count} worker processes`);
}
