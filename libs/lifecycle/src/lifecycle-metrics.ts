import { Injectable } from '@nestjs/common';
import { Counter, Gauge } from 'prom-client';
import { MetricsService } from '#vna/observability';

/** The lifecycle's figures on /metrics (objects and bytes per tier, verification alerts, moves). */
@Injectable()
export class LifecycleMetrics {
  readonly objects: Gauge<'tier'>;
  readonly bytes: Gauge<'tier'>;
  readonly rehydrating: Gauge;
  readonly verificationFailures: Gauge<'status'>;
  readonly tierMoves: Counter<'to' | 'result'>;
  readonly evaluated: Counter<'job'>;
  readonly rehydrations: Counter<'trigger'>;

  constructor(metrics: MetricsService) {
    const registers = [metrics.registry];
    this.objects = new Gauge({ name: 'vna_storage_objects', help: 'Stored objects by access tier (current and older versions)', labelNames: ['tier'], registers });
    this.bytes = new Gauge({ name: 'vna_storage_bytes', help: 'Bytes of stored objects by access tier', labelNames: ['tier'], registers });
    this.rehydrating = new Gauge({ name: 'vna_storage_rehydrating_objects', help: 'Objects being rehydrated from the Archive tier', registers });
    this.verificationFailures = new Gauge({
      name: 'vna_storage_verification_failures',
      help: 'Objects whose last storage verification found them missing, corrupt or unreadable (alert on > 0)',
      labelNames: ['status'],
      registers,
    });
    this.tierMoves = new Counter({ name: 'vna_lifecycle_tier_moves_total', help: 'Tier changes asked of the blob store, by target tier and result', labelNames: ['to', 'result'], registers });
    this.evaluated = new Counter({ name: 'vna_lifecycle_objects_evaluated_total', help: 'Objects (tiering) and studies (retention) evaluated by the lifecycle jobs', labelNames: ['job'], registers });
    this.rehydrations = new Counter({ name: 'vna_lifecycle_rehydrations_total', help: 'Rehydrations from the Archive tier started, by trigger', labelNames: ['trigger'], registers });
  }
}
