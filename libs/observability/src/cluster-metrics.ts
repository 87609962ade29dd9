import cluster, { type Worker } from 'node:cluster';
import { AggregatorRegistry, type Registry } from 'prom-client';

const METRICS_REQUEST = 'vna:metrics-request';
const METRICS_REPLY = 'vna:metrics-reply';

/**
 * With several worker processes (VNA_WORKERS), a scrape reaches one of them; that worker asks the
 * primary, which gathers every worker's metrics (prom-client's AggregatorRegistry), so /metrics
 * always describes the whole archive process group.
 */
export function answerMetricsRequests(worker: Worker, aggregator: AggregatorRegistry<never>): void {
  worker.on('message', (message: { type?: string; id?: number }) => {
    if (message?.type !== METRICS_REQUEST) return;
    aggregator.clusterMetrics().then(
      (text) => worker.send({ type: METRICS_REPLY, id: message.id, text }),
      (e: Error) => worker.send({ type: METRICS_REPLY, id: message.id, error: e.message }),
    );
  });
}

let nextId = 0;
const pending = new Map<number, (text: string | Error) => void>();

/** The metrics text to serve: the whole cluster's in a worker, else this process's own. */
export function clusterAwareMetrics(registry: Registry): () => Promise<string> {
  if (!cluster.isWorker) return () => registry.metrics();
  // Constructing one registers the worker's answer to the primary's gathering; ours is the registry to answer with.
  new AggregatorRegistry();
  AggregatorRegistry.setRegistries([registry]);
  process.on('message', (message: { type?: string; id?: number; text?: string; error?: string }) => {
    if (message?.type !== METRICS_REPLY || message.id === undefined) return;
    pending.get(message.id)?.(message.error ? new Error(message.error) : (message.text ?? ''));
    pending.delete(message.id);
  });
  return () =>
    new Promise((resolve, reject) => {
      const id = nextId++;
      pending.set(id, (result) => (result instanceof Error ? reject(result) : resolve(result)));
      process.send!({ type: METRICS_REQUEST, id });
      setTimeout(() => {
        // The primary did not answer: this worker's own figures are better than none.
        if (pending.delete(id)) resolve(registry.metrics());
      }, 5000).unref();
    });
}
