import { Injectable, type OnModuleInit } from '@nestjs/common';
import { Counter } from 'prom-client';
import { EgressContributorRegistry, IngestNormalizerRegistry } from '#vna/archive';
import { MetricsService } from '#vna/observability';
import { CoercionRulesService } from './coercion-rules.service.js';
import { EgressCoercion } from './egress-coercion.js';

/** Puts coercion into ingest (per source) and the egress overlay (per destination); neither knows this lib. */
@Injectable()
export class NormalizationRegistration implements OnModuleInit {
  private readonly objects: Counter<'phase' | 'outcome'>;
  private readonly applied: Counter<'rule'>;

  constructor(
    private readonly normalizers: IngestNormalizerRegistry,
    private readonly egress: EgressContributorRegistry,
    private readonly rules: CoercionRulesService,
    private readonly egressCoercion: EgressCoercion,
    metrics: MetricsService,
  ) {
    this.objects = new Counter({
      name: 'vna_coercion_objects_total',
      help: 'Objects coercion rules looked at, by phase (ingest, egress) and outcome (changed, unchanged, warned: a value reported)',
      labelNames: ['phase', 'outcome'] as const,
      registers: [metrics.registry],
    });
    this.applied = new Counter({
      name: 'vna_coercion_rule_applied_total',
      help: 'Objects an ingest coercion rule changed, by rule id',
      labelNames: ['rule'] as const,
      registers: [metrics.registry],
    });
  }

  onModuleInit(): void {
    this.normalizers.set((json, source) => {
      const r = this.rules.coerceIngest(json, source.aet, source.kind, source.batch);
      this.objects.inc({ phase: 'ingest', outcome: r.applied.length ? 'changed' : r.warnings.length ? 'warned' : 'unchanged' });
      for (const rule of r.applied) this.applied.inc({ rule: rule.id });
      if (r.applied.length === 0 && r.warnings.length === 0) return undefined;
      return { json: r.json, overlay: r.overlay, received: r.received, rules: r.applied.map((a) => `${a.id}@${a.version}`), warnings: r.warnings };
    });
    this.egress.register(async (instance, destination) => {
      const adjustment = await this.egressCoercion.adjust(instance, destination);
      const changed = (adjustment.replace?.length ?? 0) + (adjustment.remove?.length ?? 0) > 0;
      if (changed) this.objects.inc({ phase: 'egress', outcome: 'changed' });
      return adjustment;
    });
  }
}
