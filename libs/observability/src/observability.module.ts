import { Global, Module } from '@nestjs/common';
import { HealthController } from './health.controller.js';
import { MetricsService } from './metrics.service.js';

@Global()
@Module({ providers: [MetricsService], exports: [MetricsService] })
export class ObservabilityModule {}

/** /health/live, /health/ready and /metrics: every app serves them. */
@Module({ controllers: [HealthController] })
export class HealthModule {}
