import { Injectable, type OnModuleInit } from '@nestjs/common';
import { EgressContributorRegistry, IngestNormalizerRegistry } from '#vna/archive';
import { CoercionRulesService } from './coercion-rules.service.js';
import { EgressCoercion } from './egress-coercion.js';

/** Puts coercion into ingest (per source) and the egress overlay (per destination); neither knows this lib. */
@Injectable()
export class NormalizationRegistration implements OnModuleInit {
  constructor(
    private readonly normalizers: IngestNormalizerRegistry,
    private readonly egress: EgressContributorRegistry,
    private readonly rules: CoercionRulesService,
    private readonly egressCoercion: EgressCoercion,
  ) {}

  onModuleInit(): void {
    this.normalizers.set((json, source) => {
      const r = this.rules.coerceIngest(json, source.aet, source.kind, source.batch);
      if (r.applied.length === 0 && r.warnings.length === 0) return undefined;
      return { json: r.json, overlay: r.overlay, received: r.received, rules: r.applied.map((a) => `${a.id}@${a.version}`), warnings: r.warnings };
    });
    this.egress.register((instance, destination) => this.egressCoercion.adjust(instance, destination));
  }
}
