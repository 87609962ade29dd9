import { Injectable } from '@nestjs/common';
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import { clusterAwareMetrics } from './cluster-metrics.js';

/** Prometheus metrics of one process (served at /metrics). */
@Injectable()
export class MetricsService {
  readonly registry = new Registry();

  readonly instancesReceived = new Counter({
    name: 'vna_instances_received_total',
    help: 'DICOM instances received and acknowledged, by source and outcome (stored, duplicate, new-version)',
    labelNames: ['source', 'outcome'] as const,
    registers: [this.registry],
  });

  readonly bytesReceived = new Counter({
    name: 'vna_bytes_received_total',
    help: 'Bytes of DICOM objects received and acknowledged',
    labelNames: ['source'] as const,
    registers: [this.registry],
  });

  readonly ingestSeconds = new Histogram({
    name: 'vna_ingest_duration_seconds',
    help: 'Time from the last byte received to the index commit (the acknowledgement waits for it)',
    labelNames: ['source'] as const,
    buckets: [0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [this.registry],
  });

  readonly ingestFailures = new Counter({
    name: 'vna_ingest_failures_total',
    help: 'Received objects refused, by reason code',
    labelNames: ['source', 'reason'] as const,
    registers: [this.registry],
  });

  readonly errors = new Counter({
    name: 'vna_errors_total',
    help: 'Errors by component',
    labelNames: ['component'] as const,
    registers: [this.registry],
  });

  readonly spoolDepth = new Gauge({
    name: 'vna_spool_objects',
    help: 'Objects in this node\'s spool still waiting for their upload to the blob store',
    registers: [this.registry],
  });

  readonly outboxDepth = new Gauge({
    name: 'vna_outbox_open',
    help: 'Outbox messages not yet handled',
    registers: [this.registry],
  });

  readonly outboxDead = new Gauge({
    name: 'vna_outbox_dead_letters',
    help: 'Outbox messages whose retries are exhausted',
    registers: [this.registry],
  });

  readonly queueDepth = new Gauge({
    name: 'vna_queue_jobs',
    help: 'BullMQ jobs waiting, active or delayed, by queue',
    labelNames: ['queue'] as const,
    registers: [this.registry],
  });

  readonly uploads = new Counter({
    name: 'vna_blob_uploads_total',
    help: 'Spooled objects uploaded to the blob store',
    labelNames: ['result'] as const,
    registers: [this.registry],
  });

  /** The text to serve at /metrics (all worker processes' together, when there are several). */
  readonly text: () => Promise<string>;

  constructor() {
    // prom-client's default metrics are already named process_* and nodejs_*: the prefix is just the
    // namespace (vna_process_resident_memory_bytes, not vna_process_process_...).
    collectDefaultMetrics({ register: this.registry, prefix: 'vna_' });
    this.text = clusterAwareMetrics(this.registry);
  }
}
