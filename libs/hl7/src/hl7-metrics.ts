import { Injectable } from '@nestjs/common';
import { Counter, Gauge, Histogram } from 'prom-client';
import { MetricsService } from '#vna/observability';

/** The HL7 listener's figures, on the process's /metrics registry. */
@Injectable()
export class Hl7Metrics {
  /** By type ('ADT^A08'; 'other' for types without a handler, 'none' without a readable MSH) and MSA-1. */
  readonly messages: Counter<'type' | 'status'>;
  /** Re-sent messages answered from the log (nothing applied again). */
  readonly duplicates: Counter;
  /** From a frame's last byte to its ACK handed to the socket, by MSA-1. */
  readonly ackSeconds: Histogram<'status'>;
  readonly discarded: Counter<'reason'>;
  readonly connections: Gauge;

  constructor(metrics: MetricsService) {
    const registers = [metrics.registry];
    this.messages = new Counter({ name: 'vna_hl7_messages_total', help: 'HL7 messages answered, by type and acknowledgement code (MSA-1)', labelNames: ['type', 'status'] as const, registers });
    this.duplicates = new Counter({ name: 'vna_hl7_duplicates_total', help: 'Re-sent HL7 messages answered with their stored ACK (not applied again)', registers });
    this.ackSeconds = new Histogram({
      name: 'vna_hl7_ack_duration_seconds',
      help: 'Time from the end of an MLLP frame to its ACK being sent (the transaction commits in between)',
      labelNames: ['status'] as const,
      buckets: [0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers,
    });
    this.discarded = new Counter({ name: 'vna_hl7_discarded_total', help: 'MLLP bytes thrown away, by reason (outside-frame, unterminated, timeout, oversized), in occurrences', labelNames: ['reason'] as const, registers });
    this.connections = new Gauge({ name: 'vna_hl7_connections', help: 'Open MLLP connections', registers });
  }
}
